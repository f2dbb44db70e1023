"""Register right the first time: the platform detects the checkpoint's format, checks it by loading it
before the version exists, records its signature, and says when a version cannot run here.

Through the public surfaces: the HTTP API of a real embedded platform, and `Deck` over it.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from conftest import Api, Deployment

import modeldeck as md
from modeldeck import examples, transfer
from modeldeck.errors import InvalidParameter

X, _ = examples.tabular_data(n=4, seed=1)


def post_version(api: Api, name: str, path: Path, **fields):
    artifact = transfer.upload_artifact(api, path)
    if api.get(f"/api/v1/models/{name}").status_code == 404:
        api.ok("POST", "/api/v1/models", json={"model_name": name})
    return api.post(f"/api/v1/models/{name}/versions", json={"uri": artifact["uri"], **fields})


def versions(api: Api, name: str) -> list[dict]:
    return api.ok("GET", f"/api/v1/models/{name}/versions")["items"]


@pytest.fixture
def onnx_file(tmp_path: Path) -> Path:
    return examples.onnx_linear(tmp_path / "onnx" / "linear.onnx")


@pytest.fixture
def skops_file(tmp_path: Path) -> Path:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    Xf, y = examples.tabular_data(seed=0)
    frame = pd.DataFrame(Xf, columns=["sepal_length", "sepal_width", "petal_length", "petal_width"])
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    return examples.save_skops(LogisticRegression(max_iter=500).fit(frame, labels), tmp_path / "skops" / "m.skops")


@pytest.mark.parametrize(
    ("fixture", "fmt", "framework"),
    [("onnx_file", "ONNX", "ONNX"), ("skops_file", "SkopsModel", "ScikitLearn"), ("xgb_json", "XGBoost", "XGBoost"),
     ("xgb_ubj", "XGBoost", "XGBoost")],
)  # fmt: skip
def test_the_format_is_detected_from_the_bytes_and_the_version_predicts(
    deployment: Deployment, request: pytest.FixtureRequest, tmp_path: Path, fixture: str, fmt: str, framework: str
):
    if fixture.startswith("xgb"):
        path = examples.xgboost_classifier(tmp_path / "xgb" / f"model.{fixture[4:]}")
    else:
        path = request.getfixturevalue(fixture)
    api = deployment.admin
    created = post_version(api, "detected", path)
    assert created.status_code == 201, created.text
    version = created.json()
    assert (version["format_type"], version["framework_type"]) == (fmt, framework)
    assert version["runnable"] is True and version["not_runnable_reason"] is None
    assert version["signature"]["inputs"][0]["name"] == "X"
    answer = api.ok("POST", "/api/v1/models/detected/predict", json={"inputs": X.tolist()})
    assert answer["outputs"]


def test_the_onnx_signature_is_the_graph(deployment: Deployment, onnx_file: Path):
    version = post_version(deployment.admin, "iris", onnx_file).json()
    assert version["signature"] == {
        "inputs": [{"name": "X", "dtype": "float32", "shape": [None, 4]}],
        "outputs": [
            {"name": "logits", "dtype": "float32", "shape": [None, 3]},
            {"name": "probabilities", "dtype": "float32", "shape": [None, 3]},
        ],
    }
    listed = versions(deployment.admin, "iris")[0]
    assert listed["signature"] == version["signature"] and listed["runnable"] is True


def test_the_skops_signature_has_the_columns_and_the_classes(deployment: Deployment, skops_file: Path):
    signature = post_version(deployment.admin, "iris", skops_file).json()["signature"]
    assert signature["features"] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert signature["classes"] == ["setosa", "versicolor", "virginica"]
    assert [o["name"] for o in signature["outputs"]] == ["predictions", "probabilities"]
    assert signature["outputs"][1]["shape"] == [None, 3]


def test_xgboost_feature_names_are_recorded(deployment: Deployment, tmp_path: Path):
    import xgboost

    Xf, y = examples.tabular_data(n=50, seed=0)
    booster = xgboost.train({}, xgboost.DMatrix(Xf, label=y, feature_names=["a", "b", "c", "d"]), 2)
    booster.save_model(str(tmp_path / "model.json"))
    signature = post_version(deployment.admin, "boost", tmp_path / "model.json").json()["signature"]
    assert signature["features"] == ["a", "b", "c", "d"]


def test_a_declared_format_the_file_is_not_is_refused_with_what_it_is(deployment: Deployment, skops_file: Path):
    api = deployment.admin
    refused = post_version(api, "iris", skops_file, format_type="ONNX")
    assert refused.status_code == 422
    body = refused.json()
    assert body["code"] == "Model.FormatMismatch"
    assert "skops" in body["message"] and "not an ONNX model" in body["message"]
    assert "'SkopsModel'" in body["hint"]
    assert versions(api, "iris") == []  # nothing became visible


class _Exploit:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize(("fmt", "name"), [("ONNX", "model.onnx"), ("SkopsModel", "model.skops"),
                                           ("XGBoost", "model.json"), (None, "model.onnx")])  # fmt: skip
def test_a_pickle_is_named_for_what_it_is_and_never_loaded(deployment: Deployment, tmp_path: Path, fmt, name):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil" / name
    path.parent.mkdir()
    path.write_bytes(pickle.dumps(_Exploit(str(marker))))
    api = deployment.admin
    response = post_version(api, "evil", path, **({"format_type": fmt} if fmt else {}))
    if fmt is None:  # detected: registered as what it is, and it says it will not run here unasked
        assert response.status_code == 201, response.text
        version = response.json()
        assert version["format_type"] == "PickleModel" and version["signature"] is None
    else:
        assert response.status_code == 422
        assert "a pickle" in response.json()["message"] and "'PickleModel'" in response.json()["hint"]
    assert not marker.exists()


def test_a_pickle_on_a_platform_that_refuses_pickles_is_listed_as_not_runnable(tmp_path: Path):
    import joblib
    from conftest import deploy

    from modeldeck.platform import Settings

    dep = deploy(Settings(home=tmp_path / "home"))  # no allow_unsafe_formats
    try:
        joblib.dump(examples.sklearn_classifier(), tmp_path / "clf.joblib")
        created = post_version(dep.admin, "pickled", tmp_path / "clf.joblib")
        assert created.status_code == 201, created.text
        listed = versions(dep.admin, "pickled")[0]
        assert listed["format_type"] == "PickleModel" and listed["runnable"] is False
        assert "runs code when loaded" in listed["not_runnable_reason"]
    finally:
        dep.close()


def test_a_corrupt_checkpoint_is_refused_at_registration(deployment: Deployment, tmp_path: Path):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"\x08\x07this is not a protobuf graph at all")
    refused = post_version(deployment.admin, "broken", bad)
    assert refused.status_code == 422 and refused.json()["code"] == "Model.LoadFailed"
    assert versions(deployment.admin, "broken") == []


def test_onnx_external_data_outside_the_version_is_refused_at_registration(deployment: Deployment, tmp_path: Path):
    import onnx

    model = onnx.load(str(examples.onnx_linear(tmp_path / "src" / "linear.onnx")))
    for tensor in model.graph.initializer:
        tensor.data_location = onnx.TensorProto.EXTERNAL
        del tensor.external_data[:]
        entry = tensor.external_data.add()
        entry.key, entry.value = "location", "../../../../etc/passwd"
        tensor.ClearField("raw_data")
    bad = tmp_path / "bad" / "linear.onnx"
    bad.parent.mkdir()
    onnx.save(model, str(bad))
    refused = post_version(deployment.admin, "escape", bad)
    assert refused.status_code == 422 and refused.json()["code"] == "Model.UnsafeExternalData"


def test_unrecognized_files_and_external_uris_register_but_say_they_cannot_run(deployment: Deployment, tmp_path: Path):
    api = deployment.admin
    (tmp_path / "weights.bin").write_bytes(b"\x00" * 64)
    version = post_version(api, "blob", tmp_path / "weights.bin").json()
    assert version["format_type"] is None and version["runnable"] is False
    assert "did not recognize" in version["not_runnable_reason"]
    api.ok("POST", "/api/v1/models", json={"model_name": "remote"})
    remote = api.ok("POST", "/api/v1/models/remote/versions", json={"uri": "oss://b/m.onnx", "format_type": "ONNX"})
    assert remote["runnable"] is False and "external uri" in remote["not_runnable_reason"]


def test_a_format_without_a_runtime_here_registers_as_not_runnable(deployment: Deployment, tmp_path: Path):
    (tmp_path / "model.pmml").write_text("<PMML/>")
    version = post_version(deployment.admin, "pmml", tmp_path / "model.pmml", format_type="PMML").json()
    assert version["runnable"] is False and "no runtime for PMML" in version["not_runnable_reason"]


def test_a_hugging_face_folder_is_detected_as_safetensors(deployment: Deployment, tmp_path: Path):
    folder = examples.tiny_causal_lm(tmp_path / "lm")
    version = post_version(deployment.admin, "tiny-lm", folder).json()
    assert (version["format_type"], version["framework_type"]) == ("SafeTensors", "Transformers")
    assert version["runnable"] is True
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "auto_map": {"AutoModel": "modeling.Model"}}))
    remote_code = post_version(deployment.admin, "tiny-lm", folder).json()
    assert remote_code["runnable"] is False and "its own Python code" in remote_code["not_runnable_reason"]


def test_the_server_suggests_the_enum_value_meant(deployment: Deployment, onnx_file: Path):
    refused = post_version(deployment.admin, "iris", onnx_file, format_type="onxx")
    assert refused.status_code == 400
    assert refused.json()["hint"].startswith("Did you mean 'ONNX'?")


def test_the_client_refuses_a_misspelled_enum_before_any_upload(deployment: Deployment, onnx_file: Path):
    with md.connect(url=deployment.url, api_key=deployment.admin_key) as deck:
        with pytest.raises(InvalidParameter) as refused:
            deck.register("iris", onnx_file, framework="sklearn")
        assert refused.value.hint.startswith("Did you mean 'ScikitLearn'?")
        with pytest.raises(InvalidParameter) as refused:
            deck.register("iris", onnx_file, format="Onyx")
        assert "Did you mean 'ONNX'?" in refused.value.hint
    blobs = deployment.platform.settings.home / "blobs"
    assert not blobs.exists() or not [p for p in blobs.rglob("*") if p.is_file()]  # nothing was uploaded
    assert deployment.admin.get("/api/v1/models/iris").status_code == 404


def test_deck_register_takes_a_kernel_object(deployment: Deployment):
    clf = examples.sklearn_classifier()
    with md.connect(url=deployment.url, api_key=deployment.admin_key) as deck:
        version = deck.register("from-kernel", clf)
        assert (version.format_type, version.framework_type) == ("SkopsModel", "ScikitLearn")
        assert version.runnable and version.signature["classes"] == [0, 1, 2]
        prediction = deck.predict("from-kernel", X)
        np.testing.assert_array_equal(prediction.arrays()["predictions"], clf.predict(X))
        with pytest.raises(InvalidParameter) as refused:
            deck.register("from-kernel", object())
        assert refused.value.code == "InvalidParameter.Source"


def test_a_misspelled_model_name_gets_the_closest_visible_name(deployment: Deployment):
    api = deployment.admin
    api.ok("POST", "/api/v1/models", json={"model_name": "iris-classifier"})
    missed = api.post("/api/v1/models/iris-clasifier/predict", json={"inputs": [[1, 2, 3, 4]]})
    assert missed.status_code == 404 and missed.json()["hint"].startswith("Did you mean 'iris-classifier'?")
    api.ok("POST", "/api/v1/workspaces", json={"name": "other"})
    deployment.client(workspace="other").ok("POST", "/api/v1/models", json={"model_name": "secret-model"})
    key = deployment.subaccount("alice", {"default": "developer"})
    alice = deployment.client(key, workspace="default")
    near_secret = alice.get("/api/v1/models/secret-modl").json()
    assert "secret-model" not in near_secret["hint"]  # a name it may not see is never suggested
    assert alice.get("/api/v1/models/iris-clasifer").json()["hint"].startswith("Did you mean 'iris-classifier'?")


class _Scorer:
    """A type of this test module: skops saves it, and the platform does not trust it."""

    def predict(self, rows):
        return np.zeros(len(rows))


def test_a_skops_file_with_untrusted_types_is_kept_but_not_runnable(deployment: Deployment, tmp_path: Path):
    path = examples.save_skops(_Scorer(), tmp_path / "f.skops")
    version = post_version(deployment.admin, "odd", path).json()
    assert version["format_type"] == "SkopsModel" and version["runnable"] is False
    assert "does not trust" in version["not_runnable_reason"]
