"""Small real checkpoints made on the spot, for tutorials, tests and benchmarks (nothing is downloaded).

Each builder writes a file that the platform's runtimes load exactly as they load a user's checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def tabular_data(n: int = 200, n_features: int = 4, seed: int = 0) -> tuple[Any, Any]:
    """A separable three-class problem shaped like iris: (X float32 [n, n_features], y int64 [n])."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    centers = rng.normal(0, 3, size=(3, n_features))
    X = centers[y] + rng.normal(0, 0.7, size=(n, n_features))
    return X.astype(np.float32), y.astype(np.int64)


def onnx_linear(path: str | Path, n_features: int = 4, n_classes: int = 3, seed: int = 0) -> Path:
    """A linear classifier as an ONNX graph: input `X` [batch, n_features] -> `logits`, `probabilities`."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weights = numpy_helper.from_array(rng.normal(size=(n_features, n_classes)).astype(np.float32), "W")
    bias = numpy_helper.from_array(rng.normal(size=(n_classes,)).astype(np.float32), "B")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["X", "W"], ["XW"]),
            helper.make_node("Add", ["XW", "B"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
        ],
        "linear",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, n_features])],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, n_classes]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, n_classes]),
        ],
        initializer=[weights, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="modeldeck")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def sklearn_classifier(seed: int = 0) -> Any:
    """A fitted scikit-learn LogisticRegression on `tabular_data`."""
    from sklearn.linear_model import LogisticRegression

    X, y = tabular_data(seed=seed)
    return LogisticRegression(max_iter=500).fit(X, y)


def save_skops(estimator: Any, path: str | Path) -> Path:
    import skops.io

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    skops.io.dump(estimator, path)
    return path


def xgboost_classifier(path: str | Path, seed: int = 0, rounds: int = 10) -> Path:
    """A small multi-class XGBoost booster saved as JSON (`.json`) or UBJ (`.ubj`)."""
    import xgboost

    X, y = tabular_data(seed=seed)
    booster = xgboost.train(
        {"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "nthread": 1, "seed": seed},
        xgboost.DMatrix(X, label=y),
        num_boost_round=rounds,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(path))
    return path
