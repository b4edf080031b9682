"""What msgspec and tomllib say about a config file, as the one line ``carbonx.config`` raises.

msgspec reports "Expected `int`, got `str` - at `$.instrument[0].tick_fen`" and tomllib "Invalid value
(at line 3, column 7)"; the regulator reads ``instrument[0].tick_fen: expected int, got str`` and
``line 3, column 7: TOML syntax error: invalid value``. A key that takes one of a few names (an
order book, a scheduler mode, a kind, a role, a self-trade-prevention mode) lists them:
``engine.book: 'fats' is not one of fast, reference``.
"""

from __future__ import annotations

import re

import msgspec
import msgspec.inspect

_AT_PATH = re.compile(r"^(?P<problem>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]*)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]*)`$")
_SYNTAX = re.compile(r"^(?P<problem>.*) \(at (?:line (?P<line>\d+), column (?P<column>\d+)|end of document)\)$")


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def validation_problem(shape: type, message: str) -> tuple[str, str]:
    """msgspec's "Expected `int`, got `str` - at `$.instrument[0].tick_fen`" as (key path, problem)."""
    found = _AT_PATH.match(message)
    problem, path = (found["problem"], found["path"].lstrip(".")) if found else (message, "")
    for pattern, what in ((_MISSING, "missing required key"), (_UNKNOWN, "unknown key")):
        field = pattern.match(problem)
        if field:
            return (f"{path}.{field['field']}" if path else field["field"]), what
    key, problem = path or "(top level)", _lower_first(problem.replace("`", ""))
    return key, _enum_problem(shape, key, problem) or problem


_INVALID_ENUM = re.compile(r"^invalid enum value (?P<value>.*)$")
_EXPECTED = re.compile(r"^expected .*, got (?P<got>\w+)$")
_STEP = re.compile(r"\.(?P<field>\w+)|\[(?P<item>\d+|\.\.\.)\]")


def _enum_problem(shape: type, key: str, problem: str) -> str | None:
    """For a key that takes one of a few names: what was given and every name it may be, in one line.

    msgspec says "invalid enum value 'fats'"; the regulator needs "'fats' is not one of fast, reference".
    """
    values = _enum_values(shape, key)
    if values is None:
        return None
    allowed = ", ".join(values)
    invalid, wrong_type = _INVALID_ENUM.match(problem), _EXPECTED.match(problem)
    if invalid:
        return f"{invalid['value']} is not one of {allowed}"
    if wrong_type:
        return f"expected one of {allowed}; got {wrong_type['got']}"
    return None


def _enum_values(shape: type, key: str) -> tuple[str, ...] | None:
    """The values a key of ``shape`` may take when it is a Literal or an Enum ("engine.book", "account[2].kind")."""
    info = msgspec.inspect.type_info(shape)
    for step in _STEP.finditer(key if key.startswith("[") else f".{key}"):
        info = _without_none(info)
        if step["field"] and isinstance(info, msgspec.inspect.StructType):
            fields = {field.encode_name: field.type for field in info.fields}
            if step["field"] not in fields:
                return None
            info = fields[step["field"]]
        elif step["item"] and isinstance(info, msgspec.inspect.ListType | msgspec.inspect.SetType):
            info = info.item_type
        elif step["item"] and isinstance(info, msgspec.inspect.DictType):
            info = info.value_type
        else:
            return None
    info = _without_none(info)
    if isinstance(info, msgspec.inspect.LiteralType):
        return tuple(str(value) for value in info.values)
    if isinstance(info, msgspec.inspect.EnumType):
        return tuple(str(member.value) for member in info.cls)
    return None


def _without_none(info: msgspec.inspect.Type) -> msgspec.inspect.Type:
    """``X | None`` as ``X``: an optional key takes the same names when it is given."""
    if isinstance(info, msgspec.inspect.UnionType):
        given = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
        if len(given) == 1:
            return given[0]
    return info


def syntax_problem(message: str) -> tuple[str, str]:
    """tomllib's "Invalid value (at line 3, column 7)" as (position, problem)."""
    found = _SYNTAX.match(message)
    if found is None:
        return "", f"TOML syntax error: {_lower_first(message)}"
    where = f"line {found['line']}, column {found['column']}" if found["line"] else "end of document"
    return where, f"TOML syntax error: {_lower_first(found['problem'])}"
