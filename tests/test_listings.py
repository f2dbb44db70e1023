"""Listings read JSON and timestamps as stored text (past the driver's parsers) on SQLite and PostgreSQL:
what a page shows of a model or a version is exactly what the single resource's ORM road shows."""

from __future__ import annotations

from conftest import Deployment

URI = "oss://models-bucket/iris/model.onnx"
NESTED = {"a": {"b": [1, 2.5, None, True, "é"]}, "empty": {}, "list": []}


def test_a_page_shows_each_item_as_its_own_resource_does(store_deployment: Deployment):
    """By API key (the listings' hot path) and by token (the routes): every field of every listed version
    and model, JSON and timestamps included, equals the GET of that resource."""
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
