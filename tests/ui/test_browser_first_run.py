"""In headless Chromium against a real ``zhiku start``, the paths a new user clicks first (issue 21):
an empty home's guided first run; a second knowledge base created on the page and a file uploaded
into it (it lands there, not in the KB shown before); the language switch keeping what was chosen."""

from __future__ import annotations

import time

from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.ui.browser import Watched, ZhikuServer
from zhiku.client import ZhikuClient

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ZhikuServer]:
    s = ZhikuServer(tmp_path / "home", {"ZHIKU_LLM__DETECT_LOCAL": "false"})
    yield s
    s.stop()


def create_kb(page: Any, name: str) -> None:
    page.get_by_text("New knowledge base", exact=True).wait_for()
    panel = page.get_by_test_id("stExpander").filter(has_text="New knowledge base").locator("details")
    if panel.get_attribute("open") is None:  # open on an empty home; folded once used: a person opens it
        page.get_by_text("New knowledge base", exact=True).click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create").click()
    created = page.get_by_text(f"Created knowledge base {name}").first
    try:
        created.wait_for(timeout=15_000)
    except Exception:  # a click that lands in the rerun the name field's change starts is lost (seen under
        # load); a person clicks again. A second click after one that did land says the KB exists: both end well
        page.get_by_role("button", name="Create").click()
        created.or_(page.get_by_text("already exists").first).wait_for()


def shown_kb(page: Any) -> str:
    """The knowledge base the page's selector says (the main area's first selector)."""
    return shown_in(page.get_by_test_id("stMain").get_by_test_id("stSelectbox").first)


def settles_on(page: Any, kb: str, limit_s: float = 20.0) -> str:
    """What the selector shows once the page's rerun is over: the address can change a moment before
    the selector is drawn again (seen under load), as a person sees it settle. A selector that stays on
    another KB still fails."""
    deadline = time.monotonic() + limit_s
    while kb not in (shown := shown_kb(page)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return shown


def shown_in(box: Any) -> str:
    """A selector's label and the value it shows (the value sits in an input)."""
    return str(box.evaluate("b => b.innerText + ' ' + [...b.querySelectorAll('input')].map(i => i.value).join(' ')"))


def upload(page: Any, name: str, text: str) -> None:
    page.get_by_role("tab", name="Upload").click()
    # one file chooser on the page: the shown KB's (a stale one of the KB shown before would be a bug)
    page.wait_for_function("document.querySelectorAll('input[type=file]').length === 1")
    page.locator("input[type=file]").set_input_files([
        {"name": name, "mimeType": "text/markdown", "buffer": text.encode()}])
    page.get_by_text(name).first.wait_for()
    page.get_by_role("button", name="Upload and index").click()
    page.get_by_text("Done: 1 indexed, 0 failed").wait_for(timeout=120_000)
    page.get_by_role("button", name="Cancel job").wait_for(state="detached")  # nothing left to cancel


@pytest.fixture
def two_processes(tmp_path: Path) -> Iterator[ZhikuServer]:
    """``zhiku start --processes 2``, once both processes serve (API connections are spread over them)."""
    s = ZhikuServer(tmp_path / "home", {"ZHIKU_LLM__DETECT_LOCAL": "false"}, ("--processes", "2"))
    deadline = time.monotonic() + 90
    while "all 2 server processes are serving" not in s.output():
        assert time.monotonic() < deadline and s.proc.poll() is None, s.output()
        time.sleep(0.2)
    yield s
    s.stop()


@pytest.mark.parametrize("processes", [1, 2])
def test_an_upload_lands_in_the_kb_just_created(browser: Any, processes: int, request: pytest.FixtureRequest) -> None:
    """With two server processes too: the page's upload must reach the process holding its session."""
    server: ZhikuServer = request.getfixturevalue("server" if processes == 1 else "two_processes")
    w = Watched(browser, server.url)
    page = w.page
    page.goto(server.url + "/kbs?lang=English")
    create_kb(page, "first")
    upload(page, "a.md", "# A\n\nThe first knowledge base.\n")
    create_kb(page, "second")
    page.wait_for_url(lambda u: "kb=second" in u)
    assert "second" in settles_on(page, "second")
    upload(page, "b.md", "# B\n\nThe second knowledge base.\n")
    assert "kb=second" in page.url
    assert "second" in shown_kb(page)
    with ZhikuClient(server.url) as zk:
        assert [f.name for f in zk.list_files("second")] == ["b.md"]
        assert [f.name for f in zk.list_files("first")] == ["a.md"]
        if processes == 2:  # whichever process answers a search finds what the page uploaded
            for _ in range(4):
                with ZhikuClient(server.url) as fresh:
                    assert fresh.search(["second"], "second knowledge base")[0].file == "b.md"
    w.close()


def test_an_empty_home_guides_the_first_run(browser: Any, server: ZhikuServer) -> None:
    w = Watched(browser, server.url)
    page = w.page
    page.goto(server.url + "/?lang=English")
    page.get_by_text("Welcome to zhiku").wait_for()
    page.get_by_text("without one, answers are extractive").wait_for()
    page.get_by_role("link", name="Set up a chat model").wait_for()
    page.get_by_role("link", name="Create your first knowledge base").click()
    page.get_by_text("create one with the form on the left").wait_for()
    page.get_by_label("Name", exact=True).fill("first")  # the form is open: nothing to find first
    page.get_by_role("button", name="Create").click()
    page.get_by_text("Created knowledge base first").first.wait_for()
    w.close()


def test_switching_language_keeps_the_mode_and_translates_the_model_box(browser: Any,
                                                                         server: ZhikuServer) -> None:
    from playwright.sync_api import expect

    w = Watched(browser, server.url)
    page = w.page
    page.goto(server.url + "/?lang=English")
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.locator("label").filter(has=page.get_by_role("radio", name="Chat with files")).click()
    expect(page.get_by_role("radio", name="Chat with files")).to_be_checked()
    sidebar.get_by_text("中文", exact=True).click()
    expect(page.get_by_role("radio", name="文件对话")).to_be_checked()
    model_box = sidebar.get_by_test_id("stSelectbox").filter(has_text="模型")
    assert "默认" in shown_in(model_box)
    sidebar.get_by_text("English", exact=True).click()
    expect(page.get_by_role("radio", name="Chat with files")).to_be_checked()
    model_box = sidebar.get_by_test_id("stSelectbox").filter(has_text="Model")
    assert "default" in shown_in(model_box) and "默认" not in shown_in(model_box)
    w.close()


def test_after_deleting_a_kb_the_next_one_shows_with_its_delete_panel_closed(browser: Any,
                                                                            server: ZhikuServer) -> None:
    with ZhikuClient(server.url) as zk:
        zk.create_kb("gone")
        zk.create_kb("kept")
    w = Watched(browser, server.url)
    page = w.page
    page.goto(server.url + "/kbs?lang=English&kb=gone")
    page.get_by_role("tab", name="Maintenance").click()
    page.get_by_text("Delete knowledge base", exact=True).first.click()  # the panel's title opens it
    typed = page.get_by_label("Type the name “gone” to confirm")
    typed.fill("gone")
    typed.press("Enter")  # the field's value reaches the page (the button is enabled on the rerun)
    page.get_by_role("button", name="Delete knowledge base").click()
    page.wait_for_url(lambda u: "kb=kept" in u, timeout=60_000)  # (the toast saying so may be gone by now)
    assert "kept" in settles_on(page, "kept")
    page.get_by_role("tab", name="Maintenance").click()
    # the next KB's own panel (the deleted one's may still be on screen until the page is drawn again)
    page.get_by_label("Type the name “kept” to confirm").wait_for(state="attached")
    page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')", timeout=60_000)
    panel = page.get_by_test_id("stExpander").filter(has_text="Delete knowledge base").locator("details")
    assert panel.count() == 1 and panel.get_attribute("open") is None  # it opened on the next KB (issue 21, item 7)
    with ZhikuClient(server.url) as zk:
        assert [kb.name for kb in zk.list_kbs()] == ["kept"]
    w.close()
