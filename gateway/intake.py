"""Reading a client's frame: the message, or what to answer when there is none to read.

PROTOCOL.md §4.6: a frame that is not a message of ours is refused ``MALFORMED_MESSAGE`` with the
decoder's own words (``detail``); a message whose field breaks its bound (engine.messages.limits) is
refused ``INVALID_FIELD`` naming the field. Either refusal echoes the frame's ``request_id`` whenever
it can be read, so a client can tell which of its requests failed. Nothing here raises.
"""

from __future__ import annotations

import msgspec

from engine.messages import Reject
from engine.messages.limits import MAX_REQUEST_ID, error_field, is_bound_violation
from engine.messages.peek import read_request_id
from gateway.protocol import ClientMessage, client_decoder

DETAIL_LENGTH = 200  # characters of a decoder's message a refusal or a log line carries


class Unreadable(msgspec.Struct, frozen=True):
    """A frame that holds no message we can act on, and the refusal it gets."""

    request_id: int
    code: Reject
    context: dict[str, str]


def read_frame(frame: bytes) -> ClientMessage | Unreadable:
    """The frame's message, or why it has none."""
    try:
        return client_decoder.decode(frame)
    except msgspec.ValidationError as exc:  # the right shape, but a value beyond a bound or of a wrong type
        error = str(exc)
        if is_bound_violation(error):
            problem = error.split(" - at ", 1)[0][:DETAIL_LENGTH]
            return Unreadable(
                request_id_of(frame), Reject.INVALID_FIELD, {"field": error_field(error), "error": problem}
            )
        return malformed(frame, "malformed", error)
    except msgspec.DecodeError as exc:  # not a message at all
        return malformed(frame, "malformed", str(exc))
    except RecursionError:  # nested deeper than the decoder goes: no message of ours is
        return malformed(frame, "malformed", "nested too deeply")


def malformed(frame: bytes, reason: str, detail: str) -> Unreadable:
    return Unreadable(
        request_id_of(frame), Reject.MALFORMED_MESSAGE, {"reason": reason, "detail": detail[:DETAIL_LENGTH]}
    )


def request_id_of(frame: bytes) -> int:
    """The request id of a frame that failed to decode, when it can be read and is in range (else 0)."""
    request_id = read_request_id(frame)
    return request_id if 0 <= request_id <= MAX_REQUEST_ID else 0
