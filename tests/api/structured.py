"""Helpers for the structured-output tests: the schema suite and grammars on disk, JSON Schema
validation with strict format checks, Python mirrors of the GBNF grammars (each written from the
grammar's text, not from nagare's output), OpenAI error bodies, and greedy chat streams held open
while other requests run."""
import json
import re
import uuid
from pathlib import Path

import jsonschema

HERE = Path(__file__).resolve().parent
SCHEMA_DIR = HERE / "schemas"
GRAMMAR_DIR = HERE / "grammars"

FINISH_REASONS = {"stop", "length"}


def load_schemas():
    """{name: schema} for every tests/api/schemas/*.json, in name order."""
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(SCHEMA_DIR.glob("*.json"))}


def load_grammars():
    """{name: GBNF text} for every tests/api/grammars/*.gbnf, in name order."""
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(GRAMMAR_DIR.glob("*.gbnf"))}


# --- JSON Schema formats ------------------------------------------------------------------------
# jsonschema checks "time" and "date-time" only when rfc3339-validator is installed, and its
# "email" only looks for an "@": these are RFC 3339 (section 5.6) and RFC 5321 written out.

_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_EMAIL = re.compile(r"[^@\s\"]+@[^@\s\"]+")

FORMAT_CHECKER = jsonschema.FormatChecker()


@FORMAT_CHECKER.checks("date")
def _is_date(s):
    """RFC 3339 full-date: years 0000-9999, and the day must exist in that month (5.7, with the
    Gregorian leap years of appendix C): 2026-02-30 and 2025-02-29 are refused."""
    if not isinstance(s, str):
        return True
    if not _DATE.fullmatch(s):
        return False
    year, month, day = map(int, s.split("-"))
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return 1 <= month <= 12 and 1 <= day <= days[month - 1]


@FORMAT_CHECKER.checks("time")
def _is_time(s):
    return not isinstance(s, str) or bool(_TIME.fullmatch(s))


@FORMAT_CHECKER.checks("date-time")
def _is_date_time(s):
    if not isinstance(s, str):
        return True
    date, sep, time = s.partition("T") if "T" in s else s.partition("t")
    return bool(sep) and _is_date(date) and _is_time(time)


@FORMAT_CHECKER.checks("uuid", raises=ValueError)
def _is_uuid(s):
    return not isinstance(s, str) or bool(_UUID.fullmatch(s) and uuid.UUID(s))


@FORMAT_CHECKER.checks("email")
def _is_email(s):
    return not isinstance(s, str) or bool(_EMAIL.fullmatch(s))


def validator(schema):
    return jsonschema.Draft202012Validator(schema, format_checker=FORMAT_CHECKER)


def check_json_output(schema, text, finish_reason):
    """The output of a schema-constrained request: "stop" must mean a valid instance; "length"
    (max_tokens reached) returns a cut text that is not judged. Returns the instance or None."""
    assert finish_reason in FINISH_REASONS, f"finish_reason {finish_reason!r} for {text!r}"
    if finish_reason == "length":
        return None
    try:
        instance = json.loads(text)
    except json.JSONDecodeError as e:
        raise AssertionError(f"finish_reason stop but the output is not JSON ({e}): {text!r}") from None
    errors = sorted(validator(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not errors, f"output {text!r} breaks the schema: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors)
    return instance


def check_json_object_output(text, finish_reason):
    """response_format json_object: "stop" must mean a JSON object."""
    assert finish_reason in FINISH_REASONS, f"finish_reason {finish_reason!r} for {text!r}"
    if finish_reason == "length":
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise AssertionError(f"finish_reason stop but the output is not JSON ({e}): {text!r}") from None
    assert isinstance(value, dict), f"json_object gave a {type(value).__name__}: {text!r}"
    return value


# --- mirrors of tests/api/grammars/*.gbnf ---------------------------------------------------------

class _Arithmetic:
    """Recursive descent over arithmetic.gbnf: expr ::= term (ws [-+] ws term){0,4},
    term ::= factor (ws [*/] ws factor){0,3}, factor ::= number | "(" ws expr ws ")",
    number ::= "-"? [0-9]{1,4}, ws ::= " "?. Nothing is evaluated."""

    def __init__(self, text):
        self.s, self.i = text, 0

    def parse(self):
        self.expr()
        return self.i == len(self.s)

    def _ws(self):
        if self.s.startswith(" ", self.i):
            self.i += 1

    def _op(self, ops):
        """ws op ws, or nothing (position unchanged) when no operator follows."""
        j = self.i
        self._ws()
        if self.i < len(self.s) and self.s[self.i] in ops:
            self.i += 1
            self._ws()
            return True
        self.i = j
        return False

    def expr(self):
        self.term()
        for _ in range(4):
            if not self._op("+-"):
                break
            self.term()

    def term(self):
        self.factor()
        for _ in range(3):
            if not self._op("*/"):
                break
            self.factor()

    def factor(self):
        if self.s.startswith("(", self.i):
            self.i += 1
            self._ws()
            self.expr()
            self._ws()
            if not self.s.startswith(")", self.i):
                raise ValueError(f"')' expected at {self.i}")
            self.i += 1
            return
        m = re.compile(r"-?[0-9]{1,4}").match(self.s, self.i)
        if not m:
            raise ValueError(f"a number expected at {self.i}")
        self.i = m.end()


def is_arithmetic(text):
    try:
        return _Arithmetic(text).parse()
    except ValueError:
        return False


def is_json_object(text):
    try:
        return isinstance(json.loads(text), dict)
    except json.JSONDecodeError:
        return False


_MOVE = r"(?:O-O(?:-O)?|[KQRBN][a-h1-8]?x?[a-h][1-8]|(?:[a-h]x)?[a-h][1-8](?:=[QRBN])?)[+#]?"
_PAIR = f"{_MOVE} {_MOVE}"
_CHESS = re.compile(rf"1\. {_PAIR}(?: 2\. {_PAIR}(?: 3\. {_PAIR})?)?")
_LIST = re.compile(r"(?:Shopping list:\n)?(?:- [a-z]+(?: [a-z]+){0,2}\n){1,5}")
_JA_DATE = re.compile(r"[12]\d{3}年(?:1[0-2]|[1-9])月(?:3[01]|[12]\d|[1-9])日(?:（[月火水木金土日]）)?(?:、.{1,8})?",
                      re.DOTALL | re.ASCII)  # ASCII: \d is 0-9 only, as in the grammar

# Grammar name -> a function saying whether a text is a sentence of it.
GRAMMAR_CHECKS = {
    "arithmetic": is_arithmetic,
    "json": is_json_object,
    "list": lambda t: bool(_LIST.fullmatch(t)),
    "chess": lambda t: bool(_CHESS.fullmatch(t)),
    "japanese_date": lambda t: bool(_JA_DATE.fullmatch(t)),
}


def check_grammar_output(name, text, finish_reason):
    assert finish_reason in FINISH_REASONS, f"finish_reason {finish_reason!r} for {text!r}"
    if finish_reason == "stop":
        assert GRAMMAR_CHECKS[name](text), f"finish_reason stop but {text!r} is not a sentence of {name}.gbnf"


# --- errors ---------------------------------------------------------------------------------------

def error_of(response, status=400):
    """The OpenAI error object of a response that must have `status`."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body = response.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"}, err
    assert isinstance(err["message"], str) and err["message"]
    if status == 400:
        assert err["type"] == "invalid_request_error", err
    return err
