"""Rebuild and check a knowledge base over the API (the UI's and `zhiku --server`'s upkeep buttons)."""

from __future__ import annotations

from zhiku import Zhiku
from zhiku.client import ZhikuClient

from tests.api.conftest import EN, ZH, assert_error


def test_rebuild_and_check_repair(asgi: ZhikuClient, zk: Zhiku, raw) -> None:  # type: ignore[no-untyped-def]
    asgi.create_kb("kb")
    asgi.wait_for_job(asgi.upload("kb", [("zh.md", ZH.encode()), ("en.md", EN.encode())]).id, timeout=60)
    assert asgi.rebuild_kb("kb").chunks == 2
    assert asgi.check_kb("kb").consistent

    kb_id = zk.kb("kb").id
    stored = zk.settings.home / "kbs" / kb_id / "files"
    (stored / "stray.part").write_bytes(b"leftover")
    found = asgi.check_kb("kb")
    assert not found.consistent and any("stray" in p for p in found.problems)
    assert (stored / "stray.part").exists()  # a plain check changes nothing

    fixed = asgi.check_kb("kb", repair=True)
    assert fixed.consistent and fixed.repaired == found.problems and fixed.remaining == []
    assert not (stored / "stray.part").exists()
    assert [h.file for h in asgi.search("kb", "年假")][:1] == ["zh.md"]

    assert_error(raw.post("/api/kbs/none/rebuild"), 404, "not_found")
    assert_error(raw.post("/api/kbs/none/check"), 404, "not_found")
