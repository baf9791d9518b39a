"""The path-traversal payloads and the requests that carry them (tests/hardening/test_path_traversal.py,
scripts/reliability.py). Each route variant puts one payload where a request names a knowledge base,
a file, an id or a page: REST, Chatchat-compatible, /v1, the docs' static files and MCP's tools."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

import httpx

SECRET = "OUTSIDE-SECRET-7f3a9c"  # the content of a file next to the data folder
PASSWD = "root:x:0:0"


def payloads(secret: Path) -> list[str]:
    """At least 40 ways of naming something outside the data folder (``secret``: a real file there)."""
    up = [("../" * n) + "outside/secret.md" for n in range(1, 9)]
    return up + [
        "..\\..\\..\\outside\\secret.md", "..\\..\\windows\\win.ini",  # backslashes
        "/etc/passwd", str(secret), "//etc/passwd", "C:\\Windows\\win.ini", "C:/Windows/win.ini",
        "\\\\server\\share\\x.md", "file:///etc/passwd", "/proc/self/environ",  # absolute
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%2f..%2f..%2fetc%2fpasswd", "%2e%2e/%2e%2e/etc/passwd",
        "..%5c..%5cetc%5cpasswd",  # URL-encoded
        "%252e%252e%252fetc%252fpasswd", "..%252f..%252fetc%252fpasswd", "%25252e%25252e%25252fetc",  # double
        "secret.md\x00.txt", "../../etc/passwd\x00", "%00../../etc/passwd",  # NUL
        "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", "..%c0%af..%c0%afetc%c0%afpasswd", "%e0%80%ae%e0%80%ae/etc",  # overlong
        "．．／．．／etc／passwd", "\u2025/etc/passwd", "..\u2215..\u2215etc\u2215passwd", "..\u2044..\u2044etc",
        "\u2024\u2024/\u2024\u2024/etc/passwd", "..\uff0f..\uff0fetc",  # Unicode look-alikes
        "sub/../../../etc/passwd", "./../../etc/passwd", "a/b/../../../../etc/passwd", "....//....//etc/passwd",
        "..;/..;/etc/passwd", ".../.../etc/passwd", "~/.ssh/id_rsa", "~root/.bashrc",
        "kbs/../../outside/secret.md",  # folder names
        "../" * 2000 + "etc/passwd", "a" * 5000, "x/" * 3000,  # over-long
        "..", ".", " ../etc/passwd", "../etc/passwd ", "..\t/etc/passwd",
    ]


Send = Callable[[httpx.Client, str], httpx.Response]
MUST_REFUSE, LABEL = "refused", "label"  # a 4xx; or a name kept as a label inside the data folder


@dataclass(frozen=True)
class Variant:
    name: str
    send: Send
    expect: str  # MUST_REFUSE or LABEL


def _q(p: str) -> str:
    """``p`` as one path segment, dots too (a client would otherwise resolve ``..`` before sending)."""
    return quote(p, safe="").replace(".", "%2E")


def variants(file_id: str) -> list[Variant]:
    """The route variants; ``file_id``: an existing file of KB ``kb`` (the payload replaces one part)."""
    f = f"/api/kbs/kb/files/{file_id}"
    md = b"# planted\n\nplanted text\n"
    out = [
        Variant("GET /api/kbs/{kb}", lambda c, p: c.get(f"/api/kbs/{_q(p)}"), MUST_REFUSE),
        Variant("GET /api/kbs/{kb}/files", lambda c, p: c.get(f"/api/kbs/{_q(p)}/files"), MUST_REFUSE),
        Variant("GET /api/kbs/{kb}/files/{file_id}", lambda c, p: c.get(f"/api/kbs/kb/files/{_q(p)}"), MUST_REFUSE),
        Variant("GET .../{file_id}/content", lambda c, p: c.get(f"/api/kbs/kb/files/{_q(p)}/content"), MUST_REFUSE),
        Variant("GET .../{file_id}/chunks", lambda c, p: c.get(f"/api/kbs/kb/files/{_q(p)}/chunks"), MUST_REFUSE),
        Variant("GET .../content?page=", lambda c, p: c.get(f"{f}/content", params={"page": p}), MUST_REFUSE),
        Variant("DELETE .../{file_id}", lambda c, p: c.delete(f"/api/kbs/kb/files/{_q(p)}"), MUST_REFUSE),
        Variant("POST .../{file_id}/reingest", lambda c, p: c.post(f"/api/kbs/kb/files/{_q(p)}/reingest"), MUST_REFUSE),
        Variant("GET /api/kbs/{kb}/chunks/{chunk_id}", lambda c, p: c.get(f"/api/kbs/kb/chunks/{_q(p)}"), MUST_REFUSE),
        Variant("POST /api/kbs name", lambda c, p: c.post("/api/kbs", json={"name": p}), LABEL),
        Variant("POST /api/kbs/{kb}/files name", lambda c, p: c.post(
            "/api/kbs/kb/files", files=[("files", (p, md))]), LABEL),
        Variant("POST /api/search kbs", lambda c, p: c.post("/api/search", json={"kbs": [p], "query": "leave"}),
                MUST_REFUSE),
        Variant("GET /api/jobs?kb=", lambda c, p: c.get("/api/jobs", params={"kb": p}), MUST_REFUSE),
        Variant("GET /api/conversations/{id}", lambda c, p: c.get(f"/api/conversations/{_q(p)}"), MUST_REFUSE),
        Variant("GET /api/chat/files/{id}", lambda c, p: c.get(f"/api/chat/files/{_q(p)}"), MUST_REFUSE),
        Variant("download_doc file_name", lambda c, p: c.get("/knowledge_base/download_doc", params={
            "knowledge_base_name": "kb", "file_name": p}), MUST_REFUSE),
        Variant("download_doc knowledge_base_name", lambda c, p: c.get("/knowledge_base/download_doc", params={
            "knowledge_base_name": p, "file_name": "leave.md"}), MUST_REFUSE),
        Variant("list_files", lambda c, p: c.get("/knowledge_base/list_files", params={"knowledge_base_name": p}),
                MUST_REFUSE),
        Variant("delete_docs", lambda c, p: c.post("/knowledge_base/delete_docs", json={
            "knowledge_base_name": "kb", "file_names": [p], "delete_content": True}), MUST_REFUSE),
        Variant("update_docs", lambda c, p: c.post("/knowledge_base/update_docs", json={
            "knowledge_base_name": "kb", "file_names": [p]}), MUST_REFUSE),
        Variant("upload_docs name", lambda c, p: c.post("/knowledge_base/upload_docs", data={
            "knowledge_base_name": "kb"}, files=[("files", (p, md))]), LABEL),
        Variant("create_knowledge_base", lambda c, p: c.post("/knowledge_base/create_knowledge_base", json={
            "knowledge_base_name": p}), LABEL),
        Variant("search_docs file_name", lambda c, p: c.post("/knowledge_base/search_docs", json={
            "knowledge_base_name": "kb", "query": "", "file_name": p}), LABEL),  # a filter: [] or 4xx
        Variant("search_temp_docs knowledge_id", lambda c, p: c.post("/knowledge_base/search_temp_docs", json={
            "knowledge_id": p, "query": "leave"}), MUST_REFUSE),
        Variant("GET /v1/models/{model}", lambda c, p: c.get(f"/v1/models/kb:{_q(p)}"), MUST_REFUSE),
        Variant("POST /v1/chat/completions model", lambda c, p: c.post("/v1/chat/completions", json={
            "model": f"kb:{p}", "messages": [{"role": "user", "content": "leave"}]}), MUST_REFUSE),
        Variant("GET /docs-assets/{path}", lambda c, p: c.get(f"/docs-assets/{_q(p)}"), MUST_REFUSE),
    ]
    # the names kept as labels (creations, uploads) last: a payload that is a valid name (a look-alike, an
    # encoded string) becomes a KB or a file, which the reads before them must not have found
    return [v for v in out if v.expect == MUST_REFUSE] + [v for v in out if v.expect == LABEL]


def refused(response: httpx.Response) -> bool:
    """A 4xx, or Chatchat's envelope with an error code in a 200 (its clients read ``code``)."""
    if 400 <= response.status_code < 500:
        return True
    if response.status_code == 200 and response.headers.get("content-type", "").startswith("application/json"):
        body: Any = response.json()
        if not isinstance(body, dict) or not isinstance(body.get("code"), int):
            return False
        if body["code"] >= 400:
            return True
        # Chatchat's batch routes (delete_docs, update_docs) answer per file: the one name sent failed
        data = body.get("data")
        return isinstance(data, dict) and bool(data.get("failed_files"))
    return False


def leaked(text: str) -> bool:
    return SECRET in text or PASSWD in text
