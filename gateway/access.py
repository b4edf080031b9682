"""Who may connect to the gateway and how: member keys, roles, accounts, session options.

Loaded from config/node.toml ``[gateway]`` and the ``[[member]]`` tables of config/members.toml by
``carbonx.config``. Kept out of ``engine.config.ExchangeConfig`` on purpose: rotating a key or
changing a throttle must not change the config a data directory was written under.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Role = Literal["member", "regulator", "surveillance"]

# The role a member's logon gets when members.toml does not name one, by member kind.
DEFAULT_ROLE: dict[str, Role] = {
    "self_dealing": "member",
    "comprehensive": "member",
    "regulator": "regulator",
    "exchange": "surveillance",
}


class GatewayOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Order entry (docs/ARCHITECTURE.md "Ports and keys"): ROUTER with CURVE, sessions, throttles."""

    endpoint: str = "tcp://127.0.0.1:7001"
    drop_copy_endpoint: str = "tcp://127.0.0.1:7004"  # XPUB with CURVE, surveillance keys only
    keys_dir: str = "demo-keys"  # relative to the config directory: server.key, server.key_secret
    heartbeat_min_ms: int = 100
    heartbeat_max_ms: int = 60_000
    heartbeat_misses: int = 3  # a session silent for this many intervals is lost
    max_frame_bytes: int = 65_536  # a bigger frame is refused with MESSAGE_TOO_LARGE
    max_batch: int = 1_000  # commands per SubmitBatch
    throttle_per_s: int = 500  # token bucket refill, commands per second per member
    throttle_burst: int = 1_000  # token bucket size
    max_poll_batch: int = 1_024  # frames the node drains from its sockets per journal batch
    # What one client can make the node hold or do (docs/PROTOCOL.md §4.16), whatever it sends:
    turn_frames_per_connection: int = 64  # a turn ends when one connection has sent this many frames
    # Received, not yet read, per connection: ZMQ_RCVHWM in frames of the largest size. libzmq lets the
    # connection's reader resume only after the node has read half of it, so a queue near a client's
    # pipelining window stalls that client (64 frames: ~21k orders/s on bench.e2e; 1,024: ~32k).
    inbound_queue_bytes: int = 128 * 1024 * 1024
    outbound_queue_frames: int = 10_000  # sent, not yet taken by the client, per connection (ZMQ_SNDHWM)
    refusals_per_s: int = 100  # refusals a connection is sent per second; beyond, frames go unanswered
    refusals_burst: int = 200
    resend_page: int = 500  # reports one resend sends at most (then ResendEnd says whether more remain)


class MemberAccess(msgspec.Struct, frozen=True, kw_only=True):
    """What the gateway knows of a member: its key, its role, its accounts and its session options.

    Kept out of ``ExchangeConfig`` on purpose: rotating a key or changing a throttle must not change
    the config a data directory was written under.
    """

    member: str
    role: Role
    public_key: str  # Z85, 40 characters; "" means the member cannot log on
    accounts: list[str]
    cancel_on_disconnect: bool = False
    throttle_per_s: int = 0  # 0: the gateway's default
    throttle_burst: int = 0
