"""ModelArts real-time services as the platform's deployments, driven by the unmodified `huaweicloudsdkmodelarts`
3.1.219 (v2 services, AK/SK-signed, `BasicCredentials` + `with_endpoints`) and by the `huawei` provider: a
service of the tiny language model created with two instances, upgraded rolling (remove-instances), then
fully, each change seen in its status, its events and the answers of its chat; stopped and deleted. The
provider's requests equal the SDK's on the wire.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from conftest import wait_for
from fixtures.wire_recorder import Captured, Recorder, Reply, Route
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkmodelarts import v1 as ma
from test_huawei_pangu import (  # noqa: F401
    MESSAGES,
    TINY,
    native_text,
    no_huawei_environment,
    platform_with_tiny,
    profile,
    signing,
    wire,
)

import modeldeck as md

ROLLING_ADD = {"max_surge": "50%", "max_unavailable": "0%"}
ROLLING_REMOVE = {"max_surge": "0%", "max_unavailable": "50%"}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    found = platform_with_tiny(tmp_path_factory.mktemp("services"))
    try:
        server = found["server"]
        yield {**found, "texts": {v: native_text(server, v) for v in ("1.0.0", "1.0.1")}}
    finally:
        found["server"].close()


def client(cloud: dict, url: str | None = None) -> ma.ModelArtsClient:
    credentials = BasicCredentials(cloud["ak"], cloud["sk"], cloud["project"])
    return ma.ModelArtsClient.new_builder().with_credentials(credentials).with_endpoints([url or cloud["server"].url]).build()


def rolling(**percentages: str) -> ma.UpgradeConfig:
    return ma.UpgradeConfig(type="ROLLING", rolling_update=ma.RollingUpdate(**percentages))


def create_body(name: str, version: str = "1.0.0") -> ma.ServiceCreateRequest:
    group = ma.GroupConfig(name=name, count=2, model=ma.ModelResource(source="MODELARTS", asset_id="tiny"))
    return ma.ServiceCreateRequest(name=name, version=version, workspace_id="0", type="REAL_TIME", group_configs=[group],
                                   upgrade_config=rolling(**ROLLING_ADD))  # fmt: skip


def settled(api: ma.ModelArtsClient, service_id: str) -> ma.ShowInferServiceResponse:
    shown: list = []

    def done() -> bool:
        shown[:] = [api.show_infer_service(ma.ShowInferServiceRequest(service_id=service_id))]
        return shown[0].status not in ("DEPLOYING", "UPGRADING")

    wait_for(done, timeout=240, interval=0.2)
    return shown[0]


def chat_text(cloud: dict, deployment: str) -> str:
    url = f"{cloud['server'].url}/v1/{cloud['project']}/deployments/{deployment}/chat/completions"
    answer = httpx.post(url, json={"messages": MESSAGES, **TINY}, headers={"X-Auth-Token": cloud["token"]}, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()["choices"][0]["message"]["content"]


BAD_UPGRADES = [
    ({"version": "1.0.1", "upgrade_config": {"type": "ROLLING", "rolling_update": {"max_surge": "0%", "max_unavailable": "100%"}}},
     "would stop all"),
    ({"version": "1.0.1", "upgrade_config": {"type": "BLUE_GREEN"}}, "ROLLING"),
    ({"version": "1.0.1", "upgrade_config": {"rolling_update": {"max_surge": "half"}}}, "percentage"),
    ({"version": "v2"}, "1.0.0"),
    ({"version": "1.0.1", "group_configs": [{"count": 5}]}, "instance count"),
]  # fmt: skip


@pytest.fixture(scope="module")
def service(cloud: dict) -> Iterator[str]:
    """A service of `tiny` 1.0.0 on two instances, created with the SDK (rolling add-instances as its mode)."""
    api = client(cloud)
    created = api.create_infer_service(ma.CreateInferServiceRequest(body=create_body("svc")))
    assert created.status == "DEPLOYING" and created.name == "svc" and created.workspace_id == "0"
    yield created.id
    with pytest.raises(ClientRequestException):  # gone already, when the last test deleted it
        api.show_infer_service(ma.ShowInferServiceRequest(service_id=created.id))


def test_a_service_created_on_two_instances(cloud: dict, service: str):
    api = client(cloud)
    shown = settled(api, service)
    assert shown.status == "RUNNING" and shown.version.version == "1.0.0"
    group = shown.version.instance_groups[0]
    assert (group.count, group.running_count) == (2, 2)
    assert shown.version.upgrade_config.rolling_update.max_surge == "50%"
    assert chat_text(cloud, service) == cloud["texts"]["1.0.0"]
    listed = api.list_infer_services(ma.ListInferServicesRequest(workspace_id="0", name="svc"))
    assert listed.total == 1 and listed.data[0].id == service and listed.data[0].status == "RUNNING"
    url = f"{cloud['server'].url}/v2/{cloud['project']}/services/{service}"
    for update, wording in BAD_UPGRADES:  # refused before anything changes, with what to send instead
        refused = httpx.put(url, json=update, headers={"X-Auth-Token": cloud["token"]})
        assert refused.status_code == 400 and refused.json()["error_code"].startswith("ModelArts."), refused.text
        assert wording in refused.json()["error_msg"]


def test_a_rolling_upgrade_removing_instances(cloud: dict, service: str):
    api = client(cloud)
    upgrading = api.update_infer_service(ma.UpdateInferServiceRequest(service_id=service, body=ma.ServiceUpdateRequest(
        version="1.0.1", upgrade_config=rolling(**ROLLING_REMOVE))))  # fmt: skip
    assert upgrading.status == "UPGRADING"
    shown = settled(api, service)
    assert shown.status == "RUNNING" and shown.version.version == "1.0.1"
    assert shown.version.upgrade_config.rolling_update.max_unavailable == "50%"
    assert chat_text(cloud, service) == cloud["texts"]["1.0.1"]


def test_a_full_upgrade_then_its_events(cloud: dict, service: str):
    api = client(cloud)
    before = settled(api, service).version.version
    after = "1.0.0" if before == "1.0.1" else "1.0.1"
    api.update_infer_service(ma.UpdateInferServiceRequest(service_id=service, body=ma.ServiceUpdateRequest(
        version=after, upgrade_config=rolling(max_surge="100%", max_unavailable="0%"))))  # fmt: skip
    shown = settled(api, service)
    events = api.list_infer_service_events(ma.ListInferServiceEventsRequest(service_id=service, sort_dir="ASC"))
    infos = [e.event_info for e in events.data]
    assert shown.version.version == after, infos  # else the platform rolled it back, and the events say why
    assert chat_text(cloud, service) == cloud["texts"][after]
    assert any(f"{before} to {after} (full)" in i for i in infos), infos
    assert all(e.event_type == "normal" for e in events.data) and events.total == len(events.data)


def test_stopped_then_deleted(cloud: dict, service: str):
    api = client(cloud)
    settled(api, service)
    assert api.stop_infer_service(ma.StopInferServiceRequest(service_id=service)).status == "STOPPED"
    api.batch_delete_infer_services(ma.BatchDeleteInferServicesRequest(body=ma.DeleteServicesRequest(service_ids=[service])))

    def gone() -> bool:
        try:
            api.show_infer_service(ma.ShowInferServiceRequest(service_id=service))
        except ClientRequestException as exc:
            return exc.status_code == 404
        return False

    wait_for(gone, timeout=60, interval=0.2)


# ---- the huawei provider: the same story, and the same requests as the SDK ---------------------------


def test_deploy_upgrade_rolling_then_full_through_the_provider(cloud: dict, monkeypatch: pytest.MonkeyPatch):
    signing(cloud, monkeypatch)
    with md.connect(profile(cloud["server"].url)) as deck:
        dep = deck.deploy("tiny", "1.0.0", name="svc-p", replicas=2, upgrade={"mode": "rolling", "batch_size": 1})
        assert (dep.status, dep.version, dep.replicas) == ("Running", "1.0.0", 2)
        [listed] = deck.deployments()  # read from the service itself: its instance groups
        assert (listed.name, listed.model_name, listed.model_id, listed.replicas) == ("svc-p", "tiny", "tiny", 2)
        assert [r["state"] for r in listed.replica_status] == ["running", "running"]
        assert deck.chat(None, MESSAGES, deployment="svc-p", **TINY).text == cloud["texts"]["1.0.0"]
        rolled = deck.upgrade("svc-p", "1.0.1", mode={"mode": "rolling", "batch_size": 1, "max_unavailable": 1})
        assert (rolled.status, rolled.version, rolled.upgrade["max_unavailable"]) == ("Running", "1.0.1", 1)
        assert deck.chat(None, MESSAGES, deployment="svc-p", **TINY).text == cloud["texts"]["1.0.1"]
        full = deck.upgrade("svc-p", "1.0.0", mode="full")
        assert (full.version, full.upgrade["mode"]) == ("1.0.0", "full")
        assert any("(full)" in e.message for e in deck.deployment_events("svc-p"))
        with pytest.raises(md.errors.Unsupported) as refused:
            deck.rollback("svc-p")
        assert "deck.upgrade" in refused.value.hint
        assert deck.stop("svc-p").status == "Stopped"
        deck.delete_deployment("svc-p")
        assert list(deck.deployments()) == []


SHOWN = {"id": "svc-1", "name": "svc", "workspace_id": "0", "status": "RUNNING",
         "version": {"version": "1.0.0", "instance_groups": [{"count": 2, "model": {"asset_id": "tiny"}}],
                     "upgrade_config": {"type": "ROLLING", "rolling_update": {"max_surge": "50%", "max_unavailable": "0%"}}}}  # fmt: skip
LISTED = {"data": [{"id": "svc-1", "name": "svc", "status": "RUNNING", "version": "1.0.0"}], "total": 1}


def test_service_requests_equal_the_sdks(monkeypatch: pytest.MonkeyPatch):
    keys = {"ak": "AKLOCAL123", "sk": "SKLOCAL456", "project": "a" * 32}
    routes = [Route("GET", r"/v2/.*/services", json_body=LISTED), Route("GET", r"/v1/auth-mode", json_body={"mode": "strict"}),
              Route("*", r"/v2/.*/services.*", json_body=SHOWN),
              Route("GET", r"/v1/.*/models", json_body={"models": [{"model_name": "tiny", "model_version": "1.0.0"}]})]  # fmt: skip
    with Recorder(routes) as rec:
        api = client(keys, rec.url)
        group = ma.GroupConfig(name="svc", count=2, model=ma.ModelResource(source="MODELARTS", asset_id="tiny"))
        api.create_infer_service(ma.CreateInferServiceRequest(body=ma.ServiceCreateRequest(
            name="svc", version="1.0.0", type="REAL_TIME", group_configs=[group], upgrade_config=rolling(**ROLLING_ADD),
            workspace_id="0")))  # fmt: skip
        api.update_infer_service(ma.UpdateInferServiceRequest(service_id="svc-1", body=ma.ServiceUpdateRequest(
            version="1.0.1", upgrade_config=rolling(**ROLLING_REMOVE))))  # fmt: skip
        api.stop_infer_service(ma.StopInferServiceRequest(service_id="svc-1"))
        api.batch_delete_infer_services(ma.BatchDeleteInferServicesRequest(body=ma.DeleteServicesRequest(service_ids=["svc-1"])))
        theirs = [wire(r) for r in rec.requests]
        rec.requests.clear()

        signing(keys, monkeypatch)
        with md.connect(profile(rec.url)) as deck:
            rec.requests.clear()
            deck.deploy("tiny", "1.0.0", name="svc", replicas=2, upgrade={"mode": "rolling", "batch_size": 1}, wait=False)
            deck.upgrade("svc", "1.0.1", mode={"mode": "rolling", "batch_size": 1, "max_unavailable": 1}, wait=False)
            deck.stop("svc", wait=False)
            deck.delete_deployment("svc", wait=False)
        # Ours finds a service by name first (GET services?name=, then GET services/{id}): the SDK is given ids.
        ours = [wire(r) for r in rec.requests if r.method != "GET"]
    assert [o["method"] for o in ours] == [t["method"] for t in theirs] == ["POST", "PUT", "POST", "POST"]
    for mine, sdk_side in zip(ours, theirs):
        assert mine == sdk_side


def test_a_service_deleted_between_its_listing_and_its_look_is_gone(monkeypatch: pytest.MonkeyPatch):
    """ModelArts lists a service being deleted until it is gone; one that went between the listing and the
    GET of its record is gone (the awaited end of a delete), never a NotFound, and the listing leaves it out."""
    deleted = []

    def show(req: Captured) -> Reply:
        if deleted:
            body = json.dumps({"error_code": "ModelArts.0102", "error_msg": "The service does not exist."}).encode()
            return Reply(404, {"Content-Type": "application/json"}, body)
        return Reply(200, {"Content-Type": "application/json"}, json.dumps(SHOWN).encode())

    def delete(req: Captured) -> Reply:
        deleted.append(req)
        return Reply(200, {"Content-Type": "application/json"}, b'{"service_responses": []}')

    routes = [Route("GET", r"/v2/.*/services", json_body=LISTED), Route("POST", r"/v2/.*/services/delete", handler=delete),
              Route("GET", r"/v2/.*/services/svc-1", handler=show), Route("GET", r"/v1/auth-mode", json_body={"mode": "strict"})]  # fmt: skip
    with Recorder(routes) as rec:
        signing({"ak": "AKLOCAL123", "sk": "SKLOCAL456", "project": "a" * 32}, monkeypatch)
        with md.connect(profile(rec.url)) as deck:
            assert deck.delete_deployment("svc") is None and len(deleted) == 1
            assert list(deck.deployments()) == []


def test_deploying_a_model_that_does_not_exist_is_not_found(cloud: dict, monkeypatch: pytest.MonkeyPatch):
    signing(cloud, monkeypatch)
    with md.connect(profile(cloud["server"].url)) as deck:
        with pytest.raises(md.errors.NotFound) as missing:
            deck.deploy("no-such-model", "1.0.0", name="ghost")
        assert "no-such-model" in str(missing.value) and "deck.models()" in missing.value.hint
        with pytest.raises(md.errors.NotFound) as missing:
            deck.deploy("tiny", "9.9.9", name="ghost")
        assert "9.9.9" in str(missing.value) and "deck.versions" in missing.value.hint
        assert list(deck.deployments()) == []
