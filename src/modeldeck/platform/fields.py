"""The registry's field rules, mirrored from PAI's WorkspaceModel and WorkspaceModelVersion."""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import InvalidParameter
from ..vocabulary import (  # noqa: F401  (re-exported: the platform's rules name them from here)
    ACCESSIBILITIES,
    APPROVAL_STATUSES,
    AUTHORIZATION_MODES,
    FORMAT_TYPES,
    FRAMEWORK_TYPES,
    GRANT_ACTIONS,
    SOURCE_TYPES,
    VERSION_PATTERN,
    choice,
)
from .authz import clip
from .ids import NAME_SHAPE, looks_like_id

VERSION_NAME = re.compile(VERSION_PATTERN, re.ASCII)
SLUG = NAME_SHAPE
LABEL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/:]{0,63}$")
MAX_LABELS = 20
MAX_METRICS_CHARS = 8192
MAX_SPEC_CHARS = 65536
MAX_TEXT = 4096


def slug(value: Any, what: str) -> str:
    """Workspace and account names: a letter, then letters, digits, '_' or '-' (2 to 64 characters)."""
    if not isinstance(value, str) or not SLUG.fullmatch(value) or looks_like_id(value):
        raise InvalidParameter(
            f"{what.capitalize()} name {_show(value)} is not valid.",
            code=f"InvalidParameter.{what.capitalize()}Name",
            hint="Use 2 to 64 characters: a letter first, then letters, digits, '_' or '-' (not shaped like an "
            "id such as ws-0123456789ab).",
        )
    return value


def model_name(value: Any) -> str:
    """Model names are free text as on PAI, but single-line, trimmed and path-free."""
    ok = (
        isinstance(value, str)
        and 0 < len(value) <= 128
        and value == value.strip()
        and value not in (".", "..")
        and value.isprintable()
        and not any(ch in value for ch in "/\\")
        and not looks_like_id(value)
    )
    if not ok:
        raise InvalidParameter(
            f"Model name {_show(value)} is not valid.",
            code="InvalidParameter.ModelName",
            hint="Use 1 to 128 printable characters with no '/' or '\\', no surrounding spaces, and not shaped "
            "like an id such as mdl-0123456789ab.",
        )
    return value


def version_name(value: Any) -> tuple[str, int, int, int]:
    match = VERSION_NAME.fullmatch(value) if isinstance(value, str) and len(value) <= 64 else None
    if match is None:
        raise InvalidParameter(
            f"Version name {_show(value)} is not valid.",
            code="InvalidParameter.VersionName",
            hint="Use MAJOR.MINOR.PATCH with an optional _suffix, like 1.2.0 or 1.2.0_beta (numbers without "
            "leading zeros, at most 9 digits), or omit it to bump the minor number.",
        )
    return value, int(match[1]), int(match[2]), int(match[3])


def labels(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, list):  # PAI's wire form: [{"Key": k, "Value": v}]
        try:
            value = {str(item.get("Key", item.get("key"))): item.get("Value", item.get("value")) for item in value}
        except AttributeError:
            value = None
    if not isinstance(value, dict):
        raise InvalidParameter(
            "Labels must be an object of string keys to string values.",
            code="InvalidParameter.Labels",
            hint='Pass labels like {"team": "vision", "stage": "candidate"}.',
        )
    if len(value) > MAX_LABELS:
        raise InvalidParameter(
            f"{len(value)} labels were given; at most {MAX_LABELS} are allowed.",
            code="InvalidParameter.Labels",
            hint="Keep the 20 labels that matter; put the rest in extra_info.",
        )
    for key, val in value.items():
        if not isinstance(key, str) or not LABEL_KEY.fullmatch(key) or not isinstance(val, str) or len(val) > 256 or not val.isprintable():
            raise InvalidParameter(
                f"Label {_show(key)} is not valid.",
                code="InvalidParameter.Labels",
                hint="Label keys: 1 to 64 of letters, digits, '_', '.', '-', '/', ':'; values: strings of at "
                "most 256 printable characters.",
            )
    return dict(value)


def json_object(value: Any, what: str, limit: int = MAX_SPEC_CHARS) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidParameter(
            f"{what} must be a JSON object.",
            code=f"InvalidParameter.{what.replace('_', ' ').title().replace(' ', '')}",
            hint=f'Pass {what} as a mapping, like {{"key": "value"}}.',
        )
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
    if size > limit:
        raise InvalidParameter(
            f"{what} is {size} characters once serialized; at most {limit} are allowed.",
            code=f"InvalidParameter.{what.replace('_', ' ').title().replace(' ', '')}",
            hint=f"Keep {what} under {limit} characters: store large reports as a file and link them.",
        )
    return value


def inference_spec(value: Any) -> dict[str, Any]:
    """Free-form, except `entry`: the file to load, a path inside the version (checked when it is loaded)."""
    spec = json_object(value, "inference_spec")
    entry = spec.get("entry")
    if entry is not None and (not isinstance(entry, str) or not entry or len(entry) > 1024):
        raise InvalidParameter(
            "inference_spec.entry must be the path of the file to load, as text.",
            code="InvalidParameter.InferenceSpec",
            hint='Pass the path inside the version, like {"entry": "model.onnx"}, or omit entry.',
        )
    return spec


def metrics(value: Any) -> dict[str, Any]:
    return json_object(value, "metrics", MAX_METRICS_CHARS)


def options(value: Any) -> str | None:
    """PAI's `options` is a JSON document carried as a string."""
    if value is None:
        return None
    if not isinstance(value, str):
        value = json.dumps(value)
    try:
        json.loads(value)
    except ValueError:
        raise InvalidParameter(
            "options must be a JSON string.",
            code="InvalidParameter.Options",
            hint='Pass options as JSON text, like \'{"overwrite": true}\'.',
        ) from None
    if len(value) > MAX_SPEC_CHARS:
        raise InvalidParameter(
            "options is too long.", code="InvalidParameter.Options", hint="Keep options under 64 KiB."
        )
    return value


def text(value: Any, what: str, limit: int = MAX_TEXT) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        raise InvalidParameter(
            f"{what} must be text of at most {limit} characters.",
            code="InvalidParameter",
            hint=f"Shorten {what}.",
        )
    return value


def optional_text(value: Any, what: str, limit: int = 128) -> str | None:
    return None if value is None else text(value, what, limit)


def _show(value: Any) -> str:
    return repr(clip(value)) if isinstance(value, str) else f"of type {type(value).__name__}"
