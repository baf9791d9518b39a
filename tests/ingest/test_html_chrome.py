"""Web-page chrome (navigation, language lists, site notices, footers, edit links, citation
lists) is left out; the article is kept (issue 17 item 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhiku.ingest.loaders import load_file

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "docs" / "bisheng"

WIKI = """<!DOCTYPE html><html><head><title>Teapot - Wikipedia</title></head><body>
<div id="siteNotice"><table><tr><td>Join the volunteers chat on Telegram</td><td>[close]</td></tr></table></div>
<div class="vector-header"><a href="/">Main page</a><form><input name="search"></form></div>
<main id="content" class="mw-body" role="main">
 <div class="vector-page-titlebar">
  <button>Toggle the table of contents</button>
  <h1 id="firstHeading" class="firstHeading">Teapot</h1>
  <div class="vector-dropdown"><ul><li class="interlanguage-link"><a>Deutsch</a></li>
   <li class="interlanguage-link"><a>Español</a></li><li><a>Français</a></li><li><a>日本語</a></li></ul>
   <div class="wbc-editpage"><a>Edit links</a></div></div>
 </div>
 <div id="mw-content-text"><div class="mw-parser-output">
  <div role="note" class="hatnote navigation-not-searchable">For the song, see Teapot (song).</div>
  <p>A <b>teapot</b> is a vessel used for steeping tea leaves in boiling water.<sup class="reference"><a>[1]</a></sup></p>
  <div class="mw-heading mw-heading2"><h2 id="History">History</h2><span class="mw-editsection">[<a>edit</a>]</span></div>
  <p>Teapots were first made in Yixing during the Song dynasty from purple clay.</p>
  <div class="mw-heading mw-heading2"><h2 id="References">References</h2></div>
  <div class="reflist"><ol class="references"><li>Smith, J. Tea vessels. 1999.</li></ol></div>
  <div class="mw-heading mw-heading2"><h2 id="External_links">External links</h2></div>
  <ul><li><a>Teapot museum website</a></li></ul>
  <div class="navbox"><table><tr><th>Tea</th><td>Green · Black · Oolong</td></tr></table></div>
 </div></div>
 <div class="catlinks">Categories: Tea vessels</div>
</main>
<footer id="footer"><ul><li>This page was last edited on 1 May 2024.</li><li>Privacy policy</li></ul></footer>
</body></html>"""

GENERIC = """<html><head><title>Shop news</title></head><body>
<nav><ul><li>Home</li><li>Products</li><li>About us</li></ul></nav>
<div class="sidebar"><ul><li>English</li><li>中文</li><li>Русский</li></ul></div>
<main><h1>Spring opening hours</h1>
<p>From March the shop opens at nine in the morning and closes at seven in the evening on weekdays.</p>
<p>On Sundays it stays closed; orders placed online are shipped on Monday morning.</p></main>
<div class="footer-links">Copyright 2024 Example Shop · Imprint · Cookies</div>
</body></html>"""


def _text(path: Path) -> str:
    return "\n".join(b.text for b in load_file(path).blocks)


def test_wikipedia_page_keeps_the_article_and_drops_the_chrome(tmp_path: Path) -> None:
    page = tmp_path / "teapot.html"
    page.write_text(WIKI, encoding="utf-8")
    doc = load_file(page)
    text = "\n".join(b.text for b in doc.blocks)
    assert "steeping tea leaves" in text and "Yixing during the Song dynasty" in text
    for chrome in ("Telegram", "Deutsch", "Español", "Français", "Edit links", "Toggle the table",
                   "Main page", "[1]", "[edit]", "Smith, J.", "Teapot museum", "Oolong",
                   "Categories", "last edited", "Privacy policy", "For the song"):
        assert chrome not in text, chrome
    headings = [b.text for b in doc.blocks if b.kind == "heading"]
    assert headings == ["Teapot", "History"]
    history = [b for b in doc.blocks if "Yixing" in b.text][0]
    assert history.section == ("Teapot", "History")


def test_page_with_main_element_reads_only_main(tmp_path: Path) -> None:
    page = tmp_path / "news.html"
    page.write_text(GENERIC, encoding="utf-8")
    text = _text(page)
    assert "opens at nine" in text and "shipped on Monday" in text
    for chrome in ("About us", "Русский", "Copyright", "Products"):
        assert chrome not in text, chrome


def test_page_without_landmarks_is_read_whole(tmp_path: Path) -> None:
    page = tmp_path / "plain.html"
    page.write_text("<html><body><div><p>Only paragraph.</p></div><ul><li>one</li></ul></body></html>",
                    encoding="utf-8")
    text = _text(page)
    assert "Only paragraph." in text and "- one" in text


@pytest.mark.parametrize("name,kept,dropped", [
    ("maoxuan_wikipedia.html", "简称《毛选》", ("日本語", "한국어", "编辑链接", "切换目录", "原始内容存档")),
    ("静静的顿河-wiki.html", "肖洛霍夫的代表作", ("Башҡортса", "Telegram", "编辑链接", "切换目录")),
])
def test_shared_wikipedia_pages(name: str, kept: str, dropped: tuple[str, ...]) -> None:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{path} absent (../shared/data/docs not mounted)")
    text = _text(path)
    assert kept in text
    for chrome in dropped:
        assert chrome not in text, chrome


def test_links_of_a_sphinx_page_are_kept(tmp_path: Path) -> None:
    """Sphinx marks every link class="reference": only MediaWiki's <sup class="reference"> goes."""
    page = tmp_path / "sphinx.html"
    page.write_text('<html><body><div role="main"><p>See <a class="reference internal" href="#x">'
                    'the install guide</a> before you start; it lists every supported platform.</p>'
                    '</div></body></html>', encoding="utf-8")
    assert "See the install guide before you start" in _text(page)
