"""DeckState, the panel's state, driven through its public actions against a real platform."""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future
from pathlib import Path

import pytest

import modeldeck as md
from conftest import Deployment, wait_for
from modeldeck import examples
from modeldeck.errors import DeckError
from modeldeck.state import SYNCED, DeckState


@pytest.fixture
def deck(deployment: Deployment):
    with md.connect(url=deployment.url, api_key=deployment.admin_key) as deck:
        yield deck


@pytest.fixture
def state(deck: md.Deck):
    namespace: dict = {}
    state = DeckState(deck, namespace=lambda: namespace)
    state.namespace = namespace  # the test's stand-in for the kernel's user namespace
    state.run("refresh")
    yield state
    state.close()


def synced(state: DeckState) -> str:
    return json.dumps({name: getattr(state, name) for name in SYNCED})


def test_refresh_fills_the_state_and_holds_no_secret(state: DeckState, deployment: Deployment, deck: md.Deck):
    assert state.connection["account"] and state.connection["account_kind"] == "main"
    assert state.connection["kind"] == "server" and set(state.connection["capabilities"]) == set(deck.capabilities)
    assert {"versions", "register", "grants", "predict", "chat"} <= set(state.connection["capabilities"])
    assert state.workspace["name"] == "default" and state.workspace["role"] == "admin"
    assert [w["name"] for w in state.workspaces] == ["default"]
    assert state.models == []
    assert "ONNX" in state.enums["format_type"] and state.enums["actions"] == ["inference", "fine_tune", "deploy"]
    assert deployment.admin_key not in synced(state)


def test_use_from_the_panel_and_from_a_cell(state: DeckState, deck: md.Deck, tmp_path: Path):
    other = deck.create_workspace("team-b")
    state.run("refresh")
    state.run("use", workspace=other.id)
    assert state.workspace["name"] == "team-b" and deck.workspace.name == "team-b"
    assert any(w["id"] == other.id for w in state.workspaces)

    deck.register("m-default", examples.onnx_linear(tmp_path / "a.onnx"), progress=False)  # in team-b now
    deck.use("default")  # a cell switching back: the panel follows
    wait_for(lambda: state.workspace["name"] == "default" and state.models == [])
    deck.use("team-b")
    wait_for(lambda: [m["name"] for m in state.models] == ["m-default"])


def test_register_from_a_path_with_progress(state: DeckState, tmp_path: Path):
    path = examples.onnx_linear(tmp_path / "ckpt" / "linear.onnx")
    version = state.run("register", model="iris", source={"path": str(path)},
                        fields={"version_name": "1.0.0", "format_type": "ONNX", "labels": {"team": "a"},
                                "metrics": {"acc": 0.9}})
    assert version["version_name"] == "1.0.0" and version["format_type"] == "ONNX"
    job = state.jobs[0]
    assert job["kind"] == "register" and job["status"] == "succeeded" and job["progress"] == 1.0
    model = next(m for m in state.models if m["name"] == "iris")
    assert state.selected == {"model": model["id"], "version": "1.0.0"}
    assert state.versions[0]["metrics"] == {"acc": 0.9} and state.versions[0]["labels"] == {"team": "a"}
    assert model["latest_version"] == "1.0.0" and model["latest_approval"] == "Pending"

    state.run("approve", model=model["id"], version="1.0.0")
    assert state.versions[0]["approval_status"] == "Approved"
    assert next(m for m in state.models if m["name"] == "iris")["latest_approval"] == "Approved"


def test_register_a_kernel_variable(state: DeckState):
    state.namespace.update(clf=examples.sklearn_classifier(), number=3)
    assert state.run("list_variables") == [{"name": "clf", "type": "LogisticRegression", "format": "SkopsModel"}]
    version = state.run("register", model="clf", source={"variable": "clf"}, fields={})
    assert version["format_type"] == "SkopsModel" and version["framework_type"] == "ScikitLearn"
    X, _ = examples.tabular_data()
    out = state.run("predict", model=version["model_id"], inputs=X[:3].tolist())
    assert len(out["rows"]) == 3 and out["columns"]

    with pytest.raises(DeckError) as err:
        state.run("register", model="clf", source={"variable": "missing"}, fields={})
    assert err.value.code == "InvalidParameter.Variable" and "Run the cell" in err.value.hint


def test_cancel_an_upload_then_register_it_again(state: DeckState, tmp_path: Path):
    big = tmp_path / "big.bin"
    with big.open("wb") as fh:
        fh.truncate(256 * 1024 * 1024)  # sparse: cheap to make, real bytes to send
    started = threading.Event()
    state.observe(lambda change: started.set() if any(
        j["kind"] == "register" and (j["progress"] or 0) > 0 for j in change["new"]) else None, "jobs")
    done: Future = Future()
    state.dispatch("a1", "register", {"model": "big", "source": {"path": str(big)},
                                      "fields": {"format_type": "OfflineModel"}}, done.set_result)
    assert started.wait(60)
    state.run("cancel", job=state.jobs[0]["id"])
    reply = done.result(60)
    assert reply == {"type": "done", "id": "a1", "ok": False, "result": None,
                     "error": {"code": "Cancelled", "message": "Cancelled.", "hint": ""}}
    assert state.jobs[0]["status"] == "cancelled" and state.error is None
    assert not any(m["name"] == "big" and m["latest_version"] for m in state.models)
    version = state.run("register", model="big", source={"path": str(big)}, fields={"format_type": "OfflineModel"})
    assert version["version_name"] == "0.1.0"


def test_chat_streams_into_the_transcript_and_stops(state: DeckState, tmp_path: Path):
    lm = examples.tiny_causal_lm(tmp_path / "lm")
    version = state.run("register", model="lm", source={"path": str(lm)}, fields={"format_type": "SafeTensors"})
    partial: list[str] = []

    def watch(change: dict) -> None:
        last = change["new"]["messages"][-1] if change["new"]["messages"] else None
        if change["new"]["streaming"] and last and last["role"] == "assistant" and last["content"]:
            partial.append(last["content"])

    state.observe(watch, "chat")
    reply = state.run("chat", model=version["model_id"], prompt="hello there",
                      params={"max_tokens": 60, "seed": 1, "temperature": 1.0})
    assert reply["text"] and partial and partial[0] != reply["text"]  # text arrived before the reply ended
    assert [m["role"] for m in state.chat["messages"]] == ["user", "assistant"]
    assert state.chat["messages"][-1]["content"] == reply["text"] and not state.chat["streaming"]

    done: Future = Future()
    state.dispatch("c2", "chat", {"model": version["model_id"], "prompt": "again",
                                  "params": {"max_tokens": 4000, "seed": 2}}, done.set_result)
    wait_for(lambda: state.chat["streaming"] and state.chat["messages"][-1]["content"])
    state.run("stop")
    assert done.result(60)["ok"]
    assert state.jobs[0]["kind"] == "chat" and state.jobs[0]["status"] == "cancelled"
    assert len(state.chat["messages"]) == 4 and not state.chat["streaming"]
    state.run("clear_chat")
    assert state.chat["messages"] == []


def test_predict_directly_and_as_a_task(state: DeckState, tmp_path: Path):
    path = examples.onnx_linear(tmp_path / "linear.onnx")
    version = state.run("register", model="lin", source={"path": str(path)}, fields={"format_type": "ONNX"})
    rows = [[0.1, 0.2, 0.3, 0.4], [1, 2, 3, 4]]
    direct = state.run("predict", model="lin", inputs={"X": rows})
    assert direct["columns"] == ["logits", "probabilities"] and len(direct["rows"]) == 2 and direct["task"] is None
    as_task = state.run("predict", model=version["model_id"], inputs={"X": rows}, as_task=True)
    assert as_task["rows"] == direct["rows"] and as_task["task"]["status"] == "SUCCEEDED"


def test_errors_carry_their_hint_and_clear_on_success(state: DeckState, deployment: Deployment, deck: md.Deck,
                                                      tmp_path: Path):
    deck.register("owned", examples.onnx_linear(tmp_path / "o.onnx"), progress=False)
    other = deck.create_workspace("other")
    key = deployment.subaccount("alice", {other.id: "developer"})
    with md.connect(url=deployment.url, api_key=key, workspace="other") as alice:
        alice_state = DeckState(alice)
        try:
            alice_state.run("refresh")
            assert alice_state.connection["account_kind"] == "sub" and key not in synced(alice_state)
            with pytest.raises(DeckError) as err:
                alice_state.run("predict", model="owned", inputs={"X": [[1, 2, 3, 4]]})
            assert err.value.code == "Model.AccessDenied"
            shown = alice_state.error
            assert shown["code"] == "Model.AccessDenied" and shown["action"] == "predict" and shown["hint"]
            assert alice_state.jobs[0]["status"] == "failed"
            alice_state.run("refresh")
            assert alice_state.error is None
        finally:
            alice_state.close()


def test_bad_actions_get_a_typed_answer(state: DeckState):
    replies: list[dict] = []
    state.dispatch("x1", "rm_rf", {}, replies.append)
    assert replies[0]["ok"] is False and replies[0]["error"]["code"] == "InvalidParameter"
    with pytest.raises(DeckError) as err:
        state.run("use", nonsense=1)
    assert err.value.code == "InvalidParameter" and "Bad arguments" in err.value.message
    with pytest.raises(DeckError) as err:
        state.run("register", model="m", source={}, fields={})
    assert err.value.code == "InvalidParameter.Source"
    with pytest.raises(DeckError) as err:
        state.run("cancel", job="nope")
    assert err.value.code == "Job.NotRunning"
    with pytest.raises(DeckError) as err:
        state.run("register", model="m", source={"path": "/nonexistent/file.onnx"}, fields={})
    assert err.value.code == "InvalidParameter.Path" and state.error["hint"]
    state.run("dismiss_error")
    assert state.error is None


@pytest.fixture
def home_decks(tmp_path: Path):
    """Two decks on one embedded home, as two kernels would have."""
    from modeldeck import embedded

    home = tmp_path / "shared-home"
    first, second = md.connect(home=home), md.connect(home=home)
    try:
        yield first, second
    finally:
        first.close()
        second.close()
        embedded.stop(home)


def test_another_decks_changes_reach_the_state_without_a_refresh(home_decks, tmp_path: Path):
    mine, other = home_decks
    state = DeckState(mine)
    try:
        state.run("refresh")
        soon = lambda predicate: wait_for(predicate, timeout=1.0)  # noqa: E731  (within a second)

        version = other.register("from-elsewhere", examples.onnx_linear(tmp_path / "e.onnx"), progress=False)
        soon(lambda: any(m["name"] == "from-elsewhere" and m["latest_version"] for m in state.models))
        team = other.create_workspace("team-x")
        soon(lambda: "team-x" in [w["name"] for w in state.workspaces])

        state.run("select", model=version.model_id)
        other.authorize("from-elsewhere", team.id, ["inference"])
        soon(lambda: [g["workspace_name"] for g in state.grants] == ["team-x"])
        other.revoke("from-elsewhere", team.id)
        soon(lambda: state.grants == [])
        other.approve("from-elsewhere", version.version_name)
        soon(lambda: state.versions[0]["approval_status"] == "Approved")
    finally:
        state.close()


def test_a_closed_deck_says_so_and_reconnects(home_decks):
    mine, other = home_decks
    state = DeckState(mine)
    try:
        state.run("refresh")
        assert state.connection["status"] == "connected"
        mine.close()
        wait_for(lambda: state.connection["status"] == "closed")
        with pytest.raises(DeckError) as err:
            state.run("refresh")
        assert err.value.code == "Deck.Closed" and "Reconnect" in err.value.hint
        state.run("reconnect")
        assert state.connection["status"] == "connected" and state.error is None
        other.create_workspace("after-reconnect")
        wait_for(lambda: "after-reconnect" in [w["name"] for w in state.workspaces], timeout=1.0)
    finally:
        state.close()
        state.deck.close()


def test_a_platform_without_events_is_polled_while_a_view_shows_it(home_decks):
    from modeldeck.events import POLL_EVERY

    mine, other = home_decks
    import dataclasses

    # the same platform through a provider that declares no events
    mine._provider = dataclasses.replace(mine._provider, capabilities=mine.capabilities - {"events"})
    shown = threading.Event()
    state = DeckState(mine, visible=shown.is_set)
    try:
        state.run("refresh")
        other.create_workspace("while-hidden")
        shown.set()  # a view opens: the next poll reloads
        wait_for(lambda: "while-hidden" in [w["name"] for w in state.workspaces], timeout=2 * POLL_EVERY)
    finally:
        state.close()
