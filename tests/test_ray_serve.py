"""The `ray` engine on a real local Ray instance (`ray start --head` on 127.0.0.1 with 2 CPUs, started once
for this module by tests/services.py and stopped by its pid after): the same deployment as on the local
engine, its replicas, health checks and rolling updates done by Ray Serve, its status read back from Serve."""

from __future__ import annotations

import importlib.util
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import Deployment, deploy, wait_for
from services import free_port, ray_head
from test_deployments import Load, failing_on_real_inputs

import modeldeck as md
from modeldeck import examples
from modeldeck.errors import InvalidParameter
from modeldeck.platform import Settings

if importlib.util.find_spec("ray") is None:  # with the [serve] extra installed, Ray must start: no skip then
    pytest.skip("the [serve] extra (ray[serve]) is not installed", allow_module_level=True)

pytestmark = [pytest.mark.slow, pytest.mark.ray, pytest.mark.timeout(900)]  # Ray starts slowly on 2 busy cores
X = [[0.5, -1.0, 2.0, 0.25]]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One Ray head for the module, and one platform whose `ray` deployments run on it (this process is
    the Ray driver: the platform joins the cluster the first time a deployment uses the engine)."""
    with ray_head(tmp_path_factory.mktemp("ray")) as head, pytest.MonkeyPatch.context() as env:
        for name, value in head.env.items():
            env.setenv(name, value)
        home = tmp_path_factory.mktemp("platform")
        dep = deploy(Settings(home=home / "home", ray_address=head.address, ray_serve_port=free_port()))
        try:
            yield dep
        finally:
            dep.close()
            import ray

            ray.shutdown()


@pytest.fixture(scope="module")
def deck(platform: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The admin's deck with `iris` 1.0.0 and 2.0.0 (different outputs) and a broken 3.0.0."""
    folder = tmp_path_factory.mktemp("models")
    with md.connect(url=platform.url, api_key=platform.admin_key) as deck:
        for seed, version in ((0, "1.0.0"), (1, "2.0.0")):
            path = examples.onnx_linear(folder / f"v{seed}" / "linear.onnx", seed=seed)
            deck.register("iris", path, version=version, format="ONNX", progress=False)
        broken = failing_on_real_inputs(folder / "broken" / "model.onnx", rows=0)  # registers, fails its warm-up
        deck.register("iris", broken, version="3.0.0", format="ONNX", progress=False)
        yield deck


def serve_app(deck: Any, name: str) -> Any:
    """The deployment's application as Ray Serve itself reports it (None once it is gone)."""
    from ray import serve

    return serve.status().applications.get(f"{deck.deployment(name).workspace_id}-{name}")


def answered(load: Load) -> tuple[dict[str, set[str]], list[list[str]]]:
    """Which versions each Serve replica answered with, and each client's versions in order."""
    by_replica: dict[str, set[str]] = defaultdict(set)
    for answers in load.answers:
        for version, replica, _ in answers:
            by_replica[replica].add(version)
    return by_replica, [[version for version, _, _ in answers] for answers in load.answers]


def test_a_deployment_runs_on_ray_serve_through_upgrade_rollback_and_a_broken_version(deck: Any, platform: Deployment):
    expected = {v: deck.predict("iris", X, version=v).outputs["logits"][0] for v in ("1.0.0", "2.0.0")}
    dep = deck.deploy("iris", "1.0.0", name="iris-ray", replicas=2, engine="ray", wait=False)
    assert dep.status == "Creating"  # while Serve starts its replicas (their workers take a while to import)
    wait_for(lambda: deck.deployment("iris-ray").status != "Creating", timeout=300, interval=0.5)
    dep = deck.deployment("iris-ray")
    assert (dep.status, dep.engine, dep.version) == ("Running", "ray", "1.0.0"), dep.status_reason
    assert [e.changes.get("status") for e in deck.deployment_events("iris-ray") if e.kind == "running"] == [
        ["Creating", "Running"]
    ]
    app = serve_app(deck, "iris-ray")
    assert app.status == "RUNNING" and app.deployments["version"].replica_states == {"RUNNING": 2}
    assert [(r["state"], r["engine_status"]) for r in dep.replica_status] == [("running", "RUNNING")] * 2

    # Through the endpoint, as any HTTP client calls it (Serve's proxy on 127.0.0.1), and through the deck.
    answer = httpx.post(f"{dep.endpoint}/predict", json={"inputs": X}, timeout=60,
                        headers={"authorization": f"Bearer {platform.admin_key}"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["version"] == "1.0.0" and answer.json()["deployment"] == "iris-ray"
    assert answer.json()["outputs"] == deck.predict("iris", X, version="1.0.0").raw["outputs"]  # same runtime
    assert answer.headers["x-modeldeck-replica"] == answer.json()["replica"]
    refused = httpx.post(f"{dep.endpoint}/predict", json={"inputs": X}, timeout=60)
    assert refused.status_code == 401
    answer = deck.predict(None, X, deployment="iris-ray")
    assert answer.version == "1.0.0" and answer.outputs["logits"][0] == pytest.approx(expected["1.0.0"])

    # A rolling upgrade by Serve under a closed-loop client: no request fails, and the answers move from
    # the old version's replicas to the new ones' (each Serve replica serves one version only).
    with Load(platform, "iris-ray") as load:
        dep = deck.upgrade("iris-ray", "2.0.0")
        done = [len(answers) for answers in load.answers]
        load.more(40)
    assert (dep.status, dep.version, dep.previous_version) == ("Running", "2.0.0", "1.0.0"), dep.status_reason
    assert load.failures == []
    by_replica, clients = answered(load)
    assert all(len(versions) == 1 for versions in by_replica.values()), by_replica
    assert {v for versions in by_replica.values() for v in versions} == {"1.0.0", "2.0.0"}
    for versions, at in zip(clients, done):
        assert versions[0] == "1.0.0" and versions[-1] == "2.0.0"
        assert set(versions[at + 1 :]) == {"2.0.0"}  # once Serve has replaced them all (one may be in flight)
    for version, _, logits in (a for answers in load.answers for a in answers):
        assert logits == pytest.approx(expected[version])
    assert serve_app(deck, "iris-ray").deployments["version"].replica_states == {"RUNNING": 2}

    dep = deck.rollback("iris-ray")
    assert (dep.status, dep.version, dep.previous_version) == ("Running", "1.0.0", "2.0.0"), dep.status_reason
    assert deck.predict(None, X, deployment="iris-ray").version == "1.0.0"

    # A version whose replicas fail to load (3.0.0 fails its warm-up) fails on Serve under the same load:
    # Serve gives up on it, the old version is deployed back, no request fails and none sees 3.0.0.
    with Load(platform, "iris-ray") as load:
        dep = deck.upgrade("iris-ray", "3.0.0")
        load.more(20)
    assert load.failures == []
    assert {v for answers in load.answers for v, _, _ in answers} == {"1.0.0"}
    assert (dep.status, dep.version) == ("Running", "1.0.0")
    assert "3.0.0" in dep.status_reason and "Ray Serve" in dep.status_reason
    rolled = next(e for e in deck.deployment_events("iris-ray") if e.kind == "rolled_back")
    assert rolled.actor == "platform" and "3.0.0" in rolled.reason
    assert rolled.changes == {"version": ["3.0.0", "1.0.0"]}
    app = serve_app(deck, "iris-ray")
    assert app.status == "RUNNING" and app.deployments["version"].replica_states == {"RUNNING": 2}
    assert deck.predict(None, X, deployment="iris-ray").version == "1.0.0"

    dep = deck.stop("iris-ray")
    assert dep.status == "Stopped" and dep.endpoint is None
    assert serve_app(deck, "iris-ray") is None  # the Serve application is gone
    dep = deck.start("iris-ray")
    assert dep.status == "Running" and deck.predict(None, X, deployment="iris-ray").version == "1.0.0"
    workspace = dep.workspace_id
    deck.delete_deployment("iris-ray")
    assert [d.name for d in deck.deployments()] == []
    from ray import serve

    assert f"{workspace}-iris-ray" not in serve.status().applications


def test_a_language_model_chats_on_ray_serve_through_the_deck_and_the_sdk(deck: Any, platform: Deployment,
                                                                         tmp_path_factory: pytest.TempPathFactory):  # fmt: skip
    """The same replica code as on the local engine, as Serve's ASGI ingress: OpenAI's chat completions,
    whole and streamed, straight to the endpoint (the deck) and through the OpenAI facade (the SDK)."""
    openai = pytest.importorskip("openai")
    messages, greedy = [{"role": "user", "content": "the cat sat on the mat"}], {"max_tokens": 8, "temperature": 0}
    lm = examples.tiny_causal_lm(tmp_path_factory.mktemp("lm") / "lm", seed=3)
    deck.register("tiny", lm, format="SafeTensors", framework="Transformers", progress=False)
    dep = deck.deploy("tiny", name="tiny-ray", replicas=1, engine="ray")
    assert (dep.status, dep.engine) == ("Running", "ray"), dep.status_reason
    registered = deck.chat("tiny:0.1.0", messages, **greedy).text  # pinned: the version, in the platform process

    assert deck.chat(None, messages, deployment="tiny-ray", **greedy).text == registered
    streamed = list(deck.chat(None, messages, stream=True, deployment="tiny-ray", **greedy))
    assert "".join(c.text or "" for c in streamed) == registered
    client = openai.OpenAI(base_url=f"{platform.url}/v1", api_key=platform.admin_key, max_retries=0)
    assert client.chat.completions.create(model="tiny-ray", messages=messages, **greedy).choices[0].message.content == registered
    chunks = client.chat.completions.create(model="tiny-ray", messages=messages, stream=True, **greedy)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == registered
    refused = httpx.post(f"{dep.endpoint}/v1/chat/completions", json={"messages": messages}, timeout=60)
    assert refused.status_code == 401 and refused.json()["error"]["type"] == "authentication_error"
    with pytest.raises(InvalidParameter) as err:
        deck.predict(None, X, deployment="tiny-ray")
    assert err.value.code == "Inference.NotPredict"
    deck.delete_deployment("tiny-ray")
