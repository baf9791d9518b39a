"""In headless Chromium against a real ``zhiku start``, the paths a new user clicks first: a second
knowledge base created on the page and a file uploaded into it (it lands there, not in the KB shown
before); modes that cannot work without a model offered disabled with the reason."""

from __future__ import annotations

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
    field = page.get_by_label("Name", exact=True)
    if not field.is_visible():  # the form folds away once used; a person opens it again
        page.get_by_text("New knowledge base").click()
    field.fill(name)
    page.get_by_role("button", name="Create").click()
    page.get_by_text(f"Created knowledge base {name}").first.wait_for()


def shown_kb(page: Any) -> str:
    """The knowledge base the page's selector says (the main area's first selector)."""
    box = page.get_by_test_id("stMain").get_by_test_id("stSelectbox").first
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


def test_an_upload_lands_in_the_kb_just_created(browser: Any, server: ZhikuServer) -> None:
    w = Watched(browser, server.url)
    page = w.page
    page.goto(server.url + "/kbs?lang=English")
    create_kb(page, "first")
    upload(page, "a.md", "# A\n\nThe first knowledge base.\n")
    create_kb(page, "second")
    page.wait_for_url(lambda u: "kb=second" in u)
    assert "second" in shown_kb(page)
    upload(page, "b.md", "# B\n\nThe second knowledge base.\n")
    assert "kb=second" in page.url
    assert "second" in shown_kb(page)
    with ZhikuClient(server.url) as zk:
        assert [f.name for f in zk.list_files("second")] == ["b.md"]
        assert [f.name for f in zk.list_files("first")] == ["a.md"]
    w.close()
