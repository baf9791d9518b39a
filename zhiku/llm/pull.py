"""`zhiku model pull`: download a GGUF into HOME/models (resumable, sha256-checked) and
register it as a local chat model.

Nothing downloads unless the user asks, and then from the mirror they pick. The sha256
expected is, in order: the one given, the curated one, the one Hugging Face (and its
mirrors) advertise for LFS files in ``X-Linked-Etag``. With none of them the file is
kept and its sha256 printed and recorded.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable
from urllib.parse import unquote, urlparse

from zhiku.errors import ChecksumMismatch, DownloadFailed, InvalidInput, NotFound
from zhiku.text.ids import sha256_file

if TYPE_CHECKING:
    from zhiku.config import Settings

Progress = Callable[[int, int | None], None]  # bytes done, bytes in all (None: unknown)

MIRRORS = {
    "huggingface": "https://huggingface.co/{repo}/resolve/main/{file}",
    "hf-mirror": "https://hf-mirror.com/{repo}/resolve/main/{file}",
    "modelscope": "https://modelscope.cn/models/{repo}/resolve/master/{file}",
}


@dataclass(frozen=True)
class CatalogEntry:
    repo: str
    file: str
    about: str
    context_window: int = 8192
    sha256: str | None = None
    repos: dict[str, str] = field(default_factory=dict)  # mirror → repo when it differs there
    about_zh: str = ""  # ``about`` in Chinese, for the settings page

    def url(self, mirror: str) -> str:
        return mirror_url(mirror, self.repo, self.file, self.repos)


def mirror_url(mirror: str, repo: str, file: str, repos: dict[str, str] | None = None) -> str:
    """Where ``file`` of the model repository ``repo`` is downloaded from on ``mirror`` (a known mirror,
    where ``repos`` may name the repository differently, or a Hugging Face-compatible endpoint URL)."""
    if mirror in MIRRORS:
        return MIRRORS[mirror].format(repo=(repos or {}).get(mirror, repo), file=file)
    if mirror.startswith(("http://", "https://")):
        return f"{mirror.rstrip('/')}/{repo}/resolve/main/{file}"
    raise InvalidInput(f"unknown mirror '{mirror}'; use {', '.join(MIRRORS)} or a URL", mirror=mirror)


# small instruct models that answer Chinese and English well (Q4_K_M, one file each). The sha256 values are
# the Hugging Face LFS object ids of the official Qwen files (the same value several independent projects
# pin); entries without one are checked against the hash the server advertises (X-Linked-ETag), if any.
CATALOG: dict[str, CatalogEntry] = {
    "qwen2.5-0.5b-instruct": CatalogEntry(
        "Qwen/Qwen2.5-0.5B-Instruct-GGUF", "qwen2.5-0.5b-instruct-q4_k_m.gguf", "Qwen2.5 0.5B, ~0.4 GB: fastest, weak",
        about_zh="约 0.4 GB：最快，能力较弱"),
    "qwen2.5-1.5b-instruct": CatalogEntry(
        "Qwen/Qwen2.5-1.5B-Instruct-GGUF", "qwen2.5-1.5b-instruct-q4_k_m.gguf", "Qwen2.5 1.5B, ~1.1 GB: CPU default",
        sha256="6a1a2eb6d15622bf3c96857206351ba97e1af16c30d7a74ee38970e434e9407e", about_zh="约 1.1 GB：仅用 CPU 时的首选"),
    "qwen2.5-3b-instruct": CatalogEntry(
        "Qwen/Qwen2.5-3B-Instruct-GGUF", "qwen2.5-3b-instruct-q4_k_m.gguf", "Qwen2.5 3B, ~2.1 GB: better, still CPU",
        sha256="626b4a6678b86442240e33df819e00132d3ba7dddfe1cdc4fbb18e0a9615c62d", about_zh="约 2.1 GB：更好，CPU 仍可运行"),
    "qwen2.5-7b-instruct": CatalogEntry(
        "bartowski/Qwen2.5-7B-Instruct-GGUF", "Qwen2.5-7B-Instruct-Q4_K_M.gguf", "Qwen2.5 7B, ~4.7 GB: best here, "
        "wants a GPU or patience", about_zh="约 4.7 GB：目录中最好，需要显卡或耐心"),
    "llama3.2-3b-instruct": CatalogEntry(
        "bartowski/Llama-3.2-3B-Instruct-GGUF", "Llama-3.2-3B-Instruct-Q4_K_M.gguf", "Llama 3.2 3B, ~2.0 GB: "
        "English first", about_zh="约 2.0 GB：以英文为主"),
}


@dataclass
class PullResult:
    name: str
    path: Path
    sha256: str
    verified: bool  # False when no expected sha256 was known
    resumed_from: int
    url: str


def _advertised_sha(headers: object) -> str | None:
    value = (getattr(headers, "get")("x-linked-etag") or getattr(headers, "get")("etag") or "").strip('W/"\' ')
    return value.lower() if re.fullmatch(r"[0-9a-fA-F]{64}", value) else None


def download(
    url: str, dest: Path, sha256: str | None = None, progress: Progress | None = None,
    timeout: float = 30.0, cancelled: Callable[[], bool] | None = None,
) -> tuple[str, bool, int]:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming a part left by an earlier try.

    Returns (sha256, verified, bytes the download resumed from)."""
    import httpx

    from zhiku.errors import Cancelled

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    expected = sha256.lower() if sha256 else None
    resumed = 0
    try:
        with httpx.stream("GET", url, headers=headers, follow_redirects=True,
                          timeout=httpx.Timeout(timeout)) as r:
            if r.status_code == 416 and have:  # the part is already whole
                total: int | None = have
            elif r.status_code in (200, 206):
                if r.status_code == 200 or not r.headers.get("content-range", "").startswith(f"bytes {have}-"):
                    have = 0  # the server ignored the range: start over
                resumed = have
                length = r.headers.get("content-length")
                total = have + int(length) if length and length.isdigit() else None
                expected = expected or _advertised_sha(r.headers)
                with part.open("ab" if have else "wb") as f:
                    done = have
                    for block in r.iter_bytes():
                        if cancelled and cancelled():
                            raise Cancelled(f"download of {dest.name} cancelled; run it again to resume")
                        f.write(block)
                        done += len(block)
                        if progress:
                            progress(done, total)
                if total is not None and done < total:
                    raise DownloadFailed(f"the download of {dest.name} stopped at {done} of {total} bytes; "
                                         "run the same command again to resume", url=url)
            else:
                raise DownloadFailed(f"{url} answered {r.status_code}", url=url, status=r.status_code)
    except httpx.HTTPError as exc:
        got = part.stat().st_size if part.is_file() else 0
        raise DownloadFailed(f"the download of {dest.name} failed after {got} bytes ({type(exc).__name__}); "
                             "run the same command again to resume", url=url) from None
    actual = sha256_file(part)
    if expected and actual != expected:
        part.unlink(missing_ok=True)
        raise ChecksumMismatch(f"{dest.name} is corrupt: sha256 {actual[:16]}… is not the expected "
                               f"{expected[:16]}…; the file was deleted, pull it again", expected=expected,
                               actual=actual)
    os.replace(part, dest)
    return actual, expected is not None, resumed


@dataclass(frozen=True)
class Target:
    """What a pull downloads: from where, to which file, registered under which name."""
    url: str
    file: str
    name: str
    sha256: str | None
    context_window: int


def resolve(settings: "Settings", what: str, mirror: str | None = None, sha256: str | None = None,
            name: str | None = None) -> Target:
    """A curated model (by name, from ``mirror``) or any GGUF (by URL), checked before anything downloads."""
    mirror = mirror or settings.llm.mirror
    if what.startswith(("http://", "https://")):
        url = what
        file = Path(unquote(urlparse(url).path)).name
        if not file.lower().endswith(".gguf"):
            raise InvalidInput(f"{url} does not name a .gguf file", url=url)
        name = name or file[: -len(".gguf")].lower()
        context = 4096
    else:
        entry = CATALOG.get(what.lower())
        if entry is None:
            raise NotFound(f"no model '{what}' in the catalog; known: {', '.join(CATALOG)} (or give a URL)",
                           model=what)
        url, file, name = entry.url(mirror), entry.file, name or what.lower()
        sha256 = sha256 or entry.sha256
        context = entry.context_window
    if "/" in file or "\\" in file or file.startswith("."):
        raise InvalidInput(f"refusing the file name {file!r}")
    if not name or len(name) > 100 or any(c in name for c in "/\\\n\r\t"):
        raise InvalidInput(f"a model name is one line of up to 100 characters without '/' (got {name!r})",
                           field="name")
    if sha256 is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise InvalidInput("a sha256 is 64 hexadecimal digits", field="sha256")
    return Target(url, file, name, sha256, context)


def pull(
    settings: "Settings", what: str, mirror: str | None = None, sha256: str | None = None, name: str | None = None,
    progress: Progress | None = None, cancelled: Callable[[], bool] | None = None,
) -> PullResult:
    """Download a curated model (by name) or any GGUF (by URL) and register it."""
    return pull_target(settings, resolve(settings, what, mirror, sha256, name), progress, cancelled)


def pull_target(settings: "Settings", target: Target, progress: Progress | None = None,
                cancelled: Callable[[], bool] | None = None) -> PullResult:
    from zhiku.llm.registry import models_dir, register_pulled

    dest = models_dir(settings) / target.file
    digest, verified, resumed = download(target.url, dest, target.sha256, progress, cancelled=cancelled)
    register_pulled(settings, target.name, target.file, digest, target.url, target.context_window)
    return PullResult(target.name, dest, digest, verified, resumed, target.url)
