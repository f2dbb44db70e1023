"""The OpenAPI document, made to tell the truth: FastAPI sees neither the routes' response shapes (they
return plain values, see `routing`), nor the error body every route answers with, nor the authentication;
and it declares a 422 the platform never sends (validation errors are 400s). This fills those in."""

from __future__ import annotations

import re
from typing import Any

REF = "#/components/schemas/"

_text, _when = {"type": "string"}, {"type": "string", "format": "date-time"}
_maybe_text, _maybe_when = {"type": ["string", "null"]}, {"type": ["string", "null"], "format": "date-time"}
_object, _strings = {"type": "object"}, {"type": "object", "additionalProperties": {"type": "string"}}
_int = {"type": "integer"}


def _shape(properties: dict[str, Any], *optional: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
    }


def _page(item: str) -> dict[str, Any]:
    return _shape({"items": {"type": "array", "items": {"$ref": REF + item}}, "next_cursor": _maybe_text})


_TENSOR = {"type": "object", "properties": {"name": {"type": "string"}, "dtype": {"type": "string"},
                                           "shape": {"type": "array", "items": {"type": ["integer", "null"]}}}}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": _shape({"code": _text, "message": _text, "hint": _text, "request_id": _maybe_text}),
    # under /v1, OpenAI's error body, which keeps the platform's code and hint
    "OpenAIError": _shape({"error": _shape({"message": _text, "type": _text, "param": _maybe_text, "code": _text,
                                             "hint": _text, "request_id": _maybe_text, "detail": _text},
                                            "param", "hint", "request_id", "detail")}),  # fmt: skip
    "Workspace": _shape({"id": _text, "name": _text, "description": _text, "is_default": {"type": "boolean"},
                         "created_at": _when, "updated_at": _when, "role": _text}, "role"),  # fmt: skip
    "Account": _shape({"id": _text, "name": _text, "kind": {"enum": ["main", "sub"]}, "created_at": _when,
                       "authorization_mode": _text, "role": _text, "api_key": _text},
                      "authorization_mode", "role", "api_key"),  # fmt: skip
    "ApiKey": _shape({"id": _text, "account_id": _text, "prefix": _text, "created_at": _when,
                      "revoked_at": _maybe_when, "api_key": _text}, "api_key"),  # fmt: skip
    "Model": _shape({
        "id": _text, "model_name": _text, "workspace_id": _text, "owner_workspace": _text,
        "source": {"enum": ["owned", "granted", "public", "none"]}, "actions": {"type": "array", "items": _text},
        "task": _maybe_text, "domain": _maybe_text, "origin": _maybe_text, "accessibility": _text,
        "model_type": _maybe_text, "labels": _strings, "description": _text, "extra_info": _object,
        "created_at": _when, "updated_at": _when,
        "latest_version": {"type": ["object", "null"], "properties": {"version_name": _text, "approval_status": _text}},
    }),  # fmt: skip
    "ModelVersion": _shape({
        "version_id": _text, "model_id": _text, "model_name": _text, "version_name": _text, "uri": _text,
        "format_type": _maybe_text, "framework_type": _maybe_text, "source_type": _maybe_text,
        "source_id": _maybe_text, "approval_status": {"enum": ["Pending", "Approved", "Rejected"]},
        "labels": _strings, "metrics": _object, "training_spec": _object, "inference_spec": _object,
        "extra_info": _object, "options": _maybe_text, "description": _text, "created_by": _text,
        "created_at": _when, "updated_at": _when,
        # what registration found by loading the checkpoint (None: not known)
        "signature": {"type": ["object", "null"], "properties": {
            "inputs": {"type": "array", "items": _TENSOR}, "outputs": {"type": "array", "items": _TENSOR},
            "features": {"type": "array", "items": _text}, "classes": {"type": "array"}}},
        "runnable": {"type": "boolean"}, "not_runnable_reason": _maybe_text,
    }),  # fmt: skip
    "Grant": _shape({"model_id": _text, "workspace_id": _text, "workspace": _text,
                     "actions": {"type": "array", "items": _text}, "created_at": _when}),  # fmt: skip
    "Upload": _shape({"id": _maybe_text, "size": _int, "offset": _int, "complete": {"type": "boolean"},
                      "sha256": _maybe_text}),  # fmt: skip
    "Import": _shape({"sha256": _text, "size": _int}),
    "Artifact": _shape({"digest": _text, "uri": _text, "files": {"type": "array", "items": _object}, "size": _int,
                        "created_at": _when}),  # fmt: skip
    "Task": _shape({"id": _text, "kind": _text, "model": _text, "version": _maybe_text, "status": _text,
                    "progress": {"type": ["number", "null"]}, "cancel_requested": {"type": ["boolean", "null"]},
                    "error": {"type": ["object", "null"]}, "created_at": _when, "started_at": _maybe_when,
                    "finished_at": _maybe_when, "expires_at": _maybe_when, "result": {}}, "result"),  # fmt: skip
    **{f"{name}Page": _page(name) for name in ("Workspace", "Account", "ApiKey", "Model", "ModelVersion", "Grant",
                                               "Task")},  # fmt: skip
}

# (method, path pattern) -> the schema of a success body; a route absent here answers an object
BODIES: list[tuple[str, str, str]] = [
    ("get", r"/api/v1/workspaces", "WorkspacePage"),
    ("*", r"/api/v1/workspaces(/\{workspace\})?", "Workspace"),
    ("get", r"/api/v1/workspaces/\{workspace\}/members", "AccountPage"),
    ("put", r"/api/v1/workspaces/\{workspace\}/members/\{account\}", "Account"),
    ("get", r"/api/v1/accounts", "AccountPage"),
    ("post", r"/api/v1/accounts", "Account"),
    ("get", r"/api/v1/accounts/\{account\}/keys", "ApiKeyPage"),
    ("*", r"/api/v1/(accounts/\{account\}/keys|keys/\{key_id\})", "ApiKey"),
    ("get", r"/api/v1/models", "ModelPage"),
    ("*", r"/api/v1/models(/\{model\})?", "Model"),
    ("get", r"/api/v1/models/\{model\}/grants", "GrantPage"),
    ("put", r"/api/v1/models/\{model\}/grants/\{workspace\}", "Grant"),
    ("get", r"/api/v1/models/\{model\}/versions", "ModelVersionPage"),
    ("*", r"/api/v1/models/\{model\}/versions(/\{version\}(/approve|/reject)?)?", "ModelVersion"),
    ("*", r"/api/v1/uploads(/\{upload_id\}(/complete)?)?", "Upload"),
    ("post", r"/api/v1/imports", "Import"),
    ("*", r"/api/v1/artifacts(/\{digest\})?", "Artifact"),
    ("get", r"/api/v1/tasks", "TaskPage"),
    ("*", r"/api/v1/tasks(/\{task_id\}(/cancel)?)?", "Task"),
]
SECURITY = {
    "ApiKey": {"type": "http", "scheme": "bearer", "description": "An API key: `Authorization: Bearer mdk-...`."},
    "AccessKey": {"type": "apiKey", "in": "header", "name": "Authorization",
                  "description": "An AccessKey's signature: `Authorization: ACS3-HMAC-SHA256 Credential=...`."},
}  # fmt: skip
ERRORS = {"400": "Invalid request: the body, a parameter or a value", "401": "No valid credentials",
          "403": "Not allowed here (the code says which rule)", "404": "No such resource",
          "409": "Conflicts with the current state", "413": "The body is too large"}  # fmt: skip
PUBLIC = {"/health", "/openapi.json", "/docs", "/redoc"}


def _error(description: str, shape: str = "Error") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": REF + shape}}}}


def _body_of(method: str, path: str) -> str | None:
    for wanted, pattern, schema in BODIES:
        if wanted in ("*", method) and re.fullmatch(pattern, path):
            return schema
    return None


def complete_document(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's document, with response bodies, the error shape and the security schemes filled in."""
    components = schema.setdefault("components", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.get("schemas", {}).pop(name, None)
    components.setdefault("schemas", {}).update(SCHEMAS)
    components["securitySchemes"] = SECURITY
    schema["security"] = [{"ApiKey": []}, {"AccessKey": []}]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status, response in responses.items():
                content = response.get("content", {}).get("application/json")
                if status.startswith("2") and content is not None and content.get("schema") in ({}, {"type": "string"}):
                    name = _body_of(method, path)
                    content["schema"] = {"$ref": REF + name} if name else {"type": "object"}
            if path == "/api/v1/events":  # server-sent events, open until the caller leaves
                responses["200"]["content"] = {"text/event-stream": {"schema": {"type": "string"}}}
            if path.startswith("/api/v1/artifacts/{digest}/files/"):  # the file's bytes
                responses["200"]["content"] = {"application/octet-stream": {"schema": {"type": "string",
                                                                                        "format": "binary"}}}
            shape = "OpenAIError" if path.startswith("/v1/") else "Error"
            for status, description in ERRORS.items():
                responses.setdefault(status, _error(description, shape))
            responses.setdefault("default", _error("An error, in the platform's error shape", shape))
            if path in PUBLIC:
                operation["security"] = []
    return schema
