"""The snapshot service's limits, apart from the service: the config reads them without loading
the exchange that the service serves (``carbonx.config`` is imported by every command)."""

from __future__ import annotations

import msgspec


class SnapshotLimits(msgspec.Struct, frozen=True, kw_only=True):
    """The service's limits; node.toml ``[market_data]`` sets them (``snapshot_*``, docs/CONFIG.md)."""

    max_request_bytes: int = 65_536  # ZMQ_MAXMSGSIZE: a larger request drops its connection
    max_topics: int = 256  # distinct topic names per request (the demo market publishes 21)
    max_reply_bytes: int = 4_194_304  # a larger reply is refused with REPLY_TOO_LARGE
    requests_per_s: int = 20  # per peer (IP address): token-bucket refill
    burst: int = 40  # per peer: requests that may come at once
    requests_per_turn: int = 16  # frames handled per turn of the node's loop
    bytes_per_turn: int = 1_048_576  # reply bytes sent per turn (at least one reply per turn)
    hwm: int = 16  # ZMQ_SNDHWM and ZMQ_RCVHWM: replies and requests queued per connection
