"""Predict through the platform's HTTP API equals the library called directly on the same file."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from conftest import Api, Deployment
from modeldeck import examples, transfer

X, _ = examples.tabular_data(n=8, seed=1)


def register(api: Api, name: str, path: Path, format_type: str, **extra) -> dict:
    artifact = transfer.upload_artifact(api, path)
    if api.get(f"/api/v1/models/{name}").status_code == 404:
        api.ok("POST", "/api/v1/models", json={"model_name": name})
    return api.ok(
        "POST", f"/api/v1/models/{name}/versions", json={"uri": artifact["uri"], "format_type": format_type, **extra}
    )


def outputs(body: dict) -> dict[str, np.ndarray]:
    return {o["name"]: np.asarray(o["data"]) for o in body["outputs"]}


def test_onnx_predictions_equal_onnxruntime(deployment: Deployment, tmp_path: Path):
    import onnxruntime as ort

    path = examples.onnx_linear(tmp_path / "linear.onnx")
    api = deployment.admin
    register(api, "linear", path, "ONNX")
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"X": X})
    body = api.ok("POST", "/api/v1/models/linear/predict", json={"inputs": {"X": X.tolist()}})
    got = outputs(body)
    np.testing.assert_allclose(got["logits"], expected[0], rtol=1e-6)
    np.testing.assert_allclose(got["probabilities"], expected[1], rtol=1e-6)
    spec = {o["name"]: o for o in body["outputs"]}
    assert spec["logits"]["dtype"] == "float32" and spec["logits"]["shape"] == [8, 3]
    assert body["version"] == "0.1.0"


def test_skops_predictions_equal_sklearn(deployment: Deployment, tmp_path: Path):
    clf = examples.sklearn_classifier()
    path = examples.save_skops(clf, tmp_path / "clf.skops")
    api = deployment.admin
    register(api, "clf", path, "SkopsModel", framework_type="ScikitLearn")
    records = [dict(enumerate(map(float, row))) for row in X]
    body = api.ok("POST", "/api/v1/models/clf/versions/0.1.0/predict", json={"columns": {str(i): X[:, i].tolist() for i in range(4)}})
    got = outputs(body)
    np.testing.assert_array_equal(got["predictions"], clf.predict(X))
    np.testing.assert_allclose(got["probabilities"], clf.predict_proba(X), rtol=1e-6)
    assert records  # records form is covered by the runtime tests


@pytest.mark.parametrize("suffix", [".json", ".ubj"])
def test_xgboost_predictions_equal_xgboost(deployment: Deployment, tmp_path: Path, suffix: str):
    import xgboost

    path = examples.xgboost_classifier(tmp_path / f"booster{suffix}")
    api = deployment.admin
    register(api, "xgb", path, "XGBoost")
    booster = xgboost.Booster()
    booster.load_model(str(path))
    expected = booster.predict(xgboost.DMatrix(X))
    body = api.ok("POST", "/api/v1/models/xgb/predict", json={"inputs": {"X": X.tolist()}})
    np.testing.assert_allclose(outputs(body)["predictions"], expected, rtol=1e-6)


def test_pickle_posing_as_a_safe_format_is_refused(deployment: Deployment, tmp_path: Path):
    api = deployment.admin
    evil = tmp_path / "evil"
    evil.mkdir()
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Exploit(str(marker)))
    for fmt, name in [("ONNX", "model.onnx"), ("SkopsModel", "model.skops"), ("XGBoost", "model.json")]:
        (evil / name).write_bytes(payload)
        with pytest.raises(AssertionError, match="422"):  # refused at registration, never loaded
            register(api, f"evil-{fmt}", evil / name, fmt)
        r = api.post(f"/api/v1/models/evil-{fmt}/predict", json={"inputs": {"X": [[1, 2, 3, 4]]}})
        assert r.status_code == 404, r.text  # no version was made
        (evil / name).unlink()
    assert not marker.exists()


class _Exploit:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickled_models_need_an_explicit_opt_in(deployment: Deployment, tmp_path: Path):
    import joblib

    clf = examples.sklearn_classifier()
    path = tmp_path / "clf.joblib"
    joblib.dump(clf, path)
    api = deployment.admin
    register(api, "pickled", path, "PickleModel")
    body = {"inputs": {"X": X.tolist()}}
    refused = api.post("/api/v1/models/pickled/predict", json=body)
    assert refused.status_code == 422 and refused.json()["code"] == "Model.UnsafeFormat"
    allowed = api.ok("POST", "/api/v1/models/pickled/predict", json={**body, "allow_unsafe": ["PickleModel"]})
    np.testing.assert_array_equal(outputs(allowed)["predictions"], clf.predict(X))


def test_a_server_that_does_not_allow_a_format_refuses_the_opt_in(tmp_path: Path):
    import joblib

    from conftest import deploy
    from modeldeck.platform import Settings

    dep = deploy(Settings(home=tmp_path / "home"))  # no allow_unsafe_formats
    try:
        path = tmp_path / "clf.pkl"
        joblib.dump(examples.sklearn_classifier(), path)
        register(dep.admin, "pickled", path, "PickleModel")
        r = dep.admin.post("/api/v1/models/pickled/predict", json={"inputs": {"X": X.tolist()}, "allow_unsafe": ["PickleModel"]})
        assert r.status_code == 422 and "--allow-unsafe-formats" in r.json()["hint"]
    finally:
        dep.close()


def test_inference_errors_do_not_echo_inputs_or_tracebacks(deployment: Deployment, tmp_path: Path):
    api = deployment.admin
    register(api, "linear", examples.onnx_linear(tmp_path / "l.onnx"), "ONNX")
    sentinel = 987654.125
    cases = [
        {"inputs": {"X": [[sentinel, 1.0, 2.0]]}},  # wrong width
        {"inputs": {"X": [[sentinel, "SECRET-INPUT-TEXT", 1, 2]]}},
        {"inputs": {"nope": [[sentinel, 1, 2, 3]]}},
        {"inputs": {"X": [[sentinel, 1], [1, 2, 3, 4]]}},
        {"records": [{"a": sentinel}], "inputs": {"X": [[1, 2, 3, 4]]}},
        {},
    ]
    for body in cases:
        r = api.post("/api/v1/models/linear/predict", json=body)
        assert r.status_code == 400, (body, r.text)
        text = r.text
        assert "987654" not in text and "SECRET-INPUT-TEXT" not in text
        assert "Traceback" not in text and 'File "' not in text
        assert r.json()["hint"]


def test_predict_needs_an_uploaded_checkpoint(deployment: Deployment):
    api = deployment.admin
    api.ok("POST", "/api/v1/models", json={"model_name": "remote"})
    api.ok("POST", "/api/v1/models/remote/versions", json={"uri": "oss://bucket/m.onnx", "format_type": "ONNX"})
    r = api.post("/api/v1/models/remote/predict", json={"inputs": {"X": [[1, 2, 3, 4]]}})
    assert r.status_code == 400 and r.json()["code"] == "Inference.NotLocal"


def test_predict_across_workspaces_follows_grants(deployment: Deployment, tmp_path: Path):
    api = deployment.admin
    api.ok("POST", "/api/v1/workspaces", json={"name": "team-b"})
    register(api, "linear", examples.onnx_linear(tmp_path / "l.onnx"), "ONNX")
    key = deployment.subaccount("bob", {"team-b": "developer"})
    bob = deployment.client(key, "team-b")
    body = {"inputs": {"X": X.tolist()}}
    denied = bob.post("/api/v1/models/linear/predict", json=body)
    assert denied.status_code == 403 and denied.json()["code"] == "Model.AccessDenied"
    assert "team-b" in denied.json()["hint"] and "inference" in denied.json()["hint"]  # not the owner: bob is outside it
    api.ok("PUT", "/api/v1/models/linear/grants/team-b", json={"actions": ["inference"]})
    assert len(bob.ok("POST", "/api/v1/models/linear/predict", json=body)["outputs"]) == 2


def test_the_fast_path_agrees_with_the_service_layer(deployment: Deployment, tmp_path: Path):
    """Predict's one-query path only ever shortcuts to the target the full checks reach, or steps aside."""
    from modeldeck.platform import fastpath, inference
    from modeldeck.platform.authz import authenticate, enter
    from modeldeck.errors import DeckError

    api = deployment.admin
    api.ok("POST", "/api/v1/workspaces", json={"name": "team-b"})
    register(api, "linear", examples.onnx_linear(tmp_path / "l.onnx"), "ONNX")
    register(api, "linear", examples.onnx_linear(tmp_path / "l2.onnx", seed=2), "ONNX", version_name="2.0.0")
    api.ok("POST", "/api/v1/models/linear/versions/2.0.0/reject")
    keys = {
        "main": deployment.admin_key,
        "dev-b": deployment.subaccount("devb", {"team-b": "developer"}),
        "viewer": deployment.subaccount("viewer", {"default": "viewer"}),
    }
    platform = deployment.platform
    for who, key in keys.items():
        for ws in (None, "default", "team-b"):
            for version in (None, "0.1.0", "2.0.0", "9.9.9"):
                fast = fastpath.locate(platform, key, ws, "linear", version)
                try:
                    with platform.store.read() as db:
                        caller = enter(db, authenticate(db, key), ws)
                    full = inference.locate(platform, caller, "linear", version)
                except DeckError:
                    full = None
                assert fast is None or fast == full, (who, ws, version)
                if who == "main" and ws != "team-b" and version in (None, "0.1.0"):
                    assert fast is not None and fast.version == "0.1.0"  # the common case takes the shortcut
