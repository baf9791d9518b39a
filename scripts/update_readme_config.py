"""Regenerate the configuration reference in README.md from the settings model."""

from pathlib import Path

from zhiku.config_doc import REFERENCE_BEGIN, REFERENCE_END, reference_markdown

readme = Path(__file__).resolve().parents[1] / "README.md"
text = readme.read_text(encoding="utf-8")
start, end = text.index(REFERENCE_BEGIN), text.index(REFERENCE_END) + len(REFERENCE_END)
readme.write_text(text[:start] + reference_markdown().strip() + text[end:], encoding="utf-8")
print(f"updated {readme}")
