"""A model object in the kernel written as a checkpoint file, so a variable can be registered like a path.

The `%modeldeck register` magic and the panel's register form share `saved` (`save_for_register` into a
temporary folder).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import InvalidParameter


KINDS = (
    ("sklearn.base", "BaseEstimator", "SkopsModel"),
    ("onnx", "ModelProto", "ONNX"),
    ("xgboost", "Booster", "XGBoost"),
)


def describe(obj: Any) -> str | None:
    """The format `obj` would be registered as, or None when it is not a model this module can save."""
    return next((fmt for module, name, fmt in KINDS if _instance(obj, module, name)), None)


def save_for_register(obj: Any, directory: str | Path) -> tuple[Path, str, str]:
    """Write `obj` into `directory`; return (file, format_type, framework_type) for `Deck.register`.

    A scikit-learn estimator is saved with skops (which the platform loads with explicit trusted types,
    never unpickling), an ONNX `ModelProto` as `.onnx`, an XGBoost `Booster` as JSON. Types are only
    checked against libraries the kernel has already imported, so nothing heavy is imported here.
    """
    directory = Path(directory)
    fmt = describe(obj)
    if fmt == "SkopsModel":
        from .examples import save_skops

        return save_skops(obj, directory / "model.skops"), fmt, "ScikitLearn"
    if fmt == "ONNX":
        import onnx

        path = directory / "model.onnx"
        onnx.save(obj, str(path))
        return path, fmt, "ONNX"
    if fmt == "XGBoost":
        path = directory / "model.json"
        obj.save_model(str(path))
        return path, fmt, "XGBoost"
    raise InvalidParameter(
        f"A {type(obj).__name__} cannot be saved as a checkpoint.",
        code="InvalidParameter.Source",
        hint="Register a scikit-learn estimator, an ONNX ModelProto, an XGBoost Booster, a path or a URI.",
    )


@contextmanager
def saved(obj: Any) -> Iterator[tuple[Path, str, str]]:
    """`save_for_register` into a temporary folder, removed when the registration is done."""
    with tempfile.TemporaryDirectory(prefix="modeldeck-register-") as folder:
        yield save_for_register(obj, folder)


def _instance(obj: Any, module: str, name: str) -> bool:
    cls = getattr(sys.modules.get(module), name, None)
    return cls is not None and isinstance(obj, cls)
