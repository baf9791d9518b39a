"""Uploads as background jobs: progress, per-file outcomes, limits, download, re-ingest, retry."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from tests.api.conftest import EN, SICK, ZH, assert_error
from zhiku import Zhiku
from zhiku.client import ZhikuClient
from zhiku.errors import Conflict, InvalidInput, NotFound, TooLarge
from zhiku.ingest.jobs import clean_upload_name

BROKEN_PDF = b"%PDF-1.4 this is not really a pdf"


def test_upload_many_files_poll_to_completion(client: ZhikuClient) -> None:
    client.create_kb("手册")
    job = client.upload("手册", [("leave.md", ZH.encode()), ("refund.md", EN.encode()), ("病假.md", SICK.encode())])
    assert job.kind == "upload" and job.status in ("queued", "running", "done") and job.files_total == 3
    done = client.wait_for_job(job.id, timeout=60)
    assert done.status == "done" and done.files_done == 3 and done.files_failed == 0 and done.progress == 1.0
    assert [f.outcome for f in done.files] == ["added"] * 3
    assert done.chunks_total >= 3 and done.chunks_embedded == done.chunks_total
    files = client.list_files("手册")
    assert sorted(f.name for f in files) == ["leave.md", "refund.md", "病假.md"]
    assert all(f.status == "indexed" for f in files)
    assert client.list_files("手册", status="failed") == []
    assert client.search("手册", "病假工资", mode="lexical")[0].file == "病假.md"
    assert [j.id for j in client.list_jobs(kb="手册")] == [job.id]


def test_progress_events_stream_until_the_end(client: ZhikuClient) -> None:
    client.create_kb("kb")
    job = client.upload("kb", [(f"d{i}.md", (ZH + f"\n编号{i}。\n").encode()) for i in range(5)])
    events = list(client.job_events(job.id))
    assert events, "no events"
    final = events[-1]
    assert final.status == "done" and final.files_done == 5
    done_counts = [e.files_done for e in events]
    assert done_counts == sorted(done_counts), "progress went backwards"
    # a finished job's stream is its final state only
    assert [e.status for e in client.job_events(job.id)] == ["done"]


def test_failed_file_is_reported_while_the_others_index(client: ZhikuClient, tmp_path: Path) -> None:
    client.create_kb("kb")
    good = tmp_path / "good.md"
    good.write_text(EN, encoding="utf-8")
    job = client.upload("kb", [("broken.pdf", BROKEN_PDF), good, ("data.xyz", b"what is this")])
    done = client.wait_for_job(job.id, timeout=60)
    assert done.status == "done" and done.files_failed == 2
    outcomes = {f.name: (f.outcome, f.detail) for f in done.files}
    assert outcomes["good.md"][0] == "added"
    assert outcomes["broken.pdf"][0] == "failed" and outcomes["broken.pdf"][1]
    assert outcomes["data.xyz"][0] == "failed" and "xyz" in outcomes["data.xyz"][1]
    files = {f.name: f for f in client.list_files("kb")}
    assert files["good.md"].status == "indexed"
    assert files["broken.pdf"].status == "failed" and files["broken.pdf"].error
    assert [f.name for f in client.list_files("kb", status="failed")] == ["broken.pdf", "data.xyz"]

    # retry runs the failed files again (in a new job) from the kept staged copies
    retry = client.wait_for_job(client.retry_job(job.id).id, timeout=60)
    assert retry.kind == "retry" and retry.retry_of == job.id
    assert sorted(f.name for f in retry.files) == ["broken.pdf", "data.xyz"]
    assert all(f.outcome == "failed" for f in retry.files)
    with pytest.raises(Conflict):
        client.retry_job(job.id)  # its files moved to the retry job
    client.delete_job(job.id)
    with pytest.raises(NotFound):
        client.get_job(job.id)


def test_download_returns_the_original_bytes(client: ZhikuClient) -> None:
    client.create_kb("kb")
    data = ZH.encode("gb18030")  # bytes as uploaded, not as decoded
    client.wait_for_job(client.upload("kb", [("年假 制度(2024).txt", data)]).id, timeout=60)
    (record,) = client.list_files("kb")
    assert client.download("kb", record.id) == data
    assert client.get_file("kb", record.id).name == "年假 制度(2024).txt"


def test_download_headers_are_safe(asgi: ZhikuClient, raw: httpx.Client) -> None:
    asgi.create_kb("kb")
    asgi.wait_for_job(asgi.upload("kb", [('报告"; x=1.html', b"<script>alert(1)</script> hello world")]).id)
    (record,) = asgi.list_files("kb")
    response = raw.get(f"/api/kbs/kb/files/{record.id}/content")
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="')
    fallback = disposition.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback.isascii() and ";" not in fallback and '"' not in fallback
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == '报告"; x=1.html'
    assert response.headers["x-content-type-options"] == "nosniff"


def test_upload_limits_leave_nothing_behind(raw: httpx.Client, zk: Zhiku) -> None:
    raw.post("/api/kbs", json={"name": "kb"})
    uploads = zk.settings.home / "uploads"
    # one file over ingest.max_file_mb (1 MB)
    big = b"x" * (1024 * 1024 + 10)
    err = assert_error(raw.post("/api/kbs/kb/files", files=[("files", ("big.txt", big))]), 413, "too_large")
    assert "big.txt" in err["message"]
    # the whole upload over server.max_upload_mb (2 MB), each file within its limit
    parts = [("files", (f"p{i}.txt", b"y" * 900_000)) for i in range(3)]
    assert_error(raw.post("/api/kbs/kb/files", files=parts), 413, "too_large")
    # a declared length over the limit is refused before the body is read
    assert_error(raw.post("/api/kbs/kb/files", content=b"", headers={
        "content-type": "multipart/form-data; boundary=x", "content-length": str(10 << 20)}), 413, "too_large")
    assert list(uploads.iterdir()) == [], "a refused upload left files behind"
    assert raw.get("/api/jobs").json() == [] and raw.get("/api/kbs/kb/files").json() == []


def test_bad_uploads(raw: httpx.Client, zk: Zhiku) -> None:
    raw.post("/api/kbs", json={"name": "kb"})
    assert_error(raw.post("/api/kbs/kb/files", json={"files": []}), 400, "invalid_input")
    assert_error(raw.post("/api/kbs/kb/files", data={"note": "no files"}, files=[("files", ("", b""))]),
                 400, "invalid_input")
    for name in ["../../etc/passwd", "..", "a\x00b.txt", "line\nbreak.txt", "dir/../x.md"]:
        assert_error(raw.post("/api/kbs/kb/files", files=[("files", (name, b"hello"))]), 400, "invalid_input")
    assert_error(raw.post("/api/kbs/nope/files", files=[("files", ("a.md", b"hello"))]), 404, "not_found")
    body = b"--x\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.md\"\r\n\r\nhello"  # no end
    assert_error(raw.post("/api/kbs/kb/files", content=body,
                          headers={"content-type": "multipart/form-data; boundary=x"}), 400, "invalid_input")
    assert list((zk.settings.home / "uploads").iterdir()) == []


def test_upload_names_are_display_names_only(asgi: ZhikuClient, zk: Zhiku) -> None:
    asgi.create_kb("kb")
    job = asgi.wait_for_job(asgi.upload("kb", [("报告.md", ZH.encode()),
                                               ("folder/sub/notes.md", EN.encode())]).id)
    assert [f.name for f in job.files] == ["报告.md", "folder/sub/notes.md"]  # relative names kept, as labels
    with pytest.raises(InvalidInput, match="backslash"):  # a Windows path is refused, not cut down
        asgi.upload("kb", [("C:\\Users\\me\\报告.md", ZH.encode())])
    kb = asgi.get_kb("kb")
    stored = sorted(p.name for p in (zk.settings.home / "kbs" / kb.id / "files").iterdir())
    assert stored == sorted(f.id for f in asgi.list_files("kb"))
    assert clean_upload_name(" 文件 .pdf ") == "文件 .pdf"
    for bad in ["", ".", "..", "a/../b", "x\x7f", "\x1b[31m.md", "/etc/passwd", "a\\b", "C:/x", "dir/"]:
        with pytest.raises(InvalidInput):
            clean_upload_name(bad)
    with pytest.raises(TooLarge):
        asgi.upload("kb", [("big.txt", b"z" * (1024 * 1024 + 1))])


def test_reingest_and_delete_file(client: ZhikuClient) -> None:
    client.create_kb("kb")
    client.wait_for_job(client.upload("kb", [("leave.md", ZH.encode()), ("refund.md", EN.encode())]).id)
    files = {f.name: f for f in client.list_files("kb")}
    job = client.wait_for_job(client.reingest("kb", files["leave.md"].id).id, timeout=60)
    assert job.kind == "reingest" and [f.outcome for f in job.files] == ["replaced"]
    after = {f.name: f for f in client.list_files("kb")}
    assert after["leave.md"].id != files["leave.md"].id and after["leave.md"].status == "indexed"
    with pytest.raises(NotFound):
        client.get_file("kb", files["leave.md"].id)  # the old version is retired
    client.delete_file("kb", after["refund.md"].id)
    assert [f.name for f in client.list_files("kb")] == ["leave.md"]
    assert all(h.file == "leave.md" for h in client.search("kb", "refunds paid", top_k=10))
    with pytest.raises(NotFound):
        client.delete_file("kb", after["refund.md"].id)
    with pytest.raises(NotFound):
        client.download("kb", after["refund.md"].id)


def test_file_ids_belong_to_their_kb(asgi: ZhikuClient) -> None:
    asgi.create_kb("a")
    asgi.create_kb("b")
    asgi.wait_for_job(asgi.upload("a", [("leave.md", ZH.encode())]).id)
    (record,) = asgi.list_files("a")
    for call in (asgi.get_file, asgi.download, asgi.list_chunks, asgi.delete_file, asgi.reingest):
        with pytest.raises(NotFound):
            call("b", record.id)
    chunk = asgi.list_chunks("a", record.id)[0]
    with pytest.raises(NotFound):
        asgi.get_chunk("b", chunk.id)
    assert asgi.get_file("a", record.id).status == "indexed"


def test_deleting_a_kb_forgets_its_jobs_and_staged_files(asgi: ZhikuClient, zk: Zhiku) -> None:
    asgi.create_kb("kb")
    asgi.create_kb("other")
    job = asgi.wait_for_job(asgi.upload("kb", [("broken.pdf", BROKEN_PDF), ("leave.md", ZH.encode())]).id)
    kept = asgi.wait_for_job(asgi.upload("other", [("broken.pdf", BROKEN_PDF)]).id)
    uploads = zk.settings.home / "uploads"
    assert sorted(p.name for p in uploads.iterdir()) == sorted([job.id, kept.id])  # failed files kept for retry
    asgi.delete_kb("kb")
    assert [j.id for j in asgi.list_jobs()] == [kept.id]
    assert [p.name for p in uploads.iterdir()] == [kept.id]
    with pytest.raises(NotFound):
        asgi.get_job(job.id)
