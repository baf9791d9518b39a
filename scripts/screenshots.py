"""Regenerate the README's screenshots of the web UI: docs/screenshots/{chat,kbs,settings}-{zh,en}.png.

Starts ``zhiku start`` on a throw-away home (static embedder, so it takes seconds), fills a knowledge
base with a Chinese and an English document through the API, asks a question in each language and
photographs each page in headless Chromium (Debian's ``chromium``; see DEVELOPERS.md).

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from zhiku.client import ZhikuClient

log = logging.getLogger("screenshots")
REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
DOCS = {
    "员工手册.md": "# 第三章 休假制度\n\n入职满一年的员工每年享有十五天带薪年假。年假可以分次休，但每次不少于半天。"
                   "未休完的年假可以顺延到下一年的三月底。\n\n# 第四章 病假\n\n员工因病休假需提供医院证明，"
                   "病假工资按基本工资的百分之八十发放。\n",
    "refund-policy.md": "# Refund policy\n\nRefunds are paid within 14 days of receiving the returned item. "
                        "Items must be returned in their original packaging.\n\n# Warranty\n\n"
                        "Every product carries a two-year warranty against manufacturing defects.\n",
}
QUESTIONS = {"zh": "年假有几天？", "en": "Within how many days are refunds paid after receiving the returned item?"}


def serve(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}
    env["ZHIKU_EMBEDDING__DEFAULT"] = "static"
    zhiku = Path(sys.executable).with_name("zhiku")
    proc = subprocess.Popen([str(zhiku), "--home", str(home), "start", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
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
        zk.create_kb("员工手册", "公司制度与客户服务 Company policies and customer service")
        job = zk.upload("员工手册", [(name, text.encode()) for name, text in DOCS.items()])
        zk.wait_for_job(job.id, timeout=120)


def shoot(url: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for lang, label in (("zh", "中文"), ("en", "English")):
            page = browser.new_context(viewport={"width": 1280, "height": 820}).new_page()
            page.set_default_timeout(60_000)
            page.goto(f"{url}/?lang={label}")
            ask = page.locator("textarea[data-testid=stChatInputTextArea]")
            ask.fill(QUESTIONS[lang])
            ask.press("Enter")
            page.wait_for_url("**c=*")
            source = page.locator("[data-testid=stChatMessage]").nth(1).get_by_role("button").first
            source.wait_for()
            page.wait_for_timeout(1000)
            source.click()  # the chat picture shows a cited passage opened
            page.get_by_role("button", name="Download source file" if lang == "en" else "下载原文件").wait_for()
            page.wait_for_timeout(800)
            for name, path in (("chat", ""), ("kbs", "kbs"), ("settings", "settings")):
                if path:
                    page.goto(f"{url}/{path}?lang={label}")
                    page.wait_for_load_state("networkidle")
                    page.get_by_role("tab").first.wait_for() if name == "kbs" else page.wait_for_timeout(500)
                    page.wait_for_timeout(2500)
                target = out / f"{name}-{lang}.png"
                page.screenshot(path=str(target))
                written.append(target)
                log.info("wrote %s", target)
            page.context.close()
        browser.close()
    return written


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium (see DEVELOPERS.md)")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = serve(Path(tmp) / "home")
        try:
            fill(url)
            shoot(url, args.out)
        finally:
            proc.send_signal(2)
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
