"""In headless Chromium against a real ``zhiku start`` (issue 21, items 2 and 3): with no model, LLM
chat, the agent and web search are shown disabled with the reason and a link to the settings; an
admin adds a model server there (test connection lists its models), makes it the default, and the
chat answers with it at once, no restart; a turn that fails ends cleanly and stores nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ui.browser import Watched, ZhikuServer
from zhiku.client import ZhikuClient
from zhiku.testing.llm_servers import ChatServer, free_port

pytestmark = pytest.mark.slow

NO_DETECT = {"ZHIKU_LLM__DETECT_LOCAL": "false"}


def pick(page: Any, label: str, option: str) -> None:
    """Choose ``option`` in the selector labelled ``label``, as a person does (open, click)."""
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def go_to_chat(page: Any) -> None:
    """Click Chat in the top bar. A click that lands while the page reruns after a save is lost
    (the bar is drawn again): one more click then, as a person clicks again."""
    for attempt in range(2):
        page.get_by_role("link", name="Chat").click()
        try:
            page.get_by_placeholder("Ask a question and press Enter").wait_for(timeout=10_000)
            return
        except Exception:  # noqa: BLE001 - Playwright's TimeoutError
            if attempt:
                raise


def choose_mode(page: Any, label: str) -> None:
    """Click the mode's label in the sidebar (the radio input itself sits under it)."""
    page.locator("label").filter(has=page.get_by_role("radio", name=label)).click()


def ask(page: Any, question: str) -> None:
    box = page.get_by_placeholder("Ask a question and press Enter")
    box.fill(question)
    box.press("Enter")


def test_model_set_up_in_the_settings_page_answers_at_once(browser: Any, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.yaml").write_text("# kept\nllm:\n  detect_local: false\n", encoding="utf-8")
    with ChatServer(reply="Answered by the model just added.", models=("ok",)) as llm:
        server = ZhikuServer(home, NO_DETECT)
        try:
            w = Watched(browser, server.url)
            page = w.page
            page.goto(server.url + "/?lang=English")
            sidebar = page.get_by_test_id("stSidebar")
            sidebar.get_by_text("needs a chat model").first.wait_for()
            sidebar.get_by_text("needs a web-search engine").wait_for()
            assert page.get_by_role("radio", name="LLM chat").count() == 0
            assert page.get_by_role("radio", name="Web search").count() == 0
            page.get_by_role("radio", name="Knowledge base").wait_for()

            # the link beside a disabled mode opens the settings page
            sidebar.get_by_role("link", name="Settings").first.click()
            page.get_by_text("Model servers (OpenAI-compatible)").wait_for()
            page.get_by_text("Add a model server").click()
            page.get_by_label("Name", exact=True).fill("local")
            page.get_by_label("Server URL").fill(llm.base_url)
            page.get_by_label("API key").fill("sk-typed-in-the-page")
            page.get_by_role("button", name="Test connection").click()
            page.get_by_text("Connected, 1 models: ok").wait_for()
            page.get_by_role("button", name="Save").first.click()
            page.get_by_text("Saved model local").wait_for()
            page.get_by_text(f"local · ok · {llm.base_url} · 🔑").wait_for()  # listed; the key is not shown
            assert "sk-typed-in-the-page" not in page.content()
            pick(page, "Default chat model", "local")
            page.get_by_role("button", name="Save").last.click()
            page.get_by_text("Saved, in effect now").wait_for()
            saved = yaml.safe_load((home / "config.yaml").read_text())["llm"]
            assert saved["default"] == "local" and saved["models"]["local"]["api_key"] == "sk-typed-in-the-page"
            assert (home / "config.yaml").read_text().startswith("# kept\n")

            # the chat offers LLM chat now, and it answers with the model just added: no restart
            go_to_chat(page)
            choose_mode(page, "LLM chat")
            ask(page, "Hello?")
            page.get_by_text("Answered by the model just added.").first.wait_for(timeout=60_000)
            assert llm.requests and llm.requests[-1]["model"] == "ok"
            assert not w.external()
            w.close()
        finally:
            server.stop()


def test_a_failed_turn_ends_cleanly(browser: Any, tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    server = ZhikuServer(tmp_path / "home", {**NO_DETECT, "ZHIKU_LLM__DEFAULT": "gone",
                                             "ZHIKU_LLM__MODELS__GONE__BASE_URL": down,
                                             "ZHIKU_LLM__MODELS__GONE__MODEL": "m",
                                             "ZHIKU_LLM__CONNECT_TIMEOUT_S": "1"})
    try:
        w = Watched(browser, server.url)
        page = w.page
        page.goto(server.url + "/?lang=English")
        choose_mode(page, "LLM chat")
        ask(page, "Will this work?")
        page.get_by_test_id("stAlert").filter(has_text="unavailable").or_(
            page.get_by_test_id("stAlert").filter(has_text="went wrong")).first.wait_for(timeout=60_000)
        main = page.get_by_test_id("stMain")
        assert main.get_by_role("button", name="Stop").count() == 0
        assert main.get_by_text("Thinking…").count() == 0
        with ZhikuClient(server.url) as zk:
            assert zk.list_conversations() == []  # nothing stored for a turn that failed
        assert "c=" not in page.url
        w.close()
    finally:
        server.stop()
