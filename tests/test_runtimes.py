"""modeldeck.platform.runtimes against the real libraries and real files: every model is built here."""

from __future__ import annotations

import gzip
import importlib
import json
import os
import pickle
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import skops.io as sio
import xgboost as xgb
from onnx import TensorProto, helper, numpy_helper
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from modeldeck.errors import InvalidParameter, PayloadTooLarge, UnsafeFormat
from modeldeck.platform.runtimes import (
    SAFE_FORMATS,
    UNSAFE_FORMATS,
    RuntimeCache,
    TensorSpec,
    decode_inputs,
    encode_outputs,
    load_runtime,
)
from modeldeck.platform.runtimes.skops import TRUSTED_SKOPS_TYPES

COLUMNS = ["c0", "c1", "c2", "c3"]
# XGBoost feature names deliberately not in the order a caller would guess, to prove columns are reordered.
XGB_FEATURES = ["delta", "alpha", "charlie", "bravo"]
SENTINEL = "zq-sentinel-4242"
SENTINEL_NUMBER = 98765.4321

RNG = np.random.default_rng(7)
X = RNG.normal(size=(24, 4))
Y = (X[:, 0] + 0.5 * X[:, 2] > 0).astype(int)
X32 = X.astype(np.float32)


# ----- model files ------------------------------------------------------------------------------------------


def _linear_onnx(coef: np.ndarray, intercept: np.ndarray, *, per_column: bool = False) -> onnx.ModelProto:
    """A logistic regression written directly as an ONNX graph (no converter needed)."""
    if per_column:
        inputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, 1]) for name in COLUMNS]
        nodes = [helper.make_node("Concat", COLUMNS, ["X"], axis=1)]
    else:
        inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])]
        nodes = []
    nodes += [
        helper.make_node("MatMul", ["X", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "B"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["probability"]),
    ]
    outputs = [
        helper.make_tensor_value_info("logit", TensorProto.FLOAT, [None, 1]),
        helper.make_tensor_value_info("probability", TensorProto.FLOAT, [None, 1]),
    ]
    weights = [
        numpy_helper.from_array(coef.T.astype(np.float32), "W"),
        numpy_helper.from_array(intercept.astype(np.float32), "B"),
    ]
    graph = helper.make_graph(nodes, "logreg", inputs, outputs, weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


@pytest.fixture(scope="module")
def logreg() -> LogisticRegression:
    return LogisticRegression().fit(X, Y)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, logreg: LogisticRegression) -> dict[str, Path]:
    """One folder per format, each holding a single model file."""
    root = tmp_path_factory.mktemp("models")
    folders = {
        name: root / name for name in ("onnx", "onnx_columns", "skops", "xgb_json", "xgb_ubj", "pickle")
    }
    for folder in folders.values():
        folder.mkdir()
    onnx.save(_linear_onnx(logreg.coef_, logreg.intercept_), folders["onnx"] / "model.onnx")
    onnx.save(
        _linear_onnx(logreg.coef_, logreg.intercept_, per_column=True), folders["onnx_columns"] / "model.onnx"
    )
    sio.dump(
        make_pipeline(StandardScaler(), LogisticRegression()).fit(X, Y), folders["skops"] / "model.skops"
    )
    train = xgb.DMatrix(X, label=Y, feature_names=XGB_FEATURES)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "nthread": 1}, train, num_boost_round=5
    )
    booster.save_model(folders["xgb_json"] / "model.json")
    booster.save_model(folders["xgb_ubj"] / "model.ubj")
    joblib.dump(logreg, folders["pickle"] / "model.joblib")
    return folders


def _direct(kind: str, folder: Path) -> dict[str, np.ndarray]:
    """What the library itself predicts on the file, for the runtime's output names."""
    if kind.startswith("onnx"):
        session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
        feeds = (
            {name: X32[:, [i]] for i, name in enumerate(COLUMNS)} if kind == "onnx_columns" else {"X": X32}
        )
        logit, probability = session.run(None, feeds)
        return {"logit": logit, "probability": probability}
    if kind == "skops":
        path = folder / "model.skops"
        model = sio.load(path, trusted=sio.get_untrusted_types(file=path))
        return {"predictions": model.predict(X), "probabilities": model.predict_proba(X)}
    booster = xgb.Booster()
    booster.load_model(folder / ("model.json" if kind == "xgb_json" else "model.ubj"))
    return {"predictions": booster.predict(xgb.DMatrix(X, feature_names=XGB_FEATURES))}


FORMAT_OF = {
    "onnx": "ONNX",
    "onnx_columns": "ONNX",
    "skops": "SkopsModel",
    "xgb_json": "XGBoost",
    "xgb_ubj": "XGBoost",
}


def _payload(form: str, kind: str) -> dict:
    names = XGB_FEATURES if kind.startswith("xgb") else COLUMNS
    if form == "records":
        # Models that know their column names get each record's keys reversed, to prove the model's order
        # wins; for the others the given key order is the column order.
        order = list(enumerate(names))
        if kind in ("xgb_json", "xgb_ubj", "onnx_columns"):
            order.reverse()
        return {"records": [{name: float(row[i]) for i, name in order} for row in X]}
    if form == "columns":
        return {"columns": {name: X[:, i].tolist() for i, name in enumerate(names)}}
    if kind == "onnx_columns":
        return {"inputs": {name: X[:, [i]].tolist() for i, name in enumerate(COLUMNS)}}
    return {"inputs": {"X": X.tolist()}}


# ----- predictions match the libraries ----------------------------------------------------------------------


@pytest.mark.parametrize("form", ["inputs", "records", "columns"])
@pytest.mark.parametrize("kind", list(FORMAT_OF))
def test_predictions_match_library(models: dict[str, Path], kind: str, form: str) -> None:
    runtime = load_runtime(models[kind], FORMAT_OF[kind])
    outputs = runtime.predict(decode_inputs(_payload(form, kind), runtime))
    expected = _direct(kind, models[kind])
    assert list(outputs) == list(expected) == [spec.name for spec in runtime.outputs]
    for name, value in expected.items():
        np.testing.assert_allclose(outputs[name], value, rtol=1e-6)


def test_runtime_specs_describe_the_model(models: dict[str, Path], logreg: LogisticRegression) -> None:
    onnx_runtime = load_runtime(models["onnx"], "ONNX")
    assert onnx_runtime.format_type == "ONNX"
    assert onnx_runtime.inputs == [TensorSpec("X", "float32", [None, 4])]
    assert [spec.name for spec in onnx_runtime.outputs] == ["logit", "probability"]
    assert onnx_runtime.nbytes >= (models["onnx"] / "model.onnx").stat().st_size
    xgb_runtime = load_runtime(models["xgb_json"], "XGBoost")
    assert xgb_runtime.inputs == [TensorSpec("X", "float32", [None, 4])]
    assert xgb_runtime.outputs == [TensorSpec("predictions", "float32", [None])]
    assert xgb_runtime.feature_names == XGB_FEATURES
    skops_runtime = load_runtime(models["skops"], "SkopsModel")
    assert skops_runtime.inputs == [TensorSpec("X", "float64", [None, 4])]
    assert skops_runtime.outputs == [
        TensorSpec("predictions", "int64", [None]),
        TensorSpec("probabilities", "float64", [None, 2]),
    ]
    # the ONNX graph is the sklearn model itself
    onnx_logit = onnx_runtime.predict({"X": X32})["logit"].ravel()
    np.testing.assert_allclose(onnx_logit, logreg.decision_function(X), rtol=1e-4, atol=1e-5)


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_sklearn_columns_follow_feature_names(tmp_path: Path) -> None:
    """A model trained on a DataFrame (feature_names_in_) gets its columns in training order."""
    model = LogisticRegression().fit(X, Y)
    model.feature_names_in_ = np.array(XGB_FEATURES, dtype=object)
    sio.dump(model, tmp_path / "model.skops")
    runtime = load_runtime(tmp_path, "SkopsModel")
    shuffled = {"columns": {name: X[:, XGB_FEATURES.index(name)].tolist() for name in sorted(XGB_FEATURES)}}
    np.testing.assert_allclose(
        runtime.predict(decode_inputs(shuffled, runtime))["probabilities"], model.predict_proba(X)
    )


def test_pickle_needs_opt_in(models: dict[str, Path], logreg: LogisticRegression) -> None:
    with pytest.raises(UnsafeFormat) as refused:
        load_runtime(models["pickle"], "PickleModel")
    assert refused.value.code == "Model.UnsafeFormat" and refused.value.hint
    with pytest.raises(UnsafeFormat):  # a near-miss name is not an opt-in
        load_runtime(models["pickle"], "PickleModel", allow_unsafe={"Pickle"})
    for opt_in in ({"PickleModel"}, "PickleModel"):
        runtime = load_runtime(models["pickle"], "PickleModel", allow_unsafe=opt_in)
        outputs = runtime.predict(decode_inputs({"inputs": {"X": X.tolist()}}, runtime))
        np.testing.assert_array_equal(outputs["predictions"], logreg.predict(X))
        np.testing.assert_allclose(outputs["probabilities"], logreg.predict_proba(X))


@pytest.mark.parametrize("format_type", ["TorchScript", "SavedModel", "Keras H5"])
def test_formats_without_runtime(tmp_path: Path, format_type: str) -> None:
    assert format_type in UNSAFE_FORMATS
    with pytest.raises(UnsafeFormat):
        load_runtime(tmp_path, format_type)
    with pytest.raises(InvalidParameter, match=r"No .* runtime is installed") as missing:
        load_runtime(tmp_path, format_type, allow_unsafe={format_type})
    assert missing.value.code == "Model.RuntimeUnavailable" and missing.value.hint


def test_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter) as unknown:
        load_runtime(tmp_path, SENTINEL)
    assert SENTINEL not in str(unknown.value)
    assert {"ONNX", "SkopsModel", "XGBoost"} == SAFE_FORMATS


# ----- files that are not what they claim -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "format_type"),
    [
        ("model.onnx", "ONNX"),
        ("model.skops", "SkopsModel"),
        ("model.json", "XGBoost"),
        ("model.ubj", "XGBoost"),
    ],
)
def test_renamed_pickle_is_refused(
    tmp_path: Path, logreg: LogisticRegression, name: str, format_type: str
) -> None:
    (tmp_path / name).write_bytes(pickle.dumps(logreg, protocol=4))
    with pytest.raises(UnsafeFormat, match="The file is a pickle, not"):
        load_runtime(tmp_path, format_type)


@pytest.mark.parametrize("format_type", ["ONNX", "XGBoost", "SkopsModel"])
def test_gzipped_pickle_is_refused(tmp_path: Path, logreg: LogisticRegression, format_type: str) -> None:
    (tmp_path / "model.pkl.gz").write_bytes(gzip.compress(pickle.dumps(logreg)))
    with pytest.raises(UnsafeFormat, match="compressed pickle"):
        load_runtime(tmp_path, format_type, entry="model.pkl.gz")


def test_zip_holding_a_pickle_is_refused(tmp_path: Path, logreg: LogisticRegression) -> None:
    """The layout of a torch.save checkpoint, posing as a skops file (which is also a zip)."""
    with zipfile.ZipFile(tmp_path / "model.skops", "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(logreg))
    with pytest.raises(UnsafeFormat, match="zip archive containing a pickle"):
        load_runtime(tmp_path, "SkopsModel")


@pytest.mark.parametrize(
    ("name", "content", "format_type", "message"),
    [
        ("model.onnx", b"not a protobuf \xff\xfe", "ONNX", "not a valid ONNX model"),
        ("model.skops", b"PK not really a zip", "SkopsModel", "not a valid skops file"),
        ("model.json", b'{"learner": ', "XGBoost", "not an XGBoost model saved as JSON"),
        ("model.json", b"[1, 2]", "XGBoost", "not an XGBoost model saved as JSON"),
        ("model.ubj", b'{"learner": {}}', "XGBoost", "not an XGBoost model saved as UBJSON"),
    ],
)
def test_corrupt_files(tmp_path: Path, name: str, content: bytes, format_type: str, message: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InvalidParameter, match=message) as failed:
        load_runtime(tmp_path, format_type)
    assert failed.value.code == "Model.LoadFailed" and failed.value.status == 422


def test_ubj_bytes_named_json_are_refused(models: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "model.json").write_bytes((models["xgb_ubj"] / "model.ubj").read_bytes())
    with pytest.raises(InvalidParameter, match="saved as JSON"):
        load_runtime(tmp_path, "XGBoost")


class Doubler(BaseEstimator):
    """A custom estimator: its class lives in this test module, so skops must not construct it."""

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> Doubler:
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return X.sum(axis=1) * 2


@pytest.mark.parametrize(
    ("estimator", "type_name"),
    [(Doubler().fit(X), "Doubler"), (FunctionTransformer(func=eval), "builtins.eval")],
)
def test_skops_untrusted_types_are_refused(tmp_path: Path, estimator: BaseEstimator, type_name: str) -> None:
    sio.dump(estimator, tmp_path / "model.skops")
    with pytest.raises(UnsafeFormat, match="does not trust") as refused:
        load_runtime(tmp_path, "SkopsModel")
    assert type_name in refused.value.message


def test_trusted_skops_types_exist() -> None:
    """Every allow-listed name resolves in the installed libraries, so a typo cannot hide in the list."""
    for name in TRUSTED_SKOPS_TYPES:
        module, _, attribute = name.rpartition(".")
        assert getattr(importlib.import_module(module), attribute), name


# ----- ONNX external data -----------------------------------------------------------------------------------


def _external_onnx(folder: Path, logreg: LogisticRegression, location: str) -> Path:
    """An ONNX model whose weights live in ``weights.bin``, then pointed at ``location``."""
    path = folder / "model.onnx"
    onnx.save_model(
        _linear_onnx(logreg.coef_, logreg.intercept_),
        path,
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )
    if location != "weights.bin":
        model = onnx.load(path, load_external_data=False)
        for tensor in model.graph.initializer:
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = location
        path.write_bytes(model.SerializeToString())
    return path


def test_onnx_external_data_inside_folder(tmp_path: Path, logreg: LogisticRegression) -> None:
    _external_onnx(tmp_path, logreg, "weights.bin")
    runtime = load_runtime(tmp_path, "ONNX")
    assert runtime.nbytes >= (tmp_path / "weights.bin").stat().st_size
    expected = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"X": X32}
    )
    np.testing.assert_allclose(runtime.predict({"X": X32})["logit"], expected[0])


@pytest.mark.parametrize("escape", ["parent", "absolute", "symlink", "backslash"])
def test_onnx_external_data_outside_folder_is_refused(
    tmp_path: Path, logreg: LogisticRegression, escape: str
) -> None:
    folder = tmp_path / "version"
    folder.mkdir()
    _external_onnx(folder, logreg, "weights.bin")
    outside = tmp_path / "outside.bin"
    (folder / "weights.bin").rename(outside)
    if escape == "symlink":
        (folder / "link.bin").symlink_to(outside)
    location = {
        "parent": "../outside.bin",
        "absolute": str(outside),
        "symlink": "link.bin",
        "backslash": "..\\outside.bin",
    }[escape]
    _external_onnx(folder, logreg, location)
    (folder / "weights.bin").unlink()
    with pytest.raises(InvalidParameter) as refused:
        load_runtime(folder, "ONNX")
    # our own refusal, raised before any onnxruntime session exists (its errors are Model.LoadFailed)
    assert refused.value.code == "Model.UnsafeExternalData"
    assert str(tmp_path) not in str(refused.value)


def test_onnx_missing_external_data(tmp_path: Path, logreg: LogisticRegression) -> None:
    _external_onnx(tmp_path, logreg, "weights.bin")
    (tmp_path / "weights.bin").unlink()
    with pytest.raises(InvalidParameter, match=r"external data file .* is missing"):
        load_runtime(tmp_path, "ONNX")


# ----- choosing the entry file ------------------------------------------------------------------------------


def test_entry_selection(models: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "first.onnx").write_bytes((models["onnx"] / "model.onnx").read_bytes())
    assert load_runtime(tmp_path, "ONNX").inputs[0].name == "X"
    (tmp_path / "second.onnx").write_bytes((models["onnx"] / "model.onnx").read_bytes())
    with pytest.raises(InvalidParameter, match="ambiguous"):
        load_runtime(tmp_path, "ONNX")
    assert load_runtime(tmp_path, "ONNX", entry="sub/first.onnx").format_type == "ONNX"
    with pytest.raises(InvalidParameter, match=r"no \.skops file"):
        load_runtime(tmp_path, "SkopsModel")
    with pytest.raises(InvalidParameter, match="does not exist"):
        load_runtime(tmp_path, "ONNX", entry="missing.onnx")


@pytest.mark.parametrize("entry", ["../model.onnx", "/etc/hostname", "sub\\model.onnx", "link.onnx"])
def test_entry_must_stay_inside(models: dict[str, Path], tmp_path: Path, entry: str) -> None:
    folder = tmp_path / "version"
    folder.mkdir()
    (tmp_path / "model.onnx").write_bytes((models["onnx"] / "model.onnx").read_bytes())
    (folder / "link.onnx").symlink_to(tmp_path / "model.onnx")
    with pytest.raises(InvalidParameter, match="stays inside") as refused:
        load_runtime(folder, "ONNX", entry=entry)
    assert entry not in str(refused.value)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameter, match="not available"):
        load_runtime(tmp_path / "absent", "ONNX")


# ----- decoding requests ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def onnx_runtime(models: dict[str, Path]):
    return load_runtime(models["onnx"], "ONNX")


@pytest.fixture(scope="module")
def columns_runtime(models: dict[str, Path]):
    return load_runtime(models["onnx_columns"], "ONNX")


@pytest.fixture(scope="module")
def xgb_runtime(models: dict[str, Path]):
    return load_runtime(models["xgb_json"], "XGBoost")


ROW = [0.1, 0.2, 0.3, 0.4]
BAD_PAYLOADS = {
    "unknown input": ("onnx", {"inputs": {"X": [ROW], SENTINEL: [ROW]}}),
    "missing input": ("columns", {"inputs": {"c0": [[1.0]], "c1": [[1.0]], "c2": [[1.0]]}}),
    "inputs not an object": ("onnx", {"inputs": [[SENTINEL_NUMBER, 1.0, 2.0, 3.0]]}),
    "ragged": ("onnx", {"inputs": {"X": [ROW, [SENTINEL_NUMBER, 2.0]]}}),
    "wrong rank": ("onnx", {"inputs": {"X": [SENTINEL_NUMBER, 1.0, 2.0, 3.0]}}),
    "wrong width": ("onnx", {"inputs": {"X": [[SENTINEL_NUMBER, 1.0, 2.0]]}}),
    "string in tensor": ("onnx", {"inputs": {"X": [[SENTINEL, 1.0, 2.0, 3.0]]}}),
    "numeric string": ("onnx", {"inputs": {"X": [["98765.4321", 1.0, 2.0, 3.0]]}}),
    "object in tensor": ("onnx", {"inputs": {"X": [[{"v": SENTINEL}, 1.0, 2.0, 3.0]]}}),
    "string in record": ("xgb", {"records": [{"alpha": SENTINEL, "bravo": 1, "charlie": 2, "delta": 3}]}),
    "string in column": (
        "xgb",
        {"columns": {"alpha": [SENTINEL], "bravo": [1], "charlie": [2], "delta": [3]}},
    ),
    "list in record": (
        "xgb",
        {"records": [{"alpha": [SENTINEL_NUMBER], "bravo": 1, "charlie": 2, "delta": 3}]},
    ),
    "unknown column": (
        "xgb",
        {"columns": {"alpha": [1], "bravo": [1], "charlie": [2], "delta": [3], SENTINEL: [4]}},
    ),
    "missing column": ("xgb", {"records": [{"alpha": SENTINEL_NUMBER, "bravo": 1, "charlie": 2}]}),
    "records differ": (
        "onnx",
        {"records": [dict(zip(COLUMNS, ROW, strict=True)), {"c0": SENTINEL_NUMBER, SENTINEL: 1}]},
    ),
    "columns differ in length": (
        "onnx",
        {"columns": {"c0": [1.0, 2.0], "c1": [SENTINEL_NUMBER], "c2": [1], "c3": [1]}},
    ),
    "too few columns": ("onnx", {"columns": {"c0": [SENTINEL_NUMBER], "c1": [1.0]}}),
    "two keys": ("onnx", {"inputs": {"X": [ROW]}, "records": [dict(zip(COLUMNS, ROW, strict=True))]}),
    "unknown key": ("onnx", {SENTINEL: [ROW]}),
    "empty payload": ("onnx", {}),
    "not an object": ("onnx", [SENTINEL]),
    "empty inputs": ("onnx", {"inputs": {}}),
    "empty tensor": ("onnx", {"inputs": {"X": []}}),
    "empty records": ("onnx", {"records": []}),
    "empty record": ("onnx", {"records": [{}]}),
    "empty columns": ("onnx", {"columns": {}}),
    "empty column values": ("onnx", {"columns": {name: [] for name in COLUMNS}}),
    "string among nulls": ("columns", {"columns": {"c0": [None], "c1": [True], "c2": [SENTINEL], "c3": [1]}}),
}


@pytest.mark.parametrize("case", list(BAD_PAYLOADS))
def test_bad_payloads_are_refused_without_echo(case: str, onnx_runtime, columns_runtime, xgb_runtime) -> None:
    kind, payload = BAD_PAYLOADS[case]
    runtime = {"onnx": onnx_runtime, "columns": columns_runtime, "xgb": xgb_runtime}[kind]
    with pytest.raises(InvalidParameter) as refused:
        decode_inputs(payload, runtime)
    error = refused.value
    assert error.code == "Inference.InvalidInput" and error.status == 400
    assert error.hint and error.message.endswith(".")
    for text in (str(error), repr(error), json.dumps(error.to_dict())):
        assert SENTINEL not in text and "98765" not in text


@pytest.mark.parametrize(
    "payload",
    [
        {"inputs": {"X": [[0.0] * 4] * 2_500_001}},
        {"records": [dict(zip(COLUMNS, ROW, strict=True))] * 2_500_001},
        {"columns": {name: [0.0] * 2_500_001 for name in COLUMNS}},
    ],
    ids=["inputs", "records", "columns"],
)
def test_oversize_payload_is_refused(onnx_runtime, payload: dict) -> None:
    start = time.perf_counter()
    with pytest.raises(PayloadTooLarge) as refused:
        decode_inputs(payload, onnx_runtime)
    assert isinstance(refused.value, InvalidParameter) and refused.value.hint
    assert time.perf_counter() - start < 1.0  # refused before building any array


def test_decoding_casts_and_shapes(onnx_runtime, columns_runtime, xgb_runtime) -> None:
    decoded = decode_inputs({"inputs": {"X": [[1, 2, 3, 4]]}}, onnx_runtime)
    assert decoded["X"].dtype == np.float32 and decoded["X"].shape == (1, 4)
    by_column = decode_inputs({"columns": {name: [1.0, 2.0] for name in COLUMNS}}, columns_runtime)
    assert {name: value.shape for name, value in by_column.items()} == {name: (2, 1) for name in COLUMNS}
    # null is a missing value for float inputs, which XGBoost handles natively
    with_null = decode_inputs(
        {"records": [{"alpha": None, "bravo": 1, "charlie": 2, "delta": 3}]}, xgb_runtime
    )
    np.testing.assert_array_equal(with_null["X"], np.array([[3, np.nan, 2, 1]], dtype=np.float32))
    assert xgb_runtime.predict(with_null)["predictions"].shape == (1,)


def test_integer_and_string_inputs(tmp_path: Path) -> None:
    """An ONNX model with int64 and string inputs: whole numbers and strings only."""
    graph = helper.make_graph(
        [
            helper.make_node("Identity", ["count"], ["count_out"]),
            helper.make_node("Identity", ["label"], ["label_out"]),
        ],
        "typed",
        [
            helper.make_tensor_value_info("count", TensorProto.INT64, [None]),
            helper.make_tensor_value_info("label", TensorProto.STRING, [None]),
        ],
        [
            helper.make_tensor_value_info("count_out", TensorProto.INT64, [None]),
            helper.make_tensor_value_info("label_out", TensorProto.STRING, [None]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, tmp_path / "model.onnx")
    runtime = load_runtime(tmp_path, "ONNX")
    outputs = runtime.predict(decode_inputs({"columns": {"count": [1, 2], "label": ["a", "b"]}}, runtime))
    assert encode_outputs(outputs) == [
        {"name": "count_out", "dtype": "int64", "shape": [2], "data": [1, 2]},
        {"name": "label_out", "dtype": "string", "shape": [2], "data": ["a", "b"]},
    ]
    for bad in (
        {"count": [1.5], "label": ["a"]},
        {"count": [2.0**70], "label": ["a"]},
        {"count": [1], "label": [7]},
    ):
        with pytest.raises(InvalidParameter):
            decode_inputs({"columns": bad}, runtime)


# ----- inference failures and outputs -----------------------------------------------------------------------


def test_inference_failures_are_invalid_input(onnx_runtime, xgb_runtime, models: dict[str, Path]) -> None:
    skops_runtime = load_runtime(models["skops"], "SkopsModel")
    cases = [
        (onnx_runtime, {"X": np.full((2, 5), SENTINEL_NUMBER, np.float32)}),
        (onnx_runtime, {"X": np.full((2, 4), SENTINEL_NUMBER, np.float64)}),
        (xgb_runtime, {"X": np.full((2, 7), SENTINEL_NUMBER, np.float32)}),
        (skops_runtime, {"X": np.full((2, 4), np.nan)}),
        (skops_runtime, {"X": np.full((2, 3), SENTINEL_NUMBER)}),
    ]
    for runtime, inputs in cases:
        with pytest.raises(InvalidParameter) as failed:
            runtime.predict(inputs)
        assert failed.value.code == "Inference.InvalidInput" and failed.value.hint
        assert "98765" not in str(failed.value) and "Traceback" not in str(failed.value)


def test_encode_outputs_is_strict_json() -> None:
    encoded = encode_outputs(
        {
            "scores": np.array([[1.5, np.nan], [np.inf, -np.inf]], dtype=np.float32),
            "labels": np.array(["yes", "no"]),
            "flags": np.array([True, False]),
            "empty": np.zeros((0, 3), dtype=np.int64),
        }
    )
    assert encoded == [
        {"name": "scores", "dtype": "float32", "shape": [2, 2], "data": [[1.5, None], [None, None]]},
        {"name": "labels", "dtype": "string", "shape": [2], "data": ["yes", "no"]},
        {"name": "flags", "dtype": "bool", "shape": [2], "data": [True, False]},
        {"name": "empty", "dtype": "int64", "shape": [0, 3], "data": []},
    ]
    json.dumps(encoded, allow_nan=False)


# ----- cache ------------------------------------------------------------------------------------------------


@dataclass
class SizedRuntime:
    """The smallest thing satisfying the Runtime protocol: enough to exercise the cache."""

    nbytes: int
    format_type: str = "ONNX"
    inputs: tuple = ()
    outputs: tuple = ()

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return inputs


def test_cache_evicts_least_recently_used_by_bytes() -> None:
    cache = RuntimeCache(max_bytes=100)
    a = cache.get("a", lambda: SizedRuntime(40))
    cache.get("b", lambda: SizedRuntime(40))
    assert cache.get("a", lambda: SizedRuntime(1)) is a  # hit, and now most recent
    cache.get("c", lambda: SizedRuntime(40))
    assert "a" in cache and "c" in cache and "b" not in cache
    cache.get("d", lambda: SizedRuntime(100))
    assert len(cache) == 1 and "d" in cache
    cache.clear()
    assert len(cache) == 0


def test_cache_serves_but_does_not_keep_oversize_runtimes() -> None:
    cache = RuntimeCache(max_bytes=100)
    kept = cache.get("small", lambda: SizedRuntime(60))
    big = SizedRuntime(150)
    assert cache.get("big", lambda: big) is big
    assert "big" not in cache and cache.get("small", lambda: SizedRuntime(1)) is kept


def test_cache_loads_once_under_concurrency() -> None:
    cache = RuntimeCache()
    calls = []
    barrier = threading.Barrier(8)

    def loader() -> SizedRuntime:
        calls.append(1)
        time.sleep(0.2)  # long enough for every thread to arrive while the load is in progress
        return SizedRuntime(10)

    results = []

    def worker() -> None:
        barrier.wait()
        results.append(cache.get("model", loader))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(results) == 8 and all(result is results[0] for result in results)


def test_cache_does_not_keep_failures() -> None:
    cache = RuntimeCache()

    def failing() -> SizedRuntime:
        raise InvalidParameter("The file is not a valid ONNX model.", hint="Export it again.")

    with pytest.raises(InvalidParameter):
        cache.get("model", failing)
    assert cache.get("model", lambda: SizedRuntime(1)).nbytes == 1


def test_heavy_libraries_are_imported_lazily() -> None:
    heavy = ["onnx", "onnxruntime", "skops", "sklearn", "xgboost", "joblib"]
    code = f"import sys, modeldeck.platform.runtimes; print([m for m in {heavy!r} if m in sys.modules])"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "[]"
