"""Workspace isolation over real HTTP.

One world per module: workspaces ws-a and ws-b (plus default), private models in each, one grant (ws-a's
`alpha-granted` to ws-b, inference only), and sub-accounts with every kind of standing. A table says which
status every (caller, workspace, endpoint) must get; every body a caller receives is then searched for
traces of models its workspace may not see. The same table holds for each caller signing with its AccessKey
pair (ACS3-HMAC-SHA256) instead of sending its bearer key. Further tests cover listings, paging, cursors, the
no-existence-leak rule for workspaces, and uploads/artifacts, which belong to the workspace that uploaded them.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import itertools
import json
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from conftest import Api, Deployment, deploy

from modeldeck.platform import Settings
from modeldeck.providers.auth import ACS3Auth

API = "/api/v1"
WS_A, WS_B, DEFAULT = "ws-a", "ws-b", "default"

# Model names interleave alphabetically, so paging in ws-b would trip over a private model of ws-a.
GRANTED = "alpha-granted"  # ws-a, PRIVATE, granted to ws-b for inference only
SECRET_1 = "alpha-secret"  # ws-a, PRIVATE, granted to nobody
SECRET_2 = "zeta-secret"  # ws-a, PRIVATE, granted to nobody
PUBLIC = "mid-public"  # ws-a, PUBLIC: listed in every workspace, callable in none but its own
OWN_B = "beta-model"  # ws-b, PRIVATE

# name -> (owning workspace, accessibility, version names oldest first)
MODELS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    GRANTED: (WS_A, "PRIVATE", ("3.0.0_alpha", "3.1.4_alpha")),
    SECRET_1: (WS_A, "PRIVATE", ("2.7.1_hidden",)),
    SECRET_2: (WS_A, "PRIVATE", ("1.6.1_hidden",)),
    PUBLIC: (WS_A, "PUBLIC", ("1.0.0_pub",)),
    OWN_B: (WS_B, "PRIVATE", ("4.2.0_beta",)),
}
BASELINE_GRANTS = {GRANTED: {WS_B: ["inference"]}}
TARGET_MODEL = {WS_A: GRANTED, WS_B: OWN_B}  # the model the matrix aims at in each workspace

MEMBERSHIPS: dict[str, dict[str, str]] = {  # sub-accounts; "main" is admin everywhere
    # admin-a also sees default (so it may grant to it, and knows `spare`, a member there): a sub-account
    # names only workspaces it belongs to and accounts it shares a workspace with.
    "admin-a": {WS_A: "admin", DEFAULT: "viewer"},
    "dev-a": {WS_A: "developer"},
    "viewer-a": {WS_A: "viewer"},
    "outsider": {},
    "dev-b": {WS_B: "developer"},
    "spare": {DEFAULT: "viewer"},  # only ever the target of membership changes
}
ACTORS = ("main", "admin-a", "dev-a", "viewer-a", "outsider", "dev-b")

# actor -> scope -> (workspace sent in X-ModelDeck-Workspace, workspace whose resources the call targets).
#   own:     the caller's workspace, its own resources
#   foreign: the other workspace, that workspace's resources
#   cross:   the caller's workspace, naming the other workspace's model / artifact
# The outsider has no workspace: "own" sends no header; "cross" stands in a workspace that exists.
_A_SIDE = {"own": (WS_A, WS_A), "foreign": (WS_B, WS_B), "cross": (WS_A, WS_B)}
SCOPES: dict[str, dict[str, tuple[str | None, str]]] = {
    "main": _A_SIDE,
    "admin-a": _A_SIDE,
    "dev-a": _A_SIDE,
    "viewer-a": _A_SIDE,
    "dev-b": {"own": (WS_B, WS_B), "foreign": (WS_A, WS_A), "cross": (WS_B, WS_A)},
    "outsider": {"own": (None, WS_A), "foreign": (WS_A, WS_A), "cross": (DEFAULT, WS_B)},
}

# ---- the expected-status table ----------------------------------------------------------------------
#
# Columns (endpoint families):
#   list GET models          get  GET model           lsv  GET versions        gtv  GET version
#   crm  POST model          reg  POST version        apr  approve version     upd  PATCH model
#   dlv  DELETE version      auth PUT grant           rev  DELETE grant        pred predict
#   lgr  GET grants          lmem GET members         smem PUT member          upws PATCH workspace
#   dlws DELETE workspace    upl  POST upload         gart GET artifact        dart GET artifact file
# Cells:
#   a status code: 400 for pred is Inference.NotLocal (authorized, then no local checkpoint); 409 for
#   dlws is Workspace.NotEmpty (authorized, but the workspace owns models); 404 for gart/dart is
#   Artifact.NotFound (artifacts belong to the workspace that uploaded them).
#   W, A, M: 403 with code Workspace.AccessDenied, AccessDenied, Model.AccessDenied.
#   -: not applicable (the call names no resource of another workspace; cross == own or == foreign).
# Derived from the rules: roles give viewer {list}, developer {list, register, invoke}, admin everything;
# the main account is admin everywhere; changing a model needs ownership (M); using one needs ownership or a
# grant of that action (M); a sub-account outside its workspaces gets W before anything else.
TABLE = """
actor    scope   list get lsv gtv crm reg apr upd dlv auth rev pred lgr lmem smem upws dlws upl gart dart
main     own     200  200 200 200 201 201 200 200 204 200  204 400  200 200  200  200  409  201 200  200
main     foreign 200  200 200 200 201 201 200 200 204 200  204 400  200 200  200  200  409  201 200  200
main     cross   -    M   M   M   -   M   M   M   M   M    M   M    M   -    -    -    -    -   404  404
admin-a  own     200  200 200 200 201 201 200 200 204 200  204 400  200 200  200  200  409  201 200  200
admin-a  foreign W    W   W   W   W   W   W   W   W   W    W   W    W   W    W    W    W    W   W    W
admin-a  cross   -    M   M   M   -   M   M   M   M   M    M   M    M   -    -    -    -    -   404  404
dev-a    own     200  200 200 200 201 201 A   200 A   A    A   400  200 200  A    A    A    201 200  200
dev-a    foreign W    W   W   W   W   W   W   W   W   W    W   W    W   W    W    W    W    W   W    W
dev-a    cross   -    M   M   M   -   M   A   M   A   A    A   M    M   -    -    -    -    -   404  404
viewer-a own     200  200 200 200 A   A   A   A   A   A    A   A    200 200  A    A    A    A   200  200
viewer-a foreign W    W   W   W   W   W   W   W   W   W    W   W    W   W    W    W    W    W   W    W
viewer-a cross   -    M   M   M   -   A   A   A   A   A    A   A    M   -    -    -    -    -   404  404
outsider own     W    W   W   W   W   W   W   W   W   W    W   W    W   W    W    W    W    W   W    W
outsider foreign W    W   W   W   W   W   W   W   W   W    W   W    W   W    W    W    W    W   W    W
outsider cross   -    W   W   W   -   W   W   W   W   W    W   W    W   -    -    -    -    -   W    W
dev-b    own     200  200 200 200 201 201 A   200 A   A    A   400  200 200  A    A    A    201 200  200
dev-b    foreign W    W   W   W   W   W   W   W   W   W    W   W    W   W    W    W    W    W   W    W
dev-b    cross   -    200 200 200 -   M   A   M   A   A    A   400  M   -    -    -    -    -   404  404
"""
DENIALS = {"W": "Workspace.AccessDenied", "A": "AccessDenied", "M": "Model.AccessDenied"}
CODES_FOR_STATUS = {
    ("pred", 400): "Inference.NotLocal",
    ("dlws", 409): "Workspace.NotEmpty",
    ("gart", 404): "Artifact.NotFound",
    ("dart", 404): "Artifact.NotFound",
}


def parse_table(table: str) -> list[tuple[str, str, str, str]]:
    header, *rows = [line.split() for line in table.strip().splitlines()]
    families = header[2:]
    cases = []
    for actor, scope, *cells in rows:
        assert len(cells) == len(families), f"row {actor} {scope} has {len(cells)} cells"
        cases += [(actor, scope, fam, cell) for fam, cell in zip(families, cells, strict=True) if cell != "-"]
    return cases


CASES = parse_table(TABLE)


# ---- the world ----------------------------------------------------------------------------------------


@dataclass
class Case:
    """One caller in one scope: whom it is, which header it sends, what it aims at."""

    actor: str
    scope: str
    header: str | None
    target: str  # workspace whose resources are named
    api: Api
    model: str
    version: str
    artifact: dict[str, Any]

    @property
    def grantee(self) -> str:
        """Grants aim at `default` normally; in cross scope the caller tries to grant its own workspace."""
        return self.header if self.scope == "cross" and self.header else DEFAULT


@dataclass
class World:
    dep: Deployment
    keys: dict[str, str] = field(default_factory=dict)
    pairs: dict[str, dict[str, Any]] = field(default_factory=dict)  # actor -> its AccessKey {id, secret}
    ids: dict[str, str] = field(default_factory=dict)  # workspace or model name -> id
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)  # workspace -> artifact + its file
    _clients: dict[tuple[str, str | None, bool], Api] = field(default_factory=dict)
    _n: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def api(self, actor: str, workspace: str | None, signed: bool = False) -> Api:
        """The actor's client: its bearer key, or (`signed`) its AccessKey signing every request."""
        if (actor, workspace, signed) not in self._clients:
            api = self.dep.client("" if signed else self.keys[actor], workspace)  # "": no bearer header
            if signed:
                api.auth = ACS3Auth(self.pairs[actor]["id"], self.pairs[actor]["secret"])
            self._clients[actor, workspace, signed] = api
        return self._clients[actor, workspace, signed]

    def main(self, workspace: str | None = None) -> Api:
        return self.api("main", workspace)

    def owner(self, model: str) -> Api:
        """The main account in the workspace that owns the model."""
        return self.main(MODELS[model][0])

    def fresh(self, prefix: str) -> str:
        return f"{prefix}-{next(self._n)}"

    def uri(self) -> str:
        return f"oss://checkpoints/run-{next(self._n)}/model.onnx"

    def case(self, actor: str, scope: str, signed: bool = False) -> Case:
        header, target = SCOPES[actor][scope]
        model = TARGET_MODEL[target]
        return Case(
            actor,
            scope,
            header,
            target,
            self.api(actor, header, signed),
            model,
            MODELS[model][2][-1],
            self.artifacts[target],
        )

    def temp_version(self, model: str) -> str:
        name = f"0.0.{next(self._n)}"
        self.owner(model).ok(
            "POST", f"{API}/models/{model}/versions", json={"version_name": name, "uri": self.uri()}
        )
        return name

    def drop_version(self, model: str, version: str) -> None:
        response = self.owner(model).delete(f"{API}/models/{model}/versions/{version}")
        assert response.status_code in (204, 404), response.text

    def restore_grants(self, model: str) -> None:
        """Put the model's grants back to the baseline, whatever a test did to them."""
        owner = self.owner(model)
        baseline = BASELINE_GRANTS.get(model, {})
        for grant in owner.ok("GET", f"{API}/models/{model}/grants")["items"]:
            if grant["workspace"] not in baseline:
                owner.ok("DELETE", f"{API}/models/{model}/grants/{grant['workspace']}")
        for ws, actions in baseline.items():
            owner.ok("PUT", f"{API}/models/{model}/grants/{ws}", json={"actions": actions})

    def tokens(self, model: str) -> set[str]:
        """What would betray a model: its name, its id, its version names."""
        return {model, self.ids[model], *MODELS[model][2]}

    def visible(self, workspace: str | None) -> set[str]:
        """The models a workspace may see: owned, granted to it, or PUBLIC."""
        if workspace is None:
            return set()
        return {
            name
            for name, (owner, access, _) in MODELS.items()
            if owner == workspace or access == "PUBLIC" or workspace in BASELINE_GRANTS.get(name, {})
        }


def upload_artifact(api: Api, data: bytes, path: str) -> dict[str, Any]:
    """Upload bytes in two pieces, complete with their sha256, bind them into an artifact."""
    sha = hashlib.sha256(data).hexdigest()
    upload = api.ok("POST", f"{API}/uploads", json={"size": len(data)})
    half = len(data) // 2
    api.ok("PATCH", f"{API}/uploads/{upload['id']}", content=data[:half], headers={"Upload-Offset": "0"})
    api.ok(
        "PATCH", f"{API}/uploads/{upload['id']}", content=data[half:], headers={"Upload-Offset": str(half)}
    )
    assert api.ok("POST", f"{API}/uploads/{upload['id']}/complete", json={"sha256": sha})["sha256"] == sha
    artifact = api.ok(
        "POST", f"{API}/artifacts", json={"files": [{"path": path, "sha256": sha, "size": len(data)}]}
    )
    return {**artifact, "path": path, "sha256": sha, "data": data}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    dep = deploy(Settings(home=tmp_path_factory.mktemp("isolation") / "home"))
    w = World(dep, keys={"main": dep.admin_key})
    main = w.main()
    for ws in (WS_A, WS_B):
        w.ids[ws] = main.ok(
            "POST", f"{API}/workspaces", json={"name": ws, "description": f"{ws} of the world"}
        )["id"]
    w.ids[DEFAULT] = next(x["id"] for x in main.ok("GET", f"{API}/workspaces")["items"] if x["is_default"])
    for actor, roles in MEMBERSHIPS.items():
        w.keys[actor] = main.ok("POST", f"{API}/accounts", json={"name": actor})["api_key"]
        for ws, role in roles.items():
            main.ok("PUT", f"{API}/workspaces/{ws}/members/{actor}", json={"role": role})
    for actor in ACTORS:
        w.pairs[actor] = w.api(actor, None).ok("POST", f"{API}/access-keys", json={"description": "matrix"})
    for name, (ws, access, versions) in MODELS.items():
        owner = w.main(ws)
        model = owner.ok(
            "POST",
            f"{API}/models",
            json={"model_name": name, "task": "image-classification", "accessibility": access},
        )
        w.ids[name] = model["id"]
        for version in versions:
            owner.ok(
                "POST",
                f"{API}/models/{name}/versions",
                json={"version_name": version, "uri": w.uri(), "format_type": "ONNX"},
            )
    for model in BASELINE_GRANTS:
        w.restore_grants(model)
    for ws in (WS_A, WS_B):
        w.artifacts[ws] = upload_artifact(w.main(ws), f"weights that belong to {ws}".encode(), "model.onnx")
    yield w
    dep.close()


# ---- the endpoint families ----------------------------------------------------------------------------


def f_list(w: World, c: Case) -> httpx.Response:
    return c.api.get(f"{API}/models")


def f_get(w: World, c: Case) -> httpx.Response:
    return c.api.get(f"{API}/models/{c.model}")


def f_lsv(w: World, c: Case) -> httpx.Response:
    return c.api.get(f"{API}/models/{c.model}/versions")


def f_gtv(w: World, c: Case) -> httpx.Response:
    return c.api.get(f"{API}/models/{c.model}/versions/{c.version}")


def f_crm(w: World, c: Case) -> httpx.Response:
    response = c.api.post(
        f"{API}/models", json={"model_name": w.fresh("scratch"), "task": "text-classification"}
    )
    if response.status_code == 201:
        made = response.json()
        w.main(made["owner_workspace"]).ok("DELETE", f"{API}/models/{made['id']}")
    return response


def f_reg(w: World, c: Case) -> httpx.Response:
    response = c.api.post(f"{API}/models/{c.model}/versions", json={"uri": w.uri()})
    if response.status_code == 201:
        w.drop_version(c.model, response.json()["version_name"])
    return response


def f_apr(w: World, c: Case) -> httpx.Response:
    version = w.temp_version(c.model)
    try:
        return c.api.post(f"{API}/models/{c.model}/versions/{version}/approve")
    finally:
        w.drop_version(c.model, version)


def f_upd(w: World, c: Case) -> httpx.Response:
    return c.api.patch(f"{API}/models/{c.model}", json={"description": f"touched by {c.actor}"})


def f_dlv(w: World, c: Case) -> httpx.Response:
    version = w.temp_version(c.model)
    try:
        return c.api.delete(f"{API}/models/{c.model}/versions/{version}")
    finally:
        w.drop_version(c.model, version)


def f_auth(w: World, c: Case) -> httpx.Response:
    try:
        return c.api.put(
            f"{API}/models/{c.model}/grants/{c.grantee}",
            json={"actions": ["inference", "fine_tune", "deploy"]},
        )
    finally:
        w.restore_grants(c.model)


def f_rev(w: World, c: Case) -> httpx.Response:
    if c.grantee != MODELS[c.model][0]:
        w.owner(c.model).ok(
            "PUT", f"{API}/models/{c.model}/grants/{c.grantee}", json={"actions": ["inference"]}
        )
    try:
        return c.api.delete(f"{API}/models/{c.model}/grants/{c.grantee}")
    finally:
        w.restore_grants(c.model)


def f_pred(w: World, c: Case) -> httpx.Response:
    return c.api.post(f"{API}/models/{c.model}/predict", json={"records": [[1.0, 2.0]]})


def f_lgr(w: World, c: Case) -> httpx.Response:
    return c.api.get(f"{API}/models/{c.model}/grants")


def f_lmem(w: World, c: Case) -> httpx.Response:
    return c.api.get(f"{API}/workspaces/{c.target}/members")


def f_smem(w: World, c: Case) -> httpx.Response:
    try:
        return c.api.put(f"{API}/workspaces/{c.target}/members/spare", json={"role": "viewer"})
    finally:
        w.main().ok("DELETE", f"{API}/workspaces/{c.target}/members/spare")


def f_upws(w: World, c: Case) -> httpx.Response:
    return c.api.patch(f"{API}/workspaces/{c.target}", json={"description": f"touched by {c.actor}"})


def f_dlws(w: World, c: Case) -> httpx.Response:
    """The workspace owns models: an authorized caller gets 409 and nothing is lost."""
    return c.api.delete(f"{API}/workspaces/{c.target}")


def f_upl(w: World, c: Case) -> httpx.Response:
    return c.api.post(f"{API}/uploads", json={"size": 4})


def f_gart(w: World, c: Case) -> httpx.Response:
    return c.api.get(f"{API}/artifacts/{c.artifact['digest']}")


def f_dart(w: World, c: Case) -> httpx.Response:
    return c.api.get(f"{API}/artifacts/{c.artifact['digest']}/files/{c.artifact['path']}")


FAMILIES: dict[str, Callable[[World, Case], httpx.Response]] = {
    "list": f_list,
    "get": f_get,
    "lsv": f_lsv,
    "gtv": f_gtv,
    "crm": f_crm,
    "reg": f_reg,
    "apr": f_apr,
    "upd": f_upd,
    "dlv": f_dlv,
    "auth": f_auth,
    "rev": f_rev,
    "pred": f_pred,
    "lgr": f_lgr,
    "lmem": f_lmem,
    "smem": f_smem,
    "upws": f_upws,
    "dlws": f_dlws,
    "upl": f_upl,
    "gart": f_gart,
    "dart": f_dart,
}


# ---- assertions ---------------------------------------------------------------------------------------


def body_text(response: httpx.Response) -> str:
    if response.headers.get("content-type", "").startswith("application/octet-stream"):
        return ""  # artifact bytes: no JSON to search
    return response.text


def sent_text(response: httpx.Response) -> str:
    """What the caller itself sent: a response may echo it without leaking anything."""
    request = response.request
    return (
        str(request.url)
        + request.content.decode(errors="replace")
        + (request.headers.get("x-modeldeck-workspace") or "")
    )


def assert_no_leak(w: World, workspace: str | None, response: httpx.Response) -> None:
    """The body names no model the workspace may not see (by name, id or version name), beyond echoes."""
    entered = response.status_code != 403 or response.json().get("code") != "Workspace.AccessDenied"
    visible = w.visible(workspace) if entered else set()
    body, sent = body_text(response), sent_text(response)
    for model in set(MODELS) - visible:
        for token in w.tokens(model):
            assert token in sent or token not in body, (
                f"{response.request.method} {response.request.url} in {workspace!r} shows {token!r} of "
                f"{model!r}, which that workspace may not see: {body}"
            )


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """An error with the status and code, a message, a hint, and the request id of its response."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url}: {response.text}"
    )
    body = response.json()
    assert body["code"] == code, body
    assert body["message"] and body["hint"], body
    assert body["request_id"] == response.headers["x-request-id"], body
    return body


# ---- the matrix ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "scope", "family", "expected"), CASES, ids=[f"{a}-{s}-{f}" for a, s, f, _ in CASES]
)
def test_matrix(world: World, actor: str, scope: str, family: str, expected: str):
    """Every caller gets exactly the status that its role, its workspace and the model's ownership allow."""
    check_case(world, world.case(actor, scope), family, expected)


@pytest.mark.parametrize(
    ("actor", "scope", "family", "expected"), CASES, ids=[f"{a}-{s}-{f}" for a, s, f, _ in CASES]
)
def test_matrix_with_access_key_signatures(world: World, actor: str, scope: str, family: str, expected: str):
    """The same answers when the caller signs with its account's AccessKey pair instead of its bearer key."""
    case = world.case(actor, scope, signed=True)
    assert "authorization" not in case.api.headers
    check_case(world, case, family, expected)


def check_case(world: World, case: Case, family: str, expected: str) -> None:
    actor, scope = case.actor, case.scope
    response = FAMILIES[family](world, case)
    if expected in DENIALS:
        assert_error(response, 403, DENIALS[expected])
    else:
        status = int(expected)
        code = CODES_FOR_STATUS.get((family, status))
        if code:
            assert_error(response, status, code)
        else:
            assert response.status_code == status, (
                f"{actor} {scope} {family}: {response.status_code} {response.text}"
            )
    assert_no_leak(world, case.header, response)
    if expected == "M" and family in GHOSTLY and not may_know(world, case):
        ghost = FAMILIES[family](world, dataclasses.replace(case, model=GHOST_MODEL))
        assert _normalized(response, case.model) == _normalized(ghost, GHOST_MODEL), (
            "a model the caller may not learn of must look exactly like one that does not exist"
        )


GHOST_MODEL = "ghost-model"
GHOSTLY = {"get", "lsv", "gtv", "reg", "upd", "pred", "lgr"}  # families that need no set-up of the model


def may_know(w: World, c: Case) -> bool:
    """Who may learn that a model exists, and its owner: the main account, members of the owning workspace,
    and anyone in a workspace that sees the model (granted, or PUBLIC)."""
    return c.actor == "main" or MODELS[c.model][0] in MEMBERSHIPS.get(c.actor, {}) or c.model in w.visible(c.header)


def test_table_covers_every_actor_scope_and_family():
    """The table is complete: six callers x three scopes, and every family in each row."""
    rows = {(a, s) for a, s, _, _ in CASES}
    assert rows == {(a, s) for a in ACTORS for s in ("own", "foreign", "cross")}
    assert {f for _, _, f, _ in CASES} == set(FAMILIES)


# ---- listings -----------------------------------------------------------------------------------------

ENTERABLE = {  # GET /api/v1/workspaces: only the workspaces the caller may enter, with its role
    "main": {DEFAULT: "admin", WS_A: "admin", WS_B: "admin"},
    "admin-a": {WS_A: "admin", DEFAULT: "viewer"},
    "dev-a": {WS_A: "developer"},
    "viewer-a": {WS_A: "viewer"},
    "outsider": {},
    "dev-b": {WS_B: "developer"},
}


@pytest.mark.parametrize("actor", ACTORS)
def test_workspace_listing_shows_only_enterable_workspaces(world: World, actor: str):
    """GET /workspaces lists the workspaces the caller may enter, with its role there, and no others."""
    items = world.api(actor, None).ok("GET", f"{API}/workspaces")["items"]
    assert {ws["name"]: ws["role"] for ws in items} == ENTERABLE[actor]


def test_granted_and_public_models_are_listed_with_their_source(world: World):
    """ws-b lists its model, ws-a's granted one (source granted, actions [inference]) and the PUBLIC one."""
    listing = world.api("dev-b", WS_B).ok("GET", f"{API}/models")
    seen = {m["model_name"]: m for m in listing["items"]}
    assert set(seen) == {GRANTED, OWN_B, PUBLIC}
    assert (seen[GRANTED]["source"], seen[GRANTED]["actions"], seen[GRANTED]["owner_workspace"]) == (
        "granted",
        ["inference"],
        WS_A,
    )
    assert (seen[PUBLIC]["source"], seen[PUBLIC]["actions"]) == ("public", [])
    assert (seen[OWN_B]["source"], sorted(seen[OWN_B]["actions"])) == (
        "owned",
        ["deploy", "fine_tune", "inference"],
    )
    own = {m["model_name"]: m["source"] for m in world.api("dev-a", WS_A).ok("GET", f"{API}/models")["items"]}
    assert own == {GRANTED: "owned", SECRET_1: "owned", SECRET_2: "owned", PUBLIC: "owned"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "secret"}, []),
        ({"q": "alpha"}, [GRANTED]),
        ({"action": "inference"}, [GRANTED, OWN_B]),
        ({"action": "fine_tune"}, [OWN_B]),
        ({"task": "image-classification"}, [GRANTED, OWN_B, PUBLIC]),
    ],
)
def test_filtered_listings_in_ws_b_never_show_private_models(
    world: World, params: dict[str, str], expected: list[str]
):
    """Search and filters apply on top of visibility: a query never reaches ws-a's ungranted models."""
    response = world.api("dev-b", WS_B).get(f"{API}/models", params=params)
    assert response.status_code == 200, response.text
    assert [m["model_name"] for m in response.json()["items"]] == expected
    assert_no_leak(world, WS_B, response)


def page_through(api: Api, path: str) -> list[str]:
    """Every model name of a listing, fetched one per page by following next_cursor."""
    names: list[str] = []
    cursor = None
    for _ in range(50):
        body = api.ok("GET", path, params={"limit": 1, **({"cursor": cursor} if cursor else {})})
        assert len(body["items"]) <= 1
        names += [item["model_name"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return names
    raise AssertionError("paging did not end")


@pytest.mark.parametrize(
    ("actor", "workspace", "expected"),
    [
        ("dev-b", WS_B, [GRANTED, OWN_B, PUBLIC]),
        ("main", WS_B, [GRANTED, OWN_B, PUBLIC]),
        ("dev-a", WS_A, [GRANTED, SECRET_1, PUBLIC, SECRET_2]),
    ],
)
def test_paging_one_by_one_yields_exactly_the_visible_models(
    world: World, actor: str, workspace: str, expected: list[str]
):
    """Paging GET /models with limit=1 walks the visible models in order; ws-b never meets ws-a's secrets."""
    assert page_through(world.api(actor, workspace), f"{API}/models") == expected


# ---- cursors ------------------------------------------------------------------------------------------


def first_cursor(api: Api, path: str, **params: Any) -> str:
    cursor = api.ok("GET", path, params={"limit": 1, **params})["next_cursor"]
    assert cursor
    return cursor


def forge(cursor: str, key: list[Any]) -> str:
    """The cursor's signature on a different body."""
    _, mac = cursor.rsplit(".", 1)
    return (
        base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")
        + "."
        + mac
    )


def _flip(cursor: str) -> str:
    return cursor[:-1] + ("0" if cursor[-1] != "0" else "1")


CURSOR_CASES: dict[str, Callable[[World], tuple[Api, str, dict[str, Any]]]] = {
    "ws-a models cursor in ws-b": lambda w: (
        w.api("dev-b", WS_B),
        f"{API}/models",
        {"cursor": first_cursor(w.api("dev-a", WS_A), f"{API}/models")},
    ),
    "main's ws-a cursor with ws-b header": lambda w: (
        w.main(WS_B),
        f"{API}/models",
        {"cursor": first_cursor(w.main(WS_A), f"{API}/models")},
    ),
    "ws-b models cursor in ws-a": lambda w: (
        w.api("dev-a", WS_A),
        f"{API}/models",
        {"cursor": first_cursor(w.api("dev-b", WS_B), f"{API}/models")},
    ),
    "ws-a versions cursor in ws-b, same model": lambda w: (
        w.api("dev-b", WS_B),
        f"{API}/models/{GRANTED}/versions",
        {"cursor": first_cursor(w.api("dev-a", WS_A), f"{API}/models/{GRANTED}/versions")},
    ),
    "models cursor on a versions listing": lambda w: (
        w.api("dev-b", WS_B),
        f"{API}/models/{GRANTED}/versions",
        {"cursor": first_cursor(w.api("dev-b", WS_B), f"{API}/models")},
    ),
    "filtered listing's cursor without the filter": lambda w: (
        w.api("dev-b", WS_B),
        f"{API}/models",
        {"cursor": first_cursor(w.api("dev-b", WS_B), f"{API}/models", q="a")},
    ),
    "tampered body, original signature": lambda w: (
        w.api("dev-b", WS_B),
        f"{API}/models",
        {"cursor": forge(first_cursor(w.api("dev-b", WS_B), f"{API}/models"), ["", ""])},
    ),
    "tampered signature": lambda w: (
        w.api("dev-b", WS_B),
        f"{API}/models",
        {"cursor": _flip(first_cursor(w.api("dev-b", WS_B), f"{API}/models"))},
    ),
    "garbage": lambda w: (w.api("dev-b", WS_B), f"{API}/models", {"cursor": "not-a-cursor"}),
}


@pytest.mark.parametrize("name", CURSOR_CASES)
def test_foreign_or_tampered_cursor_is_refused(world: World, name: str):
    """A cursor works only in the listing and workspace that issued it; else 400 InvalidParameter.Cursor."""
    api, path, params = CURSOR_CASES[name](world)
    response = api.get(path, params=params)
    assert_error(response, 400, "InvalidParameter.Cursor")
    assert_no_leak(world, api.headers.get("X-ModelDeck-Workspace"), response)


def test_cursor_works_in_its_own_listing(world: World):
    """Control for the refusals above: the same kind of cursor is accepted where it was issued."""
    api = world.api("dev-b", WS_B)
    cursor = first_cursor(api, f"{API}/models")
    assert [m["model_name"] for m in api.ok("GET", f"{API}/models", params={"cursor": cursor})["items"]] == [
        OWN_B,
        PUBLIC,
    ]


# ---- no existence leak for workspaces ----------------------------------------------------------------

GHOST_NAME, GHOST_ID = "ws-ghost", "ws-" + "0" * 12


def _normalized(response: httpx.Response, ref: str | None = None) -> dict[str, Any]:
    """The error body without its request id, with the name the caller sent blanked out, and without the
    "did you mean" guess: that is drawn from the names the caller may see and the one it sent, so it says
    nothing of what it may not see (`_guess` checks that), but two probes get two guesses."""
    body = dict(response.json())
    assert body.pop("request_id") == response.headers["x-request-id"]
    if ref:
        body["message"] = body["message"].replace(ref, "<ws>")
    body["hint"] = re.sub(r"^Did you mean '[^']*'\? ", "", body.get("hint") or "")
    return body


def _guess(response: httpx.Response) -> str | None:
    found = re.match(r"Did you mean '([^']*)'\? ", response.json().get("hint") or "")
    return found and found.group(1)


@pytest.mark.parametrize("via", ["header-name", "header-id", "path-name", "path-id"])
@pytest.mark.parametrize(
    ("actor", "existing"), [("outsider", WS_A), ("dev-b", WS_A), ("viewer-a", WS_B), ("dev-b", DEFAULT)]
)
def test_existing_and_missing_workspace_look_the_same(world: World, actor: str, existing: str, via: str):
    """To a non-member, a workspace that exists and one that does not get the same 403, except the name."""
    by_id = via.endswith("-id")
    real, ghost = (world.ids[existing], GHOST_ID) if by_id else (existing, GHOST_NAME)
    responses = []
    for ref in (real, ghost):
        if via.startswith("header"):
            response = world.api(actor, ref).get(f"{API}/models")
        else:
            response = world.api(actor, None).get(f"{API}/workspaces/{ref}/members")
        assert_error(response, 403, "Workspace.AccessDenied")
        assert_no_leak(world, None, response)
        responses.append(response)
    assert _normalized(responses[0], real) == _normalized(responses[1], ghost)
    assert responses[0].json()["request_id"] != responses[1].json()["request_id"]
    hint = responses[0].json()["hint"]
    assert existing not in hint and world.ids[existing] not in hint
    for ws in ENTERABLE[actor]:
        assert f"'{ws}'" in hint  # the hint lists exactly what the caller may pass


# ---- probing another workspace's private model -------------------------------------------------------

PROBES = [
    ("GET", "/models/{m}", None),
    ("GET", "/models/{m}/versions", None),
    ("GET", "/models/{m}/versions/{v}", None),
    ("POST", "/models/{m}/predict", {"records": [[1.0]]}),
    ("POST", "/models/{m}/versions/{v}/predict", {"records": [[1.0]]}),
    ("GET", "/models/{m}/grants", None),
    ("PATCH", "/models/{m}", {"description": "mine now"}),
    ("POST", "/models/{m}/versions", {"uri": "oss://bucket/x/model.onnx"}),
]


@pytest.mark.parametrize(("method", "path", "body"), PROBES, ids=[f"{m} {p}" for m, p, _ in PROBES])
def test_probing_a_private_model_by_name_reveals_nothing(world: World, method: str, path: str, body: Any):
    """From ws-b, a sub-account outside ws-a gets for ws-a's ungranted model exactly the answer it gets for
    a model that does not exist; the main account there still learns the owner and the missing grant."""
    api = world.api("dev-b", WS_B)
    visible = {m["model_name"] for m in api.get(API + "/models", params={"limit": 500}).json()["items"]}
    answers = []
    for model in (SECRET_1, GHOST_MODEL):
        response = api.request(method, API + path.format(m=model, v=MODELS[SECRET_1][2][0]), json=body)
        error = assert_error(response, 403, "Model.AccessDenied")
        assert WS_A not in error["message"] + error["hint"] and world.ids[WS_A] not in response.text
        assert_no_leak(world, WS_B, response)
        assert _guess(response) in {None, *visible}
        answers.append(_normalized(response, model))
    assert answers[0] == answers[1]
    main = world.main(WS_B).request(method, API + path.format(m=SECRET_1, v=MODELS[SECRET_1][2][0]), json=body)
    assert f"'{WS_A}'" in assert_error(main, 403, "Model.AccessDenied")["hint"]
    assert_error(world.main(WS_B).request(method, API + path.format(m=GHOST_MODEL, v="1.0.0"), json=body),
                 404, "Model.NotFound")  # fmt: skip


def test_a_version_that_exists_and_one_that_does_not_look_the_same(world: World):
    """Without access to the model, a real version and a made-up one get identical answers."""
    api = world.api("dev-b", WS_B)
    real, fake = (
        api.post(f"{API}/models/{SECRET_1}/versions/{v}/predict", json={"records": [[1.0]]})
        for v in (MODELS[SECRET_1][2][0], "9.9.9")
    )
    assert real.status_code == fake.status_code == 403
    assert _normalized(real) == _normalized(fake)


def test_probing_a_private_model_by_id_does_not_reveal_its_name(world: World):
    """A ws-b caller holding ws-a's private model id learns nothing more (not its name) from the refusal."""
    model_id = world.ids[SECRET_1]
    for method, path, body in PROBES[:4]:
        response = world.api("dev-b", WS_B).request(
            method, API + path.format(m=model_id, v="1.0.0"), json=body
        )
        assert response.status_code in (403, 404), response.text
        assert SECRET_1 not in response.text, (
            f"{method} {path} by id reveals the model's name: {response.text}"
        )
        assert_no_leak(world, WS_B, response)


# ---- uploads and artifacts belong to their workspace -------------------------------------------------


def test_another_workspace_cannot_see_resume_complete_or_abort_an_upload(world: World):
    """An upload exists only in the workspace that started it: elsewhere 404 Upload.NotFound, even to main."""
    data = b"ws-a half-sent checkpoint " + secrets.token_bytes(64)
    owner = world.api("dev-a", WS_A)
    upload = owner.ok("POST", f"{API}/uploads", json={"size": len(data)})
    url = f"{API}/uploads/{upload['id']}"
    half = len(data) // 2
    owner.ok("PATCH", url, content=data[:half], headers={"Upload-Offset": "0"})
    sha = hashlib.sha256(data).hexdigest()
    for intruder in (world.api("dev-b", WS_B), world.main(WS_B), world.main(DEFAULT)):
        assert intruder.head(url).status_code == 404
        assert_error(intruder.get(url), 404, "Upload.NotFound")
        assert_error(
            intruder.patch(url, content=data[half:], headers={"Upload-Offset": str(half)}),
            404,
            "Upload.NotFound",
        )
        assert_error(intruder.post(f"{url}/complete", json={"sha256": sha}), 404, "Upload.NotFound")
        assert_error(intruder.delete(url), 404, "Upload.NotFound")
    for stranger in (world.api("outsider", WS_A), world.api("dev-b", WS_A)):
        assert_error(stranger.get(url), 403, "Workspace.AccessDenied")
    # Untouched by all that: the owner resumes where it stopped and completes it.
    assert owner.head(url).headers["Upload-Offset"] == str(half)
    owner.ok("PATCH", url, content=data[half:], headers={"Upload-Offset": str(half)})
    assert owner.ok("POST", f"{url}/complete", json={"sha256": sha})["sha256"] == sha


def test_a_blob_cannot_be_claimed_by_naming_its_sha256(world: World):
    """ws-b cannot claim ws-a's uploaded bytes by sha256 (400 Artifact.BlobMissing) nor skip uploading."""
    data = b"ws-a private weights " + secrets.token_bytes(64)
    ws_a_artifact = upload_artifact(world.api("dev-a", WS_A), data, "weights.bin")
    sha, size = ws_a_artifact["sha256"], len(data)
    files = {"files": [{"path": "weights.bin", "sha256": sha, "size": size}]}
    for thief in (world.api("dev-b", WS_B), world.main(WS_B)):
        error = assert_error(thief.post(f"{API}/artifacts", json=files), 400, "Artifact.BlobMissing")
        assert sha not in error["message"] + error["hint"]
        # Declaring the digest when starting an upload must not short-cut to "already stored" either.
        start = thief.post(f"{API}/uploads", json={"size": size, "sha256": sha})
        assert start.status_code == 201 and start.json()["id"] and start.json()["complete"] is False, (
            start.text
        )
        # Nor may a version point at ws-a's artifact.
        error = assert_error(
            thief.post(f"{API}/models/{OWN_B}/versions", json={"uri": ws_a_artifact["uri"]}),
            400,
            "Artifact.NotFound",
        )
    # Controls: ws-a itself gets the short-cut, and ws-b succeeds once it uploads the bytes itself.
    again = world.api("dev-a", WS_A).ok("POST", f"{API}/uploads", json={"size": size, "sha256": sha})
    assert again["complete"] is True and again["id"] is None
    own = upload_artifact(world.api("dev-b", WS_B), data, "weights.bin")
    assert own["digest"] == ws_a_artifact["digest"]


def test_artifact_files_are_served_only_in_their_workspace(world: World):
    """ws-a's artifact (and its file) is readable in ws-a only; the bytes never come back elsewhere."""
    artifact = world.artifacts[WS_A]
    url = f"{API}/artifacts/{artifact['digest']}"
    inside = world.api("viewer-a", WS_A).get(f"{url}/files/{artifact['path']}")
    assert inside.status_code == 200 and inside.content == artifact["data"]
    for api in (world.api("dev-b", WS_B), world.main(WS_B), world.main(DEFAULT)):
        for path in (url, f"{url}/files/{artifact['path']}"):
            response = api.get(path)
            assert_error(response, 404, "Artifact.NotFound")
            assert artifact["data"].decode() not in response.text


# ---- a workspace admin cannot probe names through grants, renames or members -------------------------


def test_grants_name_only_workspaces_the_sub_account_belongs_to(world: World):
    """admin-a granting to ws-b (exists, not a member) and to a ghost gets one answer; main gets the truth."""
    api = world.api("admin-a", WS_A)
    answers = []
    for ref in (WS_B, world.ids[WS_B], GHOST_NAME, GHOST_ID):
        try:
            response = api.put(f"{API}/models/{SECRET_1}/grants/{ref}", json={"actions": ["inference"]})
        finally:
            world.restore_grants(GRANTED)
        assert_error(response, 403, "Workspace.AccessDenied")
        assert_no_leak(world, None, response)
        answers.append(_normalized(response, ref))
    assert answers[0] == answers[2] and answers[1] == answers[3]
    assert world.owner(SECRET_1).get(f"{API}/models/{SECRET_1}/grants").json()["items"] == []
    main = world.owner(SECRET_1)
    assert_error(main.put(f"{API}/models/{SECRET_1}/grants/{GHOST_NAME}", json={"actions": ["inference"]}),
                 404, "Workspace.NotFound")  # fmt: skip
    granted = api.put(f"{API}/models/{SECRET_1}/grants/{DEFAULT}", json={"actions": ["inference"]})
    try:  # a workspace admin-a belongs to (as a viewer) may be granted
        assert granted.status_code == 200, granted.text
    finally:
        main.ok("DELETE", f"{API}/models/{SECRET_1}/grants/{DEFAULT}")


def test_a_sub_account_admin_cannot_rename_workspaces(world: World):
    """A rename to a taken name would answer 409: so only who may create workspaces renames them."""
    api = world.api("admin-a", WS_A)
    answers = [api.patch(f"{API}/workspaces/{WS_A}", json={"name": name}) for name in (WS_B, "ws-free-name")]
    for response in answers:
        assert_error(response, 403, "AccessDenied")
    assert _normalized(answers[0]) == _normalized(answers[1])
    assert_error(world.main().patch(f"{API}/workspaces/{WS_A}", json={"name": WS_B}), 409, "Workspace.AlreadyExists")
    assert world.main().ok("GET", f"{API}/workspaces/{WS_A}")["name"] == WS_A


def test_members_name_only_accounts_the_sub_account_shares_a_workspace_with(world: World):
    """admin-a adding dev-b (exists, shares no workspace) and a ghost account gets one 404; `spare`, a
    member of default as admin-a is, may be added; the main account may add anyone."""
    api = world.api("admin-a", WS_A)
    answers = []
    for account in ("dev-b", "ghost-account"):
        response = api.put(f"{API}/workspaces/{WS_A}/members/{account}", json={"role": "viewer"})
        assert_error(response, 404, "Account.NotFound")
        answers.append(_normalized(response, account))
        assert_error(api.delete(f"{API}/workspaces/{WS_A}/members/{account}"), 404, "Account.NotFound")
    assert answers[0] == answers[1]
    assert "dev-b" not in [m["name"] for m in world.main(WS_A).ok("GET", f"{API}/workspaces/{WS_A}/members")["items"]]
    try:
        assert api.put(f"{API}/workspaces/{WS_A}/members/spare", json={"role": "viewer"}).status_code == 200
        assert world.main().put(f"{API}/workspaces/{WS_A}/members/dev-b", json={"role": "viewer"}).status_code == 200
    finally:
        for account in ("spare", "dev-b"):
            world.main().ok("DELETE", f"{API}/workspaces/{WS_A}/members/{account}")
