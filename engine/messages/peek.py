"""Reading one field of a msgpack map that will not decode: a request's ``request_id``.

A frame a decoder refuses may be nested deeper than any decoder goes (msgspec raises
``RecursionError`` even to skip such a value), cut short, or not msgpack at all; yet a refusal
should still name the request it answers (PROTOCOL.md §4.6, §6.6). This walks the top-level map
key by key and skips every other value with a count of values still to skip, never recursing:
linear in the frame's length, and it never raises.
"""

from __future__ import annotations


def read_request_id(frame: bytes) -> int:
    """The int under the top-level key ``request_id``, as it is (0: none can be read)."""
    try:
        return _scan_request_id(frame)
    except (IndexError, ValueError, UnicodeDecodeError):  # cut short, or not msgpack
        return 0


def _scan_request_id(frame: bytes) -> int:
    entries, at = _map_header(frame, 0)
    for _ in range(entries):
        key, at = _str(frame, at)
        if key == "request_id":
            return _int(frame, at)[0]
        at = _skip(frame, at)
    return 0


def _map_header(frame: bytes, at: int) -> tuple[int, int]:
    head = frame[at]
    if 0x80 <= head <= 0x8F:
        return head & 0x0F, at + 1
    if head in (0xDE, 0xDF):
        size = 2 if head == 0xDE else 4
        return int.from_bytes(frame[at + 1 : at + 1 + size], "big"), at + 1 + size
    raise ValueError("not a map")


def _str(frame: bytes, at: int) -> tuple[str, int]:
    head = frame[at]
    if 0xA0 <= head <= 0xBF:
        length, at = head & 0x1F, at + 1
    elif head in (0xD9, 0xDA, 0xDB):
        size = {0xD9: 1, 0xDA: 2, 0xDB: 4}[head]
        length, at = int.from_bytes(frame[at + 1 : at + 1 + size], "big"), at + 1 + size
    else:
        raise ValueError("not a str")
    if at + length > len(frame):
        raise IndexError("cut short")
    return frame[at : at + length].decode(), at + length


_INT_SIZES = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8, 0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}


def _int(frame: bytes, at: int) -> tuple[int, int]:
    head = frame[at]
    if head <= 0x7F:
        return head, at + 1
    if head >= 0xE0:
        return head - 0x100, at + 1
    size = _INT_SIZES.get(head)
    if size is None:
        raise ValueError("not an int")
    raw = frame[at + 1 : at + 1 + size]
    if len(raw) < size:
        raise IndexError("cut short")
    return int.from_bytes(raw, "big", signed=head >= 0xD0), at + 1 + size


# msgpack formats by first byte: (bytes of the length that follows, or of the value; what it holds)
_SIZED = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}  # bin, str: a length, then the bytes
_FIXED = {0xC0: 0, 0xC2: 0, 0xC3: 0, 0xCA: 4, 0xCB: 8, **_INT_SIZES, 0xD4: 2, 0xD5: 3, 0xD6: 5, 0xD7: 9, 0xD8: 17}
_EXT = {0xC7: 1, 0xC8: 2, 0xC9: 4}  # a length, a type byte, then the bytes
_CONTAINERS = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}  # array, map: a count (of pairs)


def _skip(frame: bytes, at: int) -> int:
    """The offset after the value at ``at``: iterative, so no depth of nesting can exhaust a stack."""
    pending = 1
    while pending:
        pending -= 1
        head = frame[at]
        at += 1
        if head <= 0x7F or head >= 0xE0:
            continue
        if head <= 0x8F:  # fixmap
            pending += 2 * (head & 0x0F)
        elif head <= 0x9F:  # fixarray
            pending += head & 0x0F
        elif head <= 0xBF:  # fixstr
            at += head & 0x1F
        elif head in _FIXED:
            at += _FIXED[head]
        elif head in _SIZED:
            size = _SIZED[head]
            at += size + int.from_bytes(frame[at : at + size], "big")
        elif head in _EXT:
            size = _EXT[head]
            at += size + 1 + int.from_bytes(frame[at : at + size], "big")
        elif head in _CONTAINERS:
            size, per_entry = _CONTAINERS[head]
            pending += per_entry * int.from_bytes(frame[at : at + size], "big")
            at += size
        else:
            raise ValueError(f"byte {head:#x} is not msgpack")
        if at > len(frame):
            raise IndexError("cut short")
    return at
