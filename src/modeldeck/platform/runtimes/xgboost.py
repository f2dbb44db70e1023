"""XGBoost boosters saved as JSON or UBJSON (``Booster.save_model``): plain data, no code at load time."""

from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from modeldeck.errors import InvalidParameter

from ._errors import invalid_input, load_failed, require
from ._sniff import UBJ_SECOND_BYTES
from ._spec import TensorSpec, describe

XGB_THREADS = 1


class XGBoostRuntime:
    """Input ``X`` (float32, one row per sample, NaN = missing); output ``predictions``."""

    format_type = "XGBoost"

    def __init__(self, booster: Any, nbytes: int) -> None:
        booster.set_param({"nthread": XGB_THREADS})
        self._booster = booster
        self.nbytes = nbytes
        self.feature_names = list(booster.feature_names) if booster.feature_names else None
        self.inputs = [TensorSpec("X", "float32", [None, booster.num_features()])]
        learner = json.loads(booster.save_config())["learner"]
        self.outputs = [TensorSpec("predictions", "float32", _output_shape(learner))]
        # XGBoost documents prediction as thread safe for tree boosters only.
        tree_based = learner["gradient_booster"]["name"] != "gblinear"
        self._lock = contextlib.nullcontext() if tree_based else threading.Lock()

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import xgboost

        try:
            matrix = xgboost.DMatrix(inputs["X"], feature_names=self.feature_names, nthread=XGB_THREADS)
            with self._lock:
                predictions = self._booster.predict(matrix)
        except Exception as exc:  # XGBoost messages quote data and file contents: keep them out of the error
            raise invalid_input(
                "The XGBoost model could not run on the given input.",
                hint=f"Send inputs matching the model's inputs: {describe(self.inputs)}.",
            ) from exc
        return {"predictions": np.asarray(predictions)}


def load(path: Path) -> XGBoostRuntime:
    """Check the bytes match the extension (XGBoost picks the parser by extension), then load."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        _check_json(path)
    elif suffix == ".ubj":
        _check_ubj(path)
    else:
        raise load_failed(
            "XGBoost models must be .json or .ubj files.",
            hint="Save the booster with booster.save_model('model.json') or 'model.ubj'.",
        )
    xgboost = require("xgboost", package="xgboost", extra="xgboost")
    booster = xgboost.Booster()
    try:
        booster.load_model(str(path))
    except Exception as exc:
        raise load_failed(
            "XGBoost could not load the model.",
            hint=f"Check that it was saved by XGBoost {xgboost.__version__} or an earlier release.",
        ) from exc
    return XGBoostRuntime(booster, path.stat().st_size)


def _check_json(path: Path) -> None:
    try:
        document = json.loads(path.read_bytes())
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise _not_xgboost("JSON") from exc
    if not isinstance(document, dict) or "learner" not in document:
        raise _not_xgboost("JSON")


def _check_ubj(path: Path) -> None:
    with path.open("rb") as f:
        head = f.read(2)
    if len(head) < 2 or head[:1] != b"{" or head[1] not in UBJ_SECOND_BYTES:
        raise _not_xgboost("UBJSON")


def _not_xgboost(encoding: str) -> InvalidParameter:
    return load_failed(
        f"The file is not an XGBoost model saved as {encoding}.",
        hint="Save the booster with booster.save_model('model.json') or 'model.ubj' and upload that file.",
    )


def _output_shape(learner: dict[str, Any]) -> list[int | None]:
    """``[n]`` for one value per row; ``[n, k]`` for class probabilities or several targets."""
    params = learner["learner_model_param"]
    if learner["objective"]["name"] == "multi:softprob":
        return [None, int(params["num_class"])]
    targets = int(params.get("num_target", "1"))
    return [None, targets] if targets > 1 else [None]
