"""The platform's enumerations, shared by the platform's rules and the client's forms and panel.

Plain tuples, so the kernel side can offer the same choices the platform enforces, and `choice`, the one
check of an enumerated value: the client runs it before any upload, the platform on every request, and
both answer a near miss with "did you mean".
"""

from __future__ import annotations

from typing import Any

from .errors import InvalidParameter

FORMAT_TYPES = (
    "OfflineModel", "SavedModel", "Keras H5", "Frozen Pb", "Caffe Prototxt", "TorchScript", "XGBoost",
    "PMML", "AlinkModel", "ONNX",
    # Beyond PAI's list: formats the local platform can hold or run.
    "SkopsModel", "PickleModel", "SafeTensors",
)  # fmt: skip
FRAMEWORK_TYPES = (
    "Pytorch", "XGBoost", "Keras", "Caffe", "Alink", "Xflow", "TensorFlow",
    "ScikitLearn", "ONNX", "Transformers",
)  # fmt: skip
SOURCE_TYPES = ("Custom", "PAIFlow", "TrainingService")
APPROVAL_STATUSES = ("Pending", "Approved", "Rejected")
ACCESSIBILITIES = ("PRIVATE", "PUBLIC")
GRANT_ACTIONS = ("inference", "fine_tune", "deploy")
AUTHORIZATION_MODES = ("strict", "loose")
ROLE_NAMES = ("admin", "developer", "viewer")
DEPLOYMENT_BUSY = frozenset({"Creating", "Upgrading", "RollingBack", "Deleting"})  # a change is under way
# MAJOR.MINOR.PATCH[_suffix]: no leading zeros (01.2.3 would be a second 1.2.3), at most 9 digits a number
# (they are stored as 32-bit integers). Match it whole (Python: fullmatch; `$` alone also matches before a
# trailing newline); JavaScript reads the same text as a RegExp.
VERSION_PATTERN = r"^(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})(_\w+)?$"

# What people type for a value that is spelled otherwise here (folded: lower case, no space, '-', '_', '.').
ALIASES = {
    "sklearn": ("ScikitLearn", "SkopsModel"), "scikitlearn": ("ScikitLearn", "SkopsModel"),
    "skops": ("SkopsModel",), "pickle": ("PickleModel",), "pkl": ("PickleModel",), "joblib": ("PickleModel",),
    "torch": ("Pytorch", "TorchScript"), "pt": ("Pytorch", "TorchScript"), "tf": ("TensorFlow", "SavedModel"),
    "keras": ("Keras", "Keras H5"), "h5": ("Keras H5",), "xgb": ("XGBoost",), "onnxruntime": ("ONNX",),
    "safetensor": ("SafeTensors",), "huggingface": ("Transformers", "SafeTensors"),
    "hf": ("Transformers", "SafeTensors"), "private": ("PRIVATE",), "public": ("PUBLIC",),
}  # fmt: skip


def suggest(value: str, allowed: tuple[str, ...]) -> str | None:
    """The accepted value `value` most likely meant, or None when nothing is close."""
    key = _fold(value)
    folded = {_fold(option): option for option in allowed}
    if key in folded:
        return folded[key]
    alias = next((name for name in ALIASES.get(key, ()) if name in allowed), None)
    if alias is not None:
        return alias
    import difflib  # only on a refusal

    close = difflib.get_close_matches(key, list(folded), n=1, cutoff=0.6)
    return folded[close[0]] if close else None


def choice(value: Any, allowed: tuple[str, ...], what: str) -> str:
    """An enumerated value, matched case-insensitively and returned in its canonical spelling; a miss is
    refused with the closest accepted value (`InvalidParameter.<What>`)."""
    if isinstance(value, str):
        for option in allowed:
            if option.lower() == value.lower():
                return option
    guess = suggest(value, allowed) if isinstance(value, str) and len(value) <= 64 else None
    shown = repr(value[:80]) if isinstance(value, str) else f"of type {type(value).__name__}"
    raise InvalidParameter(
        f"{what} {shown} is not one of the accepted values.",
        code=f"InvalidParameter.{what.replace(' ', '')}",
        hint=(f"Did you mean '{guess}'? " if guess else "") + f"Use one of: {', '.join(allowed)}.",
    )


def _fold(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch not in " -_.")
