"""The OpenAPI document tells the truth: a bounded schemathesis run against a real server, every response
checked against the documented status codes, content types and response schemas (errors included)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402  (schemathesis brings hypothesis)

from conftest import deploy  # noqa: E402
from modeldeck.platform import Settings  # noqa: E402

CREDENTIALS: dict[str, str] = {}


@pytest.fixture(scope="module")
def contract_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    dep = deploy(Settings(home=tmp_path_factory.mktemp("contract") / "home"))
    dep.admin.ok("POST", "/api/v1/models", json={"model_name": "m"})
    dep.admin.ok("POST", "/api/v1/models/m/versions", json={"uri": "oss://b/k"})
    CREDENTIALS["Authorization"] = f"Bearer {dep.admin_key}"
    try:
        yield schemathesis.openapi.from_url(f"{dep.url}/openapi.json")
    finally:
        dep.close()


@pytest.mark.slow
def test_every_response_is_the_documented_one(contract_schema: object) -> None:
    """A few generated requests per operation (bounded: well under a minute), every response validated:
    no 5xx, documented status codes, content types, headers and response schemas. Not "schema-valid data
    is accepted": cursors and names are opaque strings whose validity depends on what exists."""
    from hypothesis import given
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    failures = []
    for result in contract_schema.get_all_operations():  # type: ignore[attr-defined]
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)  # fmt: skip
        def check(case: object) -> None:
            case.call_and_validate(headers=CREDENTIALS, excluded_checks=[positive_data_acceptance])  # type: ignore[attr-defined]

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # collect them all: one run shows every operation that lies
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)


def test_the_document_declares_security_errors_and_no_422(contract_schema: object) -> None:
    raw = contract_schema.raw_schema  # type: ignore[attr-defined]
    assert set(raw["components"]["securitySchemes"]) == {"ApiKey", "AccessKey"}
    assert raw["components"]["securitySchemes"]["AccessKey"] == {**raw["components"]["securitySchemes"]["AccessKey"],
                                                                 "type": "apiKey", "in": "header", "name": "Authorization"}  # fmt: skip
    assert raw["components"]["schemas"]["Error"]["required"] == ["code", "message", "hint", "request_id"]
    for path, operations in raw["paths"].items():
        for method, operation in operations.items():
            assert "422" not in operation["responses"], (method, path)
            shape = "OpenAIError" if path.startswith("/v1/") else "Error"
            assert operation["responses"]["400"]["content"]["application/json"]["schema"] == {
                "$ref": f"#/components/schemas/{shape}"}
            for status, response in operation["responses"].items():
                for content in response.get("content", {}).values():
                    assert content["schema"] != {}, (method, path, status)


def test_405_names_the_allowed_methods(tmp_path: Path) -> None:
    dep = deploy(Settings(home=tmp_path / "home"))
    try:
        response = dep.admin.put("/api/v1/models")
        assert response.status_code == 405 and response.json()["code"] == "MethodNotAllowed"
        allowed = set(response.headers["allow"].replace(" ", "").split(","))
        assert "GET" in allowed and "PUT" not in allowed  # (Starlette names the first matching route's methods)
    finally:
        dep.close()
