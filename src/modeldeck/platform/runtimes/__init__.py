"""Model runtimes for local inference: pick the file, refuse what would run code, load, predict.

Formats in ``SAFE_FORMATS`` load as data (ONNX graphs, skops files audited against an allow-list, XGBoost
JSON/UBJ). Formats in ``UNSAFE_FORMATS`` run code when loaded: they are register-only unless the caller opts
in, and only ``PickleModel`` (a pickle/joblib scikit-learn-like estimator) has a runtime here. Heavy
libraries are imported on first load, never on import.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from modeldeck.errors import UnsafeFormat

from . import onnx, pickled, skops, xgboost
from ._errors import load_failed, runtime_unavailable
from ._files import find_entry
from ._sniff import FORMAT_NAMES, pickle_kind
from ._spec import Runtime, TensorSpec
from .cache import RuntimeCache
from .io import decode_inputs, encode_outputs

__all__ = [
    "SAFE_FORMATS",
    "UNSAFE_FORMATS",
    "Runtime",
    "RuntimeCache",
    "TensorSpec",
    "decode_inputs",
    "encode_outputs",
    "load_runtime",
]

SAFE_FORMATS: frozenset[str] = frozenset({"ONNX", "SkopsModel", "XGBoost"})
UNSAFE_FORMATS: frozenset[str] = frozenset(
    {"PickleModel", "PyTorch", "TorchScript", "SavedModel", "Keras H5"}
)

_SUFFIXES = {
    "ONNX": (".onnx",),
    "SkopsModel": (".skops",),
    "XGBoost": (".json", ".ubj"),
    "PickleModel": (".pkl", ".pickle", ".joblib"),
}


def load_runtime(
    folder: Path, format_type: str, *, entry: str | None = None, allow_unsafe: Collection[str] = ()
) -> Runtime:
    """Load the version in ``folder`` (its materialized files) as ``format_type``.

    ``entry`` is the file to load, relative to ``folder``; without it the single file with the format's
    extension is used. ``allow_unsafe`` names the unsafe formats the caller trusts, e.g. ``{"PickleModel"}``.
    """
    # A bare string would make `in` a substring test ("Pickle" in "PickleModel").
    opted_in = {allow_unsafe} if isinstance(allow_unsafe, str) else set(allow_unsafe)
    if format_type not in SAFE_FORMATS | UNSAFE_FORMATS:
        raise runtime_unavailable(
            "The platform has no runtime for this model format.",
            hint=f"Register the model in one of: {', '.join(sorted(SAFE_FORMATS | {'PickleModel'}))}.",
        )
    if format_type in UNSAFE_FORMATS and format_type not in opted_in:
        raise UnsafeFormat(
            f"The {format_type} format runs code when loaded, and loading it was not allowed.",
            hint="Export the model to ONNX, skops or XGBoost JSON, or opt into this format if you trust "
            "whoever produced the file.",
        )
    if format_type not in _SUFFIXES:
        raise runtime_unavailable(
            f"No {format_type} runtime is installed on this platform.",
            hint="Export the model to ONNX to serve it here.",
        )
    root = Path(folder).resolve()
    if not root.is_dir():
        raise load_failed(
            "The model version's files are not available.",
            hint="Upload the version's files again, or check the platform's storage.",
        )
    path = find_entry(root, entry, _SUFFIXES[format_type])
    if format_type == "PickleModel":
        return pickled.load(path)
    kind = pickle_kind(path)
    if kind is not None:
        raise UnsafeFormat(
            f"The file is {kind}, not {FORMAT_NAMES[format_type]}.",
            hint="Upload a real export of the model, or register it as PickleModel if you trust its author.",
        )
    if format_type == "ONNX":
        return onnx.load(root, path)
    if format_type == "SkopsModel":
        return skops.load(path)
    return xgboost.load(path)
