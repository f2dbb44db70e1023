"""Deck and AsyncDeck against the real platform over HTTP: every method, typed errors with hints."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

import modeldeck as md
from conftest import Deployment
from modeldeck import examples
from modeldeck.errors import (
    AccessDenied,
    Conflict,
    DeckError,
    InvalidApiKey,
    InvalidParameter,
    ModelAccessDenied,
    NotFound,
    QuotaExceeded,
    UnsafeFormat,
    WorkspaceAccessDenied,
)


@pytest.fixture
def deck(deployment: Deployment):
    with md.connect(url=deployment.url, api_key=deployment.admin_key) as deck:
        yield deck


@pytest.fixture
def onnx_file(tmp_path: Path) -> Path:
    return examples.onnx_linear(tmp_path / "ckpt" / "linear.onnx")


def test_workspaces_use_and_crud(deck: md.Deck):
    assert deck.workspace.name == "default" and deck.workspace.role == "admin"
    created = deck.create_workspace("team-b", description="the b team")
    assert [w.name for w in deck.workspaces()] == ["default", "team-b"]
    assert deck.use("team-b").id == created.id
    assert deck.workspace.name == "team-b"
    deck.create_model("only-in-b")
    assert [m.name for m in deck.models()] == ["only-in-b"]
    deck.use(deck.workspaces()[0])  # a record works wherever a name does
    assert [m.name for m in deck.models()] == []
    assert deck.update_workspace("team-b", description="renamed").description == "renamed"
    with pytest.raises(Conflict) as err:
        deck.delete_workspace("team-b")
    assert err.value.code == "Workspace.NotEmpty" and str(err.value).endswith(err.value.hint)
    for i in range(8):
        deck.create_workspace(f"ws-{i}")
    with pytest.raises(QuotaExceeded):
        deck.create_workspace("one-too-many")


def test_register_upload_approve_predict(deck: md.Deck, onnx_file: Path):
    v = deck.register("iris", onnx_file, format="ONNX", metrics={"acc": 0.91}, labels={"team": "cv"}, progress=False)
    assert (v.model_name, v.version_name, v.approval_status) == ("iris", "0.1.0", "Pending")
    assert v.uri.startswith("artifact://sha256:")
    folder = deck.register("iris", onnx_file.parent, version="1.0.0", format="ONNX", progress=False)
    assert folder.version == "1.0.0"
    assert deck.register("iris", "oss://bucket/iris/2.onnx", progress=False).version == "1.1.0"
    assert [x.version for x in deck.versions("iris")] == ["1.1.0", "1.0.0", "0.1.0"]
    assert deck.version("iris", "1.0.0").format_type == "ONNX"
    assert deck.approve("iris", "1.0.0").approval_status == "Approved"
    assert deck.reject("iris", "0.1.0").approval_status == "Rejected"
    with pytest.raises(Conflict):
        deck.approve("iris", "0.1.0")
    assert deck.update_version("iris", "1.0.0", metrics={"acc": 0.95}).metrics == {"acc": 0.95}
    X, _ = examples.tabular_data(n=5, seed=2)
    p = deck.predict("iris", X, version="1.0.0")
    assert p.version == "1.0.0" and p.shapes["probabilities"] == [5, 3]
    np.testing.assert_allclose(p.arrays()["probabilities"].sum(axis=1), np.ones(5), rtol=1e-5)
    assert deck.predict("iris", {"X": X}, version="1.0.0").shapes == p.shapes
    model = deck.model("iris")
    assert model.latest_version == {"version_name": "1.1.0", "approval_status": "Pending"}
    deck.delete_version("iris", "1.1.0")
    assert [x.version for x in deck.versions("iris")] == ["1.0.0", "0.1.0"]


def test_predict_input_forms(deck: md.Deck, tmp_path: Path):
    clf = examples.sklearn_classifier()
    deck.register("clf", examples.save_skops(clf, tmp_path / "clf.skops"), format="SkopsModel", progress=False)
    X, _ = examples.tabular_data(n=4, seed=3)
    rows = [{str(i): float(v) for i, v in enumerate(row)} for row in X]
    by_rows = deck.predict("clf", rows)
    import pandas as pd

    by_frame = deck.predict("clf", pd.DataFrame(X, columns=[str(i) for i in range(4)]))
    assert by_rows.outputs["predictions"] == by_frame.outputs["predictions"] == clf.predict(X).tolist()
    with pytest.raises(InvalidParameter) as err:
        deck.predict("clf", object())
    assert err.value.hint


def test_unsafe_formats_need_opt_in(deck: md.Deck, tmp_path: Path):
    import joblib

    path = tmp_path / "clf.joblib"
    joblib.dump(examples.sklearn_classifier(), path)
    deck.register("pickled", path, format="PickleModel", progress=False)
    X, _ = examples.tabular_data(n=2)
    with pytest.raises(UnsafeFormat):
        deck.predict("pickled", X)
    assert deck.predict("pickled", X, allow_unsafe=["PickleModel"]).shapes["predictions"] == [2]


def test_models_listing_is_lazy_and_paged(deck: md.Deck):
    for i in range(7):
        deck.create_model(f"m{i}", task="t")
    listing = deck.models(task="t")
    assert [m.name for m in listing] == [f"m{i}" for i in range(7)]
    assert [m.name for m in listing.first(2)] == ["m0", "m1"]
    frame = listing.to_pandas()
    assert list(frame["model_name"]) == [f"m{i}" for i in range(7)]
    html = listing._repr_html_()
    assert "<table>" in html and "m6" in html
    assert "m3" in repr(listing)


def test_subaccounts_members_grants_and_access_denied_hints(deck: md.Deck, deployment: Deployment, onnx_file: Path):
    deck.create_workspace("team-b")
    alice = deck.create_subaccount("alice")
    assert alice.api_key and alice.api_key not in repr(alice)
    deck.add_member("team-b", alice, role="developer")
    assert [(a.name, a.role) for a in deck.members("team-b")] == [("alice", "developer")]
    deck.register("iris", onnx_file, format="ONNX", progress=False)
    X, _ = examples.tabular_data(n=1)
    with pytest.raises(WorkspaceAccessDenied) as err:
        md.connect(url=deployment.url, api_key=alice.api_key, workspace="default")
    assert "team-b" in err.value.hint
    with md.connect(url=deployment.url, api_key=alice.api_key) as as_alice:
        with pytest.raises(WorkspaceAccessDenied) as err:
            as_alice.models().list()
        assert "team-b" in err.value.hint and str(err.value).endswith(err.value.hint)
        as_alice.use("team-b")
        with pytest.raises(ModelAccessDenied) as err:
            as_alice.predict("iris", X)
        assert "team-b" in err.value.hint and "inference" in err.value.hint  # the owner is not a sub-account's to learn
        assert err.value.request_id and err.value.status == 403
        grant = deck.authorize("iris", "team-b", actions=["inference"])
        assert grant.workspace == "team-b" and grant.actions == ["inference"]
        assert [g.workspace for g in deck.grants("iris")] == ["team-b"]
        assert as_alice.predict("iris", X).shapes["logits"] == [1, 3]
        assert [m.source for m in as_alice.models()] == ["granted"]
        with pytest.raises(AccessDenied):
            as_alice.create_workspace("nope")
        deck.revoke("iris", "team-b")
        with pytest.raises(ModelAccessDenied):
            as_alice.predict("iris", X)
    deck.remove_member("team-b", alice)
    assert deck.members("team-b").list() == []
    assert deck.authorization_mode() == "strict"
    assert deck.authorization_mode("loose") == "loose"
    assert [a.name for a in deck.accounts()] == ["alice", "main"]  # by name


def test_register_into_a_granted_name_creates_an_owned_model(deck: md.Deck, onnx_file: Path):
    deck.create_workspace("team-b")
    deck.register("shared", "oss://b/shared.onnx", progress=False)
    deck.authorize("shared", "team-b")
    deck.use("team-b")
    v = deck.register("shared", "oss://b/own.onnx", progress=False)
    assert deck.model("shared").source == "owned" and v.version == "0.1.0"


def test_typed_errors(deck: md.Deck, deployment: Deployment):
    with pytest.raises(NotFound) as err:
        deck.model("no-such-model")
    assert err.value.code == "Model.NotFound"
    with pytest.raises(InvalidParameter) as err:
        deck.register("m", "oss://b/k", version="not-a-version", progress=False)
    assert err.value.code == "InvalidParameter.VersionName"
    with pytest.raises(InvalidParameter):
        deck.register("m", "/no/such/path", progress=False)
    with pytest.raises(InvalidApiKey):
        md.connect(url=deployment.url, api_key="mdk-wrong")
    with pytest.raises(md.errors.ConnectionFailed) as err:
        md.connect(url="http://127.0.0.1:9", api_key="x")
    assert err.value.hint
    assert all(issubclass(c, DeckError) for c in (NotFound, InvalidApiKey, ModelAccessDenied))


def test_async_deck_has_the_same_surface(deployment: Deployment, onnx_file: Path):
    sync_names = {n for n in dir(md.Deck) if not n.startswith("_")}
    async_names = {n for n in dir(md.AsyncDeck) if not n.startswith("_")}
    assert sync_names - {"close", "panel"} <= async_names  # the panel is a widget over a blocking Deck

    async def main():
        async with md.AsyncDeck(url=deployment.url, api_key=deployment.admin_key) as deck:
            assert deck.workspace.name == "default"
            await deck.create_workspace("team-b")
            v = await deck.register("iris", onnx_file, format="ONNX", progress=False)
            assert v.version == "0.1.0"
            assert [m.name async for m in deck.models()] == ["iris"]
            assert [x.version for x in await deck.versions("iris").list()] == ["0.1.0"]
            X, _ = examples.tabular_data(n=2)
            p = await deck.predict("iris", X)
            assert p.shapes["logits"] == [2, 3]
            await deck.use("team-b")
            with pytest.raises(ModelAccessDenied):
                await deck.predict("iris", X)

    asyncio.run(main())


def test_rich_reprs_escape_markup(deck: md.Deck):
    deck.create_model("<img src=x onerror=alert(1)>")
    html = deck.models()._repr_html_()
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;img" in deck.model("<img src=x onerror=alert(1)>")._repr_html_()
