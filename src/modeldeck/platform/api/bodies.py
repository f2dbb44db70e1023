"""Request bodies. Types are loose on purpose: the domain layer checks values and explains what to fix."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountCreate(Body):
    name: str


class SettingsUpdate(Body):
    authorization_mode: str


class WorkspaceCreate(Body):
    name: str
    description: str = ""


class WorkspaceUpdate(Body):
    name: str | None = None
    description: str | None = None


class MemberSet(Body):
    role: str


class ModelUpdate(Body):
    task: Any = None
    domain: Any = None
    origin: Any = None
    accessibility: Any = None
    model_type: Any = None
    labels: Any = None
    description: Any = None
    extra_info: Any = None


class ModelCreate(ModelUpdate):
    model_name: str


class GrantSet(Body):
    actions: list[str]


class VersionUpdate(Body):
    """The fields of a version that may change after registration."""

    labels: Any = None
    metrics: Any = None
    training_spec: Any = None
    inference_spec: Any = None
    extra_info: Any = None
    options: Any = None
    description: Any = None
    source_type: Any = None
    source_id: Any = None


class VersionCreate(VersionUpdate):
    """PAI WorkspaceModelVersion fields. Omit version_name to bump the minor number (0.1.0 first)."""

    version_name: Any = None
    uri: Any = None
    format_type: Any = None
    framework_type: Any = None
    approval_status: Any = None


class PredictRequest(Body):
    """Exactly one of inputs (tensors by input name, or one tensor for a single-input model), records or columns."""

    inputs: dict[str, Any] | list[Any] | None = None
    records: list[Any] | None = None
    columns: dict[str, Any] | None = None
    allow_unsafe: list[str] | None = None


class UploadCreate(Body):
    size: int
    sha256: str | None = None
    resume_key: str | None = None


class UploadComplete(Body):
    sha256: str


class ImportCreate(Body):
    """A file on the server's machine, as the client's `os.stat` saw it."""

    path: str
    size: int
    device: int
    inode: int
    mtime_ns: int
    sha256: str | None = None


class ArtifactFile(Body):
    path: str
    sha256: str
    size: int | None = None


class ArtifactCreate(Body):
    files: list[ArtifactFile]
