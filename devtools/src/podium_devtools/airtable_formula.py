"""The subset of Airtable's formula language that the fake's `filterByFormula` evaluates.

Enough for a delta re-sync and for lookups by id or value, and deliberately no more: a formula
outside the subset is refused (FormulaError → 422 INVALID_FILTER_BY_FORMULA), so a tool can never
pass against the fake with a filter that the fake silently misread.

Supported: string/number literals, `{field}` references, `= != <> < > <= >= &`, parentheses and
AND, OR, NOT, IF(c, a, b), IS_AFTER, IS_BEFORE, IS_SAME(a, b) (to the millisecond), CREATED_TIME(),
LAST_MODIFIED_TIME() (no arguments), RECORD_ID(), DATETIME_PARSE(text), TRUE(), FALSE(), BLANK(),
LOWER, UPPER, TRIM, LEN.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from podium_devtools.airtable_layout import parse_time


class FormulaError(ValueError):
    """The formula is malformed, names an unknown field, or uses something outside the subset."""


@dataclass(frozen=True)
class RecordView:
    """What a formula can see of a record."""

    id: str
    created: datetime
    modified: datetime
    fields: Mapping[str, Any]


Evaluator = Callable[[RecordView], Any]

_TOKEN_RE = re.compile(
    r"""
    \s*(?:
      (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<number>\d+(?:\.\d+)?)
    | (?P<field>\{(?:[^}\\]|\\.)*\})
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op><=|>=|!=|<>|[=<>&(),])
    )""",
    re.VERBOSE,
)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if match is None or match.lastgroup is None:
            raise FormulaError(
                f"unexpected character at position {position}: {text[position : position + 10]!r}"
            )
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        position = match.end()
    return tokens


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", r"\1", body)


def _to_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return parse_time(value)
        except ValueError as error:
            raise FormulaError(f"not a date: {value!r}") from error
    return None


def _to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        return ", ".join(_to_text(item) for item in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _truthy(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value)
    return bool(value)


def _compare(operator: str, left: Any, right: Any) -> bool:
    if isinstance(left, datetime) or isinstance(right, datetime):
        left_time, right_time = _to_datetime(left), _to_datetime(right)
        if left_time is None or right_time is None:
            return False
        left, right = left_time, right_time
    elif isinstance(left, int | float) and isinstance(right, int | float):
        pass
    elif isinstance(left, int | float) and not isinstance(left, bool) and isinstance(right, str):
        left = _to_text(left)
    elif isinstance(right, int | float) and not isinstance(right, bool) and isinstance(left, str):
        right = _to_text(right)
    else:
        left, right = _to_text(left), _to_text(right)
    if operator == "=":
        return bool(left == right)
    if operator in ("!=", "<>"):
        return bool(left != right)
    try:
        if operator == "<":
            return bool(left < right)
        if operator == ">":
            return bool(left > right)
        if operator == "<=":
            return bool(left <= right)
        return bool(left >= right)
    except TypeError:
        return False


def _date_relation(name: str, left: Any, right: Any) -> bool:
    left_time, right_time = _to_datetime(left), _to_datetime(right)
    if left_time is None or right_time is None:
        return False
    if name == "IS_AFTER":
        return left_time > right_time
    if name == "IS_BEFORE":
        return left_time < right_time
    return left_time == right_time


class _Parser:
    def __init__(self, text: str, known_fields: frozenset[str]) -> None:
        self.tokens = _tokenize(text)
        self.position = 0
        self.known_fields = known_fields

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise FormulaError("unexpected end of formula")
        self.position += 1
        return token

    def expect(self, value: str) -> None:
        kind, text = self.take()
        if (kind, text) != ("op", value):
            raise FormulaError(f"expected {value!r}, found {text!r}")

    def parse(self) -> Evaluator:
        if not self.tokens:
            raise FormulaError("empty formula")
        evaluator = self.comparison()
        leftover = self.peek()
        if leftover is not None:
            raise FormulaError(f"unexpected {leftover[1]!r}")
        return evaluator

    def comparison(self) -> Evaluator:
        left = self.concatenation()
        token = self.peek()
        if (
            token is not None
            and token[0] == "op"
            and token[1] in ("=", "!=", "<>", "<", ">", "<=", ">=")
        ):
            self.take()
            right = self.concatenation()
            operator = token[1]
            return lambda record: _compare(operator, left(record), right(record))
        return left

    def concatenation(self) -> Evaluator:
        parts = [self.term()]
        while self.peek() == ("op", "&"):
            self.take()
            parts.append(self.term())
        if len(parts) == 1:
            return parts[0]
        return lambda record: "".join(_to_text(part(record)) for part in parts)

    def term(self) -> Evaluator:
        kind, text = self.take()
        if kind == "string":
            literal = _unescape(text[1:-1])
            return lambda record: literal
        if kind == "number":
            number = float(text) if "." in text else int(text)
            return lambda record: number
        if kind == "field":
            name = _unescape(text[1:-1])
            if name not in self.known_fields:
                raise FormulaError(f"Unknown field names: {name.lower()}")
            return lambda record: record.fields.get(name)
        if (kind, text) == ("op", "("):
            inner = self.comparison()
            self.expect(")")
            return inner
        if kind == "name":
            return self.call(text.upper())
        raise FormulaError(f"unexpected {text!r}")

    def arguments(self) -> list[Evaluator]:
        self.expect("(")
        arguments: list[Evaluator] = []
        if self.peek() == ("op", ")"):
            self.take()
            return arguments
        while True:
            arguments.append(self.comparison())
            kind, text = self.take()
            if (kind, text) == ("op", ")"):
                return arguments
            if (kind, text) != ("op", ","):
                raise FormulaError(f"expected ',' or ')', found {text!r}")

    def call(self, name: str) -> Evaluator:
        arguments = self.arguments()
        count = len(arguments)

        def arity(*allowed: int) -> None:
            if count not in allowed:
                raise FormulaError(
                    f"{name}() takes {' or '.join(map(str, allowed))} arguments, got {count}"
                )

        if name in ("AND", "OR"):
            if count == 0:
                raise FormulaError(f"{name}() needs arguments")
            combine = all if name == "AND" else any
            return lambda record: combine(_truthy(argument(record)) for argument in arguments)
        if name == "NOT":
            arity(1)
            return lambda record: not _truthy(arguments[0](record))
        if name == "IF":
            arity(2, 3)
            otherwise: Evaluator = arguments[2] if count == 3 else (lambda record: None)
            return lambda record: (
                arguments[1](record) if _truthy(arguments[0](record)) else otherwise(record)
            )
        if name in ("IS_AFTER", "IS_BEFORE", "IS_SAME"):
            arity(2)
            return lambda record: _date_relation(name, arguments[0](record), arguments[1](record))
        if name in ("CREATED_TIME", "LAST_MODIFIED_TIME", "RECORD_ID", "TRUE", "FALSE", "BLANK"):
            # LAST_MODIFIED_TIME({field}) needs per-field history, which the fake does not keep.
            arity(0)
            constant: Evaluator = {
                "CREATED_TIME": lambda record: record.created,
                "LAST_MODIFIED_TIME": lambda record: record.modified,
                "RECORD_ID": lambda record: record.id,
                "TRUE": lambda record: True,
                "FALSE": lambda record: False,
                "BLANK": lambda record: None,
            }[name]
            return constant
        if name == "DATETIME_PARSE":
            # A format or locale argument would need Airtable's moment.js parser; refuse it.
            arity(1)
            return lambda record: _to_datetime(arguments[0](record))
        if name in ("LOWER", "UPPER", "TRIM", "LEN"):
            arity(1)
            transforms: dict[str, Callable[[str], Any]] = {
                "LOWER": str.lower,
                "UPPER": str.upper,
                "TRIM": str.strip,
                "LEN": len,
            }
            transform = transforms[name]
            return lambda record: transform(_to_text(arguments[0](record)))
        raise FormulaError(f"unsupported function {name}()")


def compile_formula(text: str, known_fields: frozenset[str]) -> Callable[[RecordView], bool]:
    """Compile `text` into a record predicate; FormulaError if it is outside the subset."""
    evaluator = _Parser(text, known_fields).parse()
    return lambda record: _truthy(evaluator(record))
