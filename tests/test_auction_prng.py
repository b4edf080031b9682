"""docs/AUCTIONS.md "Verifiable randomness": the seed stream's known-answer vectors, the commitment, the seed's
text, and two pinned seeds that allocate the same tie differently.

The vectors are computed twice: by a few lines of ``hashlib`` here (the specification, written
independently of ``engine.auction.prng``), and pinned as literals, which docs/AUCTIONS.md prints too
(tests/test_auction_docs.py checks that the document and the code agree). Each vector starts from
a fresh stream of its seed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from engine.auction.clearing import ClearingTerms, SealedBid, clear
from engine.auction.prng import SeedStream, commitment, is_commitment, parse_seed
from engine.messages import Pricing, TieBreak

ZERO_SEED = "00" * 32
COUNTING_SEED = bytes(range(32)).hex()
SEED_42 = "00" * 31 + "2a"
SEEDS = (ZERO_SEED, COUNTING_SEED, SEED_42)
BIG = 2**63 + 1  # below(BIG) rejects about half of the stream: the rejection path is exercised

# ---------------------------------------------------------------------- the specification, restated


def spec_numbers(seed: bytes) -> Iterator[int]:
    """Block i = SHA-256(seed ‖ i as 8 bytes big-endian); each block gives four big-endian u64s."""
    counter = 0
    while True:
        block = hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
        yield from (int.from_bytes(block[i : i + 8], "big") for i in (0, 8, 16, 24))
        counter += 1


def spec_below(numbers: Iterator[int], n: int) -> int:
    limit = 2**64 - 2**64 % n
    return next(x for x in numbers if x < limit) % n


def spec_shuffle(seed: bytes, items: list[int]) -> list[int]:
    numbers, out = spec_numbers(seed), list(items)
    for i in range(len(out) - 1, 0, -1):
        j = spec_below(numbers, i + 1)
        out[i], out[j] = out[j], out[i]
    return out


def vectors(seed_hex: str) -> dict[str, object]:
    """What docs/AUCTIONS.md prints for a seed, computed with the engine's PRNG."""
    seed = bytes.fromhex(seed_hex)
    first = SeedStream(seed)
    tens, bigs = SeedStream(seed), SeedStream(seed)
    return {
        "commitment": commitment(seed),
        "u64": [f"{first.next_u64():016x}" for _ in range(6)],
        "below(10)": [tens.below(10) for _ in range(8)],
        "below(2^63+1)": [bigs.below(BIG) for _ in range(4)],
        "shuffle(0..9)": SeedStream(seed).shuffle(list(range(10))),
    }


# The known answers, pinned (docs/AUCTIONS.md prints the same).
KNOWN: dict[str, dict[str, object]] = {
    ZERO_SEED: {
        "commitment": "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925",
        "u64": [
            "2c34ce1df23b838c",
            "5abf2a7f6437cca3",
            "d3067ed509ff25f1",
            "1df6b11b582b51eb",
            "08e00266fff0aacc",
            "64974f22a53622a7",
        ],
        "below(10)": [8, 7, 3, 1, 0, 9, 8, 8],
        "below(2^63+1)": [3185397464471143308, 6538991910595841187, 2159107802372198891, 639513788490492620],
        "shuffle(0..9)": [7, 6, 9, 5, 4, 2, 3, 1, 0, 8],
    },
    COUNTING_SEED: {
        "commitment": "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd",
        "u64": [
            "a9d6e500293a88bd",
            "38cbe213d07ab71f",
            "8cb2258552072a01",
            "bdf1c40be527f4d0",
            "6061c4386d7a1788",
            "ba52e2e8b2ee6fe6",
        ],
        "below(10)": [1, 3, 5, 2, 0, 8, 3, 3],
        "below(2^63+1)": [4092613261126186783, 6945047847015946120, 1402384116349340663, 300893896666610643],
        "shuffle(0..9)": [7, 2, 0, 6, 3, 8, 5, 9, 4, 1],
    },
    SEED_42: {
        "commitment": "0a28e9ffef0073f9a6a674cf57ee77307f38f0f1bebb087888d9011ed0eeefdf",
        "u64": [
            "81a4b95877202d85",
            "bdf6ffb12a4e96e9",
            "9bc3fb0c20f01445",
            "fd3a073b1d967bd9",
            "d2d17838cf0a0617",
            "5f081b1fbdda0b77",
        ],
        "below(10)": [5, 5, 9, 1, 1, 3, 4, 2],
        # The first five numbers are all at or above 2^63 + 1: rejected.
        "below(2^63+1)": [6847753056559958903, 968497443864621694, 7118286705516091006, 8911616254259130486],
        "shuffle(0..9)": [7, 0, 4, 8, 3, 1, 6, 9, 2, 5],
    },
}


# ---------------------------------------------------------------------- the stream


@pytest.mark.parametrize("seed_hex", SEEDS)
def test_the_seed_stream_gives_the_pinned_known_answers(seed_hex: str) -> None:
    assert vectors(seed_hex) == KNOWN[seed_hex]


@pytest.mark.parametrize("seed_hex", SEEDS)
def test_the_seed_stream_is_the_documented_sha256_counter_construction(seed_hex: str) -> None:
    seed = bytes.fromhex(seed_hex)
    spec, engine = spec_numbers(seed), SeedStream(seed)
    assert [engine.next_u64() for _ in range(40)] == [next(spec) for _ in range(40)]  # ten blocks
    for n in (1, 2, 3, 7, 10, 1000, 2**32 + 1, BIG, 2**64 - 1, 2**64):
        spec, engine = spec_numbers(seed), SeedStream(seed)
        assert [engine.below(n) for _ in range(12)] == [spec_below(spec, n) for _ in range(12)], n
    for size in (0, 1, 2, 3, 10, 57):
        assert SeedStream(seed).shuffle(list(range(size))) == spec_shuffle(seed, list(range(size)))
    assert KNOWN[seed_hex]["commitment"] == hashlib.sha256(seed).hexdigest()


def test_the_known_answers_are_what_the_specification_gives() -> None:
    for seed_hex, known in KNOWN.items():
        seed = bytes.fromhex(seed_hex)
        numbers = spec_numbers(seed)
        assert known["u64"] == [f"{next(numbers):016x}" for _ in range(6)]
        numbers = spec_numbers(seed)
        assert known["below(10)"] == [spec_below(numbers, 10) for _ in range(8)]
        numbers = spec_numbers(seed)
        assert known["below(2^63+1)"] == [spec_below(numbers, BIG) for _ in range(4)]
        assert known["shuffle(0..9)"] == spec_shuffle(seed, list(range(10)))


def test_below_one_is_always_zero_and_below_zero_is_an_error() -> None:
    stream = SeedStream(bytes(32))
    assert [stream.below(1) for _ in range(5)] == [0] * 5
    with pytest.raises(ValueError, match="n >= 1"):
        stream.below(0)


def test_a_shuffle_returns_a_new_list_and_leaves_its_input_alone() -> None:
    items = ("a", "b", "c", "d")
    shuffled = SeedStream(bytes(32)).shuffle(items)
    assert sorted(shuffled) == sorted(items) and items == ("a", "b", "c", "d")


# ---------------------------------------------------------------------- the commitment and the seed's text


def test_the_commitment_is_the_sha256_of_the_seeds_32_bytes_not_of_its_text() -> None:
    seed = bytes.fromhex(SEED_42)
    assert commitment(seed) == "0a28e9ffef0073f9a6a674cf57ee77307f38f0f1bebb087888d9011ed0eeefdf"
    assert commitment(seed) != hashlib.sha256(SEED_42.encode()).hexdigest()
    assert is_commitment(commitment(seed))
    for text in (commitment(seed).upper(), commitment(seed)[:-1], commitment(seed) + "0", "g" * 64, ""):
        assert not is_commitment(text), text


def test_a_seed_is_exactly_64_hexadecimal_characters() -> None:
    assert parse_seed(SEED_42) == bytes(31) + b"\x2a"
    assert parse_seed(SEED_42.upper()) == bytes(31) + b"\x2a"  # hex digits in either case
    assert parse_seed("f" * 64) == b"\xff" * 32


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0" * 63,
        "0" * 65,
        "0" * 128,
        "g" * 64,
        "0x" + "0" * 62,
        "00" * 31 + "  ",  # 64 characters, two of them spaces: not hexadecimal
        " " + "00" * 31 + "0",
        "00" * 31 + "\t\n",
        "٠" * 64,  # Arabic-Indic zeros: digits, but not hexadecimal
    ],
    ids=["empty", "63", "65", "128", "not hex", "0x prefix", "spaces", "leading space", "tab newline", "arabic"],
)
def test_anything_else_is_not_a_seed(text: str) -> None:
    assert parse_seed(text) is None


# ---------------------------------------------------------------------- two seeds, two allocations


OTHER_SEED = ZERO_SEED


def _tie(quantities: list[int], volume: int, lot: int, tie_break: TieBreak, seed_hex: str) -> list[int]:
    # Keys are not in time order: the seeded order shuffles the tied bids taken by time rank.
    bids = [SealedBid(key=10 - i, rank=i + 1, price=5000, quantity=q) for i, q in enumerate(quantities)]
    terms = ClearingTerms(sells=True, volume=volume, budget=0, lot=lot, pricing=Pricing.UNIFORM, tie_break=tie_break)
    outcome = clear(bids, terms, bytes.fromhex(seed_hex))
    return [outcome.fills[b.key] for b in bids]


def test_two_pinned_seeds_give_a_random_tie_to_different_bids() -> None:
    # SEED_42 orders three tied bids (in time order) 1, 3, 2; the zero seed 3, 2, 1 (KNOWN's shuffles
    # of three items are the first steps of these).
    assert SeedStream(bytes.fromhex(SEED_42)).shuffle([1, 2, 3]) == [1, 3, 2]
    assert SeedStream(bytes.fromhex(OTHER_SEED)).shuffle([1, 2, 3]) == [3, 2, 1]
    assert _tie([5_000, 5_000, 5_000], 10_000, 1, TieBreak.RANDOM, SEED_42) == [5_000, 0, 5_000]
    assert _tie([5_000, 5_000, 5_000], 10_000, 1, TieBreak.RANDOM, OTHER_SEED) == [0, 5_000, 5_000]


def test_two_pinned_seeds_place_the_leftover_pro_rata_lots_differently() -> None:
    # 1,000 t in 10 t lots among 560, 560 and 410: 360, 360 and 260 by share, two lots left over.
    assert _tie([560, 560, 410], 1_000, 10, TieBreak.PRO_RATA, SEED_42) == [370, 360, 270]
    assert _tie([560, 560, 410], 1_000, 10, TieBreak.PRO_RATA, OTHER_SEED) == [360, 370, 270]


def test_a_time_tie_break_needs_no_seed_and_the_others_refuse_to_run_without_one() -> None:
    bids = [SealedBid(key=1, rank=2, price=5000, quantity=5), SealedBid(key=2, rank=1, price=5000, quantity=5)]
    terms = ClearingTerms(sells=True, volume=6, budget=0, lot=1, pricing=Pricing.UNIFORM, tie_break=TieBreak.TIME)
    assert clear(bids, terms, None).fills == {1: 1, 2: 5}  # the earlier rank first
    with pytest.raises(ValueError, match="needs the seed"):
        clear(bids, terms._replace(tie_break=TieBreak.RANDOM), None)
