"""JSON on the platform's edges: one parser for every request body (route, lane, task), so no body can
make a parser recurse without bound and no NaN or Infinity (not JSON) gets in; the store's JSON columns
read by orjson; response bodies written by orjson, once, where a value that is not JSON (a NaN stored
before it was refused) becomes null instead of failing the whole listing."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from ..errors import InvalidParameter

MAX_DEPTH = 64  # nesting of objects and arrays: tensors and chat messages need far less
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_SQUARE = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[{]}")


def parse_json(raw: bytes) -> Any:
    """Parse a request body the one way every route, lane and task shares: nesting at most `MAX_DEPTH`
    (checked on the bytes, before any parser recurses), no NaN or Infinity (they are not JSON, and a stored
    one would break every later listing), integers of any size (the field checks say what is wrong)."""
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _too_deep(raw):
        raise InvalidParameter(
            f"The request body nests objects or arrays deeper than {MAX_DEPTH} levels.",
            code="InvalidParameter.Body",
            hint=f"Flatten the body: at most {MAX_DEPTH} levels of nesting are accepted.",
        )
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:  # strict: NaN and integers past 64 bits land here, and malformed text
        pass
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidParameter(
            "The request body is not valid JSON.", code="InvalidParameter.Body", hint="Send a JSON object."
        ) from None
    except _NotJson:
        raise InvalidParameter(
            "The request body holds NaN or Infinity, which are not JSON numbers.",
            code="InvalidParameter.Body",
            hint="Send null for a missing value, or a finite number.",
        ) from None


class _NotJson(Exception):
    pass


def _no_constant(name: str) -> Any:
    raise _NotJson(name)


def _too_deep(raw: bytes) -> bool:
    """Whether brackets outside strings nest deeper than `MAX_DEPTH`, at C speed: each pass drops the
    innermost pairs, so a body of depth d is done after d passes (malformed ones are the parser's to refuse)."""
    brackets = _STRINGS.sub(b"", raw).translate(_SQUARE, _NOT_BRACKETS)
    for _ in range(MAX_DEPTH):
        inner = brackets.replace(b"[]", b"")
        if not inner or inner == brackets:
            return False
        brackets = inner
    return True


def stored(text: str) -> Any:
    """A JSON column's value as read from the store: orjson, or the standard parser for rows written before
    NaN was refused (orjson then writes those as null)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def dumps(value: Any) -> bytes:
    """A response body: datetimes in ISO 8601, NaN and Infinity as null."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
