"""The planted market's own exchange config: 60 members, 200+ trading accounts, two instruments.

Forty self-dealing members are covered entities with one account each; twenty comprehensive members
hold their own account and their clients' (institutions and individuals). A few declared
beneficial-owner groups join accounts of different members; two staff accounts are flagged
prohibited (Decree 20 Art. 32). The risk limits leave every honest holding far below the position
limit and the large-holder threshold, so only a planted account reaches them.

The manipulators are dedicated accounts (the ``Cast``): fourteen of the covered entities, and the
five client accounts of one comprehensive member. Which member ids they get is drawn from the seed,
so no rule can lean on an id; ids and names look like everybody else's.
"""

from __future__ import annotations

import random

import msgspec

from engine.config import Account, AccountKind, Calendar, ExchangeConfig, Instrument, Member, RiskLimits

ALLOWANCE, OFFSET = "SHEA2025", "CCER"
SELF_DEALING_MEMBERS, COMPREHENSIVE_MEMBERS = 40, 20
# The manipulators that are covered entities (each its own self-dealing member).
SELF_DEALING_ROLES = (
    "round_trip_a",
    "round_trip_b",
    "cycle_a",
    "cycle_b",
    "cycle_c",
    "layering",
    "order_to_trade",
    "marking_vwap",
    "marking_last",
    "volume_share",
    "ramping",
    "identical_a",
    "identical_b",
    "group_a",
)
# The manipulators that are institution clients of one comprehensive member.
CLIENT_ROLES = ("wash_a", "wash_b", "group_b", "near_limit", "large_holder")
# Staff accounts (prohibited): an institution (a technical service body) and an individual.
PROHIBITED_ROLES = ("prohibited", "prohibited_staff")
HONEST_GROUPS = 3  # declared owner groups of honest accounts; one more is the planted group's

_DISTRICTS = (
    "Huangpu", "Pudong", "Minhang", "Baoshan", "Jiading", "Jinshan", "Songjiang", "Qingpu",
    "Fengxian", "Chongming", "Xuhui", "Changning", "Jing'an", "Putuo", "Hongkou", "Yangpu",
)  # fmt: skip
_INDUSTRIES = (
    "Steel", "Power", "Chemicals", "Cement", "Paper", "Glass", "Petrochemicals", "Aviation", "Shipping", "Textiles",
)  # fmt: skip
_BROKERS = (
    "Lujiazui", "Bund", "Xintiandi", "Zhangjiang", "Hongqiao", "Wujiaochang", "Caohejing", "Waigaoqiao",
    "Yangshan", "Dishui", "Nanxiang", "Anting", "Zhujiajiao", "Sheshan", "Gubei", "Tianzifang",
    "Qibao", "Fengjing", "Jinqiao", "Huamu",
)  # fmt: skip


class Cast(msgspec.Struct, frozen=True, kw_only=True):
    """Who plays which part: role -> account id, and the planted owner group."""

    roles: dict[str, str]
    planted_group: str

    def account(self, role: str) -> str:
        return self.roles[role]

    @property
    def manipulators(self) -> frozenset[str]:
        return frozenset(account for role, account in self.roles.items() if role not in PROHIBITED_ROLES)


class _Layout(msgspec.Struct, frozen=True, kw_only=True):
    config: ExchangeConfig
    cast: Cast


def planted_config(seed: int) -> ExchangeConfig:
    """The planted market's exchange config for ``seed`` (the seed places the manipulators)."""
    return _layout(seed).config


def planted_cast(config: ExchangeConfig, seed: int) -> Cast:
    """The cast of ``seed``, checked against ``config``: each part's account exists as the layout made it."""
    layout = _layout(seed)
    accounts = {a.id: a for a in config.accounts}
    for role, account_id in sorted(layout.cast.roles.items()):
        expected = next(a for a in layout.config.accounts if a.id == account_id)
        if accounts.get(account_id) != expected:
            raise ValueError(f"config does not hold the planted layout of seed {seed}: {role} account {account_id}")
    return layout.cast


def _layout(seed: int) -> _Layout:
    rng = random.Random(f"planted-config:{seed}")
    covered_roles = dict(
        zip(rng.sample(range(SELF_DEALING_MEMBERS), len(SELF_DEALING_ROLES)), SELF_DEALING_ROLES, strict=True)
    )
    rogue_broker = rng.randrange(COMPREHENSIVE_MEMBERS)
    honest_brokers = [b for b in range(COMPREHENSIVE_MEMBERS) if b != rogue_broker]
    prohibited_at = dict(zip(rng.sample(honest_brokers, 2), PROHIBITED_ROLES, strict=True))
    groups = [f"GRP-{n:02d}" for n in range(1, HONEST_GROUPS + 2)]
    planted_group = groups.pop(rng.randrange(len(groups)))

    members: list[Member] = [
        Member(id="EXCHANGE", name="Exchange operator", kind="exchange"),
        Member(id="REGULATOR", name="Shanghai Municipal Bureau of Ecology and Environment", kind="regulator"),
    ]
    accounts: list[Account] = [
        Account(id="EXCHANGE-FEES", member="EXCHANGE", kind="exchange_fees", name="Trading fees collected"),
        Account(id="RESERVE", member="REGULATOR", kind="reserve", name="Regulator's reserve allowances"),
        Account(id="TREASURY", member="REGULATOR", kind="treasury", name="Auction revenue"),
        Account(id="REGISTRY", member="REGULATOR", kind="registry", name="Registry issuance account"),
    ]
    roles: dict[str, str] = {}
    honest_covered: list[str] = []
    honest_clients: list[str] = []

    def add(member: str, kind: AccountKind, name: str, role: str = "") -> str:
        account_id = f"A{len(accounts) - 3:03d}"
        prohibited = role in PROHIBITED_ROLES
        accounts.append(Account(id=account_id, member=member, kind=kind, name=name, prohibited=prohibited))
        if role:
            roles[role] = account_id
        return account_id

    for index in range(SELF_DEALING_MEMBERS):
        member_id = f"M{index + 1:02d}"
        name = f"{_DISTRICTS[index % 16]} {_INDUSTRIES[(17 * (index // 16) + index % 16) % 10]}"
        members.append(Member(id=member_id, name=name, kind="self_dealing"))
        account_id = add(member_id, "covered_entity", name, covered_roles.get(index, ""))
        if index not in covered_roles:
            honest_covered.append(account_id)
    for index in range(COMPREHENSIVE_MEMBERS):
        member_id = f"M{SELF_DEALING_MEMBERS + index + 1:02d}"
        broker = f"{_BROKERS[index]} {'Securities' if index % 2 else 'Capital'}"
        members.append(Member(id=member_id, name=broker, kind="comprehensive"))
        if index == rogue_broker:
            for number, role in enumerate(CLIENT_ROLES, 1):
                add(member_id, "institution", f"Client of {member_id}: institution {number}", role)
            continue
        add(member_id, "institution", f"{broker} (own account)")
        clients = rng.randint(7, 10)
        institutions = rng.randint(2, 4)
        for number in range(1, clients + 1):
            kind: AccountKind = "institution" if number <= institutions else "individual"
            label = f"institution {number}" if kind == "institution" else f"individual investor {number - institutions}"
            honest_clients.append(add(member_id, kind, f"Client of {member_id}: {label}"))
        if index in prohibited_at:
            role = prohibited_at[index]
            add(
                member_id,
                "institution" if role == "prohibited" else "individual",
                f"Client of {member_id}: staff of a technical service body",
                role,
            )

    # Honest owner groups: a covered entity and one or two client accounts of other members.
    grouped: dict[str, str] = {}
    for group in groups:
        grouped[honest_covered.pop(rng.randrange(len(honest_covered)))] = group
        for _ in range(rng.randint(1, 2)):
            grouped[honest_clients.pop(rng.randrange(len(honest_clients)))] = group
    grouped[roles["group_a"]] = grouped[roles["group_b"]] = planted_group
    accounts = [msgspec.structs.replace(a, owner_group=grouped[a.id]) if a.id in grouped else a for a in accounts]
    config = ExchangeConfig(
        instruments=[
            Instrument(
                code=ALLOWANCE,
                name="Shanghai emission allowance, vintage 2025",
                kind="allowance",
                vintage=2025,
                reference_price_fen=8000,
            ),
            Instrument(
                code=OFFSET, name="China certified emission reduction (CCER)", kind="ccer", reference_price_fen=8500
            ),
        ],
        members=members,
        accounts=accounts,
        calendar=Calendar(),
        # Beijing's limits for covered entities (+ their allocation); lower ones for the others, so
        # that a planted institution can reach them while honest holdings stay below a third.
        risk=RiskLimits(
            position_limit_t={"covered_entity": 1_000_000, "institution": 300_000, "individual": 100_000},
            large_holder_t={"covered_entity": 500_000, "institution": 150_000, "individual": 50_000},
        ),
    )
    return _Layout(config=config, cast=Cast(roles=roles, planted_group=planted_group))
