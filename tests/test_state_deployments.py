"""DeckState's deployments, driven through its public actions against a real platform with real replica
processes: deploy, live status and events from the platform's change events, predict through a deployment,
upgrade, roll back, stop, start, delete, a killed replica seen being replaced."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
from typing import Any

import pytest

import modeldeck as md
from conftest import Deployment, wait_for
from modeldeck.errors import DeckError
from modeldeck.state import SYNCED, DeckState

from test_deployments import X, deck  # noqa: F401  (the fixture: model `iris` in two versions)


@pytest.fixture
def state(deck: md.Deck):
    state = DeckState(deck)
    state.run("refresh")
    yield state
    state.close()


def iris(state: DeckState) -> str:
    return next(m["id"] for m in state.models if m["name"] == "iris")


def shown(state: DeckState, name: str) -> dict[str, Any]:
    return next(d for d in state.deployments if d["name"] == name)


def running(state: DeckState, name: str, ready: int) -> None:
    """Until the list shows it Running with `ready` replicas serving, with no action from a view."""
    wait_for(lambda: any(d["name"] == name and d["status"] == "Running" and d["ready"] == ready
                         for d in state.deployments), timeout=120)  # fmt: skip


def test_deployments_load_when_a_view_asks_and_follow_the_platform(state: DeckState, deck: md.Deck,
                                                                  deployment: Deployment):  # fmt: skip
    deck.deploy("iris", "1.0.0", name="before", wait=False)
    assert state.deployments == []  # nothing shown yet: nothing loaded
    assert [d["name"] for d in state.run("load_deployments")] == ["before"]

    created = state.run("deploy", model=iris(state), version="1.0.0", name="iris-prod", replicas=2,
                        engine="local", upgrade={"mode": "rolling", "batch_size": 1, "max_unavailable": 0})
    assert (created["name"], created["model_name"], created["status"]) == ("iris-prod", "iris", "Creating")
    assert [d["name"] for d in state.deployments] == ["before", "iris-prod"]
    running(state, "iris-prod", ready=2)
    row = shown(state, "iris-prod")
    assert (row["replicas"], row["versions"], row["engine"]) == (2, ["1.0.0"], "local")
    assert row["upgrade"] == {"mode": "rolling", "batch_size": 1, "max_unavailable": 0}
    assert row["endpoint"].startswith("http://127.0.0.1:") and row["updated_at"]
    assert deployment.admin_key not in json.dumps({name: getattr(state, name) for name in SYNCED})

    deck.stop("before")  # a cell changes another deployment: the list follows
    wait_for(lambda: shown(state, "before")["status"] == "Stopped")
    deck.delete_deployment("before")
    wait_for(lambda: [d["name"] for d in state.deployments] == ["iris-prod"])


def test_without_change_events_a_changing_deployment_is_followed_until_it_settles(deck: md.Deck,
                                                                                   monkeypatch: pytest.MonkeyPatch):  # fmt: skip
    """A platform without events (ModelArts) is polled; while a deployment changes its rows are reloaded on
    their own, so Creating becomes Running with no full poll (pushed out of reach here) and no view action."""
    from modeldeck import events

    monkeypatch.setattr(events, "POLL_EVERY", 3600.0)
    deck._provider = dataclasses.replace(deck._provider, capabilities=deck.capabilities - {"events"})
    state = DeckState(deck)
    try:
        state.run("refresh")
        state.run("load_deployments")
        created = state.run("deploy", model=iris(state), version="1.0.0", name="iris-polled", replicas=1)
        assert created["status"] == "Creating"
        running(state, "iris-polled", ready=1)
    finally:
        state.close()


def test_predict_through_a_deployment(state: DeckState, deck: md.Deck):
    state.run("load_deployments")
    state.run("deploy", model=iris(state), version="1.0.0", name="iris-prod", replicas=2)
    running(state, "iris-prod", ready=2)
    answer = state.run("predict", model=None, inputs=X, deployment="iris-prod")
    direct = deck.predict("iris", X, version="1.0.0").outputs["logits"]
    assert (answer["deployment"], answer["version"], answer["model"]) == ("iris-prod", "1.0.0", "iris")
    assert answer["columns"][0] == "logits" and answer["rows"][0][0] == pytest.approx(direct[0])
    assert answer["replica"] and state.prediction == answer
    assert state.jobs[0]["label"] == "predict iris-prod" and state.jobs[0]["status"] == "succeeded"


def test_upgrade_rollback_stop_start_delete_with_the_events_timeline(state: DeckState):
    state.run("load_deployments")
    state.run("deploy", model=iris(state), version="1.0.0", name="iris-prod", replicas=1, upgrade="full")
    running(state, "iris-prod", ready=1)
    events = state.run("deployment_events", name="iris-prod")
    assert [e["kind"] for e in events] == ["running", "created"]  # newest first
    assert events[1]["actor"] and events[1]["at"] and "iris 1.0.0" in events[1]["message"]

    assert state.run("upgrade", name="iris-prod", version="2.0.0", mode="rolling")["status"] == "Upgrading"
    wait_for(lambda: state.deployment_events["events"][0]["kind"] == "upgraded", timeout=120)  # live
    running(state, "iris-prod", ready=1)
    assert shown(state, "iris-prod")["version"] == "2.0.0" and shown(state, "iris-prod")["upgrade"]["mode"] == "rolling"
    assert state.run("predict", model=None, inputs=X, deployment="iris-prod")["version"] == "2.0.0"

    assert state.run("rollback", name="iris-prod")["status"] == "RollingBack"
    wait_for(lambda: shown(state, "iris-prod")["version"] == "1.0.0" and shown(state, "iris-prod")["status"] == "Running",
             timeout=120)  # fmt: skip

    stopped = state.run("stop_deployment", name="iris-prod")
    assert (stopped["status"], stopped["ready"], stopped["endpoint"]) == ("Stopped", 0, None)
    with pytest.raises(DeckError) as err:
        state.run("predict", model=None, inputs=X, deployment="iris-prod")
    assert err.value.code == "Deployment.NotServing" and "iris-prod" in state.error["message"]
    state.run("start_deployment", name="iris-prod")
    running(state, "iris-prod", ready=1)
    assert state.error is None  # a later successful action cleared it

    state.run("delete_deployment", name="iris-prod")
    wait_for(lambda: state.deployments == [] and state.deployment_events == {"name": None, "events": []}, timeout=60)


def test_a_killed_replica_shows_being_replaced_then_serving_again(state: DeckState, deck: md.Deck):
    state.run("load_deployments")
    state.run("deploy", model=iris(state), version="1.0.0", name="iris-prod", replicas=2)
    running(state, "iris-prod", ready=2)
    state.run("deployment_events", name="iris-prod")
    seen: list[tuple[int, int]] = []
    state.observe(lambda c: seen.extend((d["ready"], d["replicas"]) for d in c["new"] if d["name"] == "iris-prod"),
                  names="deployments")  # fmt: skip
    victim = deck.deployment("iris-prod").replica_status[0]["pid"]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: any(e["kind"] == "replica_restarted" for e in state.deployment_events["events"]), timeout=120)
    running(state, "iris-prod", ready=2)
    # A replica forked from the warm template is back within a few milliseconds, often before the list was
    # read again, so the list may never show 1/2; the events always tell the replacement, and it ends 2/2.
    assert seen and seen[-1] == (2, 2)
    kinds = [e["kind"] for e in state.deployment_events["events"]]
    assert kinds.index("replica_restarted") < kinds.index("replica_exited")  # newest first
    exited = next(e for e in state.deployment_events["events"] if e["kind"] == "replica_exited")
    assert str(victim) in exited["message"] and exited["actor"] == "platform" and exited["reason"]
    assert state.run("predict", model=None, inputs=X, deployment="iris-prod")["version"] == "1.0.0"


def test_bad_deployment_actions_get_typed_answers(state: DeckState):
    state.run("load_deployments")
    with pytest.raises(DeckError) as err:
        state.run("deploy", model=iris(state), name="x", engine="kubernetes")
    assert err.value.code.startswith("InvalidParameter") and state.error["hint"]
    with pytest.raises(DeckError) as err:
        state.run("predict", model=None, inputs=X, deployment="iris-prod", as_task=True)
    assert err.value.code == "InvalidParameter.Deployment"
    with pytest.raises(DeckError) as err:
        state.run("deployment_events", name={"$ne": 1})
    assert err.value.code == "InvalidParameter.Deployment"
    with pytest.raises(DeckError) as err:
        state.run("upgrade", name="nope", version="2.0.0")
    assert err.value.code == "Deployment.NotFound" and "nope" in err.value.message
    assert state.run("deployment_events", name="nope") == [] and state.deployment_events["name"] is None


def test_a_workspace_switch_shows_that_workspaces_deployments(state: DeckState, deck: md.Deck):
    state.run("load_deployments")
    state.run("deploy", model=iris(state), version="1.0.0", name="iris-prod")
    other = deck.create_workspace("team-b")
    state.run("use", workspace=other.id)
    assert state.deployments == [] and state.deployment_events["name"] is None
    state.run("use", workspace="default")
    assert [d["name"] for d in state.deployments] == ["iris-prod"]


def test_a_platform_without_deployments_loads_none(deck: md.Deck):
    native = deck._provider  # the same platform through a provider that declares no deployments
    deck._provider = dataclasses.replace(native, capabilities=deck.capabilities - {"deployments"})
    state = DeckState(deck)
    try:
        state.run("refresh")
        assert "deployments" not in state.connection["capabilities"]
        assert state.run("load_deployments") == []
        with pytest.raises(DeckError) as err:
            state.run("deploy", model="iris", name="x")
        assert err.value.code.endswith("Unsupported")
    finally:
        state.close()
        deck._provider = native
