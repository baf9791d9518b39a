"""Driven by the OpenAPI schema: every route answers a bad request with the one error shape,
and documents its errors with that shape (never FastAPI's default validation body)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import assert_error
from zhiku import Zhiku
from zhiku.api import create_app

# routes that take no input at all: no request of theirs can be bad
NO_INPUT = {("GET", "/api/health"), ("GET", "/api/version"), ("GET", "/api/kbs"), ("GET", "/api/embedders"),
            ("GET", "/v1/models"), ("POST", "/api/auth/logout"), ("GET", "/api/auth/me"), ("GET", "/api/auth/users"),
            ("GET", "/api/auth/keys"), ("GET", "/api/tools"), ("GET", "/api/tools/servers"),
            ("GET", "/api/settings"), ("GET", "/api/settings/detect"), ("GET", "/api/settings/catalog")}
BAD_PATH_VALUES = {"kb": "no such kb", "file_id": "not-an-id", "job_id": "not-an-id", "chunk_id": "0",
                   "name": "no such user", "user": "no such user", "key_id": "not-a-key-id",
                   "conversation_id": "not-an-id", "message_id": "not-an-id", "temp_kb_id": "not-an-id",
                   "approval_id": "not-an-id",
                   "source_id": "not-an-id",
                   "image_id": "not-an-id",
                   "pull_id": "not-an-id",
                   "file": "no/such/file.md",
                   "model": "kb:no such kb"}


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


def _bad_request(method: str, path: str, op: dict[str, Any]) -> dict[str, Any]:
    """A request this operation must refuse: wrong path values, an unexpected body, bad query values."""
    url = path
    for name, value in BAD_PATH_VALUES.items():
        url = url.replace("{" + name + "}", value)
    assert "{" not in url, f"no bad value for a path parameter of {path}"
    request: dict[str, Any] = {"method": method, "url": url}
    body = op.get("requestBody", {}).get("content", {})
    if "application/json" in body:
        request["json"] = {"unexpected": True}
    elif "multipart/form-data" in body:
        request["content"] = b"not multipart"
        request["headers"] = {"content-type": "text/plain"}
    query = [p for p in op.get("parameters", []) if p["in"] == "query"]
    if not any(p["in"] == "path" for p in op.get("parameters", [])) and "json" not in request and query:
        request["params"] = {p["name"]: "-1" for p in query if p["schema"].get("type") != "boolean"
                             and "anyOf" not in p["schema"]} or {
            p["name"]: "maybe" for p in query if p["schema"].get("type") == "boolean"} or {"status": "nonsense"}
    return request


@pytest.fixture
def spec(zk: Zhiku) -> dict[str, Any]:
    return create_app(zk).openapi()


def test_every_route_refuses_a_bad_request_with_the_error_shape(raw: httpx.Client, spec: dict[str, Any]) -> None:
    raw.post("/api/kbs", json={"name": "kb"})
    checked = []
    for method, path, op in _operations(spec):
        if (method, path) in NO_INPUT:
            continue
        request = _bad_request(method, path, op)
        response = raw.request(**request)
        error = assert_error(response, response.status_code)
        assert 400 <= response.status_code < 500, (method, path, response.status_code)
        documented = op["responses"].get(str(response.status_code))
        assert documented, f"{method} {path} answered {response.status_code}, which it does not document"
        assert error["type"]
        checked.append((method, path))
    assert len(checked) >= 20, checked


def test_errors_are_documented_with_the_one_shape(spec: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in spec["components"]["schemas"], "a route documents FastAPI's default 422"
    for method, path, op in _operations(spec):
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
    error = spec["components"]["schemas"]["ErrorInfo"]
    assert set(error["properties"]) == {"type", "message", "details"}


def test_unknown_routes_and_methods(raw: httpx.Client, spec: dict[str, Any]) -> None:
    for method, path, _ in _operations(spec):
        other = "PUT" if method != "PUT" else "POST"
        url = path.replace("{kb}", "kb").replace("{file_id}", "0" * 32).replace("{job_id}", "0" * 32)
        url = url.replace("{chunk_id}", "1").replace("{source_id}", "0" * 32)
        if other.lower() not in spec["paths"][path]:
            assert_error(raw.request(other, url), 405, "method_not_allowed")
    assert_error(raw.get("/api/kbs/kb/nothing/here"), 404, "not_found")
    assert_error(raw.get("/nothing"), 404, "not_found")
