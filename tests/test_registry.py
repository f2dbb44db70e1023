"""Model versions: PAI's fields and rules, the approval state machine, concurrency and idempotency.

Runs on SQLite and on PostgreSQL (the store suite).
"""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from sqlalchemy import text

from conftest import Deployment, copy_version, model_row_writes

URI = "oss://models-bucket/iris/model.onnx"


@pytest.fixture
def admin(store_deployment: Deployment):
    api = store_deployment.admin
    api.ok("POST", "/api/v1/models", json={"model_name": "iris", "task": "classification", "domain": "cv"})
    return api


def register(api, **fields):
    return api.post("/api/v1/models/iris/versions", json={"uri": URI, **fields})


def test_all_pai_fields_round_trip(admin):
    fields = {
        "version_name": "1.2.0_beta",
        "format_type": "ONNX",
        "framework_type": "Pytorch",
        "source_type": "TrainingService",
        "source_id": "train-job-42",
        "labels": {"team": "vision", "stage": "candidate"},
        "metrics": {"accuracy": 0.97, "f1": [0.9, 0.95]},
        "training_spec": {"epochs": 3},
        "inference_spec": {"processor": "onnx"},
        "extra_info": {"notes": "baseline"},
        "options": '{"overwrite": false}',
        "description": "first candidate",
    }
    created = register(admin, **fields)
    assert created.status_code == 201, created.text
    got = admin.ok("GET", "/api/v1/models/iris/versions/1.2.0_beta")
    for key, value in fields.items():
        assert got[key] == value, key
    assert got["approval_status"] == "Pending"
    assert got["version_id"].endswith(":1.2.0_beta")


def test_omitted_names_start_at_0_1_0_and_bump_the_minor(admin):
    names = [register(admin).json()["version_name"] for _ in range(3)]
    assert names == ["0.1.0", "0.2.0", "0.3.0"]
    assert register(admin, version_name="2.5.7").status_code == 201
    assert register(admin).json()["version_name"] == "2.6.0"


@pytest.mark.parametrize(
    "name", ["1.0", "v1.0.0", "1.0.0-beta", "1.0.0_", "1.0.0_be ta", "../1.0.0", "1.0.0/x", "", "１.０.０", 7]
)
def test_version_names_outside_the_pattern_are_refused(admin, name):
    response = register(admin, version_name=name)
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter.VersionName"
    assert admin.ok("GET", "/api/v1/models/iris/versions")["items"] == []


def test_uri_is_required(admin):
    response = admin.post("/api/v1/models/iris/versions", json={"version_name": "1.0.0"})
    assert response.status_code == 400
    assert "uri" in response.json()["hint"]


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("format_type", "Pickle5", "InvalidParameter.formattype"),
        ("framework_type", "Torch", "InvalidParameter.frameworktype"),
        ("source_type", "Laptop", "InvalidParameter.sourcetype"),
        ("approval_status", "Maybe", "InvalidParameter.approvalstatus"),
    ],
)
def test_unknown_enum_values_are_refused_with_the_accepted_list(admin, field, value, code):
    response = register(admin, **{field: value})
    assert response.status_code == 400
    body = response.json()
    assert body["code"].lower() == code.lower()
    assert "Use one of:" in body["hint"]


def test_enum_values_are_canonicalized(admin):
    v = register(admin, format_type="onnx", framework_type="pytorch", source_type="custom").json()
    assert (v["format_type"], v["framework_type"], v["source_type"]) == ("ONNX", "Pytorch", "Custom")


def test_label_and_metric_limits(admin):
    twenty = {f"k{i}": "v" for i in range(20)}
    assert register(admin, labels=twenty).status_code == 201
    too_many = register(admin, labels={f"k{i}": "v" for i in range(21)})
    assert too_many.status_code == 400 and too_many.json()["code"] == "InvalidParameter.Labels"
    at_limit = {"blob": "x" * (8192 - len('{"blob":""}'))}
    assert len(json.dumps(at_limit, separators=(",", ":"))) == 8192
    assert register(admin, metrics=at_limit).status_code == 201
    over = register(admin, metrics={"blob": "x" * 8192})
    assert over.status_code == 400 and over.json()["code"] == "InvalidParameter.Metrics"
    assert register(admin, options="{not json").json()["code"] == "InvalidParameter.Options"
    assert register(admin, labels={"bad key!": "v"}).status_code == 400


def test_approval_is_final_once_decided(admin):
    register(admin, version_name="1.0.0")
    register(admin, version_name="2.0.0")
    assert admin.ok("POST", "/api/v1/models/iris/versions/1.0.0/approve")["approval_status"] == "Approved"
    # repeating the same decision is harmless; changing it is refused
    assert admin.ok("POST", "/api/v1/models/iris/versions/1.0.0/approve")["approval_status"] == "Approved"
    changed = admin.post("/api/v1/models/iris/versions/1.0.0/reject")
    assert changed.status_code == 409 and changed.json()["code"] == "Version.ApprovalFinal"
    assert admin.ok("POST", "/api/v1/models/iris/versions/2.0.0/reject")["approval_status"] == "Rejected"
    assert admin.post("/api/v1/models/iris/versions/2.0.0/approve").status_code == 409
    # approval is not an editable field
    edit = admin.patch("/api/v1/models/iris/versions/1.0.0", json={"approval_status": "Pending"})
    assert edit.status_code == 400
    assert admin.ok("GET", "/api/v1/models/iris/versions/1.0.0")["approval_status"] == "Approved"


def test_concurrent_decisions_have_one_winner(admin, store_deployment):
    register(admin, version_name="1.0.0")
    results = []

    def decide(action):
        with store_deployment.client() as api:
            results.append((action, api.post(f"/api/v1/models/iris/versions/1.0.0/{action}").status_code))

    threads = [threading.Thread(target=decide, args=(a,)) for a in ["approve", "reject"] * 5]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = admin.ok("GET", "/api/v1/models/iris/versions/1.0.0")["approval_status"]
    winner = "approve" if final == "Approved" else "reject"
    assert all(code == 200 for action, code in results if action == winner)
    assert all(code == 409 for action, code in results if action != winner)


def test_updates_change_only_mutable_fields(admin):
    register(admin, version_name="1.0.0")
    updated = admin.ok(
        "PATCH", "/api/v1/models/iris/versions/1.0.0", json={"metrics": {"acc": 0.5}, "labels": {"a": "b"}}
    )
    assert updated["metrics"] == {"acc": 0.5} and updated["labels"] == {"a": "b"}
    for field in ({"uri": "oss://x/y"}, {"version_name": "9.9.9"}):
        assert admin.patch("/api/v1/models/iris/versions/1.0.0", json=field).status_code == 400


def test_concurrent_registrations_of_one_name_have_exactly_one_winner(admin, store_deployment):
    """20+ parallel registrations of the same version name: one 201, the rest 409, one row."""
    barrier = threading.Barrier(24)
    codes = []

    def attempt(i):
        with store_deployment.client() as api:
            barrier.wait()
            response = register(api, version_name="3.0.0", description=f"attempt {i}")
            codes.append((response.status_code, response.json().get("code")))

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(c for c, _ in codes).count(201) == 1
    assert [c for c in codes if c[0] != 201] == [(409, "Version.AlreadyExists")] * 23
    assert [v["version_name"] for v in admin.ok("GET", "/api/v1/models/iris/versions")["items"]] == ["3.0.0"]


def test_concurrent_unnamed_registrations_get_distinct_names(admin, store_deployment):
    barrier = threading.Barrier(12)
    names = []

    def attempt():
        with store_deployment.client() as api:
            barrier.wait()
            response = register(api)
            assert response.status_code == 201, response.text
            names.append(response.json()["version_name"])

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(names, key=lambda n: int(n.split(".")[1])) == [f"0.{i}.0" for i in range(1, 13)]


def test_idempotency_key_makes_a_retry_return_the_same_version(admin, store_deployment):
    key = str(uuid.uuid4())
    first = admin.post("/api/v1/models/iris/versions", json={"uri": URI}, headers={"Idempotency-Key": key})
    again = admin.post("/api/v1/models/iris/versions", json={"uri": URI}, headers={"Idempotency-Key": key})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["version_id"] == again.json()["version_id"]
    reused = admin.post(
        "/api/v1/models/iris/versions", json={"uri": URI, "description": "other"}, headers={"Idempotency-Key": key}
    )
    assert reused.status_code == 409 and reused.json()["code"] == "Version.IdempotencyKeyReused"
    # concurrent retries of one keyed request create one version
    key2 = str(uuid.uuid4())
    barrier = threading.Barrier(10)
    ids = []

    def retry():
        with store_deployment.client() as api:
            barrier.wait()
            r = api.post("/api/v1/models/iris/versions", json={"uri": URI, "description": "k2"},
                         headers={"Idempotency-Key": key2})  # fmt: skip
            ids.append((r.status_code, r.json()["version_id"]))

    threads = [threading.Thread(target=retry) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({i for _, i in ids}) == 1
    assert sorted(c for c, _ in ids) == [200] * 9 + [201]
    assert len(admin.ok("GET", "/api/v1/models/iris/versions")["items"]) == 2


def test_versions_page_newest_first_with_cursors(admin):
    for i in range(7):
        register(admin, version_name=f"1.{i}.0")
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = admin.ok("GET", "/api/v1/models/iris/versions", params=params)
        seen += [v["version_name"] for v in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"1.{i}.0" for i in reversed(range(7))]
    tampered = admin.get("/api/v1/models/iris/versions", params={"cursor": cursor or "eyJ4Ijo1fQ.abc"})
    assert tampered.status_code == 400 and tampered.json()["code"] == "InvalidParameter.Cursor"


def test_models_listing_shows_latest_version_and_filters(admin):
    admin.ok("POST", "/api/v1/models", json={"model_name": "bert", "task": "nlp"})
    register(admin, version_name="1.0.0")
    register(admin, version_name="1.10.0")
    register(admin, version_name="1.9.0")
    models = {m["model_name"]: m for m in admin.ok("GET", "/api/v1/models")["items"]}
    assert models["iris"]["latest_version"] == {"version_name": "1.10.0", "approval_status": "Pending"}
    assert models["bert"]["latest_version"] is None
    assert [m["model_name"] for m in admin.ok("GET", "/api/v1/models", params={"task": "nlp"})["items"]] == ["bert"]
    assert [m["model_name"] for m in admin.ok("GET", "/api/v1/models", params={"q": "ri"})["items"]] == ["iris"]


def test_latest_follows_every_change_of_a_models_versions(admin, store_deployment):
    """What a listing, the model and a call without a version take as latest: the newest version not
    rejected, after registrations, decisions and deletions, and after versions written by SQL by hand."""

    def latest():
        listed = {m["model_name"]: m for m in admin.ok("GET", "/api/v1/models")["items"]}["iris"]["latest_version"]
        assert listed == admin.ok("GET", "/api/v1/models/iris")["latest_version"]
        return listed and (listed["version_name"], listed["approval_status"])

    assert latest() is None
    register(admin, version_name="1.0.0")
    register(admin, version_name="2.0.0")
    assert latest() == ("2.0.0", "Pending")
    admin.ok("POST", "/api/v1/models/iris/versions/2.0.0/reject")
    assert latest() == ("1.0.0", "Pending")
    admin.ok("POST", "/api/v1/models/iris/versions/1.0.0/approve")
    assert latest() == ("1.0.0", "Approved")
    assert admin.delete("/api/v1/models/iris/versions/1.0.0").status_code == 204
    assert latest() is None  # only a rejected version is left
    register(admin, version_name="1.5.0")
    assert latest() == ("1.5.0", "Pending")

    engine = store_deployment.platform.store.engine
    with engine.begin() as conn:  # an admin's SQL: a version copied under a newer name, then one dropped
        copy_version(conn, "1.5.0", "3.0.0")
    assert latest() == ("3.0.0", "Pending")
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM model_versions WHERE version_name = '3.0.0'")
    assert latest() == ("1.5.0", "Pending")


def test_latest_is_right_when_two_writers_add_versions_at_once(admin, store_deployment):
    """PostgreSQL: a newer version's writer is committing (its latest-version trigger has run, as the
    platform runs it just before the commit) while an older one's commits; the latter must not make its own,
    older version the latest, nor may either wait for the other's whole transaction."""
    store = store_deployment.platform.store
    if store.is_sqlite:
        pytest.skip("SQLite serializes writers")
    register(admin, version_name="1.0.0")

    def older() -> None:
        with store.engine.connect() as conn:
            copy_version(conn, "1.0.0", "2.0.0")  # deferred: its insert takes no lock on the model
            conn.commit()

    with store.engine.connect() as newer:
        copy_version(newer, "1.0.0", "3.0.0")
        newer.exec_driver_sql("SET CONSTRAINTS ALL IMMEDIATE")  # its trigger now holds the model's row
        waiting = threading.Thread(target=older)
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive()  # the older version's commit waits in its trigger
        newer.commit()
    waiting.join(10)
    assert not waiting.is_alive()
    listed = {m["model_name"]: m for m in admin.ok("GET", "/api/v1/models")["items"]}["iris"]
    assert listed["latest_version"] == {"version_name": "3.0.0", "approval_status": "Pending"}


def test_versions_that_leave_latest_as_it_was_do_not_write_the_models_row(admin, store_deployment):
    """Versions loaded newest first write their model's row once, not once per version (on PostgreSQL each
    write is a dead tuple that every read of the model steps over until a vacuum): only a version that
    changes the latest one writes it (on PostgreSQL, whose triggers run at the commit, so does a bulk load
    in any order)."""
    register(admin, version_name="1.0.0")
    with store_deployment.platform.store.engine.connect() as conn:
        assert model_row_writes(conn, [f"{major}.0.0" for major in range(51, 1, -1)]) == 1
        conn.commit()
        assert model_row_writes(conn, ["0.0.0"]) == 0
        conn.commit()
    listed = {m["model_name"]: m for m in admin.ok("GET", "/api/v1/models")["items"]}["iris"]
    assert listed["latest_version"] == {"version_name": "51.0.0", "approval_status": "Pending"}


def test_model_names_are_unique_per_workspace_and_checked(admin):
    dup = admin.post("/api/v1/models", json={"model_name": "iris"})
    assert dup.status_code == 409 and dup.json()["code"] == "Model.AlreadyExists"
    for bad in ["", " padded ", "a/b", "..", "x" * 129, "tab\there"]:
        response = admin.post("/api/v1/models", json={"model_name": bad})
        assert response.status_code == 400, bad
        assert response.json()["code"] == "InvalidParameter.ModelName"
    # names are text: markup is allowed and must be rendered as text by every client
    assert admin.post("/api/v1/models", json={"model_name": "<img src=x onerror=alert(1)>"}).status_code == 201


def test_deleting_a_version_and_a_model(admin):
    register(admin, version_name="1.0.0")
    assert admin.delete("/api/v1/models/iris/versions/1.0.0").status_code == 204
    assert admin.get("/api/v1/models/iris/versions/1.0.0").json()["code"] == "Version.NotFound"
    assert admin.delete("/api/v1/models/iris").status_code == 204
    assert admin.get("/api/v1/models/iris").status_code == 404


def test_every_listing_pages_with_signed_cursors(admin, store_deployment):
    """Accounts, members, keys, models and versions all page by cursor and never repeat or skip."""
    for i in range(5):
        store_deployment.subaccount(f"user{i}", {"default": "viewer"})
        admin.ok("POST", "/api/v1/accounts/main/keys")
        admin.ok("POST", "/api/v1/models", json={"model_name": f"extra{i}"})
        register(admin, version_name=f"0.0.{i}")
    listings = {
        "/api/v1/accounts": 6, "/api/v1/workspaces/default/members": 5, "/api/v1/accounts/main/keys": 6,
        "/api/v1/models": 6, "/api/v1/models/iris/versions": 5,
    }  # fmt: skip
    for url, expected in listings.items():
        seen, cursor = [], None
        while True:
            page = admin.ok("GET", url, params={"limit": 2, **({"cursor": cursor} if cursor else {})})
            assert len(page["items"]) <= 2
            seen += [item.get("id") or item.get("version_id") for item in page["items"]]
            if not (cursor := page["next_cursor"]):
                break
        assert len(seen) == len(set(seen)) == expected, url
    foreign = admin.ok("GET", "/api/v1/accounts", params={"limit": 2})["next_cursor"]
    reused = admin.get("/api/v1/workspaces/default/members", params={"cursor": foreign})
    assert reused.status_code == 400 and reused.json()["code"] == "InvalidParameter.Cursor"


def test_listing_pages_by_key_are_the_pages_the_service_layer_gives(store_deployment: Deployment):
    """An API key's pages come from the listings' hot path, a token's from the routes: page for page, cursor
    for cursor, the same bodies, for the main account and a sub-account, owned, granted and PUBLIC models."""
    main = store_deployment.admin
    main.ok("POST", "/api/v1/workspaces", json={"name": "lab"})
    lab = store_deployment.client(workspace="lab")
    for name, access in (("shared", "PRIVATE"), ("open", "PUBLIC"), ("hidden", "PRIVATE")):
        lab.ok("POST", "/api/v1/models", json={"model_name": name, "accessibility": access})
    lab.ok("PUT", "/api/v1/models/shared/grants/default", json={"actions": ["inference"]})
    for i in range(5):
        main.ok("POST", "/api/v1/models", json={"model_name": f"own-{i}", "labels": {"i": str(i)}})
        main.ok("POST", "/api/v1/models/own-0/versions", json={"uri": URI, "metrics": {"acc": i / 7}})
    key = store_deployment.subaccount("vera", {"default": "developer"})
    token = store_deployment.client(key).ok("POST", "/api/v1/tokens", json={"ttl_seconds": 600})["token"]
    by_key, by_token = store_deployment.client(key, "default"), store_deployment.client(token, "default")
    for path in ("/api/v1/models", "/api/v1/models/own-0/versions", "/api/v1/models/shared/versions"):
        cursor, pages = None, 0
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            fast, full = by_key.ok("GET", path, params=params), by_token.ok("GET", path, params=params)
            assert fast == full
            pages += 1
            cursor = fast["next_cursor"]
            if not cursor:
                break
        assert pages >= 2 or path.endswith("shared/versions")
    names = [m["model_name"] for m in by_key.ok("GET", "/api/v1/models", params={"limit": 50})["items"]]
    assert names == ["open", "own-0", "own-1", "own-2", "own-3", "own-4", "shared"]  # not 'hidden'
    assert by_key.get("/api/v1/models/hidden/versions").status_code == 403
