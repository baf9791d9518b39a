"""The KB page's file table fits the page (headless Chromium against a real ``zhiku start``): at a
1280 px and a 1920 px window no column is cut off at the right edge, Summary included, with every
column shown (a PDF's pages, a failed file's reason, the summaries); what a cell cuts short is one
click away: picking a row shows the failed file's whole reason and its summary panel."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.ui.browser import ZhikuServer
from tests.ui.documents import english_pdf
from zhiku.client import ZhikuClient

pytestmark = pytest.mark.slow

LONG_NAME = "员工手册-年假与请假制度-二〇二六年修订版-人力资源部.md"
HANDBOOK = "# 年假制度\n\n" + "入职满一年的员工每年享有十五天带薪年假。年假可以分次休，但每次不少于半天。" * 4 + "\n"
REFUNDS = "# Refunds\n\n" + "Refunds are paid within 14 days of receiving the returned item. " * 4 + "\n"
# the grid's scrolling area: wider content than its box is what a person sees cut off at the right
GRID = """() => { const d = document.querySelector('[data-testid=stDataFrame]');
  const s = d.querySelector('.dvn-scroller'); const r = d.getBoundingClientRect();
  const main = document.querySelector('[data-testid=stMainBlockContainer]').getBoundingClientRect();
  return {left: r.left, top: r.top, right: r.right, mainRight: main.right,
          scrollWidth: s.scrollWidth, clientWidth: s.clientWidth}; }"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ZhikuServer]:
    s = ZhikuServer(tmp_path / "home")
    yield s
    s.stop()


def _kb(server: ZhikuServer, tmp_path: Path) -> dict[str, str]:
    """A KB with a long-named Markdown file, a PDF (pages), an English note and a broken PDF
    (failed, with a reason), and the files' summaries stored; returns each file's summary."""
    pdf = english_pdf(tmp_path / "customer-service.pdf")
    with ZhikuClient(server.url) as zk:
        zk.create_kb("手册")
        job = zk.upload("手册", [(LONG_NAME, HANDBOOK.encode()), ("refund-policy-and-exchanges.md", REFUNDS.encode()),
                                 (pdf.name, pdf.read_bytes()), ("broken.pdf", b"%PDF-1.4 this is not a pdf")])
        zk.wait_for_job(job.id, timeout=120)
        zk.make_summary("手册", None, extractive=True, files=True)
        files = {f.id: f.name for f in zk.list_files("手册")}
        return {files[s.file_id]: s.text for s in zk.list_summaries("手册") if s.file_id}


def _open(browser: Any, server: ZhikuServer, width: int) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(server.url + "/kbs?lang=English")
    page.locator("[data-testid=stDataFrame]").first.wait_for()
    page.get_by_text("Summary", exact=True).or_(page.locator("canvas")).first.wait_for()
    deadline = time.monotonic() + 30  # the grid sizes its columns once it has drawn
    while page.evaluate(GRID)["clientWidth"] == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    return context, page


def test_the_file_table_fits_at_1280_and_1920_and_what_a_cell_cuts_is_reachable(
        browser: Any, server: ZhikuServer, tmp_path: Path) -> None:
    summaries = _kb(server, tmp_path)
    assert len(summaries) == 3 and max(len(s) for s in summaries.values()) > 60  # longer than a cell shows
    for width in (1280, 1920):
        context, page = _open(browser, server, width)
        try:
            grid = page.evaluate(GRID)
            page.screenshot(path=str(tmp_path / f"kb-files-{width}.png"), full_page=True)
            assert grid["scrollWidth"] <= grid["clientWidth"], (width, grid)  # no column past the right edge
            assert grid["right"] <= grid["mainRight"] + 1, (width, grid)
        finally:
            context.close()

    context, page = _open(browser, server, 1280)
    try:
        grid = page.evaluate(GRID)
        row_px, rows = 35, sorted(["broken.pdf", "customer-service.pdf", "refund-policy-and-exchanges.md", LONG_NAME])
        for name in ("broken.pdf", "refund-policy-and-exchanges.md"):  # the table lists them by name
            y = grid["top"] + row_px * (rows.index(name) + 1) + row_px / 2
            page.mouse.click(grid["left"] + 16, y)  # the row's picker
        page.get_by_text("2 selected", exact=True).wait_for()
        page.get_by_text("✗ broken.pdf: ").wait_for()  # the failed file's whole reason
        page.mouse.click(grid["left"] + 16, grid["top"] + row_px * 1 + row_px / 2)  # broken.pdf unpicked
        page.get_by_text("Summary of refund-policy-and-exchanges.md").wait_for()  # one picked: its panel
        page.get_by_role("button", name="Show the summary").click()
        try:
            whole = summaries["refund-policy-and-exchanges.md"].splitlines()[0]
            page.get_by_test_id("stMarkdownContainer").get_by_text(whole).wait_for()  # not the grid's copy
        finally:
            page.screenshot(path=str(tmp_path / "kb-files-picked.png"), full_page=True)
    finally:
        context.close()
