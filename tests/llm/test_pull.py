"""`zhiku model pull` against a local HTTP server serving the real SmolLM2 GGUF (with Range)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from zhiku import load_settings
from zhiku.errors import ChecksumMismatch, DownloadFailed
from zhiku.llm.pull import CATALOG, MIRRORS, pull
from zhiku.llm.registry import read_pulled
from zhiku.testing.llm_servers import FileServer


@pytest.fixture(scope="module")
def gguf_sha(gguf: Path) -> str:
    return hashlib.sha256(gguf.read_bytes()).hexdigest()


def test_catalog_urls_per_mirror() -> None:
    entry = CATALOG["qwen2.5-1.5b-instruct"]
    assert entry.url("huggingface").startswith("https://huggingface.co/Qwen/")
    assert entry.url("hf-mirror").startswith("https://hf-mirror.com/Qwen/")
    assert entry.url("modelscope").startswith("https://modelscope.cn/models/Qwen/")
    assert entry.url("https://my.mirror/").startswith("https://my.mirror/Qwen/")
    assert set(MIRRORS) == {"huggingface", "hf-mirror", "modelscope"}


@pytest.mark.slow
def test_full_download_registers_the_model(home: Path, gguf: Path, gguf_sha: str) -> None:
    settings = load_settings(home=home)
    seen: list[tuple[int, int | None]] = []
    with FileServer(gguf, sha256=gguf_sha) as server:
        result = pull(settings, server.url, progress=lambda d, t: seen.append((d, t)))
    assert result.verified and result.sha256 == gguf_sha and result.resumed_from == 0
    assert result.path == home / "models" / gguf.name and result.path.stat().st_size == gguf.stat().st_size
    assert seen[-1] == (gguf.stat().st_size, gguf.stat().st_size)
    assert read_pulled(settings)[result.name]["sha256"] == gguf_sha


@pytest.mark.slow
def test_interrupted_download_resumes(home: Path, gguf: Path, gguf_sha: str) -> None:
    settings = load_settings(home=home)
    cut = 10_000_000
    with FileServer(gguf, drop_after=cut) as server:
        with pytest.raises(DownloadFailed, match="resume"):
            pull(settings, server.url, sha256=gguf_sha)
        part = home / "models" / (gguf.name + ".part")
        kept = part.stat().st_size
        assert 0 < kept <= cut
        result = pull(settings, server.url, sha256=gguf_sha)
        assert server.ranges == [None, f"bytes={kept}-"]
    assert result.resumed_from == kept and result.verified and not part.exists()
    assert hashlib.sha256(result.path.read_bytes()).hexdigest() == gguf_sha


@pytest.mark.slow
def test_corrupted_download_is_refused(home: Path, gguf: Path, gguf_sha: str) -> None:
    settings = load_settings(home=home)
    with FileServer(gguf, corrupt=True, sha256=gguf_sha) as server:  # the hub's advertised sha256
        with pytest.raises(ChecksumMismatch):
            pull(settings, server.url)
    assert not list((home / "models").glob("*.gguf*"))
    assert read_pulled(settings) == {}


def test_catalog_pins_the_official_hashes(home: Path, gguf: Path) -> None:
    """A catalog name is checked against the pinned hash even when the mirror advertises none:
    a mirror serving other bytes under the right name is refused and nothing is kept."""
    entry = CATALOG["qwen2.5-1.5b-instruct"]
    assert entry.sha256 == "6a1a2eb6d15622bf3c96857206351ba97e1af16c30d7a74ee38970e434e9407e"
    settings = load_settings(home=home)
    at = f"{entry.repo}/resolve/main/{entry.file}"  # where a Hugging Face-compatible mirror serves it
    with FileServer(gguf, at=at) as server:
        with pytest.raises(ChecksumMismatch):
            pull(settings, "qwen2.5-1.5b-instruct", mirror=server.base)
    assert not list((home / "models").glob("*.gguf*"))
    assert read_pulled(settings) == {}


@pytest.mark.slow
def test_cli_pull_by_url(cli, home: Path, gguf: Path, gguf_sha: str) -> None:  # type: ignore[no-untyped-def]
    with FileServer(gguf) as server:
        r = cli("model", "pull", server.url, "--sha256", gguf_sha, "--name", "smol")
    assert r.code == 0 and "verified" in r.out and gguf_sha in r.out
    r = cli("models", "--no-check")
    assert "smol" in r.out and "pulled" in r.out
