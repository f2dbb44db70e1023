"""Authorization rules over real HTTP: entering workspaces, roles, grants, authorization modes, the
workspace quota, API keys, and the shape of every refusal.

The rules mirror Alibaba Model Studio/PAI and Huawei ModelArts: one main account (admin everywhere) and
sub-accounts that must name a workspace they belong to; a role per workspace (viewer, developer, admin);
models used across workspaces only through grants of an action. The rules whose storage matters (access
denied, grant/revoke, quota) run on both SQLite and PostgreSQL through `store_deployment`.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from conftest import Api, Deployment, deploy

from modeldeck.platform import Settings

API = "/api/v1"
WS_HEADER = "X-ModelDeck-Workspace"
PREDICT_BODY = {"records": [[1.0, 2.0]]}

# The roles, as the rules state them (not read from the code under test).
ROLE_PERMISSIONS = {
    "viewer": {"list"},
    "developer": {"list", "register", "invoke"},
    "admin": {"list", "register", "approve", "invoke", "authorize", "manage"},
    "main": {"list", "register", "approve", "invoke", "authorize", "manage"},  # admin everywhere
}


class Deck:
    """A deployment whose clients are built once: each new httpx client costs ~40 ms (its TLS context)."""

    def __init__(self, dep: Deployment) -> None:
        self.dep = dep
        self.url = dep.url
        self._clients: dict[tuple[str | None, str | None], Api] = {}

    def client(self, key: str | None = None, workspace: str | None = None) -> Api:
        """The client for a key (None: the main account) and a workspace (None: send no header)."""
        if (key, workspace) not in self._clients:
            self._clients[key, workspace] = self.dep.client(key, workspace)
        return self._clients[key, workspace]

    @property
    def admin(self) -> Api:
        return self.client()

    def subaccount(self, name: str, memberships: dict[str, str] | None = None) -> str:
        """Create a sub-account with roles in workspaces; return its API key."""
        key = self.admin.ok("POST", f"{API}/accounts", json={"name": name})["api_key"]
        for ws, role in (memberships or {}).items():
            self.admin.ok("PUT", f"{API}/workspaces/{ws}/members/{name}", json={"role": role})
        return key


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A refusal: the status and code, a message, a non-empty hint, and request_id == X-Request-Id."""
    request = response.request
    assert response.status_code == status, (
        f"{request.method} {request.url}: {response.status_code} {response.text}"
    )
    body = response.json()
    assert set(body) >= {"code", "message", "hint", "request_id"}, body
    assert body["code"] == code, body
    assert body["message"].strip() and body["hint"].strip(), body
    assert body["request_id"] and body["request_id"] == response.headers["x-request-id"], body
    return body


def make_workspaces(dep: Deck, *names: str) -> dict[str, str]:
    """Create workspaces as the main account; return name -> id (default included)."""
    main = dep.admin
    for name in names:
        main.ok("POST", f"{API}/workspaces", json={"name": name})
    return {ws["name"]: ws["id"] for ws in main.ok("GET", f"{API}/workspaces")["items"]}


def make_model(dep: Deck, workspace: str, name: str, version: str = "1.0.0") -> dict[str, Any]:
    """A model with a version at an external uri: predict passes authorization, then is 400 NotLocal."""
    owner = dep.client(None, workspace)
    model = owner.ok("POST", f"{API}/models", json={"model_name": name, "task": "text-classification"})
    owner.ok(
        "POST",
        f"{API}/models/{name}/versions",
        json={"version_name": version, "uri": f"oss://bucket/{name}/m.onnx"},
    )
    return model


def ws_names(api: Api) -> dict[str, str]:
    return {ws["name"]: ws["role"] for ws in api.ok("GET", f"{API}/workspaces")["items"]}


def is_authorized_predict(response: httpx.Response) -> bool:
    """Authorized = not 403; with an external uri that means 400 Inference.NotLocal."""
    if response.status_code == 403:
        assert_error(response, 403, "Model.AccessDenied")
        return False
    assert_error(response, 400, "Inference.NotLocal")
    return True


# ---- a shared world: `team` has model `m` and a member of each role; `other` is the grantee ---------

TEAM, OTHER = "team", "other"


@dataclass
class Team:
    """One workspace `team` with a model `m` and a member of each role; `other` as a grant target."""

    dep: Deck
    keys: dict[str, str | None] = field(default_factory=dict)
    _n: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def api(self, account: str, workspace: str | None = TEAM) -> Api:
        return self.dep.client(self.keys[account], workspace)

    @property
    def main(self) -> Api:
        return self.api("main")

    def n(self) -> int:
        return next(self._n)

    def version(self) -> str:
        name = f"0.0.{self.n()}"
        self.main.ok(
            "POST", f"{API}/models/m/versions", json={"version_name": name, "uri": "oss://bucket/m/x"}
        )
        return name

    def upload(self, data: bytes = b"", filled: bool = False, by: Api | None = None) -> tuple[str, bytes]:
        """An upload of `by`'s own (uploads are private to their account), or of main's where `by` may not
        start one: then `by` is refused on the role before the upload is looked at."""
        data = data or f"bytes {self.n()}".encode()
        owner = by if by is not None and by.post(f"{API}/uploads", json={"size": 0}).status_code == 201 else self.main
        upload = owner.ok("POST", f"{API}/uploads", json={"size": len(data)})
        if filled:
            owner.ok(
                "PATCH", f"{API}/uploads/{upload['id']}", content=data, headers={"Upload-Offset": "0"}
            )
        return upload["id"], data

    def blob(self) -> tuple[str, int]:
        upload_id, data = self.upload(filled=True)
        sha = hashlib.sha256(data).hexdigest()
        self.main.ok("POST", f"{API}/uploads/{upload_id}/complete", json={"sha256": sha})
        return sha, len(data)


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    deployment = deploy(Settings(home=tmp_path_factory.mktemp("authorization") / "home"))
    dep = Deck(deployment)
    t = Team(dep, keys={"main": None})
    make_workspaces(dep, TEAM, OTHER)
    for role in ("viewer", "developer", "admin"):
        t.keys[role] = dep.subaccount(role, {TEAM: role})
    t.keys["other-dev"] = dep.subaccount("other-dev", {OTHER: "developer"})
    t.keys["other-admin"] = dep.subaccount("other-admin", {OTHER: "admin"})
    # The admin also belongs to `other`, the grant target, where `spare` is too: a sub-account names only
    # workspaces it belongs to and accounts it shares a workspace with (docs/security.md).
    t.keys["spare"] = dep.subaccount("spare", {OTHER: "viewer"})
    dep.admin.ok("PUT", f"{API}/workspaces/{OTHER}/members/admin", json={"role": "viewer"})
    make_model(dep, TEAM, "m")
    yield t
    deployment.close()


# ---- entering a workspace (SQLite and PostgreSQL) ---------------------------------------------------


def test_sub_account_must_name_a_workspace_it_belongs_to(store_deployment: Deployment):
    """Sub-account: no, non-member or missing workspace: 403 Workspace.AccessDenied listing its workspaces."""
    dep = Deck(store_deployment)
    ids = make_workspaces(dep, "ws-a", "ws-b", "ws-c")
    key = dep.subaccount("dev", {"ws-a": "developer", "ws-b": "viewer"})

    no_ws = assert_error(dep.client(key).get(f"{API}/models"), 403, "Workspace.AccessDenied")
    for name in ("'ws-a'", "'ws-b'", WS_HEADER):
        assert name in no_ws["hint"]
    assert "ws-c" not in no_ws["hint"] and "default" not in no_ws["hint"]

    answers = []
    for ref in ("ws-c", ids["ws-c"], "default", "ws-nowhere", "ws-" + "0" * 12):
        for response in (
            dep.client(key, ref).get(f"{API}/models"),
            dep.client(key).get(f"{API}/workspaces/{ref}/members"),
        ):
            body = assert_error(response, 403, "Workspace.AccessDenied")
            assert body["hint"] == no_ws["hint"]
            answers.append(body["message"].replace(ref, "<ws>"))
    assert len(set(answers)) == 1, answers  # existing or not: the same answer but for the name

    for ref in ("ws-a", ids["ws-a"]):  # by name or by id, its own workspaces open
        assert dep.client(key, ref).ok("GET", f"{API}/whoami")["workspace"] == {
            "id": ids["ws-a"],
            "name": "ws-a",
            "role": "developer",
        }

    lonely = dep.subaccount("lonely")
    body = assert_error(dep.client(lonely).get(f"{API}/models"), 403, "Workspace.AccessDenied")
    assert "no workspace" in body["hint"] and "lonely" in body["hint"]
    assert (
        assert_error(dep.client(lonely, "ws-a").get(f"{API}/models"), 403, "Workspace.AccessDenied")["hint"]
        == body["hint"]
    )


def test_main_account_without_workspace_lands_in_default(store_deployment: Deployment):
    """Main-account key without a workspace acts in the default workspace, as admin; a missing one is 404."""
    dep = Deck(store_deployment)
    ids = make_workspaces(dep, "ws-a")
    main = dep.admin
    assert main.ok("GET", f"{API}/whoami")["workspace"] == {
        "id": ids["default"],
        "name": "default",
        "role": "admin",
    }
    made = main.ok("POST", f"{API}/models", json={"model_name": "landed"})
    assert made["owner_workspace"] == "default" and made["workspace_id"] == ids["default"]
    assert [m["model_name"] for m in dep.client(None, "default").ok("GET", f"{API}/models")["items"]] == [
        "landed"
    ]
    assert dep.client(None, "ws-a").ok("GET", f"{API}/models")["items"] == []
    assert dep.client(None, ids["ws-a"]).ok("GET", f"{API}/whoami")["workspace"]["name"] == "ws-a"
    assert_error(dep.client(None, "ws-nowhere").get(f"{API}/models"), 404, "Workspace.NotFound")


# ---- grants (the first on SQLite and PostgreSQL) ---------------------------------------------------


def test_model_access_denied_until_granted_and_again_after_revoke(store_deployment: Deployment):
    """No grant: Model.AccessDenied naming owner and grant; granting opens predict, revoking closes it."""
    dep = Deck(store_deployment)
    make_workspaces(dep, "ws-a", "ws-b")
    make_model(dep, "ws-a", "shared")
    dev_b = dep.client(dep.subaccount("dev-b", {"ws-b": "developer"}), "ws-b")
    owner = dep.client(None, "ws-a")

    def predict_calls() -> list[httpx.Response]:
        return [
            dev_b.post(f"{API}/models/shared/predict", json=PREDICT_BODY),
            dev_b.post(f"{API}/models/shared/versions/1.0.0/predict", json=PREDICT_BODY),
            dep.client(None, "ws-b").post(f"{API}/models/shared/predict", json=PREDICT_BODY),
        ]

    for response, precise in zip(predict_calls(), (False, False, True), strict=True):
        body = assert_error(response, 403, "Model.AccessDenied")
        assert "inference" in body["hint"] and "ws-b" in body["hint"]
        # only the main account learns the owner: to dev-b, outside ws-a, the model is as if missing
        assert ("'ws-a'" in body["hint"]) is precise
    assert dev_b.ok("GET", f"{API}/models")["items"] == []

    grant = owner.ok("PUT", f"{API}/models/shared/grants/ws-b", json={"actions": ["inference"]})
    assert (grant["workspace"], grant["actions"]) == ("ws-b", ["inference"])
    assert all(is_authorized_predict(r) for r in predict_calls())
    listed = dev_b.ok("GET", f"{API}/models")["items"]
    assert [(m["model_name"], m["source"], m["actions"]) for m in listed] == [
        ("shared", "granted", ["inference"])
    ]
    assert [g["workspace"] for g in owner.ok("GET", f"{API}/models/shared/grants")["items"]] == ["ws-b"]

    assert owner.delete(f"{API}/models/shared/grants/ws-b").status_code == 204
    assert not any(is_authorized_predict(r) for r in predict_calls())
    assert dev_b.ok("GET", f"{API}/models")["items"] == []
    assert_error(dev_b.get(f"{API}/models/shared"), 403, "Model.AccessDenied")
    assert owner.ok("GET", f"{API}/models/shared/grants")["items"] == []


def test_a_refusal_names_the_model_by_name_when_it_was_asked_for_by_id(deployment: Deployment):
    """The hint's fix commands read as the user does: `deck.authorize('shared', ...)`, never the id."""
    dep = Deck(deployment)
    make_workspaces(dep, "ws-a", "ws-b")
    model_id = make_model(dep, "ws-a", "shared")["id"]
    from_b = dep.client(None, "ws-b")
    refusals = [
        from_b.post(f"{API}/models/{model_id}/predict", json=PREDICT_BODY),
        from_b.put(f"{API}/models/{model_id}/grants/default", json={"actions": ["inference"]}),
    ]
    for response in refusals:
        body = assert_error(response, 403, "Model.AccessDenied")
        assert model_id not in body["message"] + body["hint"], body
        assert "deck.authorize('shared', " in body["hint"]


@pytest.mark.parametrize(
    ("actions", "inference_allowed"),
    [
        (["fine_tune"], False),
        (["deploy"], False),
        (["fine_tune", "deploy"], False),
        (["inference"], True),
        (["inference", "fine_tune"], True),
    ],
)
def test_only_an_inference_grant_allows_predict(team: Team, actions: list[str], inference_allowed: bool):
    """A grant allows exactly its actions: fine_tune or deploy alone never allow inference."""
    team.main.ok("PUT", f"{API}/models/m/grants/{OTHER}", json={"actions": actions})
    try:
        other_dev = team.api("other-dev", OTHER)
        response = other_dev.post(f"{API}/models/m/predict", json=PREDICT_BODY)
        assert is_authorized_predict(response) is inference_allowed
        if not inference_allowed:
            assert "inference" in response.json()["hint"] and f"'{TEAM}'" in response.json()["hint"]
        listed = {m["model_name"]: m for m in other_dev.ok("GET", f"{API}/models")["items"]}
        assert listed["m"]["source"] == "granted" and sorted(listed["m"]["actions"]) == sorted(actions)
    finally:
        team.main.delete(f"{API}/models/m/grants/{OTHER}")


def test_regranting_replaces_the_actions(team: Team):
    """PUT on a grant replaces its action set: inference then fine_tune leaves no inference."""
    other_dev = team.api("other-dev", OTHER)
    try:
        team.main.ok("PUT", f"{API}/models/m/grants/{OTHER}", json={"actions": ["inference"]})
        assert is_authorized_predict(other_dev.post(f"{API}/models/m/predict", json=PREDICT_BODY))
        team.main.ok("PUT", f"{API}/models/m/grants/{OTHER}", json={"actions": ["fine_tune"]})
        assert not is_authorized_predict(other_dev.post(f"{API}/models/m/predict", json=PREDICT_BODY))
    finally:
        team.main.delete(f"{API}/models/m/grants/{OTHER}")


GRANTERS = [  # (who, account, workspace sent, expected: 200 or the error code of a 403)
    ("main in the owning workspace", "main", TEAM, 200),
    ("admin of the owner", "admin", TEAM, 200),
    ("developer of the owner", "developer", TEAM, "AccessDenied"),
    ("viewer of the owner", "viewer", TEAM, "AccessDenied"),
    ("admin of the grantee, in the grantee", "other-admin", OTHER, "Model.AccessDenied"),
    ("main in the grantee", "main", OTHER, "Model.AccessDenied"),
    ("admin of the grantee, naming the owner", "other-admin", TEAM, "Workspace.AccessDenied"),
]


@pytest.mark.parametrize(("who", "account", "workspace", "expected"), GRANTERS, ids=[g[0] for g in GRANTERS])
def test_only_admins_of_the_owning_workspace_grant_and_revoke(
    team: Team, who: str, account: str, workspace: str, expected: Any
):
    """Grant and revoke need `authorize` in the workspace owning the model; a grantee cannot grant itself."""
    api = team.api(account, workspace)
    try:
        put = api.put(
            f"{API}/models/m/grants/{OTHER}", json={"actions": ["inference", "fine_tune", "deploy"]}
        )
        team.main.ok("PUT", f"{API}/models/m/grants/{OTHER}", json={"actions": ["inference"]})
        delete = api.delete(f"{API}/models/m/grants/{OTHER}")
        remaining = team.main.ok("GET", f"{API}/models/m/grants")["items"]
    finally:
        team.main.delete(f"{API}/models/m/grants/{OTHER}")
    if expected == 200:
        assert put.status_code == 200 and delete.status_code == 204, (put.text, delete.text)
        assert remaining == []
    else:
        body = assert_error(put, 403, expected)
        assert_error(delete, 403, expected)
        assert [(g["workspace"], g["actions"]) for g in remaining] == [(OTHER, ["inference"])]
        if expected == "Model.AccessDenied" and account == "main":  # who may learn of the model learns who
            assert f"An admin of workspace '{TEAM}'" in body["hint"] and f"deck.use('{TEAM}')" in body["hint"]
        elif expected == "Model.AccessDenied":  # to a sub-account outside the owner, as if it did not exist
            assert TEAM not in body["message"] + body["hint"]


@pytest.mark.parametrize(
    ("target", "actions", "status", "code"),
    [
        (TEAM, ["inference"], 400, "InvalidParameter.Grant"),  # the owner already may do everything
        ("ws-nowhere", ["inference"], 404, "Workspace.NotFound"),
        (OTHER, [], 400, "InvalidParameter.Grant"),
        (OTHER, ["train"], 400, "InvalidParameter.action"),
    ],
)
def test_grant_requests_are_validated(team: Team, target: str, actions: list[str], status: int, code: str):
    """A grant names another existing workspace and at least one known action."""
    assert_error(team.main.put(f"{API}/models/m/grants/{target}", json={"actions": actions}), status, code)
    assert team.main.ok("GET", f"{API}/models/m/grants")["items"] == []


# ---- authorization modes ----------------------------------------------------------------------------


def test_strict_mode_gives_sub_accounts_nothing_until_they_are_members(deployment: Deployment):
    """strict (the default): a sub-account enters no workspace, default included, until made a member."""
    dep = Deck(deployment)
    make_workspaces(dep, "ws-a", "ws-b")
    sam = dep.subaccount("sam")
    assert dep.admin.ok("GET", f"{API}/settings") == {"authorization_mode": "strict"}
    assert ws_names(dep.client(sam)) == {}
    for ws in ("default", "ws-a", "ws-b"):
        assert_error(dep.client(sam, ws).get(f"{API}/models"), 403, "Workspace.AccessDenied")
    dep.admin.ok("PUT", f"{API}/workspaces/ws-a/members/sam", json={"role": "viewer"})
    assert ws_names(dep.client(sam)) == {"ws-a": "viewer"}
    assert dep.client(sam, "ws-a").ok("GET", f"{API}/whoami")["workspace"]["role"] == "viewer"
    assert_error(dep.client(sam, "ws-b").get(f"{API}/models"), 403, "Workspace.AccessDenied")
    assert dep.admin.delete(f"{API}/workspaces/ws-a/members/sam").status_code == 204
    assert ws_names(dep.client(sam)) == {}
    assert_error(dep.client(sam, "ws-a").get(f"{API}/models"), 403, "Workspace.AccessDenied")


def test_loose_mode_makes_sub_accounts_developers_everywhere_until_removed(deployment: Deployment):
    """loose: sub-accounts are developers in every workspace; DELETE member records a removal that sticks."""
    dep = Deck(deployment)
    make_workspaces(dep, "ws-a", "ws-b")
    make_model(dep, "ws-b", "m")
    sam = dep.subaccount("sam")
    assert dep.admin.ok("PATCH", f"{API}/settings", json={"authorization_mode": "loose"}) == {
        "authorization_mode": "loose"
    }
    assert dep.client(sam).ok("GET", f"{API}/settings") == {"authorization_mode": "loose"}
    assert ws_names(dep.client(sam)) == {"default": "developer", "ws-a": "developer", "ws-b": "developer"}

    in_a = dep.client(sam, "ws-a")
    assert in_a.post(f"{API}/models", json={"model_name": "sams"}).status_code == 201  # register
    assert is_authorized_predict(dep.client(sam, "ws-b").post(f"{API}/models/m/predict", json=PREDICT_BODY))
    assert_error(dep.client(sam, "ws-b").post(f"{API}/models/m/versions/1.0.0/approve"), 403, "AccessDenied")
    assert_error(in_a.put(f"{API}/workspaces/ws-a/members/sam", json={"role": "admin"}), 403, "AccessDenied")
    assert_error(in_a.post(f"{API}/workspaces", json={"name": "ws-sam"}), 403, "AccessDenied")
    assert_error(dep.client(sam).get(f"{API}/models"), 403, "Workspace.AccessDenied")  # still must name one

    assert dep.admin.delete(f"{API}/workspaces/ws-a/members/sam").status_code == 204  # a recorded removal
    assert_error(in_a.get(f"{API}/models"), 403, "Workspace.AccessDenied")
    assert ws_names(dep.client(sam)) == {"default": "developer", "ws-b": "developer"}
    assert "sam" not in [
        m["name"] for m in dep.client(None, "ws-a").ok("GET", f"{API}/workspaces/ws-a/members")["items"]
    ]

    dep.admin.ok("PATCH", f"{API}/settings", json={"authorization_mode": "strict"})
    assert ws_names(dep.client(sam)) == {}
    assert_error(dep.client(sam, "ws-b").get(f"{API}/models"), 403, "Workspace.AccessDenied")
    dep.admin.ok("PATCH", f"{API}/settings", json={"authorization_mode": "loose"})
    assert ws_names(dep.client(sam)) == {"default": "developer", "ws-b": "developer"}  # the removal stuck

    dep.admin.ok("PUT", f"{API}/workspaces/ws-a/members/sam", json={"role": "admin"})
    assert in_a.ok("GET", f"{API}/whoami")["workspace"]["role"] == "admin"


def test_only_the_main_account_changes_the_authorization_mode(deployment: Deployment):
    """PATCH /settings is main-only (even an admin of default is refused) and takes strict or loose only."""
    dep = Deck(deployment)
    boss = dep.subaccount("boss", {"default": "admin"})
    for body in ({"authorization_mode": "loose"}, {"authorization_mode": "strict"}):
        assert_error(dep.client(boss, "default").patch(f"{API}/settings", json=body), 403, "AccessDenied")
    assert_error(
        dep.admin.patch(f"{API}/settings", json={"authorization_mode": "open"}),
        400,
        "InvalidParameter.authorizationmode",
    )
    assert dep.admin.ok("GET", f"{API}/settings") == {"authorization_mode": "strict"}


# ---- workspaces and the quota -----------------------------------------------------------------------


def test_workspace_quota_is_ten_including_default(store_deployment: Deployment):
    """9 workspaces beyond default succeed, the next is 403 Workspace.QuotaExceeded; a deletion frees one."""
    dep = Deck(store_deployment)
    main = dep.admin
    for i in range(1, 10):
        assert main.post(f"{API}/workspaces", json={"name": f"ws-{i}"}).status_code == 201
    assert len(ws_names(main)) == 10
    assert_error(main.post(f"{API}/workspaces", json={"name": "ws-10"}), 403, "Workspace.QuotaExceeded")
    boss = dep.subaccount("boss", {"default": "admin"})  # the quota is the account's, whoever creates
    assert_error(
        dep.client(boss).post(f"{API}/workspaces", json={"name": "ws-10"}), 403, "Workspace.QuotaExceeded"
    )
    assert len(ws_names(main)) == 10
    assert main.delete(f"{API}/workspaces/ws-5").status_code == 204
    assert main.post(f"{API}/workspaces", json={"name": "ws-10"}).status_code == 201
    assert_error(main.post(f"{API}/workspaces", json={"name": "ws-11"}), 403, "Workspace.QuotaExceeded")
    assert set(ws_names(main)) == {"default", *(f"ws-{i}" for i in range(1, 11) if i != 5)}


def test_workspace_quota_holds_under_concurrent_creates(store_deployment: Deployment):
    """Six concurrent creates with two slots left: exactly two succeed, four get Workspace.QuotaExceeded."""
    dep = Deck(store_deployment)
    for i in range(1, 8):
        dep.admin.ok("POST", f"{API}/workspaces", json={"name": f"ws-{i}"})
    clients = [dep.dep.client() for _ in range(6)]  # one connection each, really concurrent
    barrier = threading.Barrier(len(clients))
    results: dict[int, httpx.Response] = {}

    def create(i: int) -> None:
        barrier.wait()
        results[i] = clients[i].post(f"{API}/workspaces", json={"name": f"race-{i}"})

    threads = [threading.Thread(target=create, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    statuses = sorted(r.status_code for r in results.values())
    assert statuses == [201, 201, 403, 403, 403, 403], [r.text for r in results.values()]
    for r in results.values():
        if r.status_code == 403:
            assert_error(r, 403, "Workspace.QuotaExceeded")
    assert len(ws_names(dep.admin)) == 10


def test_workspace_lifecycle_rules(deployment: Deployment):
    """Duplicate name 409, default undeletable, non-empty 409; other sub-accounts create no workspace."""
    dep = Deck(deployment)
    main = dep.admin
    main.ok("POST", f"{API}/workspaces", json={"name": "ws-a", "description": "first"})
    assert_error(main.post(f"{API}/workspaces", json={"name": "ws-a"}), 409, "Workspace.AlreadyExists")
    main.ok("POST", f"{API}/workspaces", json={"name": "ws-b"})
    assert_error(main.patch(f"{API}/workspaces/ws-b", json={"name": "ws-a"}), 409, "Workspace.AlreadyExists")
    assert (
        main.ok("PATCH", f"{API}/workspaces/ws-a", json={"description": "changed"})["description"]
        == "changed"
    )
    assert main.ok("GET", f"{API}/workspaces/ws-a")["description"] == "changed"
    assert_error(main.delete(f"{API}/workspaces/default"), 400, "Workspace.DefaultUndeletable")
    make_model(dep, "ws-a", "keeps-it")
    assert_error(main.delete(f"{API}/workspaces/ws-a"), 409, "Workspace.NotEmpty")
    assert dep.client(None, "ws-a").delete(f"{API}/models/keeps-it").status_code == 204
    assert main.delete(f"{API}/workspaces/ws-a").status_code == 204

    for name, roles in (("dev", {"default": "developer"}), ("ws-admin", {"ws-b": "admin"}), ("nobody", {})):
        key = dep.subaccount(name, roles)
        workspace = next(iter(roles), None)
        assert_error(
            dep.client(key, workspace).post(f"{API}/workspaces", json={"name": f"by-{name}"}),
            403,
            "AccessDenied",
        )
        assert_error(
            dep.client(key, workspace).post(f"{API}/accounts", json={"name": f"minion-{name}"}),
            403,
            "AccessDenied",
        )
    assert set(ws_names(main)) == {"default", "ws-b"}


def test_an_admin_of_default_creates_workspaces(store_deployment: Deployment):
    """Besides the main account, an admin of the default workspace creates workspaces, and is their admin."""
    dep = Deck(store_deployment)
    boss = dep.subaccount("boss", {"default": "admin"})
    made = dep.client(boss).post(f"{API}/workspaces", json={"name": "bosses", "description": "made by boss"})
    assert made.status_code == 201, made.text
    assert (made.json()["name"], made.json()["role"]) == ("bosses", "admin")
    assert ws_names(dep.client(boss)) == {"default": "admin", "bosses": "admin"}
    assert dep.client(boss, "bosses").ok("GET", f"{API}/whoami")["workspace"]["role"] == "admin"


def test_a_workspace_id_always_names_that_workspace(deployment: Deployment):
    """An admin of ws-a cannot take ws-b's id as ws-a's name and so capture requests naming ws-b by id."""
    dep = Deck(deployment)
    ids = make_workspaces(dep, "ws-a", "ws-b")
    make_model(dep, "default", "gift")
    admin_a = dep.client(dep.subaccount("admin-a", {"ws-a": "admin"}), "ws-a")
    dev_b = dep.client(dep.subaccount("dev-b", {"ws-b": "developer"}), ids["ws-b"])
    rename = admin_a.patch(f"{API}/workspaces/ws-a", json={"name": ids["ws-b"]})  # refused, or harmless:
    got = dep.admin.ok("GET", f"{API}/workspaces/{ids['ws-b']}")
    assert got["id"] == ids["ws-b"], f"ws-b's id now names {got} (rename answered {rename.status_code})"
    grant = dep.admin.ok("PUT", f"{API}/models/gift/grants/{ids['ws-b']}", json={"actions": ["inference"]})
    assert grant["workspace_id"] == ids["ws-b"], f"a grant to ws-b's id went to {grant['workspace']}"
    assert dev_b.ok("GET", f"{API}/whoami")["workspace"]["id"] == ids["ws-b"]


# ---- roles ------------------------------------------------------------------------------------------


def _cleanup_model(t: Team, response: httpx.Response) -> httpx.Response:
    if response.status_code == 201:
        t.main.ok("DELETE", f"{API}/models/{response.json()['id']}")
    return response


def _with_version(act: Callable[[Team, Api, str], httpx.Response]) -> Callable[[Team, Api], httpx.Response]:
    def probe(t: Team, api: Api) -> httpx.Response:
        version = t.version()
        try:
            return act(t, api, version)
        finally:
            t.main.delete(f"{API}/models/m/versions/{version}")

    return probe


def _create_model(t: Team, api: Api) -> httpx.Response:
    return _cleanup_model(t, api.post(f"{API}/models", json={"model_name": f"new-{t.n()}"}))


def _register(t: Team, api: Api) -> httpx.Response:
    response = api.post(f"{API}/models/m/versions", json={"uri": "oss://bucket/m/new"})
    if response.status_code == 201:
        t.main.ok("DELETE", f"{API}/models/m/versions/{response.json()['version_name']}")
    return response


def _append(t: Team, api: Api) -> httpx.Response:
    upload_id, data = t.upload(by=api)
    return api.patch(f"{API}/uploads/{upload_id}", content=data, headers={"Upload-Offset": "0"})


def _complete(t: Team, api: Api) -> httpx.Response:
    upload_id, data = t.upload(filled=True, by=api)
    return api.post(f"{API}/uploads/{upload_id}/complete", json={"sha256": hashlib.sha256(data).hexdigest()})


def _abort(t: Team, api: Api) -> httpx.Response:
    upload_id, _ = t.upload(filled=True, by=api)
    return api.delete(f"{API}/uploads/{upload_id}")


def _artifact(t: Team, api: Api) -> httpx.Response:
    sha, size = t.blob()
    return api.post(f"{API}/artifacts", json={"files": [{"path": "model.onnx", "sha256": sha, "size": size}]})


def _grant(t: Team, api: Api) -> httpx.Response:
    try:
        return api.put(f"{API}/models/m/grants/{OTHER}", json={"actions": ["inference"]})
    finally:
        t.main.delete(f"{API}/models/m/grants/{OTHER}")


def _revoke(t: Team, api: Api) -> httpx.Response:
    t.main.ok("PUT", f"{API}/models/m/grants/{OTHER}", json={"actions": ["inference"]})
    try:
        return api.delete(f"{API}/models/m/grants/{OTHER}")
    finally:
        t.main.delete(f"{API}/models/m/grants/{OTHER}")


def _set_member(t: Team, api: Api) -> httpx.Response:
    try:
        return api.put(f"{API}/workspaces/{TEAM}/members/spare", json={"role": "viewer"})
    finally:
        t.main.delete(f"{API}/workspaces/{TEAM}/members/spare")


def _remove_member(t: Team, api: Api) -> httpx.Response:
    t.main.ok("PUT", f"{API}/workspaces/{TEAM}/members/spare", json={"role": "viewer"})
    try:
        return api.delete(f"{API}/workspaces/{TEAM}/members/spare")
    finally:
        t.main.delete(f"{API}/workspaces/{TEAM}/members/spare")


def _delete_model(t: Team, api: Api) -> httpx.Response:
    made = t.main.ok("POST", f"{API}/models", json={"model_name": f"doomed-{t.n()}"})
    try:
        return api.delete(f"{API}/models/{made['id']}")
    finally:
        t.main.delete(f"{API}/models/{made['id']}")


PROBES: list[tuple[str, str, Callable[[Team, Api], httpx.Response], int]] = [
    # (permission it needs, name, call, status when allowed)
    ("list", "list models", lambda t, a: a.get(f"{API}/models"), 200),
    ("list", "get model", lambda t, a: a.get(f"{API}/models/m"), 200),
    ("list", "list versions", lambda t, a: a.get(f"{API}/models/m/versions"), 200),
    ("list", "get version", lambda t, a: a.get(f"{API}/models/m/versions/1.0.0"), 200),
    ("list", "list members", lambda t, a: a.get(f"{API}/workspaces/{TEAM}/members"), 200),
    ("list", "get workspace", lambda t, a: a.get(f"{API}/workspaces/{TEAM}"), 200),
    ("register", "create model", _create_model, 201),
    ("register", "register version", _register, 201),
    ("register", "update model", lambda t, a: a.patch(f"{API}/models/m", json={"description": "d"}), 200),
    (
        "register",
        "update version",
        lambda t, a: a.patch(f"{API}/models/m/versions/1.0.0", json={"description": "d"}),
        200,
    ),
    ("register", "create upload", lambda t, a: a.post(f"{API}/uploads", json={"size": 3}), 201),
    ("register", "append to upload", _append, 204),
    ("register", "complete upload", _complete, 200),
    ("register", "abort upload", _abort, 204),
    ("register", "create artifact", _artifact, 201),
    (
        "approve",
        "approve version",
        _with_version(lambda t, a, v: a.post(f"{API}/models/m/versions/{v}/approve")),
        200,
    ),
    (
        "approve",
        "reject version",
        _with_version(lambda t, a, v: a.post(f"{API}/models/m/versions/{v}/reject")),
        200,
    ),
    ("invoke", "predict", lambda t, a: a.post(f"{API}/models/m/predict", json=PREDICT_BODY), 400),
    (
        "invoke",
        "predict version",
        lambda t, a: a.post(f"{API}/models/m/versions/1.0.0/predict", json=PREDICT_BODY),
        400,
    ),
    ("authorize", "grant", _grant, 200),
    ("authorize", "revoke", _revoke, 204),
    ("manage", "set member", _set_member, 200),
    ("manage", "remove member", _remove_member, 204),
    (
        "manage",
        "update workspace",
        lambda t, a: a.patch(f"{API}/workspaces/{TEAM}", json={"description": "d"}),
        200,
    ),
    (
        "manage",
        "delete version",
        _with_version(lambda t, a, v: a.delete(f"{API}/models/m/versions/{v}")),
        204,
    ),
    ("manage", "delete model", _delete_model, 204),
    (
        "manage",
        "delete workspace",
        lambda t, a: a.delete(f"{API}/workspaces/{TEAM}"),
        409,
    ),  # owns `m`: NotEmpty
]
ALLOWED_CODES = {400: "Inference.NotLocal", 409: "Workspace.NotEmpty"}
ROLE_CASES = [(role, *probe) for role in ROLE_PERMISSIONS for probe in PROBES]


@pytest.mark.parametrize(
    ("role", "permission", "name", "call", "ok_status"),
    ROLE_CASES,
    ids=[f"{r}-{n}" for r, _, n, _, _ in ROLE_CASES],
)
def test_role_permissions(team: Team, role: str, permission: str, name: str, call: Any, ok_status: int):
    """viewer lists; developer also registers and invokes; admin (and main) do all; else 403 AccessDenied."""
    response = call(team, team.api(role))
    if permission in ROLE_PERMISSIONS[role]:
        if ok_status in ALLOWED_CODES:
            assert_error(response, ok_status, ALLOWED_CODES[ok_status])
        else:
            assert response.status_code == ok_status, f"{role} {name}: {response.status_code} {response.text}"
    else:
        body = assert_error(response, 403, "AccessDenied")
        assert f"'{permission}'" in body["message"] + body["hint"], body
        allowed_roles = [r for r in ("viewer", "developer", "admin") if permission in ROLE_PERMISSIONS[r]]
        assert all(r in body["hint"] for r in allowed_roles), body


# ---- API keys ---------------------------------------------------------------------------------------


def test_revoked_key_gets_401(deployment: Deployment):
    """A revoked key is 401 InvalidApiKey at once; the account's other keys keep working; keys are private."""
    dep = Deck(deployment)
    make_workspaces(dep, "ws-a")
    first = dep.subaccount("dev", {"ws-a": "developer"})
    second = dep.admin.ok("POST", f"{API}/accounts/dev/keys")["api_key"]
    keys = dep.admin.ok("GET", f"{API}/accounts/dev/keys")["items"]
    assert len(keys) == 2 and all("api_key" not in k and k["revoked_at"] is None for k in keys)
    by_prefix = {k["prefix"].rstrip("…"): k["id"] for k in keys}
    first_id = next(i for p, i in by_prefix.items() if first.startswith(p))
    second_id = next(i for p, i in by_prefix.items() if second.startswith(p))

    nosy = dep.subaccount("nosy", {"ws-a": "admin"})
    assert_error(dep.client(nosy).get(f"{API}/accounts/dev/keys"), 403, "AccessDenied")
    assert_error(dep.client(nosy).post(f"{API}/accounts/dev/keys"), 403, "AccessDenied")
    assert_error(dep.client(nosy).delete(f"{API}/keys/{first_id}"), 404, "ApiKey.NotFound")
    dep.client(first, "ws-a").ok("GET", f"{API}/models")

    assert dep.admin.ok("DELETE", f"{API}/keys/{first_id}")["revoked_at"]
    assert_error(dep.client(first, "ws-a").get(f"{API}/models"), 401, "InvalidApiKey")
    assert_error(dep.client(first).get(f"{API}/whoami"), 401, "InvalidApiKey")
    assert dep.client(second, "ws-a").ok("GET", f"{API}/whoami")["account"]["name"] == "dev"

    assert dep.client(second).ok("DELETE", f"{API}/keys/{second_id}")["revoked_at"]  # a key may revoke itself
    assert_error(dep.client(second, "ws-a").get(f"{API}/models"), 401, "InvalidApiKey")
    assert all(k["revoked_at"] for k in dep.admin.ok("GET", f"{API}/accounts/dev/keys")["items"])


# ---- the shape of every refusal ---------------------------------------------------------------------


def _raw(t: Team, headers: dict[str, str]) -> httpx.Response:
    """GET /models with exactly these headers (no bearer key added)."""
    with httpx.Client(base_url=t.dep.url, headers=headers, timeout=30) as client:
        return client.get(f"{API}/models")


ERRORS: list[tuple[str, Callable[[Team], httpx.Response], int, str]] = [
    ("no key", lambda t: _raw(t, {}), 401, "InvalidApiKey"),
    ("unknown key", lambda t: _raw(t, {"Authorization": "Bearer mdk-not-a-key"}), 401, "InvalidApiKey"),
    (
        "basic auth",
        lambda t: _raw(t, {"Authorization": f"Basic {t.dep.dep.admin_key}"}),
        401,
        "InvalidApiKey",
    ),
    (
        "sub-account, no workspace",
        lambda t: t.dep.client(t.keys["viewer"]).get(f"{API}/models"),
        403,
        "Workspace.AccessDenied",
    ),
    (
        "sub-account, not a member",
        lambda t: t.dep.client(t.keys["viewer"], OTHER).get(f"{API}/models"),
        403,
        "Workspace.AccessDenied",
    ),
    (
        "role lacks permission",
        lambda t: t.api("viewer").post(f"{API}/models", json={"model_name": "x"}),
        403,
        "AccessDenied",
    ),
    (
        "model of another workspace",
        lambda t: t.dep.client(None, OTHER).post(f"{API}/models/m/predict", json=PREDICT_BODY),
        403,
        "Model.AccessDenied",
    ),
    (
        "main-only action",
        lambda t: t.api("admin").post(f"{API}/accounts", json={"name": "x"}),
        403,
        "AccessDenied",
    ),
    ("missing model", lambda t: t.main.get(f"{API}/models/nope"), 404, "Model.NotFound"),
    ("missing version", lambda t: t.main.get(f"{API}/models/m/versions/9.9.9"), 404, "Version.NotFound"),
    (
        "missing workspace (main)",
        lambda t: t.dep.client(None, "nowhere").get(f"{API}/models"),
        404,
        "Workspace.NotFound",
    ),
    (
        "duplicate workspace",
        lambda t: t.main.post(f"{API}/workspaces", json={"name": TEAM}),
        409,
        "Workspace.AlreadyExists",
    ),
    (
        "default undeletable",
        lambda t: t.main.delete(f"{API}/workspaces/default"),
        400,
        "Workspace.DefaultUndeletable",
    ),
    (
        "bad cursor",
        lambda t: t.main.get(f"{API}/models", params={"cursor": "x.y"}),
        400,
        "InvalidParameter.Cursor",
    ),
    ("no such route", lambda t: t.main.get(f"{API}/nothing-here"), 404, "NotFound"),
    ("wrong method", lambda t: t.main.put(f"{API}/models"), 405, "MethodNotAllowed"),
    ("missing field", lambda t: t.main.post(f"{API}/models", json={}), 400, "InvalidParameter"),
    (
        "malformed JSON",
        lambda t: t.main.post(f"{API}/models", content=b"{", headers={"Content-Type": "application/json"}),
        400,
        "InvalidParameter.Body",
    ),
    (
        "body too large",
        lambda t: t.main.post(
            f"{API}/models", content=b"x" * (2 << 20), headers={"Content-Type": "application/json"}
        ),
        413,
        "RequestTooLarge",
    ),
]


@pytest.mark.parametrize(("name", "call", "status", "code"), ERRORS, ids=[e[0] for e in ERRORS])
def test_every_refusal_has_code_message_hint_and_request_id(
    team: Team, name: str, call: Any, status: int, code: str
):
    """Errors are JSON {code, message, hint, request_id}: a non-empty hint, request_id == X-Request-Id."""
    assert_error(call(team), status, code)
