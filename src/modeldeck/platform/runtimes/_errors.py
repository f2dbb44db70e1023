"""The error codes of this package, built in one place so callers see a stable set.

Every message is one sentence about the model or the request's structure, never the caller's values.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from modeldeck.errors import InvalidParameter

LOAD_FAILED = "Model.LoadFailed"
RUNTIME_UNAVAILABLE = "Model.RuntimeUnavailable"
UNSAFE_EXTERNAL_DATA = "Model.UnsafeExternalData"
INVALID_INPUT = "Inference.InvalidInput"


def load_failed(message: str, hint: str) -> InvalidParameter:
    """The version's files cannot be turned into a runtime (missing, corrupt, or not the declared format)."""
    return InvalidParameter(message, hint=hint, code=LOAD_FAILED, status=422)


def runtime_unavailable(message: str, hint: str) -> InvalidParameter:
    """The platform has no runtime installed for the format."""
    return InvalidParameter(message, hint=hint, code=RUNTIME_UNAVAILABLE, status=422)


def invalid_input(message: str, hint: str) -> InvalidParameter:
    """The request's inputs do not fit the model."""
    return InvalidParameter(message, hint=hint, code=INVALID_INPUT)


def require(module: str, *, package: str, extra: str) -> ModuleType:
    """Import an optional library, or say which modeldeck extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise runtime_unavailable(
            f"The {package} library is not installed on this platform.",
            hint=f'Install it with: pip install "modeldeck[{extra}]", then restart the platform.',
        ) from exc
