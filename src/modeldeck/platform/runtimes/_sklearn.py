"""A runtime around any scikit-learn-like estimator, whichever file format it came from."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._errors import invalid_input, load_failed
from ._spec import TensorSpec, describe, dtype_name


class SklearnRuntime:
    """Input ``X`` (float64, one row per sample); outputs ``predictions`` and, for classifiers with
    ``predict_proba``, ``probabilities``. Columns follow ``feature_names_in_`` when the model has it."""

    def __init__(self, model: Any, format_type: str, nbytes: int) -> None:
        if not callable(getattr(model, "predict", None)):
            raise load_failed(
                "The loaded object is not a model with a predict method.",
                hint="Save the fitted estimator or pipeline itself, not a wrapper around it.",
            )
        self._model = model
        self.format_type = format_type
        self.nbytes = nbytes
        names = getattr(model, "feature_names_in_", None)
        self.feature_names = [str(name) for name in names] if names is not None else None
        width = getattr(model, "n_features_in_", None)
        self.inputs = [TensorSpec("X", "float64", [None, int(width) if width is not None else None])]
        # getattr with a default: predict_proba is hidden (AttributeError) when the final step lacks it
        self._has_proba = callable(getattr(model, "predict_proba", None))
        classes = getattr(model, "classes_", None)
        classes = np.asarray(classes) if classes is not None else None
        # the labels `predictions` holds, in the column order of `probabilities` (a signature shows them)
        self.classes = classes.tolist() if classes is not None and classes.ndim == 1 else None
        self.outputs = [
            TensorSpec("predictions", dtype_name(classes.dtype) if classes is not None else "float64", [None])
        ]
        if self._has_proba:
            n_classes = len(classes) if classes is not None and classes.ndim == 1 else None
            self.outputs.append(TensorSpec("probabilities", "float64", [None, n_classes]))

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            features = inputs["X"]
            outputs = {"predictions": np.asarray(self._model.predict(features))}
            if self._has_proba:
                outputs["probabilities"] = np.asarray(self._model.predict_proba(features))
        except Exception as exc:  # estimator messages can quote input values: keep them out of the error
            raise invalid_input(
                "The model could not run on the given input.",
                hint=f"Send inputs matching the model's inputs: {describe(self.inputs)}.",
            ) from exc
        return outputs
