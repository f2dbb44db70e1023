"""What a checkpoint is, found from its bytes and checked by loading it, before its version is visible.

Registration calls `inspect` on the version's files. The format is detected by `_sniff.sniff` (heads only,
nothing unpickled); a declared format the files are not is refused with what they are. A checkpoint of at
most `VERIFY_LOAD_BYTES` is then loaded by its runtime (so a corrupt or unsafe one is refused now, not at
the first predict) and its signature read from the loaded model; a larger one gets the checks that do not
read its weights (pickle sniffing, the ONNX graph and its external data, the skops file's types) and loads
on its first predict. Pickles are never loaded here: they are recorded as not runnable unless the platform
allows them.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modeldeck.errors import InvalidParameter, UnsafeFormat

from ._errors import RUNTIME_UNAVAILABLE
from ._files import resolve_inside
from ._sniff import FORMAT_NAMES, sniff
from ._spec import Runtime, list_names

VERIFY_LOAD_BYTES = 256 << 20
FRAMEWORKS = {"ONNX": "ONNX", "SkopsModel": "ScikitLearn", "XGBoost": "XGBoost", "SafeTensors": "Transformers"}
FORMAT_MISMATCH = "Model.FormatMismatch"
_MAX_FILES = 10_000  # sniffed per version; past it, a folder is no checkpoint the platform would detect
_MAX_LISTED_LABELS = 1000  # column names and class labels kept in a signature
_MAX_LABEL = 120


@dataclass
class Inspection:
    """What registration records on the version (and the runtime it loaded, to keep for the first predict)."""

    format_type: str | None
    framework_type: str | None = None
    signature: dict[str, Any] | None = None
    runnable: bool = True
    reason: str | None = None
    runtime: Runtime | None = field(default=None, repr=False)


def external() -> Inspection:
    """A version at an external uri: nothing here to inspect, nothing here to run."""
    return Inspection(
        None, runnable=False,
        reason="The version points at an external uri; the local platform runs uploaded checkpoints only.",
    )  # fmt: skip


def inspect(
    folder: Path, declared: str | None, entry: str | None = None, *, allow_unsafe: Collection[str] = ()
) -> Inspection:
    """Detect, check and describe the checkpoint in `folder` (a version's materialized files)."""
    root = Path(folder).resolve()
    found = _detect(root, entry)
    if declared is None:
        if len(found) != 1:
            return _undetected(found)
        declared = next(iter(found))
    elif declared in FORMAT_NAMES and declared not in found:
        raise _mismatch(declared, found)
    files = found.get(declared, [])
    if declared == "PickleModel":
        return _pickled(declared, allow_unsafe)
    if declared == "SafeTensors":
        return _safetensors(root)
    if declared not in FRAMEWORKS:
        return Inspection(declared, runnable=False, reason=f"This platform has no runtime for {declared} models.")
    chosen = entry if entry is not None else (files[0] if len(files) == 1 else None)
    if _size(root) > VERIFY_LOAD_BYTES:
        try:
            _check_structure(root, declared, chosen)
        except UnsafeFormat as exc:
            return _kept(declared, exc)
        return Inspection(declared, FRAMEWORKS[declared])
    from . import load_runtime

    try:
        runtime = load_runtime(root, declared, entry=chosen)
    except InvalidParameter as exc:
        if not isinstance(exc, UnsafeFormat) and exc.code != RUNTIME_UNAVAILABLE:
            raise
        return _kept(declared, exc)
    return Inspection(declared, FRAMEWORKS[declared], signature(runtime), runtime=runtime)


def _kept(fmt: str, exc: InvalidParameter) -> Inspection:
    """A real checkpoint this platform will not run: a skops file naming types off the allow-list, a Hugging
    Face folder asking for its own code, a runtime library that is not installed. It is registered, and
    says why it cannot run."""
    return Inspection(fmt, FRAMEWORKS[fmt], runnable=False, reason=f"{exc.message} {exc.hint}")


def signature(runtime: Runtime) -> dict[str, Any]:
    """The contract's signature: inputs and outputs (name, dtype, shape), column names, class labels."""
    described: dict[str, Any] = {
        "inputs": [_tensor(spec) for spec in runtime.inputs],
        "outputs": [_tensor(spec) for spec in runtime.outputs],
    }
    for key, attribute in (("features", "feature_names"), ("classes", "classes")):
        values = getattr(runtime, attribute, None)
        if values:
            described[key] = [_label(v) for v in values[:_MAX_LISTED_LABELS]]
    return described


def _detect(root: Path, entry: str | None) -> dict[str, list[str]]:
    """Format → the files of it (relative paths): the entry alone when one is named, else every file."""
    if entry is not None:
        path = resolve_inside(root, entry) if isinstance(entry, str) else None
        if path is None or not path.is_file():
            return {}
        kind = sniff(path)
        return {kind: [entry]} if kind else {}
    found: dict[str, list[str]] = {}
    for count, path in enumerate(_files(root)):
        if count >= _MAX_FILES:
            break
        kind = sniff(path)
        if kind is not None:
            found.setdefault(kind, []).append(path.relative_to(root).as_posix())
    if "SafeTensors" in found and (root / "config.json").is_file():
        return {"SafeTensors": found["SafeTensors"]}  # a Hugging Face folder, whatever else it carries
    return found


def _files(root: Path) -> Any:
    for directory, _, names in os.walk(root):
        for name in sorted(names):
            yield Path(directory) / name


def _undetected(found: dict[str, list[str]]) -> Inspection:
    if not found:
        return Inspection(
            None, runnable=False,
            reason="The platform did not recognize the checkpoint's format; register it with its format "
            "(ONNX, SkopsModel, XGBoost, SafeTensors, PickleModel) to run it.",
        )  # fmt: skip
    return Inspection(
        None, runnable=False,
        reason=f"The checkpoint holds {_holdings(found)}; register it with the format (and entry) to run.",
    )  # fmt: skip


def _mismatch(declared: str, found: dict[str, list[str]]) -> InvalidParameter:
    if not found:
        return InvalidParameter(
            f"The checkpoint is not {FORMAT_NAMES[declared]}: the platform recognizes none of its files.",
            code=FORMAT_MISMATCH, status=422,
            hint=f"Upload {FORMAT_NAMES[declared]} (or name its file as inference_spec entry), or register "
            "it without a format to keep it unverified.",
        )  # fmt: skip
    actual = next(iter(found))
    return InvalidParameter(
        f"The checkpoint is {_holdings(found)}, not {FORMAT_NAMES[declared]}.",
        code=FORMAT_MISMATCH, status=422,
        hint=f"Register it with format '{actual}'" + (" (if you trust its author: it runs code when loaded)"
        if actual == "PickleModel" else "") + ", or omit the format to have it detected.",
    )  # fmt: skip


def _holdings(found: dict[str, list[str]]) -> str:
    return " and ".join(f"{FORMAT_NAMES[kind]} ({list_names(files)})" for kind, files in found.items())


def _pickled(fmt: str, allow_unsafe: Collection[str]) -> Inspection:
    if fmt in allow_unsafe:
        return Inspection(fmt)
    return Inspection(
        fmt, runnable=False,
        reason="A pickle runs code when loaded, so this platform does not load it; export the model to ONNX "
        "or skops (the admin can allow it with modeldeck serve --allow-unsafe-formats PickleModel).",
    )  # fmt: skip


def _safetensors(root: Path) -> Inspection:
    """A Hugging Face folder is vetted as chat loads it (no pickles, no remote code); weights are not read."""
    from .chat import _vet_folder

    if not (root / "config.json").is_file():
        return Inspection(
            "SafeTensors", "Transformers", runnable=False,
            reason="Safetensors weights alone cannot run: upload the Hugging Face folder (config.json, "
            "tokenizer files and the weights).",
        )  # fmt: skip
    try:
        _vet_folder(root)  # a folder that asks for its own code: a real checkpoint, never run here
    except InvalidParameter as exc:
        return _kept("SafeTensors", exc)
    missing = [name for name in ("transformers", "torch") if importlib.util.find_spec(name) is None]
    if missing:
        return Inspection(
            "SafeTensors", "Transformers", runnable=False,
            reason=f'This platform lacks {" and ".join(missing)}: install "modeldeck[llm]" to chat with it.',
        )
    return Inspection("SafeTensors", "Transformers")


def _check_structure(root: Path, fmt: str, entry: str | None) -> None:
    """The checks of a large checkpoint that do not read its weights."""
    from . import _SUFFIXES, onnx, skops
    from ._files import find_entry

    path = find_entry(root, entry, _SUFFIXES[fmt])
    if fmt == "ONNX" and path.stat().st_size <= VERIFY_LOAD_BYTES:
        onnx.check_graph(root, path)
    elif fmt == "SkopsModel":
        skops.check_types(path)


def _size(root: Path) -> int:
    return sum(path.stat().st_size for path in _files(root))


def _tensor(spec: Any) -> dict[str, Any]:
    return {"name": _label(spec.name), "dtype": spec.dtype, "shape": list(spec.shape)}


def _label(value: Any) -> Any:
    if isinstance(value, str):
        return value[:_MAX_LABEL]
    return value if isinstance(value, (int, float, bool)) or value is None else str(value)[:_MAX_LABEL]

