"""Predict on registered checkpoints: locate the version the caller may run, load it once, run it.

Locating has two roads to the same `Target`. `locate` walks the service layer and raises the precise
error (with its hint) for every refusal; `fastpath.locate` answers a plainly allowed request with a
single query. Running is shared.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameter, UnsafeFormat
from . import registry
from .artifacts import materialize
from .authz import Caller

if TYPE_CHECKING:
    from .context import Services

INPUT_KEYS = ("inputs", "records", "columns")
BODY_KEYS = frozenset({*INPUT_KEYS, "allow_unsafe"})


@dataclass(frozen=True)
class Target:
    """A version the caller may run, and where its checkpoint is."""

    model_id: str
    model_name: str
    version: str
    owner_workspace_id: str
    artifact_digest: str
    format_type: str
    entry: str | None


def locate(platform: Services, caller: Caller, model_ref: str, version: str | None) -> Target:
    caller.require("invoke")
    with platform.store.read() as db:
        view, row = registry.get_version(db, caller, model_ref, version, need="inference")
    return target_of(view, row)


def target_of(view: registry.ModelView, row: registry.ModelVersion) -> Target:
    """The local checkpoint of a version the caller may run; external uris cannot run here."""
    if row.artifact_digest is None:
        raise InvalidParameter(
            f"Version '{row.version_name}' points at an external uri; the local platform runs uploaded checkpoints only.",
            code="Inference.NotLocal",
            hint="Register the checkpoint by uploading its files (deck.register with a local path).",
        )
    return Target(
        view.model.id, view.model.model_name, row.version_name, view.model.workspace_id, row.artifact_digest,
        row.format_type or "", entry_of(row.inference_spec),
    )  # fmt: skip


def entry_of(inference_spec: Any) -> str | None:
    """The file to load, when the version's inference_spec names one."""
    return inference_spec.get("entry") if isinstance(inference_spec, dict) else None


def check_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or set(body) - BODY_KEYS:
        raise InvalidParameter(
            "A predict request is a JSON object with one of inputs, records or columns (and allow_unsafe).",
            code="InvalidParameter.Body",
            hint='Send {"inputs": {"X": [[...]]}}, {"records": [{...}]} or {"columns": {...}}.',
        )
    opted = body.get("allow_unsafe") or []
    if not isinstance(opted, list) or not all(isinstance(x, str) for x in opted):
        raise InvalidParameter(
            "allow_unsafe must be a list of format names.",
            code="InvalidParameter.AllowUnsafe",
            hint='Name the formats you trust, like ["PickleModel"].',
        )
    return body


def runtime_key(target: Target, body: dict[str, Any]) -> str:
    """What a loaded runtime is cached under: the checkpoint, how it loads, and whether code may run."""
    opted = target.format_type in (body.get("allow_unsafe") or ())
    return cache_key(target.artifact_digest, target.format_type, target.entry, opted)


def cache_key(digest: str, format_type: str, entry: str | None, opted: bool) -> str:
    return f"{digest}|{format_type}|{entry}|{opted}"


@functools.cache
def _runtimes() -> Any:
    """The runtimes package, imported on the first predict (it pulls in numpy and more), then kept."""
    from . import runtimes

    return runtimes


def run(platform: Services, target: Target, body: dict[str, Any]) -> dict[str, Any]:
    """Run `target` on `body`, which every caller has passed through `check_body` already."""
    runtimes = _runtimes()
    fmt = target.format_type
    allowed = set(body.get("allow_unsafe") or ())
    if fmt in runtimes.UNSAFE_FORMATS and fmt in allowed and fmt not in platform.settings.allow_unsafe_formats:
        raise UnsafeFormat(
            f"This platform does not load {fmt} checkpoints, which run code when loaded.",
            hint=f"The platform's admin must allow it (modeldeck serve --allow-unsafe-formats {fmt}); "
            "or export the model to ONNX or skops.",
        )

    def load() -> Any:
        return runtimes.load_runtime(checkpoint(platform, target), fmt, entry=target.entry, allow_unsafe=allowed & {fmt})

    return answer(target, platform.runtimes.get(runtime_key(target, body), load), body)


def checkpoint(platform: Services, target: Target) -> Path:
    """The version's files on local disk (materialized once from the blob store)."""
    with platform.store.read() as db:
        artifact = db.get_one(registry.Artifact, (target.owner_workspace_id, target.artifact_digest))
    return local_files(platform, artifact)


def local_files(platform: Services, artifact: registry.Artifact) -> Path:
    """An artifact's files on local disk (materialized once from the blob store)."""
    return materialize(platform.blobs, platform.settings.home / "cache" / "artifacts", artifact)


def answer(target: Target, runtime: Any, body: dict[str, Any]) -> dict[str, Any]:
    """Run a loaded runtime on a checked body: the predict answer, wherever the runtime lives."""
    runtimes = _runtimes()
    payload = {k: body[k] for k in INPUT_KEYS if k in body}
    if isinstance(payload.get("inputs"), list) and len(runtime.inputs) == 1:
        payload["inputs"] = {runtime.inputs[0].name: payload["inputs"]}  # one tensor for a one-input model
    outputs = runtime.predict(runtimes.decode_inputs(payload, runtime))
    return {
        "model": target.model_name,
        "model_id": target.model_id,
        "version": target.version,
        "outputs": runtimes.encode_outputs(outputs),
    }


def predict(platform: Services, caller: Caller, model_ref: str, version: str | None, body: dict[str, Any]) -> dict[str, Any]:
    """The service-layer predict: every check, every precise error."""
    check_body(body)
    return run(platform, locate(platform, caller, model_ref, version), body)
