"""The platform's tables (SQLAlchemy 2 declarative). Alembic migrations under `migrations/` create them."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def iso_utc(value: datetime | str) -> str | datetime:
    """A timestamp read past UTCDateTime (listings read it as UTC text on every backend) as ISO 8601 UTC,
    exactly as the ORM's datetime serializes: six fraction digits, none when they are all zero (SQLite
    stores six, PostgreSQL's text drops trailing zeros); an aware datetime is left to the serializer."""
    if not isinstance(value, str):
        return value
    text = value.replace(" ", "T")
    digits = len(text) - text.find(".") - 1 if "." in text else 6
    if digits < 6:
        text += "0" * (6 - digits)
    return text.removesuffix(".000000") + "+00:00"


def utc_datetime(value: datetime | str) -> datetime:
    """A timestamp read past UTCDateTime, as the aware datetime the ORM would give."""
    return datetime.fromisoformat(iso_utc(value)) if isinstance(value, str) else value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UTCDateTime}


class Meta(Base):
    """Server-wide values shared by every process using the store (the cursor-signing secret)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # main | sub
    # The main account's authorization mode for its sub-accounts: strict | loose.
    authorization_mode: Mapped[str] = mapped_column(String(8), default="strict")
    created_at: Mapped[datetime]


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the key; the key itself is never stored
    prefix: Mapped[str] = mapped_column(String(16))  # shown in listings so a user can tell keys apart
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class AccessKey(Base):
    """An AccessKey pair for signed requests (ACS3-HMAC-SHA256): the secret is kept sealed, never hashed,
    because verifying a signature needs it."""

    __tablename__ = "access_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the AccessKey id, "AK..."
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    secret: Mapped[str] = mapped_column(Text)  # sealed (platform/sealed.py)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16))  # Active | Revoked
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class SignatureNonce(Base):
    """A signature nonce seen within its date window: a second request with it is a replay. Kept in the
    database, so every replica and process refuses it; rows go once their window has passed."""

    __tablename__ = "signature_nonces"
    access_key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class Token(Base):
    """A short-lived bearer token the platform issued to an account (stored as sha256, like keys)."""

    __tablename__ = "tokens"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class Workspace(Base):
    __tablename__ = "workspaces"
    __table_args__ = (UniqueConstraint("account_id", "name"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Member(Base):
    """A sub-account's role in a workspace; role `none` records a removal in loose mode."""

    __tablename__ = "members"
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class Model(Base):
    __tablename__ = "models"
    __table_args__ = (
        UniqueConstraint("workspace_id", "model_name"),
        # A model named by a caller of any workspace (id or name). A hash index: equality is all it serves,
        # and a btree in name order would be PostgreSQL's generic plan for a workspace's page, filtered by
        # workspace (10,000 other models read for a small workspace's page); 0011.
        Index("ix_models_name", "model_name", postgresql_using="hash"),
        Index("ix_models_public", "accessibility", "model_name", "id"),  # a page of PUBLIC models, in order
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="RESTRICT"), index=True)
    model_name: Mapped[str] = mapped_column(String(128))
    task: Mapped[str | None] = mapped_column(String(128))
    domain: Mapped[str | None] = mapped_column(String(128))
    origin: Mapped[str | None] = mapped_column(String(128))
    accessibility: Mapped[str] = mapped_column(String(8), default="PRIVATE")
    model_type: Mapped[str | None] = mapped_column(String(64))
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    description: Mapped[str] = mapped_column(Text, default="")
    extra_info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The version `latest` serves and its approval status, kept by triggers on model_versions (latest.py);
    # never written by the platform itself.
    latest_version: Mapped[str | None] = mapped_column(String(64))
    latest_status: Mapped[str | None] = mapped_column(String(16))


class Grant(Base):
    """Authorization of a workspace (not the owner) to use a model for a set of actions."""

    __tablename__ = "grants"
    __table_args__ = (Index("ix_grants_workspace", "workspace_id", "model_id"),)  # what a workspace was granted
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    # Comma-fenced (",deploy,inference,") so a listing filters by action with one indexed-friendly LIKE.
    actions_text: Mapped[str] = mapped_column("actions", String(64))
    created_at: Mapped[datetime]

    @property
    def actions(self) -> list[str]:
        return [a for a in self.actions_text.split(",") if a]

    @actions.setter
    def actions(self, value: list[str]) -> None:
        self.actions_text = "," + ",".join(sorted(value)) + ","


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("model_id", "version_name"),
        UniqueConstraint("model_id", "idempotency_key"),
        Index("ix_model_versions_order", "model_id", "major", "minor", "patch", "version_name"),
        Index("ix_model_versions_seq", "model_id", "seq"),
    )
    # Creation order: the key of keyset pagination. A version's public key is `model_id:version_name`.
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    version_name: Mapped[str] = mapped_column(String(64))
    major: Mapped[int] = mapped_column(Integer)
    minor: Mapped[int] = mapped_column(Integer)
    patch: Mapped[int] = mapped_column(Integer)
    uri: Mapped[str] = mapped_column(Text)
    artifact_digest: Mapped[str | None] = mapped_column(String(64))
    format_type: Mapped[str | None] = mapped_column(String(32))
    framework_type: Mapped[str | None] = mapped_column(String(32))
    source_type: Mapped[str | None] = mapped_column(String(32))
    source_id: Mapped[str | None] = mapped_column(String(256))
    approval_status: Mapped[str] = mapped_column(String(16), default="Pending")
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    training_spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    inference_spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extra_info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    options: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    # What registration found by loading the checkpoint (runtimes.inspection): its inputs and outputs, and
    # whether this platform can run it (and why not). Null signature: unknown (external, pickled, large).
    signature: Mapped[dict[str, Any] | None] = mapped_column()
    runnable: Mapped[bool] = mapped_column(Boolean, default=True)
    not_runnable_reason: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    fingerprint: Mapped[str | None] = mapped_column(String(64))  # sha256 of the request, to spot key reuse
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WorkspaceBlob(Base):
    """A blob whose bytes this workspace uploaded: only these may go into its artifacts (no claim by hash)."""

    __tablename__ = "workspace_blobs"
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class Artifact(Base):
    """A manifest of blobs at relative paths: one file or a whole checkpoint folder."""

    __tablename__ = "artifacts"
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    files: Mapped[list[Any]] = mapped_column()
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class Upload(Base):
    """A resumable upload in progress, private to the account that started it; its bytes are staged until
    the digest is verified."""

    __tablename__ = "uploads"
    __table_args__ = (
        UniqueConstraint("workspace_id", "account_id", "resume_key", name="uq_uploads_owner_resume_key"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    size: Mapped[int] = mapped_column(BigInteger)
    # Chosen by the client from what it uploads (path, size, mtime): asking again with the same key
    # returns this upload and its offset, so a new process resumes with no local state.
    resume_key: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]


class Task(Base):
    """An asynchronous job (a predict, later a chat) run by one server process, polled and cancelled by id.

    Ids are time-ordered, so listing newest first is a keyset walk down (workspace_id, id).
    """

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_workspace_order", "workspace_id", "id"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(String(32))  # who submitted it
    kind: Mapped[str] = mapped_column(String(16))  # predict | chat
    model_ref: Mapped[str] = mapped_column(String(128))
    version: Mapped[str | None] = mapped_column(String(64))
    request: Mapped[dict[str, Any]] = mapped_column()  # the predict/chat body
    # PENDING | RUNNING | SUCCEEDED | FAILED | CANCELED; indexed to find unfinished tasks quickly.
    status: Mapped[str] = mapped_column(String(16), index=True)
    progress: Mapped[float | None]
    result: Mapped[dict[str, Any] | None]
    error: Mapped[dict[str, Any] | None]  # {code, message, hint}: never a traceback
    runner: Mapped[str] = mapped_column(Text)  # host:pid:boot-id:start of the process that runs it
    heartbeat_at: Mapped[datetime]
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None] = mapped_column(index=True)  # set at finish; the row goes after it
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)


class Deployment(Base):
    """A model version served under a name in a workspace, by replicas of one engine (local or ray)."""

    __tablename__ = "deployments"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="RESTRICT"), index=True)
    version: Mapped[str] = mapped_column(String(64))  # the version it serves (or is upgrading to)
    previous_version: Mapped[str | None] = mapped_column(String(64))  # what a rollback returns to
    replicas: Mapped[int] = mapped_column(Integer)
    resources: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"cpus": 1, "memory_mb": 512}
    engine: Mapped[str] = mapped_column(String(16))  # local | ray
    upgrade: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"mode", "batch_size", "max_unavailable"}
    # Creating | Running | Upgrading | RollingBack | Failed | Stopped | Deleting
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str] = mapped_column(Text, default="")
    port: Mapped[int | None] = mapped_column(Integer)  # the local engine's endpoint on the platform host
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DeploymentEvent(Base):
    """What happened to a deployment: who did it, when, what changed, and why it failed if it did."""

    __tablename__ = "deployment_events"
    __table_args__ = (Index("ix_deployment_events_order", "deployment_id", "seq"),)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))  # an account name, or "platform" for what it did itself
    kind: Mapped[str] = mapped_column(String(32))  # created, upgrading, upgraded, rolled_back, replica_restarted ...
    message: Mapped[str] = mapped_column(Text)
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"version": ["1.0.0", "2.0.0"]}
    reason: Mapped[str | None] = mapped_column(Text)  # why it failed


class Event(Base):
    """A change in a workspace, in commit order: the durable half of the change-event stream.

    `seq` never goes back (AUTOINCREMENT on SQLite), so a client resumes from the last one it saw; rows
    are pruned by age and count. No foreign keys: the event of a deletion outlives what it names.
    """

    __tablename__ = "events"
    __table_args__ = {"sqlite_autoincrement": True}
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(16))  # workspace | member | model | version | grant | task | key ...
    op: Mapped[str] = mapped_column(String(8))  # created | updated | deleted
    workspace_id: Mapped[str | None] = mapped_column(String(32))  # the workspace it happened in
    object_id: Mapped[str] = mapped_column(String(200))
    model_id: Mapped[str | None] = mapped_column(String(32))
    # Who else may see it: a grant's grantee workspace, "*" (a PUBLIC model: every workspace), or none.
    audience: Mapped[str | None] = mapped_column(String(32))
    account_id: Mapped[str | None] = mapped_column(String(32))  # the account it is about (a member, a key)


class StoredObject(Base):
    """An object of a workspace's bucket (the OSS / OBS facades): a key naming one verified blob."""

    __tablename__ = "objects"
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))  # the blob (sha256) holding its bytes
    size: Mapped[int] = mapped_column(BigInteger)
    etag: Mapped[str] = mapped_column(String(48))  # md5 hex, or md5-of-part-md5s "-N" for a multipart object
    crc64: Mapped[str] = mapped_column(String(20))  # CRC-64/ECMA as a decimal string (x-oss-hash-crc64ecma)
    content_type: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime]


class MultipartUpload(Base):
    """A multipart upload into a bucket, private to the account that initiated it; any replica takes parts."""

    __tablename__ = "multipart_uploads"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(1024))
    content_type: Mapped[str] = mapped_column(String(256), default="")
    part_size: Mapped[int | None] = mapped_column(BigInteger)  # the first part's: where in-place parts go
    created_at: Mapped[datetime]


class UploadedPart(Base):
    """One part of a multipart upload; its bytes wait in the blob store's `multipart/` folder."""

    __tablename__ = "multipart_parts"
    upload_id: Mapped[str] = mapped_column(ForeignKey("multipart_uploads.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    md5: Mapped[str] = mapped_column(String(32))
    crc64: Mapped[str] = mapped_column(String(20))
    offset: Mapped[int | None] = mapped_column(BigInteger)  # in the upload's one file; None: a file of its own
    created_at: Mapped[datetime]
