"""Prompt templates, one file per prompt and language: ``prompts/{zh,en}/NAME.txt``.

Templates use ``{name}`` fields (``str.format``); text put into a field is never
re-read as a template, so sources containing braces are safe.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

LANGS = ("zh", "en")


@lru_cache(maxsize=None)
def template(lang: str, name: str) -> str:
    lang = lang if lang in LANGS else "en"
    try:
        return resources.files(__package__).joinpath(lang, f"{name}.txt").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyError(f"no prompt template {lang}/{name}.txt") from None


def render(lang: str, name: str, **fields: object) -> str:
    return template(lang, name).format(**fields).strip()
