"""A file summarised by a real small model (SmolLM2 through llama.cpp) whose context window is
smaller than the file: the map-reduce fits every call in the window as the model's own tokenizer
counts it (llama.cpp refuses a prompt that does not fit), and the summary is stored with the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.llm.conftest import smollm2_gguf
from zhiku import Zhiku, load_settings
from zhiku.chat.summaries_llm import MapReduce

TEXT = " ".join(f"The tea harvest in Hangzhou in {y} depended on the spring rain and the early warmth of March."
                for y in range(1990, 2030))


@pytest.mark.slow
def test_smollm2_summarises_a_file_larger_than_its_context(home: Path, tmp_path: Path) -> None:
    model: dict[str, Any] = {"type": "llamacpp", "path": str(smollm2_gguf()), "context_window": 512,
                             "max_tokens": 64, "temperature": 0.0}
    settings = load_settings(home=home, environ={}, overrides={
        "embedding": {"default": "static"}, "llm": {"detect_local": False, "default": "smol", "models": {"smol": model}}})
    (tmp_path / "tea.md").write_text("# Tea\n\n" + TEXT + "\n", encoding="utf-8")
    with Zhiku(settings) as zk:
        try:
            llm = zk.chat_models.get("smol")
            assert llm.count_tokens(TEXT) > 512  # larger than the window: map-reduce
            assert len(MapReduce(llm, "en").pack([TEXT])) >= 2
            zk.create_kb("kb")
            assert zk.add_files("kb", [tmp_path / "tea.md"]).ok
            s = zk.summaries.file("kb", "tea.md")
            assert s.kind == "llm" and s.model == "smol" and s.text.strip()
            assert zk.summaries.file("kb", "tea.md").created_at == s.created_at  # stored
        finally:
            zk.close_chat_models()
