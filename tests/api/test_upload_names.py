"""File names with folders (``wiki/Home.MD``) are kept as names on every HTTP path, as ``zhiku kb
add`` of a folder names files and as Chatchat's clients send them; a name stays a label in the
database (stored copies are named by id), and whatever could be a way out is refused with 400 and
the reason. Two files of one name in one upload never lose one silently: the second is failed,
with the reason, in the job's per-file outcome, Chatchat's ``failed_files`` and file chat."""

from __future__ import annotations

import time
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import EN, SICK, ZH, assert_error
from zhiku import Zhiku
from zhiku.client import ZhikuClient
from zhiku.errors import InvalidInput
from zhiku.ingest.jobs import clean_upload_name

WIKI = "# Wiki\n\nThe build server restarts every night at two o'clock.\n"
CHATCHAT_FORM = {"override": False, "to_vector_store": True, "chunk_size": 750, "chunk_overlap": 150,
                 "zh_title_enhance": False, "docs": "{}", "not_refresh_vs_cache": False}
REFUSED = {  # name → what the 400 says
    "../x.md": "'..'", "a/../b.md": "'..'", "a/..": "'..'", "/etc/passwd": "absolute", "//host/share/x.md": "absolute",
    "C:\\Users\\me\\x.md": "backslash", "a\\b.md": "backslash", "C:/x.md": "drive letter", "c:x.md": "drive letter",
    "a\x00b.md": "control", "wiki/\x1b[31m.md": "control", "wiki/": "names a folder", "a/./": "names a folder",
    "a/\u202etxt.md": "text direction",
}


def chatchat_upload(raw: httpx.Client, kb: str, files: list[tuple[str, bytes]], **form: Any) -> httpx.Response:
    """As Chatchat's ApiRequest.upload_kb_docs sends it: multipart ``files`` and its form fields."""
    return raw.post("/knowledge_base/upload_docs", data={"knowledge_base_name": kb, **CHATCHAT_FORM, **form},
                    files=[("files", (name, BytesIO(content))) for name, content in files])


def stored_names(zk: Zhiku, kb: str) -> list[str]:
    return sorted(p.name for p in (zk.settings.home / "kbs" / zk.kb(kb).id / "files").iterdir())


def test_clean_upload_name_keeps_relative_paths() -> None:
    assert clean_upload_name("wiki/Home.MD") == "wiki/Home.MD"
    assert clean_upload_name(" ./a//b/ c.md ") == "a/b/c.md"
    assert clean_upload_name("cafe\u0301/re\u0301sume\u0301.md") == "café/résumé.md"  # NFC, as macOS names decompose
    for bad, why in REFUSED.items():
        with pytest.raises(InvalidInput, match=why):
            clean_upload_name(bad)


def test_rest_upload_keeps_folder_names(asgi: ZhikuClient, zk: Zhiku, raw: httpx.Client) -> None:
    asgi.create_kb("kb")
    job = asgi.wait_for_job(asgi.upload("kb", [("wiki/Home.MD", WIKI.encode()), ("a/b/c.md", EN.encode()),
                                               ("./规章/年假.md", ZH.encode())]).id)
    assert [(f.name, f.outcome) for f in job.files] == [
        ("wiki/Home.MD", "added"), ("a/b/c.md", "added"), ("规章/年假.md", "added")]
    files = {f.name: f for f in asgi.list_files("kb")}
    assert sorted(files) == ["a/b/c.md", "wiki/Home.MD", "规章/年假.md"]
    assert stored_names(zk, "kb") == sorted(f.id for f in files.values())  # stored by id: no folder on disk
    assert not [p for p in zk.settings.home.rglob("*") if p.name in ("wiki", "Home.MD", "规章", "a")]
    assert asgi.download("kb", files["wiki/Home.MD"].id) == WIKI.encode()
    assert [h.file for h in asgi.search("kb", "build server restarts at night")][:1] == ["wiki/Home.MD"]
    # the same file again, under its folder name, is recognised (not a second copy)
    again = asgi.wait_for_job(asgi.upload("kb", [("wiki/Home.MD", WIKI.encode())]).id)
    assert [f.outcome for f in again.files] == ["skipped"]


def test_rest_upload_refuses_escaping_names_with_the_reason(raw: httpx.Client, zk: Zhiku) -> None:
    raw.post("/api/kbs", json={"name": "kb"})
    for name, why in REFUSED.items():
        error = assert_error(raw.post("/api/kbs/kb/files", files=[("files", (name, b"hello"))]), 400, "invalid_input")
        assert why in error["message"], (name, error)
    assert raw.get("/api/kbs/kb/files").json() == []
    assert list((zk.settings.home / "uploads").iterdir()) == []


def test_rest_upload_never_drops_a_file_of_the_same_name(asgi: ZhikuClient, zk: Zhiku) -> None:
    asgi.create_kb("kb")
    job = asgi.wait_for_job(asgi.upload("kb", [
        ("a/X.md", ZH.encode()), ("b/X.md", EN.encode()), ("X.md", SICK.encode()), ("X.md", WIKI.encode())]).id)
    assert [(f.name, f.outcome) for f in job.files] == [
        ("a/X.md", "added"), ("b/X.md", "added"), ("X.md", "added"), ("X.md", "failed")]
    assert "also named 'X.md'" in job.files[3].detail and job.files_failed == 1
    files = {f.name: f for f in asgi.list_files("kb")}
    assert sorted(files) == ["X.md", "a/X.md", "b/X.md"]
    assert asgi.download("kb", files["X.md"].id) == SICK.encode()  # the first kept, not replaced by the second
    # the failed one's bytes are kept: a retry (the user's explicit choice) replaces X.md with it
    retried = asgi.wait_for_job(asgi.retry_job(job.id).id)
    assert [(f.name, f.outcome) for f in retried.files] == [("X.md", "replaced")]


def test_chatchat_names_with_folders(raw: httpx.Client, zk: Zhiku) -> None:
    raw.post("/knowledge_base/create_knowledge_base", json={"knowledge_base_name": "wiki"})
    r = chatchat_upload(raw, "wiki", [("wiki/Home.MD", WIKI.encode()), ("docs/年假.md", ZH.encode())])
    assert r.status_code == 200 and r.json()["data"]["failed_files"] == {}, r.text
    listed = raw.get("/knowledge_base/list_files", params={"knowledge_base_name": "wiki"}).json()["data"]
    assert sorted(row["file_name"] for row in listed) == ["docs/年假.md", "wiki/Home.MD"]
    r = raw.get("/knowledge_base/download_doc", params={"knowledge_base_name": "wiki", "file_name": "wiki/Home.MD"})
    assert r.status_code == 200 and r.content == WIKI.encode()
    docs = raw.post("/knowledge_base/search_docs", json={
        "knowledge_base_name": "wiki", "query": "", "file_name": "wiki/Home.MD"}).json()
    assert docs and {d["metadata"]["source"] for d in docs} == {"wiki/Home.MD"}
    r = raw.post("/knowledge_base/update_docs", json={"knowledge_base_name": "wiki", "file_names": ["wiki/Home.MD"]})
    assert r.json()["code"] == 200 and r.json()["data"]["failed_files"] == {}, r.text
    r = raw.post("/knowledge_base/delete_docs", json={
        "knowledge_base_name": "wiki", "file_names": ["docs/年假.md"], "delete_content": True})
    assert r.json()["data"]["failed_files"] == {}
    assert [f.name for f in zk.list_files("wiki")] == ["wiki/Home.MD"]
    # a folder name that is not there is "not found", and escaping names are still refused
    r = raw.get("/knowledge_base/download_doc", params={"knowledge_base_name": "wiki", "file_name": "Home.MD"})
    assert r.status_code == 200 and r.json()["code"] == 404  # Chatchat's envelope: its code in an HTTP 200
    for name in ("../wiki/Home.MD", "wiki\\Home.MD", "/wiki/Home.MD"):
        r = raw.get("/knowledge_base/download_doc", params={"knowledge_base_name": "wiki", "file_name": name})
        assert r.status_code == 200 and r.json()["code"] == 400, (name, r.text)


def test_chatchat_upload_reports_a_clash_in_failed_files(raw: httpx.Client, zk: Zhiku) -> None:
    raw.post("/knowledge_base/create_knowledge_base", json={"knowledge_base_name": "kb"})
    r = chatchat_upload(raw, "kb", [("a/X.md", ZH.encode()), ("b/X.md", EN.encode()),
                                    ("X.md", SICK.encode()), ("X.md", WIKI.encode())])
    assert r.status_code == 200, r.text
    failed = r.json()["data"]["failed_files"]
    assert list(failed) == ["X.md"] and "also named" in failed["X.md"]
    assert sorted(f.name for f in zk.list_files("kb")) == ["X.md", "a/X.md", "b/X.md"]
    hits = zk.search(["kb"], "build server restarts every night")
    assert not [h for h in hits if "build server" in h.text]  # the refused one was not indexed


def test_file_chat_upload_reports_a_clash(raw: httpx.Client) -> None:
    parts = [("a/X.md", ZH.encode()), ("b/X.md", EN.encode()), ("X.md", SICK.encode()), ("X.md", WIKI.encode())]
    r = raw.post("/knowledge_base/upload_temp_docs", data={"prev_id": ""},
                 files=[("files", (n, BytesIO(c))) for n, c in parts])
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["status"] == "ready" and len(data["failed_files"]) == 1
    assert "also named" in data["failed_files"][0]["X.md"]
    # zhiku's own file chat upload: the per-file outcome says it
    r = raw.post("/api/chat/files", files=[("files", (n, BytesIO(c))) for n, c in parts])
    assert r.status_code == 202, r.text
    tid = r.json()["id"]
    deadline = time.monotonic() + 60
    while (info := raw.get(f"/api/chat/files/{tid}").json())["status"] == "ingesting":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert [(f["name"], f["outcome"]) for f in info["files"]] == [
        ("a/X.md", "added"), ("b/X.md", "added"), ("X.md", "added"), ("X.md", "failed")]
    assert "also named" in info["files"][3]["detail"]


def test_cli_and_http_agree_on_folder_names(asgi: ZhikuClient, zk: Zhiku, tmp_path: Path) -> None:
    folder = tmp_path / "wiki"
    (folder / "sub").mkdir(parents=True)
    (folder / "Home.MD").write_text(WIKI, encoding="utf-8")
    (folder / "sub" / "Home.MD").write_text(EN, encoding="utf-8")  # the same base name in another folder
    zk.create_kb("local")
    zk.add_files("local", [folder])  # `zhiku kb add local wiki/`
    asgi.create_kb("http")
    asgi.wait_for_job(asgi.upload("http", [("wiki/Home.MD", WIKI.encode()), ("wiki/sub/Home.MD", EN.encode())]).id)
    expected = ["wiki/Home.MD", "wiki/sub/Home.MD"]
    assert [f.name for f in zk.list_files("local")] == [f.name for f in asgi.list_files("http")] == expected
