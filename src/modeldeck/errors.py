"""One error hierarchy for every layer: the platform raises it, the API serializes it, the client rebuilds it.

Each error carries the platform `code` (``Workspace.AccessDenied``), the HTTP `status`, the `request_id`
of the call that failed, and a `hint`: one sentence telling the user what to do next. Messages never
contain secrets or the caller's inputs.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "DeckError",
    "InvalidParameter",
    "InvalidApiKey",
    "AccessDenied",
    "WorkspaceAccessDenied",
    "ModelAccessDenied",
    "NotFound",
    "Conflict",
    "QuotaExceeded",
    "PayloadTooLarge",
    "UnsafeFormat",
    "Throttling",
    "ServerError",
    "ConnectionFailed",
    "Unsupported",
    "MissingDependency",
    "error_from_payload",
    "from_response",
]


class DeckError(Exception):
    """Base of every modeldeck error."""

    code: ClassVar[str] = "InternalError"
    status: ClassVar[int | None] = 500
    default_hint: ClassVar[str] = ""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        code: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        if code is not None:
            self.code = code  # type: ignore[misc]
        if status is not None:
            self.status = status  # type: ignore[misc]
        self.request_id = request_id

    def __str__(self) -> str:
        text = f"{self.message} [{self.code}]"
        return f"{text} Hint: {self.hint}" if self.hint else text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "hint": self.hint, "request_id": self.request_id}


class InvalidParameter(DeckError):
    code = "InvalidParameter"
    status = 400


class PayloadTooLarge(InvalidParameter):
    code = "RequestTooLarge"
    status = 413


class UnsafeFormat(InvalidParameter):
    """A checkpoint format that runs code when loaded, refused for local inference without an opt-in."""

    code = "Model.UnsafeFormat"
    status = 422


class InvalidApiKey(DeckError):
    code = "InvalidApiKey"
    status = 401
    default_hint = "Check the API key: it may be mistyped, revoked, or belong to another platform."


class AccessDenied(DeckError):
    """The caller is a member of the workspace but its role lacks the permission for this action."""

    code = "AccessDenied"
    status = 403


class WorkspaceAccessDenied(AccessDenied):
    code = "Workspace.AccessDenied"


class ModelAccessDenied(AccessDenied):
    code = "Model.AccessDenied"


class NotFound(DeckError):
    code = "NotFound"
    status = 404


class Conflict(DeckError):
    code = "Conflict"
    status = 409


class QuotaExceeded(DeckError):
    code = "QuotaExceeded"
    status = 403


class Throttling(DeckError):
    code = "Throttling"
    status = 429
    default_hint = "Wait a moment and retry; the platform is limiting the request rate."


class ServerError(DeckError):
    code = "InternalError"
    status = 500


class ConnectionFailed(DeckError):
    code = "ConnectionFailed"
    status = None
    default_hint = "Check that the platform is running and reachable, then retry."


class Unsupported(DeckError):
    """What is connected cannot do this (a provider lacking the operation, a database server too old for
    the platform); raised before anything is sent."""

    code = "Provider.Unsupported"
    status = None


class MissingDependency(DeckError):
    """An optional package this call needs is not installed; the hint names the extra to install."""

    code = "MissingDependency"
    status = None


_BY_SUFFIX: tuple[tuple[str, type[DeckError]], ...] = (
    ("Workspace.AccessDenied", WorkspaceAccessDenied),
    ("Model.AccessDenied", ModelAccessDenied),
    ("Model.UnsafeFormat", UnsafeFormat),
    ("RequestTooLarge", PayloadTooLarge),
    ("InvalidApiKey", InvalidApiKey),
    ("AccessDenied", AccessDenied),
    ("NotFound", NotFound),
    ("Conflict", Conflict),
    ("QuotaExceeded", QuotaExceeded),
    ("Throttling", Throttling),
    ("Provider.Unsupported", Unsupported),
    ("MissingDependency", MissingDependency),
)
_BY_STATUS: dict[int, type[DeckError]] = {
    400: InvalidParameter,
    401: InvalidApiKey,
    403: AccessDenied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: InvalidParameter,
    429: Throttling,
}


def error_class(code: str, status: int | None) -> type[DeckError]:
    """The class for a platform code such as ``Model.NotFound``, falling back on the HTTP status."""
    for suffix, cls in _BY_SUFFIX:
        if code == suffix or code.endswith("." + suffix):
            return cls
    if status is not None and status >= 500:
        return ServerError
    return _BY_STATUS.get(status or 0, DeckError)


def error_from_payload(status: int, payload: dict[str, Any], request_id: str | None = None) -> DeckError:
    """Rebuild a typed error from the platform's JSON error body."""
    code = str(payload.get("code") or "InternalError")
    cls = error_class(code, status)
    return cls(
        str(payload.get("message") or "The platform returned an error."),
        hint=payload.get("hint") or None,
        code=code,
        status=status,
        request_id=payload.get("request_id") or request_id,
    )


def error_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """The error's fields from the platform's native body or from an OpenAI-style `{"error": {...}}`."""
    inner = payload.get("error")
    if not isinstance(inner, dict):
        return payload
    return {**inner, "message": inner.get("detail") or inner.get("message"), "code": inner.get("code") or ""}


def response_payload(response: Any) -> dict[str, Any]:
    """A failed response's JSON object, or a stand-in naming its status when the body is not one."""
    try:
        payload = response.json()
        if isinstance(payload, dict):
            return payload
    except ValueError:
        pass
    return {"message": f"HTTP {response.status_code} from the platform.", "code": ""}


def from_response(response: Any) -> DeckError:
    """The modeldeck platform's typed error for a failed httpx response (its native API or its /v1)."""
    fields = error_fields(response_payload(response))
    return error_from_payload(response.status_code, fields, response.headers.get("x-request-id"))
