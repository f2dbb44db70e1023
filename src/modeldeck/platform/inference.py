"""Predict on registered checkpoints: authorize, materialize the artifact, load once, run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameter, UnsafeFormat
from . import registry
from .artifacts import materialize
from .authz import Caller

if TYPE_CHECKING:
    from .core import Platform

INPUT_KEYS = ("inputs", "records", "columns")


def predict(platform: Platform, caller: Caller, model_ref: str, version: str | None, body: dict[str, Any]) -> dict[str, Any]:
    from .runtimes import UNSAFE_FORMATS, decode_inputs, encode_outputs, load_runtime

    caller.require("invoke")
    opted = body.get("allow_unsafe") or []
    if not isinstance(opted, list) or not all(isinstance(x, str) for x in opted):
        raise InvalidParameter(
            "allow_unsafe must be a list of format names.",
            code="InvalidParameter.AllowUnsafe",
            hint='Name the formats you trust, like ["PickleModel"].',
        )
    with platform.store.read() as db:
        view, row = registry.get_version(db, caller, model_ref, version, need="inference")
        artifact = db.get(registry.Artifact, (view.model.workspace_id, row.artifact_digest)) if row.artifact_digest else None
    if artifact is None:
        raise InvalidParameter(
            f"Version '{row.version_name}' points at an external uri; the local platform runs uploaded checkpoints only.",
            code="Inference.NotLocal",
            hint="Register the checkpoint by uploading its files (deck.register with a local path).",
        )
    fmt = row.format_type or ""
    allowed = set(opted)
    if fmt in UNSAFE_FORMATS and fmt in allowed and fmt not in platform.settings.allow_unsafe_formats:
        raise UnsafeFormat(
            f"This platform does not load {fmt} checkpoints, which run code when loaded.",
            hint=f"The platform's admin must allow it (modeldeck serve --allow-unsafe-formats {fmt}); "
            "or export the model to ONNX or skops.",
        )
    entry = row.inference_spec.get("entry") if isinstance(row.inference_spec, dict) else None
    key = f"{artifact.digest}|{fmt}|{entry}|{fmt in allowed}"

    def load() -> Any:
        folder = materialize(platform.blobs, platform.settings.home / "cache" / "artifacts", artifact)
        return load_runtime(folder, fmt, entry=entry, allow_unsafe=allowed & {fmt})

    runtime = platform.runtimes.get(key, load)
    payload = {k: body[k] for k in INPUT_KEYS if k in body}
    if isinstance(payload.get("inputs"), list) and len(runtime.inputs) == 1:
        payload["inputs"] = {runtime.inputs[0].name: payload["inputs"]}  # one tensor for a one-input model
    outputs = runtime.predict(decode_inputs(payload, runtime))
    return {
        "model": view.model.model_name,
        "model_id": view.model.id,
        "version": row.version_name,
        "outputs": encode_outputs(outputs),
    }
