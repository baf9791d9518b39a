"""Settings changed while the server runs (issue 21, item 2): an OpenAI-compatible model server
added, tested, made the default, answering the next question without a restart, changed and
removed; the web-search engine chosen; the settings file rewritten with its comments and never
half-written; API keys never sent back. Against a real stand-in OpenAI-compatible server."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.api.conftest import OVERRIDES
from zhiku import Zhiku, load_settings
from zhiku.api import create_app
from zhiku.client import ZhikuClient
from zhiku.errors import InvalidInput, NotFound, Unavailable
from zhiku.testing.llm_servers import ChatServer, free_port
from tests.api.conftest import SyncASGITransport

CONFIG = "# our server's settings\nllm:\n  detect_local: false  # no probing here\n"


def test_a_model_server_added_tested_used_changed_and_removed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    config = home / "config.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    zk = Zhiku(load_settings(home=home, overrides=OVERRIDES, environ={}))
    with ChatServer(reply="来自模型的回答。", models=("qwen", "ok")) as llm, \
            ZhikuClient("http://zhiku.test", transport=SyncASGITransport(create_app(zk))) as c:
        before = c.get_settings()
        assert before.chat_models == [] and before.default_model is None and before.web_search_engine is None

        assert c.test_model_server(llm.base_url) == ["ok", "qwen"]  # "test connection" lists its models
        with pytest.raises(Unavailable, match="cannot reach"):
            c.test_model_server(f"http://127.0.0.1:{free_port()}/v1")

        shown = c.put_model_server("local", llm.base_url, "qwen", api_key="sk-very-secret")
        assert [(m.name, m.model, m.has_key) for m in shown.model_servers] == [("local", "qwen", True)]
        assert "sk-very-secret" not in shown.model_dump_json()
        assert "sk-very-secret" not in c.http.get("/api/settings").text
        assert c.set_defaults(default_model="local").default_model == "local"

        # applied without a restart: the next question is answered by the model just added
        conv = c.create_conversation("llm")
        assert c.send_message(conv.id, "你好", mode="llm").content == "来自模型的回答。"
        assert llm.requests[-1]["model"] == "qwen"

        # the file: comments kept, the key stored, the whole still valid settings
        text = config.read_text(encoding="utf-8")
        assert "# our server's settings" in text and "# no probing here" in text
        data = yaml.safe_load(text)
        assert data["llm"]["models"]["local"] == {"type": "openai", "base_url": llm.base_url, "model": "qwen",
                                                  "api_key": "sk-very-secret"}
        assert data["llm"]["default"] == "local"
        load_settings(home=home, environ={})

        # changed without giving the key again: the key stays; bad input changes nothing
        c.put_model_server("local", llm.base_url, "ok")
        assert yaml.safe_load(config.read_text())["llm"]["models"]["local"]["api_key"] == "sk-very-secret"
        saved = config.read_text()
        with pytest.raises(InvalidInput, match="http:// or https://"):
            c.put_model_server("local", "ftp://example", "ok")
        with pytest.raises(InvalidInput, match="unknown chat model 'nope'"):
            c.set_defaults(default_model="nope")
        with pytest.raises(InvalidInput, match="searxng needs the URL"):
            c.set_defaults(web_search_engine="searxng")
        assert config.read_text() == saved
        assert not [p for p in home.iterdir() if p.name.endswith(".tmp")]

        ws = c.set_defaults(web_search_engine="searxng", web_search_url="http://127.0.0.1:8888")
        assert (ws.web_search_engine, ws.web_search_url, ws.default_model) == ("searxng", "http://127.0.0.1:8888",
                                                                             "local")
        assert zk.settings.websearch.engine == "searxng"

        after = c.delete_model_server("local")
        assert after.model_servers == [] and after.default_model is None and after.chat_models == []
        with pytest.raises(NotFound):
            c.delete_model_server("local")
        data = yaml.safe_load(config.read_text())
        assert data["llm"]["models"] == {} and data["llm"]["default"] is None
        assert data["websearch"] == {"engine": "searxng", "base_url": "http://127.0.0.1:8888"}
    zk.close()
