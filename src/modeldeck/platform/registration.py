"""Registration's look at the checkpoint before its version is written: the format it really is, whether it
loads, its signature, and whether this platform can run it.

It runs between the caller's checks and `registry.create_version`, outside the write transaction: loading
can take a second, and SQLite's one writer must not wait for it. The runtime it loaded is kept in the
runtime cache, so the version's first predict does not load it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import fields, inference, objects, registry
from .authz import Caller

if TYPE_CHECKING:
    from .context import Services
    from .runtimes.inspection import Inspection


def inspect(platform: Services, caller: Caller, ref: str, spec: dict[str, Any]) -> Inspection | None:
    """What the version in `spec` holds; None when its artifact is not this workspace's (create_version
    then refuses it with the precise error)."""
    from .runtimes import inspection  # numpy and the runtimes load on the first registration, not at startup

    declared = spec.get("format_type")
    if declared is not None:
        declared = fields.choice(declared, fields.FORMAT_TYPES, "format type")
    uri = spec.get("uri")
    stored = isinstance(uri, str) and uri.startswith(("oss://", "obs://"))  # maybe an object of the facades
    if not isinstance(uri, str) or not (stored or uri.startswith(registry.ARTIFACT_SCHEME)):
        return inspection.external()
    caller.require("register")
    with platform.store.write() if stored else platform.store.read() as db:
        model = registry.resolve_model(db, caller, ref, need="owner").model
        if stored:
            artifact = objects.artifact_for(db, caller, model.workspace_id, uri)
            if artifact is None:
                return inspection.external()
        else:
            artifact = db.get(registry.Artifact, (model.workspace_id, uri[len(registry.ARTIFACT_SCHEME):]))
    if artifact is None:
        return None
    entry = inference.entry_of(spec.get("inference_spec"))
    entry = entry if isinstance(entry, str) else None
    found = inspection.inspect(
        inference.local_files(platform, artifact), declared, entry,
        allow_unsafe=platform.settings.allow_unsafe_formats,
    )  # fmt: skip
    if found.runtime is not None:
        key = inference.cache_key(artifact.digest, found.format_type or "", entry, opted=False)
        platform.runtimes.get(key, lambda: found.runtime)
        found.runtime = None
    return found
