"""PAI-EAS over the platform's deployments: the official `alibabacloud-eas20210701` client lists and
describes services (`Config(endpoint="127.0.0.1:PORT/eas", protocol="HTTP")`, ACS3 signatures the platform
verifies); predict and chat as EAS clients send them (raw token, `Bearer`, and eas_prediction's `EAS`
signature, reproduced here since that SDK's pins keep it out of the venv); the `openai` SDK on a service's
`/v1`; the same through the `alibaba` provider; and the provider's requests equal to the SDKs' on the wire.
Managing services (create, rolling update, version rollback, stop, start, delete) is the same story with
the SDK and with the provider through the deck. One platform per module: an ONNX service (2 replicas), a
tiny language-model service, a second ONNX version to upgrade to, and a developer of another workspace."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

import httpx
import openai
import pytest
from alibabacloud_eas20210701 import models as eas_models
from alibabacloud_eas20210701.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.models import Config
from conftest import deploy
from fixtures.wire_recorder import Recorder, Route
from test_alibaba_provider import wire

import modeldeck as md
from modeldeck import examples
from modeldeck.errors import AccessDenied, DeckError, InvalidApiKey, NotFound, Unsupported
from modeldeck.platform.api.facades.aiworkspace.ids import pai_workspace_id
from modeldeck.platform.settings import Settings
from modeldeck.profiles import Profile, ProfileFile
from modeldeck.resources import Prediction

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
MESSAGES = [{"role": "user", "content": "the cat sat on the mat"}]
GREEDY = {"max_tokens": 6, "temperature": 0}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A platform with services `iris-svc` (ONNX, 2 replicas) and `chat-svc` (a tiny LM), an AccessKey pair
    of the main account, and a viewer sub-account's pair."""
    root = tmp_path_factory.mktemp("eas")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELDECK_CONFIG", str(root / "profiles.toml"))
        mp.setenv("MODELDECK_HOME", str(root / "user-home"))
        dep = deploy(Settings(home=root / "home"))
        try:
            with md.connect(url=dep.url, api_key=dep.admin_key) as deck:
                deck.register("iris", examples.onnx_linear(root / "iris.onnx"), format="ONNX", progress=False)
                deck.register("tiny", examples.tiny_causal_lm(root / "lm", seed=3), format="SafeTensors",
                              framework="Transformers", progress=False)  # fmt: skip
                assert deck.deploy("iris", name="iris-svc", replicas=2).status == "Running"
                assert deck.deploy("tiny", name="chat-svc").status == "Running"
                expected = deck.predict(None, ROWS, deployment="iris-svc").outputs
                text = deck.chat(None, MESSAGES, deployment="chat-svc", **GREEDY).text
                deck.register("iris", examples.onnx_linear(root / "iris2.onnx", seed=1), "0.2.0", format="ONNX",
                              progress=False)  # fmt: skip
                pair = dep.admin.ok("POST", "/api/v1/access-keys", json={"description": "eas"})
                viewer_key = dep.subaccount("vic", {"default": "viewer"})
                viewer = dep.client(viewer_key).ok("POST", "/api/v1/access-keys", json={})
                deck.create_workspace("team")
                deck.authorize("iris", "team", actions=["inference"])  # not for deploy
                dev_key = dep.subaccount("dev", {"team": "developer"})
                developer = dep.client(dev_key).ok("POST", "/api/v1/access-keys", json={})
                uris = {v.version_name: v.uri for v in deck.versions("iris")}
                yield {"dep": dep, "pair": pair, "viewer": viewer, "outputs": expected, "text": text, "deck": deck,
                       "home": root / "home", "developer": developer, "uris": uris}  # fmt: skip
                for d in deck.deployments():
                    deck.delete_deployment(d.name)
        finally:
            dep.close()


def management(url: str, pair: dict[str, str], region: str = "local") -> Client:
    """The official client, configured only through its documented Config."""
    netloc = urlsplit(url).netloc
    config = Config(access_key_id=pair["id"], access_key_secret=pair["secret"], endpoint=f"{netloc}/eas",
                    protocol="HTTP", region_id=region)  # fmt: skip
    return Client(config)


def described(cloud: dict[str, Any], name: str) -> eas_models.Service:
    return management(cloud["dep"].url, cloud["pair"]).describe_service("local", name).body


def eas_signed(token: str, service: str, body: bytes, content_type: str = "application/json") -> dict[str, str]:
    """The headers eas_prediction 0.36's PredictClient sends (predict_client.py::generate_singaure)."""
    date = formatdate(usegmt=True)
    md5 = hashlib.md5(body).hexdigest()
    text = f"POST\n{md5}\n{content_type}\n{date}\n/api/predict/{service}".strip()
    signature = base64.b64encode(hmac.new(token.encode(), text.encode(), hashlib.sha1).digest()).decode()
    return {"Content-MD5": md5, "Date": date, "Content-Type": content_type, "Authorization": f"EAS {signature}"}


# ---- management: the official SDK ------------------------------------------------------------------


def test_the_sdk_lists_and_describes_services(cloud: dict[str, Any]):
    client = management(cloud["dep"].url, cloud["pair"])
    listed = client.list_services(eas_models.ListServicesRequest(page_number=1, page_size=1)).body
    assert listed.total_count == 2 and [s.service_name for s in listed.services] == ["chat-svc"]
    rest = client.list_services(eas_models.ListServicesRequest(page_number=2, page_size=1)).body
    assert [s.service_name for s in rest.services] == ["iris-svc"] and rest.services[0].access_token == ""
    only = client.list_services(eas_models.ListServicesRequest(service_name="iris")).body
    assert [s.service_name for s in only.services] == ["iris-svc"]

    service = client.describe_service("local", "iris-svc").body
    assert service.status == "Running" and service.total_instance == 2 and service.region == "local"
    assert service.internet_endpoint == f"{cloud['dep'].url}/eas/api/predict/iris-svc"
    assert json.loads(service.service_config)["processor"] == "onnx"
    assert {(label.label_key, label.label_value) for label in service.labels} >= {("model", "iris"), ("version", "0.1.0")}
    assert service.access_token and service.access_token == client.describe_service("local", "iris-svc").body.access_token
    stored = b"".join(p.read_bytes() for p in cloud["home"].glob("modeldeck.db*"))
    assert stored and service.access_token.encode() not in stored  # sealed at rest, like the platform's other secrets
    events = client.describe_service_event("local", "iris-svc", eas_models.DescribeServiceEventRequest(page_size=50)).body
    assert events.total_count >= 1 and events.events[0].time and {e.type for e in events.events} == {"Normal"}


def test_the_sdk_gets_eas_errors(cloud: dict[str, Any]):
    client = management(cloud["dep"].url, cloud["pair"])
    with pytest.raises(ClientException) as missing:
        client.describe_service("cn-hangzhou", "iris-svc")  # a service in another region
    assert missing.value.code == "Service.NotFound" and missing.value.status_code == 404
    forged = management(cloud["dep"].url, {"id": cloud["pair"]["id"], "secret": "wrong"})
    with pytest.raises(ClientException) as refused:
        forged.list_services(eas_models.ListServicesRequest())
    assert refused.value.code == "Signature.Mismatch" and refused.value.status_code == 401
    viewer = management(cloud["dep"].url, cloud["viewer"])  # may list, may not deploy: no token shown
    assert viewer.describe_service("local", "iris-svc").body.access_token == ""


# ---- the data plane as EAS clients send it ---------------------------------------------------------


def test_predict_with_the_token_as_eas_clients_send_it(cloud: dict[str, Any]):
    service = described(cloud, "iris-svc")
    body = json.dumps({"inputs": ROWS}).encode()
    raw = httpx.post(service.internet_endpoint, content=body, headers={"Authorization": service.access_token})
    assert raw.status_code == 200 and Prediction.from_json(raw.json()).outputs == cloud["outputs"]
    signed = httpx.post(service.internet_endpoint, content=body, headers=eas_signed(service.access_token, "iris-svc", body))
    assert signed.status_code == 200 and Prediction.from_json(signed.json()).outputs == cloud["outputs"]

    tampered = eas_signed(service.access_token, "iris-svc", body)
    other = json.dumps({"inputs": ROWS[:1]}).encode()
    assert httpx.post(service.internet_endpoint, content=other, headers=tampered).status_code == 401
    wrong = httpx.post(service.internet_endpoint, content=body, headers={"Authorization": "not-the-token"})
    assert wrong.status_code == 401 and wrong.json()["Code"] == "Token.Invalid"
    assert service.access_token not in wrong.text
    chat_token = described(cloud, "chat-svc").access_token  # another service's token opens nothing here
    assert httpx.post(service.internet_endpoint, content=body, headers={"Authorization": chat_token}).status_code == 401
    gone = httpx.post(f"{cloud['dep'].url}/eas/api/predict/nope", content=body, headers={"Authorization": "x"})
    assert gone.status_code == 404 and gone.json()["Code"] == "Service.NotFound"


def test_chat_on_a_language_model_service_raw_and_with_the_openai_sdk(cloud: dict[str, Any]):
    service = described(cloud, "chat-svc")
    url = f"{service.internet_endpoint}/v1/chat/completions"
    whole = httpx.post(url, json={"model": "chat-svc", "messages": MESSAGES, **GREEDY},
                       headers={"Authorization": service.access_token}, timeout=60)  # fmt: skip
    assert whole.status_code == 200 and whole.json()["choices"][0]["message"]["content"] == cloud["text"]
    with httpx.stream("POST", url, json={"messages": MESSAGES, "stream": True, **GREEDY},
                      headers={"Authorization": f"Bearer {service.access_token}"}, timeout=60) as streamed:  # fmt: skip
        lines = [line for line in streamed.iter_lines() if line.startswith("data:")]
    assert streamed.headers["content-type"].startswith("text/event-stream") and lines[-1] == "data: [DONE]"
    pieces = [json.loads(line[5:])["choices"][0]["delta"].get("content") or "" for line in lines[:-1]]
    assert "".join(pieces) == cloud["text"]

    client = openai.OpenAI(base_url=f"{service.internet_endpoint}/v1", api_key=service.access_token, max_retries=0)
    assert [m.id for m in client.models.list()] == ["chat-svc"]
    reply = client.chat.completions.create(model="chat-svc", messages=MESSAGES, **GREEDY)
    assert reply.choices[0].message.content == cloud["text"]
    chunks = list(client.chat.completions.create(model="chat-svc", messages=MESSAGES, stream=True, **GREEDY))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == cloud["text"]
    with pytest.raises(openai.AuthenticationError) as refused:
        openai.OpenAI(base_url=f"{service.internet_endpoint}/v1", api_key="wrong", max_retries=0).models.list()
    assert refused.value.code == "Token.Invalid"


# ---- the alibaba provider --------------------------------------------------------------------------


def profile(url: str, pair: dict[str, str], api_key: str, name: str = "ali-eas", pai_workspace: str | None = None) -> str:
    """An `alibaba` profile on the local facades: its DashScope key and the AccessKey pair together."""
    file = ProfileFile.load()
    file.profiles[name] = Profile(name, "alibaba", url=f"{url}/dashscope",
                                  endpoints={"eas": f"{url}/eas", "pai": f"{url}/aiworkspace"}, pai_workspace=pai_workspace,
                                  access_key_id=pair["id"], access_key_secret=pair["secret"], api_key=api_key)  # fmt: skip
    file.save()
    return name


@pytest.fixture
def ali(cloud: dict[str, Any]) -> Iterator[md.Deck]:
    with md.connect(profile(cloud["dep"].url, cloud["pair"], cloud["dep"].admin_key)) as deck:
        yield deck


def test_the_provider_lists_services_and_calls_them(cloud: dict[str, Any], ali: md.Deck):
    assert {"predict", "deployments"} <= ali.capabilities
    listed = {d.name: d for d in ali.deployments()}
    assert set(listed) == {"iris-svc", "chat-svc"}
    assert listed["iris-svc"].model_name == "iris" and listed["iris-svc"].replicas == 2
    assert [r["state"] for r in listed["iris-svc"].replica_status] == ["running", "running"]  # RunningInstance
    assert listed["iris-svc"].status == "Running" and listed["iris-svc"].endpoint.endswith("/eas/api/predict/iris-svc")
    assert ali.predict("iris", ROWS, deployment="iris-svc").outputs == cloud["outputs"]
    assert ali.chat(None, MESSAGES, deployment="chat-svc", **GREEDY).text == cloud["text"]
    streamed = list(ali.chat(None, MESSAGES, stream=True, deployment="chat-svc", **GREEDY))
    assert "".join(c.text or "" for c in streamed) == cloud["text"]
    native = [e.kind for e in cloud["deck"].deployment_events("iris-svc")]
    assert [e.kind for e in ali.deployment_events("iris-svc")] == native and native


def test_the_provider_types_eas_errors(cloud: dict[str, Any], ali: md.Deck):
    with pytest.raises(NotFound) as missing:
        ali.predict(None, ROWS, deployment="nope")
    assert missing.value.code == "Service.NotFound" and "region" in missing.value.hint
    with pytest.raises(Unsupported):
        ali.predict("iris", ROWS)  # only through a service
    with pytest.raises(NotFound) as unregistered:
        ali.deploy("nothing-here", name="x")
    assert unregistered.value.code == "Model.NotFound"
    with pytest.raises(Unsupported):
        ali.export_deployment("iris-svc", "kserve")
    with md.connect(profile(cloud["dep"].url, cloud["viewer"], cloud["dep"].admin_key, "viewer")) as viewer:
        with pytest.raises(AccessDenied) as hidden:
            viewer.predict(None, ROWS, deployment="iris-svc")
        assert "AccessKey" in hidden.value.hint


def test_a_refused_token_and_a_stopped_service_get_eas_hints():
    refusal = {"RequestId": "r", "Code": "Token.Invalid", "Message": "Authorization failed"}
    routes = [Route("GET", r"/eas/api/v2/services", handler=lambda req: _services_reply()),
              Route("GET", r"/eas/api/v2/services/cn-beijing/svc1", handler=lambda req: _service_reply()),
              Route("POST", r"/svc/api/predict/svc1", status=401, json_body=refusal)]  # fmt: skip
    with Recorder(routes + [CONNECT]) as rec:
        SERVICE["InternetEndpoint"] = f"{rec.url}/svc/api/predict/svc1"
        with md.connect(recording_profile(rec.url)) as deck:
            with pytest.raises(InvalidApiKey) as wrong:
                deck.predict(None, ROWS, deployment="svc1")
            assert wrong.value.code == "Token.Invalid" and "AccessToken" in wrong.value.hint
        SERVICE["Status"] = "Stopped"
        try:
            with md.connect("rec") as deck, pytest.raises(DeckError) as stopped:
                deck.predict(None, ROWS, deployment="svc1")
        finally:
            SERVICE["Status"] = "Running"
        assert stopped.value.code == "Deployment.NotServing"


# ---- managing services ---------------------------------------------------------------------------

SETTLING = {"Creating", "Updating", "Deleting"}


def settled(client: Client, name: str) -> eas_models.Service:
    """DescribeService once the change under way is done (EAS's clients poll it the same way)."""
    for _ in range(600):
        service = client.describe_service("local", name).body
        if service.status not in SETTLING:
            return service
        time.sleep(0.1)
    raise AssertionError(f"{name} is still {service.status}")


def spec_of(cloud: dict[str, Any], name: str, version: str, **metadata: Any) -> str:
    """The service spec as our provider writes it (compact JSON), so the SDK's body is the same bytes."""
    spec = {"name": name, "model_path": cloud["uris"][version], "processor": "onnx", "metadata": metadata}
    return json.dumps(spec, separators=(",", ":"))


def predicted(service: eas_models.Service) -> Any:
    answer = httpx.post(service.internet_endpoint, json={"inputs": ROWS}, headers={"Authorization": service.access_token})
    assert answer.status_code == 200, answer.text
    return Prediction.from_json(answer.json()).outputs


def labels(service: eas_models.Service) -> dict[str, str]:
    return {label.label_key: label.label_value for label in service.labels}


def test_the_sdk_creates_updates_rolls_back_stops_starts_and_deletes_a_service(cloud: dict[str, Any]):
    client = management(cloud["dep"].url, cloud["pair"])
    rolling = {"max_surge": 1, "max_unavailable": 0}
    body = spec_of(cloud, "sdk-svc", "0.1.0", instance=2, cpu=1, memory=512, rolling_strategy=rolling)
    created = client.create_service(eas_models.CreateServiceRequest(body=body, labels={"model": "iris"})).body
    assert created.service_name == "sdk-svc" and created.region == "local" and created.status in ("Creating", "Running")
    service = settled(client, "sdk-svc")
    assert (service.status, service.total_instance, service.running_instance) == ("Running", 2, 2)
    assert (service.current_version, service.latest_version) == (1, 1) and labels(service)["version"] == "0.1.0"
    assert json.loads(service.service_config)["metadata"] == {"instance": 2, "cpu": 1, "memory": 512, "rolling_strategy": rolling}
    assert predicted(service) == cloud["outputs"]
    instances = client.list_service_instances("local", "sdk-svc", eas_models.ListServiceInstancesRequest()).body
    assert instances.total_count == 2 and {(i.status, i.ready_processes) for i in instances.instances} == {("Running", 1)}

    update = json.dumps({"model_path": cloud["uris"]["0.2.0"]})  # merged into the current spec: a rolling update
    client.update_service("local", "sdk-svc", eas_models.UpdateServiceRequest(body=update))
    service = settled(client, "sdk-svc")
    assert (service.status, service.running_instance, labels(service)["version"]) == ("Running", 2, "0.2.0")
    assert (service.current_version, service.latest_version) == (2, 2) and predicted(service) != cloud["outputs"]
    assert json.loads(service.service_config)["metadata"]["rolling_strategy"] == rolling
    upgraded = cloud["deck"].deployment("sdk-svc")
    assert upgraded.upgrade == {"mode": "rolling", "batch_size": 1, "max_unavailable": 0}
    listed = client.list_service_versions("local", "sdk-svc", eas_models.ListServiceVersionsRequest()).body
    assert listed.total_count == 2 and [v.image_id for v in listed.versions] == [2, 1]

    client.update_service_version("local", "sdk-svc", eas_models.UpdateServiceVersionRequest(version=1))
    service = settled(client, "sdk-svc")
    assert (service.current_version, service.latest_version, labels(service)["version"]) == (1, 2, "0.1.0")
    assert predicted(service) == cloud["outputs"]
    kinds = [e.reason for e in client.describe_service_event("local", "sdk-svc", eas_models.DescribeServiceEventRequest()).body.events]
    assert "rolling_back" in kinds and "upgrading" in kinds

    client.stop_service("local", "sdk-svc")
    service = client.describe_service("local", "sdk-svc").body
    assert (service.status, service.running_instance) == ("Stopped", 0)
    assert client.list_service_instances("local", "sdk-svc", eas_models.ListServiceInstancesRequest()).body.total_count == 0
    client.start_service("local", "sdk-svc")
    service = settled(client, "sdk-svc")
    assert (service.status, service.running_instance) == ("Running", 2) and predicted(service) == cloud["outputs"]

    client.delete_service("local", "sdk-svc")
    with pytest.raises(ClientException) as gone:
        for _ in range(600):
            settled(client, "sdk-svc")
            time.sleep(0.1)
    assert gone.value.code == "Service.NotFound" and gone.value.status_code == 404


def test_the_sdk_gets_eas_errors_for_a_bad_spec_and_a_missing_right(cloud: dict[str, Any]):
    client = management(cloud["dep"].url, cloud["pair"])

    def refused(client: Client, body: str, workspace: str | None = None) -> ClientException:
        with pytest.raises(ClientException) as error:
            client.create_service(eas_models.CreateServiceRequest(body=body, workspace_id=workspace))
        return error.value

    unknown = refused(client, json.dumps({"name": "x", "model_path": cloud["uris"]["0.1.0"], "containers": [{}]}))
    assert unknown.status_code == 400 and unknown.code == "InvalidParameter.ServiceSpec" and "containers" in unknown.message
    assert "model_path" in unknown.data["Recommend"]
    surge = refused(client, spec_of(cloud, "x", "0.1.0", instance=2, rolling_strategy={"max_surge": "lots"}))
    assert surge.code == "InvalidParameter.RollingStrategy" and "max_surge" in surge.data["Recommend"]
    nowhere = refused(client, json.dumps({"name": "x", "model_path": "oss://nobody/here/"}))
    assert nowhere.code == "InvalidParameter.ServiceSpec" and "CreateModelVersion" in nowhere.data["Recommend"]
    assert refused(client, "not json").status_code == 400
    assert refused(client, spec_of(cloud, "x", "0.1.0") .replace('"onnx"', '"llm"')).code == "InvalidParameter.ServiceSpec"

    developer = management(cloud["dep"].url, cloud["developer"])  # team may run iris, not deploy it
    denied = refused(developer, spec_of(cloud, "dev-svc", "0.1.0"), "team")
    assert denied.status_code == 403 and denied.code == "Model.AccessDenied" and "deploy" in denied.data["Recommend"]
    assert refused(developer, spec_of(cloud, "dev-svc", "0.1.0")).code == "Workspace.AccessDenied"  # no WorkspaceId
    viewer = refused(management(cloud["dep"].url, cloud["viewer"]), spec_of(cloud, "v-svc", "0.1.0"), "default")
    assert viewer.status_code == 403 and "developer" in viewer.data["Recommend"]
    with pytest.raises(ClientException) as scaling:
        client.update_service("local", "iris-svc", eas_models.UpdateServiceRequest(body=json.dumps({"metadata": {"instance": 5}})))
    assert scaling.value.code == "InvalidParameter.ServiceSpec" and "instance" in scaling.value.data["Recommend"]
    with pytest.raises(ClientException) as processor:  # merged into the spec of a service the native API made
        client.update_service("local", "iris-svc", eas_models.UpdateServiceRequest(body=json.dumps({"processor": "llm"})))
    assert processor.value.code == "InvalidParameter.ServiceSpec" and '"processor": "onnx"' in processor.value.data["Recommend"]
    with pytest.raises(ClientException) as version:
        client.update_service_version("local", "iris-svc", eas_models.UpdateServiceVersionRequest(version=7))
    assert version.value.code == "InvalidParameter.ServiceSpec" and "ListServiceVersions" in version.value.data["Recommend"]
    assert [d.name for d in cloud["deck"].deployments()] == ["chat-svc", "iris-svc"]  # nothing was made


def test_the_provider_manages_a_service_through_the_deck(cloud: dict[str, Any], ali: md.Deck):
    made = ali.deploy("iris", "0.1.0", name="deck-svc", replicas=2, upgrade={"mode": "rolling", "batch_size": 1, "max_unavailable": 0})
    assert (made.status, made.replicas, made.version, made.model_name) == ("Running", 2, "0.1.0", "iris")
    assert [r["state"] for r in made.replica_status] == ["running", "running"] and made.upgrade["mode"] == "rolling"
    assert ali.predict(None, ROWS, deployment="deck-svc").outputs == cloud["outputs"]
    upgraded = ali.upgrade("deck-svc", "0.2.0")
    assert (upgraded.status, upgraded.version) == ("Running", "0.2.0")
    assert ali.predict(None, ROWS, deployment="deck-svc").outputs != cloud["outputs"]
    newest = ali.deploy("iris", name="newest-svc")  # no version: PAI's newest
    assert newest.version == "0.2.0" and newest.replicas == 1
    ali.delete_deployment("newest-svc")
    full = ali.upgrade("deck-svc", "0.1.0", mode="full")
    assert (full.version, full.upgrade) == ("0.1.0", {"mode": "full"})
    back = ali.rollback("deck-svc")
    assert (back.status, back.version) == ("Running", "0.2.0")
    assert ali.stop("deck-svc").status == "Stopped"
    assert ali.start("deck-svc").status == "Running"
    ali.delete_deployment("deck-svc")
    assert "deck-svc" not in {d.name for d in ali.deployments()}
    default = next(w.id for w in cloud["deck"].workspaces() if w.name == "default")
    viewing = profile(cloud["dep"].url, cloud["viewer"], cloud["dep"].admin_key, "viewer", pai_workspace_id(default))
    with md.connect(viewing) as viewer, pytest.raises(AccessDenied) as refused:
        viewer.deploy("iris", "0.1.0", name="viewer-svc")  # may read the version in PAI, may not deploy it
    assert "'deploy'" in refused.value.message and "developer" in refused.value.hint


# ---- wire equality ---------------------------------------------------------------------------------

SERVICE = {"ServiceName": "svc1", "ServiceId": "eas-1", "Region": "cn-beijing", "Status": "Running",
           "InternetEndpoint": "", "AccessToken": "tok==", "Labels": [{"LabelKey": "model", "LabelValue": "iris"}],
           "TotalInstance": 1}  # fmt: skip
CHAT = {"id": "c1", "object": "chat.completion", "created": 1, "model": "svc1",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}  # fmt: skip
CHUNK = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "svc1",
         "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]}  # fmt: skip
STREAM = [b"data: " + json.dumps(CHUNK).encode() + b"\n\n", b"data: [DONE]\n\n"]


EVENTS = {"RequestId": "r", "PageNum": 1, "TotalCount": 1, "TotalPageNum": 1,
          "Events": [{"Time": "2026-12-01T10:00:00Z", "Type": "Normal", "Reason": "started", "Message": "2 replicas"}]}  # fmt: skip
CONNECT = Route("GET", r"/dashscope/api/v1/models/permissions", json_body={"output": {"permissions": []}})


def _services_reply():  # type: ignore[no-untyped-def]
    from fixtures.wire_recorder import Reply

    body = {"RequestId": "r", "TotalCount": 1, "PageNumber": 1, "PageSize": 100, "Services": [SERVICE]}
    return Reply(200, {"Content-Type": "application/json"}, json.dumps(body).encode())


def _service_reply():  # type: ignore[no-untyped-def]
    from fixtures.wire_recorder import Reply

    return Reply(200, {"Content-Type": "application/json"}, json.dumps({"RequestId": "r", **SERVICE}).encode())


def recording_profile(url: str, name: str = "rec") -> str:
    file = ProfileFile.load()
    file.profiles[name] = Profile(name, "alibaba", url=f"{url}/dashscope", access_key_id="AKTEST",
                                  access_key_secret="SECRETTEST", api_key="sk-test",
                                  endpoints={"eas": f"{url}/eas", "pai": f"{url}/aiworkspace"})  # fmt: skip
    file.save()
    return name


def test_requests_equal_the_sdks():
    def chat_reply(req):  # type: ignore[no-untyped-def]
        from fixtures.wire_recorder import Reply

        if json.loads(req.body).get("stream"):
            return Reply(200, {"Content-Type": "text/event-stream"}, chunks=STREAM)
        return Reply(200, {"Content-Type": "application/json"}, json.dumps(CHAT).encode())

    routes = [Route("GET", r"/eas/api/v2/services", handler=lambda req: _services_reply()),
              Route("GET", r"/eas/api/v2/services/cn-beijing/svc1", handler=lambda req: _service_reply()),
              Route("GET", r"/eas/api/v2/services/cn-beijing/svc1/events", json_body=EVENTS),
              Route("POST", r"/svc/api/predict/svc1", json_body={"outputs": [{"name": "label", "data": [1], "dtype": "INT64", "shape": [1]}]}),
              Route("POST", r"/svc/api/predict/svc1/v1/chat/completions", handler=chat_reply)]  # fmt: skip
    pair = {"id": "AKTEST", "secret": "SECRETTEST"}
    with Recorder(routes + [CONNECT]) as rec:
        SERVICE["InternetEndpoint"] = f"{rec.url}/svc/api/predict/svc1"
        client = management(rec.url, pair, "cn-beijing")
        client.list_services(eas_models.ListServicesRequest(page_number=1, page_size=100))
        client.list_services(eas_models.ListServicesRequest(page_number=1, page_size=100, service_name="svc1"))
        client.describe_service("cn-beijing", "svc1")
        client.describe_service_event("cn-beijing", "svc1", eas_models.DescribeServiceEventRequest(page_num=1, page_size=100))
        httpx.post(SERVICE["InternetEndpoint"], json={"inputs": ROWS}, headers={"Authorization": "tok=="})
        sdk = openai.OpenAI(base_url=f"{SERVICE['InternetEndpoint']}/v1", api_key="tok==", max_retries=0)
        sdk.chat.completions.create(model="svc1", messages=MESSAGES)
        list(sdk.chat.completions.create(model="svc1", messages=MESSAGES, stream=True))
        theirs = [wire(r) for r in rec.requests]
        rec.requests.clear()

        with md.connect(recording_profile(rec.url), workspace="ws_1") as deck:
            rec.requests.clear()  # what connect asks DashScope is no EAS call
            assert [d.name for d in deck.deployments()] == ["svc1"]
            assert [e.kind for e in deck.deployment_events("svc1")] == ["started"]
            assert deck.predict("iris", ROWS, deployment="svc1").outputs == {"label": [1]}
            assert deck.chat(None, MESSAGES, deployment="svc1").text == "hi"
            assert [c.text for c in deck.chat(None, MESSAGES, stream=True, deployment="svc1")] == ["hi"]
        ours = [wire(r) for r in rec.requests]

    # ours: ListServices; then per call ListServices by name, DescribeService, and the call itself
    assert _reads(ours) == _reads(theirs)
    mine, sdk = _calls(ours), _calls(theirs)
    assert [c["path"] for c in mine] == [c["path"] for c in sdk] and len(mine) == 3
    for request, expected in zip(mine, sdk):
        request["headers"].pop("idempotency-key", None)
        if "messages" in request["body"]:  # our deck names the service as the model, the SDK what it was given
            assert request["body"].pop("model") == "svc1" and expected["body"].pop("model") == "svc1"
        assert _comparable(request) == _comparable(expected)


def _reads(requests: list[dict[str, Any]]) -> dict[tuple[str, ...], dict[str, Any]]:
    """The management reads, once each (the provider repeats them before each call)."""
    return {(r["path"], json.dumps(r["query"])): r for r in requests if r["method"] == "GET"}


def _calls(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in requests if r["method"] == "POST"]


def _comparable(request: dict[str, Any]) -> dict[str, Any]:
    """The SDKs' own identity headers (the openai SDK's x-stainless-*) are not the wire's meaning."""
    headers = {k: v for k, v in request["headers"].items() if not k.startswith("x-stainless")}
    return {**request, "headers": headers}


def test_a_stopped_service_says_so_on_every_road(cloud: dict[str, Any], ali: md.Deck):
    """Last in the module: it stops the ONNX service."""
    token = described(cloud, "iris-svc").access_token
    cloud["deck"].stop("iris-svc")
    assert described(cloud, "iris-svc").status == "Stopped"
    answer = httpx.post(f"{cloud['dep'].url}/eas/api/predict/iris-svc", json={"inputs": ROWS}, headers={"Authorization": token})
    assert answer.status_code == 409 and answer.json()["Code"] == "Deployment.NotServing"
    with pytest.raises(DeckError) as stopped:
        ali.predict(None, ROWS, deployment="iris-svc")
    assert stopped.value.code == "Deployment.NotServing"
    assert {d.name: d.status for d in ali.deployments()}["iris-svc"] == "Stopped"


def test_management_requests_equal_the_sdks():
    """Create, update (full), roll back, stop, start, delete: our provider's request for each equals the SDK's."""
    uris = {"0.1.0": "oss://bucket/iris/1/", "0.2.0": "oss://bucket/iris/2/"}
    versions = [Route("GET", rf"/aiworkspace/api/v1/models/m-1/versions/{re.escape(v)}",
                      json_body={"VersionName": v, "Uri": uri, "FormatType": "ONNX"}) for v, uri in uris.items()]  # fmt: skip
    described = {**SERVICE, "CurrentVersion": 2, "LatestVersion": 2}
    done = {"RequestId": "r", "Message": "ok"}
    routes = [*versions, Route("GET", r"/aiworkspace/api/v1/models", json_body={"Models": [{"ModelId": "m-1", "ModelName": "iris"}]}),
              Route("GET", r"/eas/api/v2/services", handler=lambda req: _services_reply()),
              Route("POST", r"/eas/api/v2/services", json_body={"RequestId": "r", "ServiceName": "svc1", "Status": "Creating"}),
              Route("GET", r"/eas/api/v2/services/cn-beijing/svc1", json_body={"RequestId": "r", **described}),
              Route("*", r"/eas/api/v2/services/cn-beijing/svc1(/.*)?", json_body=done)]  # fmt: skip
    rolling = {"max_surge": 1, "max_unavailable": 0}
    created = {"name": "svc1", "model_path": uris["0.1.0"], "processor": "onnx", "metadata": {"instance": 2, "rolling_strategy": rolling}}
    updated = {"model_path": uris["0.2.0"], "processor": "onnx", "metadata": {"rolling_strategy": {"max_surge": "100%", "max_unavailable": 0}}}
    compact = {"separators": (",", ":")}
    with Recorder(routes + [CONNECT]) as rec:
        client = management(rec.url, {"id": "AKTEST", "secret": "SECRETTEST"}, "cn-beijing")
        client.create_service(eas_models.CreateServiceRequest(body=json.dumps(created, **compact),
                                                              labels={"model": "iris", "version": "0.1.0"}))  # fmt: skip
        client.update_service("cn-beijing", "svc1", eas_models.UpdateServiceRequest(body=json.dumps(updated, **compact)))
        client.update_service_version("cn-beijing", "svc1", eas_models.UpdateServiceVersionRequest(version=1))
        client.stop_service("cn-beijing", "svc1")
        client.start_service("cn-beijing", "svc1")
        client.delete_service("cn-beijing", "svc1")
        theirs = [wire(r) for r in rec.requests]
        rec.requests.clear()

        with md.connect(recording_profile(rec.url, "rec-pai"), workspace="ws_1") as deck:
            rec.requests.clear()
            made = deck.deploy("iris", "0.1.0", name="svc1", replicas=2, upgrade={"mode": "rolling", "batch_size": 1})
            assert made.name == "svc1" and made.status == "Running"
            deck.upgrade("svc1", "0.2.0", mode="full")
            deck.rollback("svc1")
            deck.stop("svc1")
            deck.start("svc1")
            deck.delete_deployment("svc1", wait=False)
        ours = [wire(r) for r in rec.requests if r.method != "GET"]  # the reads before each change are the provider's own

    assert [r["headers"]["x-acs-action"] for r in ours] == ["CreateService", "UpdateService", "UpdateServiceVersion",
                                                          "StopService", "StartService", "DeleteService"]  # fmt: skip
    assert ours == theirs


def test_an_eas_refusal_keeps_its_recommendation():
    """Model.AccessDenied from EAS is a missing deploy grant: its Recommend, not Model Studio's authorize hint."""
    refusal = {"RequestId": "r", "Code": "Model.AccessDenied", "Message": "Workspace 'team' may not deploy 'iris'.",
               "Recommend": "An admin of 'default' grants deploy: deck.authorize('iris', 'team', actions=['deploy'])."}  # fmt: skip
    routes = [Route("GET", r"/aiworkspace/api/v1/models/m-1/versions/0.1.0", json_body={"VersionName": "0.1.0", "Uri": "oss://b/k/"}),
              Route("GET", r"/aiworkspace/api/v1/models", json_body={"Models": [{"ModelId": "m-1", "ModelName": "iris"}]}),
              Route("POST", r"/eas/api/v2/services", status=403, json_body=refusal)]  # fmt: skip
    with (
        Recorder(routes + [CONNECT]) as rec,
        md.connect(recording_profile(rec.url, "rec-deny"), workspace="ws_1") as deck,
        pytest.raises(AccessDenied) as denied,
    ):
        deck.deploy("iris", "0.1.0", name="svc1")
    assert denied.value.code == "Model.AccessDenied" and "actions=['deploy']" in denied.value.hint
