"""Listings read JSON and timestamps as stored text (past the driver's parsers) on SQLite and PostgreSQL:
what a page shows of a model or a version is exactly what the single resource's ORM road shows, and a page
the server kept is the page as the database is now."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from conftest import Deployment
from sqlalchemy import text
from test_ops import samples, value

URI = "oss://models-bucket/iris/model.onnx"
REFUSED = (401, 403, 404)
NESTED = {"a": {"b": [1, 2.5, None, True, "é"]}, "empty": {}, "list": []}


def test_a_page_shows_each_item_as_its_own_resource_does(store_deployment: Deployment):
    """By API key (the listings' hot path) and by token (the routes): every field of every listed version
    and model, JSON and timestamps included, equals the GET of that resource; a model's latest version
    too, after versions are registered at once, approved, rejected and deleted."""
    main = store_deployment.admin
    main.ok("POST", "/api/v1/models", json={"model_name": "iris", "labels": {"team": "cv"}, "extra_info": NESTED})
    for i in range(3):
        main.ok("POST", "/api/v1/models/iris/versions", json={
            "uri": URI, "labels": {"run": str(i)}, "metrics": {"acc": i / 7, "loss": [0.5, 0.25]},
            "training_spec": NESTED, "inference_spec": {"entry": "main"}, "extra_info": {"note": "x" * i},
        })  # fmt: skip
    token = main.ok("POST", "/api/v1/tokens", json={"ttl_seconds": 600})["token"]
    for api in (main, store_deployment.client(token)):
        versions = api.ok("GET", "/api/v1/models/iris/versions", params={"limit": 10})["items"]
        assert len(versions) == 3
        for item in versions:
            assert item == api.ok("GET", f"/api/v1/models/iris/versions/{item['version_name']}")
            assert item["created_at"].endswith("+00:00") and "T" in item["created_at"]
        assert versions[0]["training_spec"] == NESTED
        models = api.ok("GET", "/api/v1/models", params={"limit": 10})["items"]
        single = api.ok("GET", "/api/v1/models/iris")
        listed = next(m for m in models if m["model_name"] == "iris")
        assert {k: listed[k] for k in single if k in listed} == {k: single[k] for k in single if k in listed}
        assert listed["extra_info"] == NESTED and listed["created_at"] == single["created_at"]

    def listed_latest(api):  # noqa: ANN001, ANN202
        models = api.ok("GET", "/api/v1/models", params={"limit": 10})["items"]
        listed = next(m for m in models if m["model_name"] == "iris")["latest_version"]
        assert listed == api.ok("GET", "/api/v1/models/iris")["latest_version"]
        return listed

    clients = [store_deployment.admin for _ in range(6)]
    with ThreadPoolExecutor(len(clients)) as pool:  # concurrent registrations: the greatest one is latest
        list(pool.map(lambda i: clients[i].ok("POST", "/api/v1/models/iris/versions", json={
            "uri": URI, "version_name": f"2.{i}.0"}), range(len(clients))))  # fmt: skip
    assert listed_latest(main) == {"version_name": "2.5.0", "approval_status": "Pending"}
    main.ok("POST", "/api/v1/models/iris/versions/2.5.0/approve")
    assert listed_latest(main) == {"version_name": "2.5.0", "approval_status": "Approved"}
    main.ok("POST", "/api/v1/models/iris/versions/2.4.0/reject")
    main.ok("DELETE", "/api/v1/models/iris/versions/2.5.0")
    assert listed_latest(main) == {"version_name": "2.3.0", "approval_status": "Pending"}


def test_a_page_asked_again_shows_what_was_committed_since_by_anyone(store_deployment: Deployment):
    """The server keeps a page it answered while the database is unchanged (`listings._pages`): a commit
    made around the platform, SQL typed by hand that publishes no change event, shows on the next ask of
    the very same page, as does one made through the API."""
    main = store_deployment.admin
    main.ok("POST", "/api/v1/models", json={"model_name": "iris", "description": "first"})
    main.ok("POST", "/api/v1/models/iris/versions", json={"uri": URI, "version_name": "1.0.0", "description": "v1"})

    def shown() -> tuple[str, str, list[str]]:
        model = next(m for m in main.ok("GET", "/api/v1/models")["items"] if m["model_name"] == "iris")
        versions = main.ok("GET", "/api/v1/models/iris/versions")["items"]
        return model["description"], versions[0]["description"], [v["version_name"] for v in versions]

    before = kept_pages(main)
    assert shown() == shown() == shown() == ("first", "v1", ["1.0.0"])  # asked again: answered as kept
    assert kept_pages(main)["kept"] >= before["kept"] + 2  # (a commit between two asks would read it anew)
    with store_deployment.platform.store.engine.begin() as conn:
        conn.execute(text("UPDATE models SET description = 'by hand' WHERE model_name = 'iris'"))
        conn.execute(text("UPDATE model_versions SET description = 'v1 by hand'"))
    before = kept_pages(main)
    assert shown() == ("by hand", "v1 by hand", ["1.0.0"])
    assert kept_pages(main)["read"] == before["read"] + 2
    main.ok("POST", "/api/v1/models/iris/versions", json={"uri": URI, "version_name": "1.1.0"})
    assert shown() == ("by hand", "", ["1.1.0", "1.0.0"])


def kept_pages(api: Any) -> dict[str, float]:
    """The server's count of listing pages answered as kept and read anew (its /metrics)."""
    found = samples(api.get("/metrics").text)
    return {answer: value(found, "modeldeck_listing_pages_total", answer=answer) for answer in ("kept", "read")}


def test_a_page_is_the_one_its_request_means_now(store_deployment: Deployment):
    """The same request asked again is decided again: over PostgreSQL the page read with its decision
    (`listings._decide`) is the one the same request last meant, and must give way when the model's name
    now means another model, when the caller may no longer list, or when it was held back for a kept page."""
    dep = store_deployment
    main = dep.admin
    main.ok("POST", "/api/v1/workspaces", json={"name": "ws-a"})
    sam_key = main.ok("POST", "/api/v1/accounts", json={"name": "sam"})["api_key"]
    main.ok("PUT", "/api/v1/workspaces/ws-a/members/sam", json={"role": "viewer"})
    admin_a, sam = dep.client(None, "ws-a"), dep.client(sam_key, "ws-a")

    def versions(api: Any) -> list[str]:
        return [v["version_name"] for v in api.ok("GET", "/api/v1/models/iris/versions")["items"]]

    def models(api: Any) -> list[str]:
        return [m["model_name"] for m in api.ok("GET", "/api/v1/models")["items"]]

    main.ok("POST", "/api/v1/models", json={"model_name": "iris", "accessibility": "PUBLIC"})  # the default workspace's
    assert versions(sam) == versions(sam) == []  # an empty page, asked again
    assert models(sam) == ["iris"]
    main.ok("POST", "/api/v1/models/iris/versions", json={"uri": URI, "version_name": "1.0.0"})
    assert versions(sam) == versions(sam) == ["1.0.0"]
    assert models(sam) == ["iris"]  # the database as the kept pages were read, this page not among them
    admin_a.ok("POST", "/api/v1/models", json={"model_name": "iris"})  # now "iris" in ws-a means its own
    admin_a.ok("POST", "/api/v1/models/iris/versions", json={"uri": URI, "version_name": "2.0.0"})
    assert versions(sam) == ["2.0.0"]
    assert models(sam) == ["iris", "iris"]
    assert main.delete("/api/v1/workspaces/ws-a/members/sam").status_code == 204
    for path in ("/api/v1/models/iris/versions", "/api/v1/models"):
        refused = sam.get(path)
        assert refused.status_code == 403 and refused.json()["code"] == "Workspace.AccessDenied"


def test_a_listing_follows_each_change_of_who_may_see_what(store_deployment: Deployment):
    """A listing's decision is kept while nothing it was read from has changed (on SQLite its data_version,
    on PostgreSQL the access epoch its page statement reads): each change to the tables a decision reads,
    through the API or as SQL by hand, shows in the very next page, on each listing it decides."""
    dep = store_deployment
    main = dep.admin
    main.ok("POST", "/api/v1/workspaces", json={"name": "ws-a"})
    main.ok("POST", "/api/v1/accounts", json={"name": "dev"})
    main.ok("PUT", "/api/v1/workspaces/ws-a/members/dev", json={"role": "viewer"})
    key = main.ok("POST", "/api/v1/accounts/dev/keys")
    dev = dep.client(key["api_key"], "ws-a")
    main.ok("POST", "/api/v1/models", json={"model_name": "iris", "accessibility": "PUBLIC"})
    main.ok("POST", "/api/v1/models", json={"model_name": "rose"})
    main.ok("PUT", "/api/v1/models/rose/grants/ws-a", json={"actions": ["inference"]})
    iris, rose, models = "/api/v1/models/iris/versions", "/api/v1/models/rose/versions", "/api/v1/models"

    def status(path: str) -> int:
        first, again = (dev.get(path).status_code for _ in range(2))  # the second by the kept decision, if any
        assert first == again, path
        return first

    def sql(statement: str) -> None:
        with dep.platform.store.engine.begin() as conn:
            conn.execute(text(statement))

    assert status(iris) == status(rose) == status(models) == 200

    def after(change: Any, path: str, allowed: bool) -> None:
        """`path` listed (its decision kept) as `allowed` was not, then `change` made, then `path` as `allowed`."""
        assert (status(path) == 200) is not allowed, path
        change()
        assert (status(path) == 200) is allowed, path

    after(lambda: main.ok("PATCH", "/api/v1/models/iris", json={"accessibility": "PRIVATE"}), iris, False)
    after(lambda: sql("UPDATE models SET accessibility = 'PUBLIC' WHERE model_name = 'iris'"), iris, True)
    after(lambda: sql("UPDATE models SET model_name = 'iris-2' WHERE model_name = 'iris'"), iris, False)
    after(lambda: main.delete("/api/v1/models/rose/grants/ws-a"), rose, False)
    after(lambda: main.ok("PATCH", "/api/v1/workspaces/ws-a", json={"name": "ws-b"}), models, False)
    after(lambda: main.ok("PATCH", "/api/v1/workspaces/ws-b", json={"name": "ws-a"}), models, True)
    dev_id = "(SELECT id FROM accounts WHERE name = 'dev')"
    after(lambda: sql(f"UPDATE members SET role = 'none' WHERE account_id = {dev_id}"), models, False)
    after(lambda: sql(f"UPDATE members SET role = 'viewer' WHERE account_id = {dev_id}"), models, True)
    after(lambda: main.delete("/api/v1/workspaces/ws-a/members/dev"), models, False)
    after(lambda: main.ok("PATCH", "/api/v1/settings", json={"authorization_mode": "loose"}), models, True)  # accounts
    after(lambda: main.ok("PATCH", "/api/v1/settings", json={"authorization_mode": "strict"}), models, False)
    after(lambda: main.ok("PUT", "/api/v1/workspaces/ws-a/members/dev", json={"role": "viewer"}), models, True)
    after(lambda: main.ok("DELETE", f"/api/v1/keys/{key['id']}"), models, False)  # api_keys
