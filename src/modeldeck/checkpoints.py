"""A model object in the kernel written as a checkpoint file, so a variable can be registered like a path.

The `%modeldeck register` magic and the panel's register form share `save_for_register`.
"""

from __future__ import annotations

import sys
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
    if _instance(obj, "sklearn.base", "BaseEstimator"):
        from .examples import save_skops

        return save_skops(obj, directory / "model.skops"), "SkopsModel", "ScikitLearn"
    if _instance(obj, "onnx", "ModelProto"):
        import onnx

        path = directory / "model.onnx"
        onnx.save(obj, str(path))
        return path, "ONNX", "ONNX"
    if _instance(obj, "xgboost", "Booster"):
        path = directory / "model.json"
        obj.save_model(str(path))
        return path, "XGBoost", "XGBoost"
    raise InvalidParameter(
        f"A {type(obj).__name__} cannot be saved as a checkpoint.",
        code="InvalidParameter.Source",
        hint="Register a scikit-learn estimator, an ONNX ModelProto, an XGBoost Booster, a path or a URI.",
    )


def _instance(obj: Any, module: str, name: str) -> bool:
    cls = getattr(sys.modules.get(module), name, None)
    return cls is not None and isinstance(obj, cls)
