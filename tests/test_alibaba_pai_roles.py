"""Both worlds of an `alibaba` profile in one model list, and who may approve on PAI.

The AIWorkspace facade's ListMembers / GetMember and the STS facade's GetCallerIdentity, driven by the official
`alibabacloud-aiworkspace20210204` and `alibabacloud-sts20150401` clients (unmodified, configured by `Config`'s
documented `endpoint` and `protocol`), answered from the platform's members with PAI's role names; then the
`alibaba` provider's listing (Model Studio's authorized models and the PAI registry's, told apart by `source`)
with the actions the caller's PAI roles allow; and the provider's new requests equal to the SDKs' on the wire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from alibabacloud_aiworkspace20210204 import models as pai
from alibabacloud_aiworkspace20210204.client import Client as AIWorkspace
from alibabacloud_sts20150401.client import Client as STS
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.models import Config
from conftest import Deployment, deploy
from fixtures.wire_recorder import Recorder, Route
from test_alibaba_provider import ALIBABA_VARIABLES, wire

import modeldeck as md
from modeldeck.platform.api.facades.aiworkspace import pai_workspace_id
from modeldeck.platform.settings import Settings
from modeldeck.profiles import Profile, ProfileFile

URI = "oss://models-bucket/pai/detector/1/"


def config(url: str, pair: tuple[str, str], path: str) -> Config:
    return Config(access_key_id=pair[0], access_key_secret=pair[1], endpoint=urlsplit(url).netloc + path,
                  protocol="HTTP", region_id="cn-hangzhou")  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """`team-b` with alice (developer) and bob (admin); carol is in no workspace; each has an AccessKey pair."""
    dep = deploy(Settings(home=tmp_path_factory.mktemp("pai-roles") / "home"))
    ws = dep.admin.ok("POST", "/api/v1/workspaces", json={"name": "team-b"})
    keys = {"main": dep.admin_key, "alice": dep.subaccount("alice", {"team-b": "developer"}),
            "bob": dep.subaccount("bob", {"team-b": "admin"}), "carol": dep.subaccount("carol")}  # fmt: skip
    pairs = {}
    for who, key in keys.items():
        made = dep.client(key).ok("POST", "/api/v1/access-keys", json={})
        pairs[who] = (made["id"], made["secret"])
    yield {"deployment": dep, "ws": pai_workspace_id(ws["id"]), "studio_ws": "ws_" + ws["id"][3:], "keys": keys,
           "pairs": pairs}  # fmt: skip
    dep.close()


@pytest.fixture(autouse=True)
def no_alibaba_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*ALIBABA_VARIABLES, "PAI_WORKSPACE_ID", "PAI_AI_WORKSPACE_ID"):
        monkeypatch.delenv(name, raising=False)


def test_the_caller_and_its_roles_with_the_official_clients(server: dict):
    dep: Deployment = server["deployment"]
    ws = server["ws"]
    me = {
        who: STS(config(dep.url, pair, "/sts")).get_caller_identity().body
        for who, pair in server["pairs"].items()
    }
    assert (
        me["main"].identity_type == "Account" and me["main"].arn == f"acs:ram::{me['main'].account_id}:root"
    )
    assert me["alice"].identity_type == "RAMUser" and me["alice"].arn.endswith(":user/alice")
    assert me["alice"].account_id == me["main"].account_id != me["alice"].user_id

    bob = AIWorkspace(config(dep.url, server["pairs"]["bob"], "/aiworkspace"))
    listed = bob.list_members(ws, pai.ListMembersRequest()).body
    assert [(m.member_name, m.roles) for m in listed.members] == [
        ("main", ["PAI.WorkspaceOwner"]), ("alice", ["PAI.AlgoDeveloper"]), ("bob", ["PAI.WorkspaceAdmin"])]  # fmt: skip
    assert (
        listed.total_count == 3
        and listed.members[1].account_type == 5
        and listed.members[0].account_type == 1
    )
    mine = bob.list_members(ws, pai.ListMembersRequest(user_id=me["alice"].user_id)).body.members
    assert [m.member_name for m in mine] == ["alice"]
    admins = bob.list_members(ws, pai.ListMembersRequest(roles="PAI.WorkspaceAdmin,PAI.WorkspaceOwner")).body
    assert [m.member_name for m in admins.members] == ["main", "bob"]
    assert [
        m.member_name
        for m in bob.list_members(ws, pai.ListMembersRequest(page_size=1, page_number=2)).body.members
    ] == ["alice"]
    got = bob.get_member(ws, pai.GetMemberRequest(user_id=me["bob"].user_id)).body
    assert (got.member_name, got.roles, got.member_id) == ("bob", ["PAI.WorkspaceAdmin"], me["bob"].user_id)

    with pytest.raises(ClientException) as refused:
        bob.get_member(ws, pai.GetMemberRequest())
    assert refused.value.status_code == 400 and refused.value.code == "InvalidParameter.Member"
    with pytest.raises(ClientException) as missing:
        bob.get_member(ws, pai.GetMemberRequest(user_id=me["carol"].user_id))
    assert missing.value.status_code == 404 and missing.value.code == "Member.NotFound"
    with pytest.raises(ClientException) as outside:  # carol may not enter team-b
        AIWorkspace(config(dep.url, server["pairs"]["carol"], "/aiworkspace")).list_members(
            ws, pai.ListMembersRequest()
        )
    assert outside.value.status_code == 403 and outside.value.code == "Workspace.AccessDenied"
    with pytest.raises(ClientException) as forged:
        STS(config(dep.url, (server["pairs"]["bob"][0], "not-the-secret"), "/sts")).get_caller_identity()
    assert forged.value.status_code == 401 and forged.value.code == "Signature.Mismatch"


def profile(url: str, who: str, server: dict, sts: bool = True, **options: str) -> str:
    """An `alibaba` profile at the facades as `who`: its API key for DashScope, its AccessKey pair for the rest."""
    pair = server["pairs"][who]
    services = {
        "modelstudio": url,
        "pai": f"{url}/aiworkspace",
        "oss": url,
        **({"sts": f"{url}/sts"} if sts else {}),
    }
    file = ProfileFile.load()
    file.profiles[who] = Profile(who, "alibaba", url=f"{url}/dashscope", endpoints=services, api_key=server["keys"].get(who),
                                 access_key_id=pair[0], access_key_secret=pair[1], **options)  # fmt: skip
    file.save()
    return who


def test_one_list_of_both_worlds_with_the_actions_pai_roles_allow(server: dict):
    dep: Deployment = server["deployment"]
    ws = server["ws"]
    with md.connect(
        profile(dep.url, "alice", server, pai_workspace=ws, workspace=server["studio_ws"])
    ) as alice:
        registered = alice.register("detector", URI, format="SavedModel", framework="TensorFlow")
        listed = [(m.source, m.model_name) for m in alice.models()]
        # one store behind both services: team-b may call its own model (Model Studio's row), and PAI holds it
        assert listed == [("authorized", "detector"), ("pai", "detector")]
        row = next(m for m in alice.models() if m.source == "pai")
        assert (row.id, row.model_name, row.workspace_id) == (registered.model_id, "detector", ws)
        assert row.actions == ["register", "deploy"] and row.latest_version["approval_status"] == "Pending"
        assert [v.version_name for v in alice.versions(row.id)] == [
            "0.1.0"
        ]  # its versions pane, by the row's id
    with md.connect(profile(dep.url, "bob", server, pai_workspace=ws, workspace=server["studio_ws"])) as bob:
        (row,) = [m for m in bob.models() if m.source == "pai"]
        assert row.actions == ["register", "deploy", "approve"]
        assert bob.approve(row.id, "0.1.0").approval_status == "Approved"
        with pytest.raises(md.errors.Conflict):  # a decided version is final
            bob.reject(row.id, "0.1.0")
    with md.connect(
        profile(dep.url, "bob", server, sts=False, pai_workspace=ws, workspace=server["studio_ws"])
    ) as unnamed:
        (row,) = [m for m in unnamed.models() if m.source == "pai"]
        assert row.actions == []  # no STS endpoint: the caller cannot be found among the members


def test_the_main_account_lists_model_studio_and_its_default_pai_workspace(server: dict, tmp_path: Path):
    dep: Deployment = server["deployment"]
    with md.connect(url=dep.url, api_key=dep.admin_key) as native:  # a model of the default workspace
        native.register("lm", "s3://bucket/lm/", format="SafeTensors", framework="Transformers")
    with md.connect(profile(dep.url, "main", server)) as main:
        rows = [(m.source, m.model_name, m.actions) for m in main.models()]
    studio = [r for r in rows if r[0] == "authorized"]
    everything = ("pai", "lm", ["register", "deploy", "approve"])
    assert everything in rows and rows.index(studio[-1]) < rows.index(everything)
    file = ProfileFile.load()
    file.profiles["keyonly"] = Profile(
        "keyonly", "alibaba", url=f"{dep.url}/dashscope", api_key=dep.admin_key
    )
    file.save()
    with md.connect("keyonly") as key_only:  # no AccessKey pair: Model Studio's models only
        assert {m.source for m in key_only.models()} == {"authorized"}


def test_a_model_by_its_ref_from_either_world(server: dict):
    """`deck.model(ref)` looks in Model Studio's authorized models and PAI's registry: a name both hold is
    ambiguous until `source` (or a listed record) picks one; a ModelId is PAI's; a missing one says where it looked."""
    dep: Deployment = server["deployment"]
    with md.connect(profile(dep.url, "bob", server, pai_workspace=server["ws"], workspace=server["studio_ws"])) as bob:
        made = bob.register("ranker", URI, format="SavedModel", framework="TensorFlow")
        with pytest.raises(md.errors.InvalidParameter) as both:
            bob.model("ranker")
        assert both.value.code == "Model.Ambiguous" and "source='pai'" in both.value.hint and made.model_id in both.value.hint
        pai_row = bob.model("ranker", source="pai")
        assert (pai_row.source, pai_row.id, pai_row.model_name, pai_row.workspace_id) == ("pai", made.model_id, "ranker", server["ws"])
        assert pai_row.actions == ["register", "deploy", "approve"] and pai_row.latest_version["version_name"] == "0.1.0"
        assert bob.model("ranker", source="authorized").source == "authorized"
        assert bob.model(made.model_id).source == "pai"  # a ModelId is no Model Studio name
        listed = next(m for m in bob.models() if m.source == "pai" and m.model_name == "ranker")
        assert bob.model(listed).id == made.model_id  # a record brings its source
        with pytest.raises(md.errors.NotFound) as missing:
            bob.model("no-such-model", source="pai")
        assert missing.value.code == "Model.NotFound" and server["ws"] in missing.value.message and missing.value.hint
        with pytest.raises(md.errors.ModelAccessDenied) as nowhere:
            bob.model("no-such-model")
        assert "PAI workspace" in nowhere.value.message and "deck.models()" in nowhere.value.hint
        with pytest.raises(md.errors.InvalidParameter) as wrong:
            bob.model("ranker", source="modelarts")
        assert wrong.value.code == "InvalidParameter.Source" and "authorized, pai" in wrong.value.hint
    with md.connect(url=dep.url, api_key=dep.admin_key) as native, pytest.raises(md.errors.InvalidParameter) as one:
        native.model("ranker", source="pai")
    assert "Leave source out" in one.value.hint


def test_a_pai_workspace_that_refuses_the_caller_leaves_model_studio_listed(server: dict):
    """alice develops in team-b but is no member of the default PAI workspace: the list keeps Model Studio's
    rows and says, as a typed note with a hint, why PAI's are missing; the panel's state shows the same."""
    from modeldeck.state import DeckState

    dep: Deployment = server["deployment"]
    with md.connect(url=dep.url, api_key=dep.admin_key, workspace="team-b") as native:
        outside = pai_workspace_id(next(w for w in native.workspaces() if w.is_default).id)
        native.register("scorer", URI, format="SavedModel", framework="TensorFlow")
    with md.connect(profile(dep.url, "alice", server, pai_workspace=outside, workspace=server["studio_ws"])) as alice:
        listed = alice.models()
        rows = [(m.source, m.model_name) for m in listed]
        assert ("authorized", "scorer") in rows and all(source == "authorized" for source, _ in rows)
        (note,) = listed.notes
        assert isinstance(note, md.errors.AccessDenied) and note.code == "Workspace.AccessDenied"
        assert outside in note.message and "add you as a member" in note.hint and "pai_workspace" in note.hint
        assert "note: PAI workspace" in repr(listed)
        with pytest.raises(md.errors.AccessDenied) as refused:  # asked for PAI's alone, it says so
            alice.model("scorer", source="pai")
        assert "add you as a member" in refused.value.hint
        assert alice.model("scorer").source == "authorized"  # the world it may see

        async def listed_async() -> tuple[list[str], list[str]]:
            async with md.AsyncDeck("alice") as deck:
                listing = deck.models()
                return [m.source async for m in listing], [n.code for n in listing.notes]

        assert asyncio.run(listed_async()) == (["authorized"] * len(rows), ["Workspace.AccessDenied"])
        state = DeckState(alice)
        try:
            state.run("refresh")
            assert [m["source"] for m in state.models] == ["authorized"] * len(rows)
            assert [(n["code"], "add you as a member" in n["hint"]) for n in state.models_notes] == [("Workspace.AccessDenied", True)]
            assert state.error is None
        finally:
            state.close()


# ---- wire equality -------------------------------------------------------------------------------------

MEMBER = {"MemberId": "u-1", "UserId": "u-1", "MemberName": "bob", "Roles": ["PAI.WorkspaceAdmin"]}
MODEL = {"ModelId": "model-1", "ModelName": "detector", "WorkspaceId": "12345"}
ROUTES = [Route("GET", r"/dashscope/api/v1/models/permissions", json_body={"output": {"permissions": [], "total": 0}}),
          Route("POST", r"/sts/", json_body={"RequestId": "r", "UserId": "u-1", "AccountId": "a-1", "IdentityType": "RAMUser"}),
          Route("GET", r"/api/v1/defaultWorkspaces", json_body={"RequestId": "r", "WorkspaceId": "12345"}),
          Route("GET", r"/api/v1/workspaces/12345/members", json_body={"RequestId": "r", "TotalCount": 1, "Members": [MEMBER]}),
          Route("GET", r"/api/v1/models", json_body={"RequestId": "r", "TotalCount": 1, "Models": [MODEL]})]  # fmt: skip


def test_provider_requests_equal_the_sdks(server: dict):
    with Recorder(ROUTES) as rec:
        pair = ("AKTEST", "SECRETTEST")
        sts = STS(config(rec.url, pair, "/sts"))
        workspace = AIWorkspace(config(rec.url, pair, ""))
        sts.get_caller_identity()
        workspace.get_default_workspace(pai.GetDefaultWorkspaceRequest())
        workspace.list_members("12345", pai.ListMembersRequest(user_id="u-1", page_number=1, page_size=10))
        workspace.list_models(pai.ListModelsRequest(workspace_id="12345", page_number=1, page_size=50))
        theirs = [wire(r) for r in rec.requests]
        rec.requests.clear()

        file = ProfileFile.load()
        file.profiles["rec"] = Profile("rec", "alibaba", url=f"{rec.url}/dashscope", api_key="sk-test",
                                       endpoints={"pai": rec.url, "sts": f"{rec.url}/sts"},
                                       access_key_id=pair[0], access_key_secret=pair[1])  # fmt: skip
        file.save()
        with md.connect("rec") as deck:
            rows = list(deck.models())
        ours = [wire(r) for r in rec.requests if r.header("x-acs-action")]
    assert [(m.source, m.model_name, m.actions) for m in rows] == [
        ("pai", "detector", ["register", "deploy", "approve"])
    ]
    for request in (*theirs, *ours):  # the SDK's host names the endpoint's path; ours the server
        request["headers"].pop("host", None)
    by_action = {r["headers"]["x-acs-action"]: r for r in ours}
    assert len(by_action) == len(ours) == 4
    assert by_action == {r["headers"]["x-acs-action"]: r for r in theirs}
