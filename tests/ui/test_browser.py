"""End to end in headless Chromium against a real ``zhiku start``: knowledge base, uploads, chat in
Chinese and English with citations, a refresh that keeps the conversation, sign-in and sign-out,
hostile text that never runs, and not one request that leaves the machine."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
from pypdf import PdfReader

from tests.ui.browser import ZHIKU, Watched, ZhikuServer
from tests.ui.documents import chinese_docx, english_pdf
from zhiku.client import ZhikuClient
from zhiku.testing.llm_servers import ChatServer

pytestmark = pytest.mark.slow

XSS = '<img src=x onerror="window.__xss=1">'
IMAGE = "![x](http://evil.example/p.png)"
HOSTILE_NAME = f'{XSS}.md'
LINK = "[点此](javascript:window.__xss=1)"
HOSTILE_DOC = f"# 报销\n\n报销需要在三十天内提交。<script>window.__xss=1</script>{XSS}{LINK}{IMAGE}\n"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ZhikuServer]:
    s = ZhikuServer(tmp_path / "home")
    yield s
    s.stop()


def assert_offline_and_inert(w: Watched) -> None:
    assert not w.external(), f"requests left the machine: {w.external()}"
    assert w.dialogs == []
    assert w.page.evaluate("window.__xss") is None, "a script from content ran"
    assert w.page.locator("img[onerror]").count() == 0


def cited_marker(page: Any, message: int, n: int) -> Any:
    """The clickable ``[n]`` inside the text of chat message number ``message`` (0-based), once the
    answer is final (Playwright's CSS locators see into the answer component's shadow root)."""
    marker = page.locator("[data-testid=stChatMessage]").nth(message).locator(f"button.zk-cite[data-n='{n}']")
    marker.wait_for(timeout=60_000)
    return marker


def download(page: Any, button: Any) -> Any:
    """The file a click on ``button`` downloads. Streamlit may render a popover or dialog once more
    right after it opens, and a click that lands on the element being replaced does nothing: one
    more click then (a person clicks again too); the download itself is checked by the caller."""
    try:
        with page.expect_download(timeout=10_000) as first:
            button.click()
        return first.value
    except Exception:  # noqa: BLE001 - Playwright's TimeoutError: the click was lost in a re-render
        with page.expect_download() as second:
            button.click()
        return second.value


def close(dialog: Any) -> None:
    dialog.get_by_role("button", name="Close").click()
    dialog.wait_for(state="detached")


def test_kb_upload_chat_citations_refresh(browser: Any, server: ZhikuServer, tmp_path: Path) -> None:
    docx = chinese_docx(tmp_path / "员工手册.docx")
    pdf = english_pdf(tmp_path / "customer-service.pdf")
    hostile = tmp_path / "hostile.md"
    hostile.write_text(HOSTILE_DOC, encoding="utf-8")
    w = Watched(browser, server.url)
    page = w.page
    page.goto(server.url + "/kbs?lang=English")

    # create a knowledge base (an empty home opens the form)
    page.get_by_label("Name").fill("手册 Handbook")
    page.get_by_label("Description").fill(f"policies {XSS}")
    page.get_by_role("button", name="Create").click()
    page.get_by_text("1 files").or_(page.get_by_text("0 files")).first.wait_for()

    # upload a Chinese docx, an English PDF and a hostile file, and wait until they are indexed
    page.get_by_role("tab", name="Upload").click()
    page.locator("input[type=file]").set_input_files([
        {"name": docx.name, "mimeType": "application/octet-stream", "buffer": docx.read_bytes()},
        {"name": pdf.name, "mimeType": "application/pdf", "buffer": pdf.read_bytes()},
        {"name": HOSTILE_NAME, "mimeType": "text/markdown", "buffer": hostile.read_bytes()}])
    page.get_by_text("customer-service.pdf").first.wait_for()
    page.get_by_role("button", name="Upload and index").click()
    page.get_by_text("Done: 3 indexed, 0 failed").wait_for(timeout=120_000)

    # ask in Chinese: the answer, its citation marker, the cited passage, the source file
    page.get_by_role("link", name="Chat").click()
    ask = page.get_by_placeholder("Ask a question and press Enter")
    ask.fill("年假有几天？")
    ask.press("Enter")
    page.get_by_text("十五天带薪年假").first.wait_for(timeout=60_000)
    page.wait_for_url(re.compile(r"[?&]c=\w+"))

    # the marker [1] in the answer's text opens passage 1 over the chat, in place (no reload)
    page.evaluate("window.__same_page = 1")
    url = page.url
    marker = cited_marker(page, 1, 1)
    marker.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("员工手册.docx").wait_for()
    dialog.get_by_text("入职满一年的员工每年享有十五天带薪年假").wait_for()  # the passage as written
    file = download(page, dialog.get_by_role("button", name="Download source file"))
    assert Path(file.path()).read_bytes() == docx.read_bytes()
    assert file.suggested_filename == "员工手册.docx"
    close(dialog)
    assert page.evaluate("window.__same_page") == 1 and page.url == url  # the same page, the same chat
    marker.click()  # and again
    dialog.get_by_text("员工手册.docx").wait_for()
    close(dialog)
    page.get_by_text("年假有几天？").first.wait_for()

    # the sources under the answer still open the passage too
    source = page.get_by_test_id("stPopoverButton").filter(has_text=re.compile(r"\[1\] 员工手册\.docx"))
    source.click()
    in_popover = page.get_by_text("Download source file")
    in_popover.wait_for()
    file = download(page, in_popover)
    assert Path(file.path()).read_bytes() == docx.read_bytes()
    assert file.suggested_filename == "员工手册.docx"
    source.click()
    in_popover.wait_for(state="hidden")

    # ask in English
    ask.fill("Within how many days are refunds paid after receiving the returned item?")
    ask.press("Enter")
    page.get_by_text("14 days").first.wait_for(timeout=60_000)
    page.get_by_role("button", name=re.compile(r"customer-service\.pdf")).first.wait_for()
    assert dialog.count() == 0  # a closed passage stays closed when the page reruns
    # its marker opens the PDF's passage, which offers the cited page on its own
    with ZhikuClient(server.url) as zk:
        cid = re.search(r"[?&]c=(\w+)", page.url).group(1)  # type: ignore[union-attr]
        cited = zk.get_conversation(cid).messages[-1].citations[0]
    assert cited.file == pdf.name and cited.page
    cited_marker(page, 3, 1).click()
    dialog.get_by_text("customer-service.pdf").wait_for()
    pages = (f"pages {cited.page}–{cited.page_end}" if cited.page_end and cited.page_end > cited.page
             else f"page {cited.page}")
    dialog.get_by_text(re.compile(rf"^{pages} · ")).wait_for()  # the page(s) it cites
    file = download(page, dialog.get_by_role("button", name=f"Download page {cited.page} (PDF)"))
    assert file.suggested_filename == f"customer-service-p{cited.page}.pdf"
    one_page = PdfReader(file.path())
    assert len(one_page.pages) == 1
    assert one_page.pages[0].extract_text() == PdfReader(pdf).pages[cited.page - 1].extract_text()
    close(dialog)

    # a question full of markup, answered from the hostile document: shown as text, never run
    ask.fill(f"报销需要在多少天内提交？{XSS}")
    ask.press("Enter")
    page.get_by_text(f"报销需要在多少天内提交？{XSS}").first.wait_for()  # the markup, as text
    page.wait_for_function("document.querySelectorAll('[data-testid=stChatMessage]').length >= 6",
                           timeout=60_000)
    answer = page.locator("[data-testid=stChatMessage]").nth(5)
    answer.get_by_text(LINK + IMAGE).wait_for()  # the answer quotes the hostile markup: it shows as text
    assert answer.locator("img, script, a[href^='javascript' i]").count() == 0
    answer.locator("button.zk-cite").first.click()  # the answer cites the hostile file: its passage, inert
    dialog.get_by_text(HOSTILE_NAME).wait_for()  # the name, as text
    dialog.get_by_text("<script>window.__xss=1</script>", exact=False).first.wait_for()
    close(dialog)
    page.screenshot(path="/tmp/hostile.png", full_page=True)

    # refresh: the conversation comes back from the server
    url = page.url
    page.reload()
    page.get_by_text("十五天带薪年假").first.wait_for()
    page.get_by_text("14 days").first.wait_for()
    assert page.url == url
    page.get_by_role("button", name="年假有几天？").wait_for()  # listed in the sidebar

    # a conversation titled with markdown that would fetch an image: its label shows the text instead
    page.get_by_role("button", name="New conversation").click()
    page.wait_for_url(lambda u: "c=" not in u)
    page.get_by_text("How can I help?").wait_for()
    ask.fill(f"{IMAGE} 年假有几天？")
    ask.press("Enter")
    page.wait_for_url(re.compile(r"[?&]c=\w+"))
    page.get_by_role("button", name=IMAGE).wait_for(timeout=60_000)
    assert_offline_and_inert(w)
    w.close()
    # no Streamlit call outside a script run (the downloads' data is read on a server thread): it was
    # logged as "missing ScriptRunContext" three times per download (issue 21, item 7)
    log = (server.home.parent / f"server-{server.port}.log").read_text(errors="replace")
    assert "ScriptRunContext" not in log, log[-2000:]


def test_sign_in_and_out(browser: Any, tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = subprocess.run([str(ZHIKU), "--home", str(home), "user", "add", "alice", "--admin", "--password-stdin"],
                          input="correct horse 1\n", capture_output=True, text=True, timeout=60, check=False)
    assert made.returncode == 0, made.stderr
    server = ZhikuServer(home)
    try:
        w = Watched(browser, server.url)
        page = w.page
        page.goto(server.url + "/kbs?lang=English")
        page.get_by_label("User name").fill("alice")
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("Sign-in failed").wait_for()
        page.get_by_label("User name").fill("alice")
        page.get_by_label("Password").fill("correct horse 1")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("No knowledge base yet").wait_for()
        assert page.url.endswith("/kbs?lang=English")
        cookie = next(c for c in w.context.cookies() if c["name"] == "zhiku_token")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        page.reload()  # still signed in
        page.get_by_text("No knowledge base yet").wait_for()
        page.get_by_role("button", name="Sign out").click()
        page.get_by_text("Signed out").wait_for()
        assert not [c for c in w.context.cookies() if c["name"] == "zhiku_token"]
        page.goto(server.url + "/settings?lang=English")
        page.get_by_label("User name").wait_for()  # signed out: the pages ask to sign in again
        assert_offline_and_inert(w)
        w.close()
    finally:
        server.stop()


def test_a_generated_answer_streams_and_stops(browser: Any, tmp_path: Path) -> None:
    story = "".join(f"第{i}句话。" for i in range(1, 400))  # ~50 s at 4 characters per 0.1 s
    with ChatServer(reply=story, interval=0.1, piece=4) as llm:
        server = ZhikuServer(tmp_path / "home", {
            "ZHIKU_LLM__DEFAULT": "slow", "ZHIKU_LLM__DETECT_LOCAL": "false",
            "ZHIKU_LLM__MODELS__SLOW__BASE_URL": llm.base_url, "ZHIKU_LLM__MODELS__SLOW__MODEL": "ok"})
        try:
            w = Watched(browser, server.url)
            page = w.page
            page.goto(server.url + "/?lang=English")
            page.get_by_text("LLM chat").click()
            ask = page.get_by_placeholder("Ask a question and press Enter")
            ask.fill("讲一个很长的故事")
            ask.press("Enter")
            page.get_by_text("第3句话").first.wait_for()  # pieces arrive while the model still writes
            page.locator("[data-testid=stChatMessage]").get_by_role("button", name="Stop").click()
            page.get_by_text("(stopped)").wait_for()
            with ZhikuClient(server.url) as zk:
                answer = zk.list_conversations()[0]
                message = zk.get_conversation(answer.id).messages[1]
            assert message.status == "stopped"
            assert message.content.startswith("第1句话。第2句话。第3句") and "第399句话" not in message.content
            assert_offline_and_inert(w)
            w.close()
        finally:
            server.stop()


def test_chat_with_uploaded_files(browser: Any, server: ZhikuServer, tmp_path: Path) -> None:
    """File chat: files dropped into the chat's sidebar become a temporary knowledge base the
    answers cite; it is not listed among the knowledge bases."""
    pdf = english_pdf(tmp_path / "customer-service.pdf")
    w = Watched(browser, server.url)
    page = w.page
    page.goto(server.url + "/?lang=English")
    page.get_by_text("Chat with files").click()
    # the chat's file uploader (the chat has one for a picture too)
    page.locator(".st-key-chat-files input[type=file]").set_input_files([
        {"name": pdf.name, "mimeType": "application/pdf", "buffer": pdf.read_bytes()}])
    page.get_by_text("Files ready: customer-service.pdf").wait_for(timeout=120_000)  # read into a temporary KB
    ask = page.get_by_placeholder("Ask a question and press Enter")
    ask.fill("Within how many days are refunds paid after receiving the returned item?")
    ask.press("Enter")
    page.get_by_text("14 days").first.wait_for(timeout=60_000)
    page.get_by_role("button", name=re.compile(r"customer-service\.pdf")).first.wait_for()
    with ZhikuClient(server.url) as zk:
        conv = zk.get_conversation(zk.list_conversations()[0].id)
        assert conv.mode == "file" and conv.messages[1].citations[0].file == "customer-service.pdf"
        assert zk.list_kbs() == []  # the temporary KB stays out of the list
    assert_offline_and_inert(w)
    w.close()
