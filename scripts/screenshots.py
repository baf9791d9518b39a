"""Regenerate the README's screenshots of the web UI: docs/screenshots/{chat,routed,picture,kbs,settings}-{zh,en}.png.

Starts ``zhiku start`` on a throw-away home (static embedder, so it takes seconds), fills two knowledge
bases through the API (a Chinese handbook; an English product guide with a Word file whose wiring
diagram is a picture), makes their extractive summaries, and photographs in headless Chromium
(Debian's ``chromium`` at /usr/bin/chromium through Playwright; see DEVELOPERS.md), in each language:

    chat      a question answered from one KB, its cited passage opened
    routed    a question asked of all KBs, routed to the one that fits (the answer names it)
    picture   an answer citing the passage beside a picture, the passage opened with the picture
    kbs       the KB page: its summary opened above the file table (with the files' summaries)
    settings  the whole settings page, with "find local model servers" pressed

The model server that the settings page finds is a stand-in Ollama (zhiku.testing.local_servers) on
11434 (another port when that one is taken): no model server runs on the machine that makes these.
The conversations are made through the API and opened by their address (``?c=``), as a link would.
Emoji in the UI (the settings' reachable marks) need a colour emoji font: apt-get install fonts-noto-color-emoji.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from zhiku.client import ZhikuClient

log = logging.getLogger("screenshots")
REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
HANDBOOK, GUIDE = "员工手册", "product-guide"
DOCS = {
    HANDBOOK: {
        "员工手册.md": "# 第三章 休假制度\n\n入职满一年的员工每年享有十五天带薪年假。年假可以分次休，但每次不少于半天。"
                       "未休完的年假可以顺延到下一年的三月底。\n\n# 第四章 病假\n\n员工因病休假需提供医院证明，"
                       "病假工资按基本工资的百分之八十发放。\n",
        "报销制度.md": "# 差旅报销\n\n差旅费用须在出差结束后三十日内提交报销申请，并附上发票原件。"
                       "单笔超过五千元的报销需要部门总监审批。\n\n# 交通\n\n出差优先乘坐高铁二等座，"
                       "六小时以上的行程可以乘坐飞机经济舱。\n",
    },
    GUIDE: {
        "refund-policy.md": "# Refund policy\n\nRefunds are paid within 14 days of receiving the returned item. "
                            "Items must be returned in their original packaging.\n\n# Warranty\n\n"
                            "Every product carries a two-year warranty against manufacturing defects.\n",
        "shipping.md": "# Shipping\n\nOrders ship within two business days. International delivery takes "
                       "7 to 14 days and is tracked from the warehouse to your door.\n",
    },
}
DESCRIPTIONS = {HANDBOOK: "公司制度：休假、病假与差旅报销", GUIDE: "Products: refunds, warranty, shipping, router setup"}
# (KB or "*", question) per picture and language
QUESTIONS = {
    "zh": {"chat": (HANDBOOK, "年假有几天？"), "routed": ("*", "出差报销要在多少天内提交？"),
           "picture": (GUIDE, "蓝色网线接到哪个端口？")},
    "en": {"chat": (GUIDE, "Within how many days are refunds paid after receiving the returned item?"),
           "routed": ("*", "How long is the warranty?"),
           "picture": (GUIDE, "Which port does the blue cable go to?")},
}
LABELS = {"zh": "中文", "en": "English"}
KB_SHOWN = {"zh": HANDBOOK, "en": GUIDE}
WIDTH = 1280


def diagram() -> bytes:
    """A wiring diagram: the router's back with four ports, the blue cable in the leftmost (WAN)."""
    from PIL import Image, ImageDraw, ImageFont

    im = Image.new("RGB", (520, 280), "white")
    d = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=18)
    d.rectangle((40, 50, 480, 200), outline="black", width=4, fill=(235, 238, 242))
    d.text((60, 64), "X200 (back)", fill="black", font=font)
    for i, (x, name) in enumerate(zip((80, 170, 260, 350), ("WAN", "LAN1", "LAN2", "LAN3"))):
        d.rectangle((x, 140, x + 60, 180), outline="black", width=3, fill=(60, 120, 220) if i == 0 else "white")
        d.text((x + 6, 112), name, fill="black", font=font)
    d.line((110, 180, 110, 270), fill=(60, 120, 220), width=10)
    d.ellipse((430, 70, 456, 96), fill=(40, 180, 80))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def setup_docx() -> bytes:
    import docx
    from docx.shared import Inches

    doc = docx.Document()
    doc.add_heading("Wiring the X200 router · X200 路由器接线", 1)
    doc.add_paragraph("Connect the blue network cable to the WAN port, the leftmost port on the back of the "
                      "X200, as the diagram shows. The green light turns on within a minute.")
    doc.add_paragraph("把蓝色网线接到 X200 背面最左边的 WAN 口，如图所示。绿灯会在一分钟内亮起。")
    doc.add_picture(io.BytesIO(diagram()), width=Inches(4.5))
    doc.add_paragraph("The three other ports are LAN ports for computers and printers. 其余三个是 LAN 口，接电脑和打印机。")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def free_port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
        except OSError:
            s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(home: Path, ollama_port: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port(0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}
    env["ZHIKU_EMBEDDING__DEFAULT"] = "static"
    env["ZHIKU_LLM__DETECT_LOCAL"] = "false"  # no chat model: answers are extractive, as on a fresh install
    # the settings page's search looks for the stand-in Ollama; the other kinds keep their ports
    env["ZHIKU_LLM__PROBE_PORTS"] = json.dumps({"ollama": ollama_port, "llamacpp": 8080, "vllm": 8000,
                                                "lmstudio": 1234, "xinference": 9997})
    zhiku = Path(sys.executable).with_name("zhiku")
    proc = subprocess.Popen([str(zhiku), "--home", str(home), "start", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("zhiku start did not come up")


def fill(url: str) -> None:
    with ZhikuClient(url) as zk:
        for kb, docs in DOCS.items():
            zk.create_kb(kb, DESCRIPTIONS[kb])
            files = [(name, text.encode()) for name, text in docs.items()]
            if kb == GUIDE:
                files.append(("x200-setup.docx", setup_docx()))
            job = zk.wait_for_job(zk.upload(kb, files).id, timeout=300)
            if job.files_failed:
                raise SystemExit(f"{kb}: a demo file failed: {job.files}")
            zk.make_summary(kb, files=True)  # the KB's and its files' (extractive: no chat model)


def converse(url: str, lang: str) -> dict[str, str]:
    """One conversation per picture of this language, answered; their ids."""
    ids = {}
    with ZhikuClient(url) as zk:
        for name, (kb, question) in QUESTIONS[lang].items():
            conv = zk.create_conversation("kb", kbs=[kb])
            answer = zk.send_message(conv.id, question)
            if not answer.citations:
                raise SystemExit(f"{name}-{lang}: no citation in the answer to {question!r}: {answer.content}")
            ids[name] = conv.id
    return ids


def forget(url: str, ids: dict[str, str]) -> None:
    with ZhikuClient(url) as zk:
        for cid in ids.values():
            zk.delete_conversation(cid)


def settle(page: Any, ms: int = 1500) -> None:
    """Wait for Streamlit to finish its run (no running indicator), then a moment for the last paint."""
    page.wait_for_load_state("networkidle")
    page.locator("[data-testid=stStatusWidget]").wait_for(state="hidden", timeout=60_000)
    page.wait_for_timeout(ms)


def full_height(page: Any) -> None:
    """Streamlit scrolls inside its main section: grow the window to the whole page's height."""
    height = page.evaluate("""() => Math.max(...[...document.querySelectorAll(
        '[data-testid=stMain], [data-testid=stAppViewContainer], [data-testid=stMainBlockContainer], body')]
        .map(e => e.scrollHeight))""")
    page.set_viewport_size({"width": WIDTH, "height": int(height) + 40})
    page.wait_for_timeout(1200)


def open_source(page: Any, label: str, text: str) -> None:
    """Open the answer's cited passage (the source button under the answer) and wait for its dialog."""
    message = page.locator("[data-testid=stChatMessage]").nth(1)
    message.get_by_role("button", name=label).first.click()
    page.get_by_text(text, exact=False).last.wait_for()
    page.wait_for_timeout(1200)


def shoot_language(page: Any, url: str, lang: str, ids: dict[str, str], out: Path) -> list[Path]:
    label = LABELS[lang]
    written = []

    def snap(name: str) -> None:
        page.mouse.move(WIDTH - 20, 840)  # no tooltip of the last button clicked over the picture
        page.wait_for_timeout(600)
        target = out / f"{name}-{lang}.png"
        page.screenshot(path=str(target))
        written.append(target)
        log.info("wrote %s", target)

    download = "Download source file" if lang == "en" else "下载原文件"
    for name in ("chat", "routed", "picture"):
        page.set_viewport_size({"width": WIDTH, "height": 860})
        page.goto(f"{url}/?c={ids[name]}&lang={label}")
        page.locator("[data-testid=stChatMessage]").nth(1).wait_for()
        settle(page)
        if name == "chat":
            open_source(page, "[1]", download)
        elif name == "picture":
            open_source(page, "[1] x200-setup.docx", download)
            page.locator("[data-testid=stPopoverBody] img, [data-testid=stImage] img").first.wait_for()
            page.set_viewport_size({"width": WIDTH, "height": 1260})
            page.wait_for_timeout(1500)
        snap(name)

    page.set_viewport_size({"width": WIDTH, "height": 860})
    page.goto(f"{url}/kbs?kb={KB_SHOWN[lang]}&lang={label}")
    settle(page)
    page.get_by_text("知识库摘要" if lang == "zh" else "Summary of the knowledge base").first.click()
    page.get_by_role("button", name="查看摘要" if lang == "zh" else "Show the summary").click()
    page.get_by_text("抽取式摘要" if lang == "zh" else "Extractive summary").first.wait_for()
    settle(page)
    full_height(page)
    snap("kbs")

    page.set_viewport_size({"width": WIDTH, "height": 860})
    page.goto(f"{url}/settings?lang={label}")
    settle(page)
    page.get_by_role("button", name="查找本机模型服务" if lang == "zh" else "Find local model servers").click()
    page.get_by_text("端口" if lang == "zh" else "(port", exact=False).first.wait_for()  # "Ollama (port 11434)"
    settle(page)
    full_height(page)
    snap("settings")
    return written


def shoot(url: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for lang in ("zh", "en"):
            ids = converse(url, lang)
            context = browser.new_context(viewport={"width": WIDTH, "height": 860})
            page = context.new_page()
            page.set_default_timeout(60_000)
            written += shoot_language(page, url, lang, ids, out)
            context.close()
            forget(url, ids)  # the next language's sidebar lists only its own conversations
        browser.close()
    return written


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium (see DEVELOPERS.md)")
    from zhiku.testing.local_servers import LocalModelServer

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, \
            LocalModelServer("ollama", ("qwen2.5:7b-instruct", "llama3.2:3b"), port=free_port(11434)) as ollama:
        proc, url = serve(Path(tmp) / "home", ollama.port)
        try:
            fill(url)
            shoot(url, args.out)
        finally:
            proc.send_signal(2)
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
