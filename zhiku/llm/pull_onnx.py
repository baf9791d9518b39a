"""`zhiku model pull` for ONNX embedders and rerankers: several files (the graph, tokenizer.json,
config.json, external weights) into one folder, HOME/models/onnx/NAME, each downloaded as GGUF files
are (``zhiku.llm.pull.download``: the mirror the user picks, resumable, sha256-checked against the
pinned hash or the one the hub advertises), then a ``zhiku-onnx.json`` manifest saying how to run
it (pooling, max length, the sha256 of every file). Files already whole are not fetched again.

The repositories are ONNX conversions published on Hugging Face (most by third parties: BAAI and
Alibaba publish PyTorch weights); their int8 graph where they offer one. Neither the downloads nor
the models' quality could be tried where zhiku is built (no network); ``zhiku eval`` measures a
pulled model on your own questions.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from zhiku.errors import NotFound
from zhiku.llm.pull import Progress, download, mirror_url
from zhiku.text.ids import sha256_file

if TYPE_CHECKING:
    from zhiku.config import Settings

MANIFEST = "zhiku-onnx.json"  # the name zhiku.embed.onnx_runtime reads
PROGRESS = ".zhiku-onnx-pull.json"  # the files a pull has completed, until its manifest is written


@dataclass(frozen=True)
class OnnxEntry:
    repo: str
    graph: str  # the ONNX graph's path in the repository
    kind: str  # embedder or reranker
    about: str
    about_zh: str = ""
    extra_files: tuple[str, ...] = ()  # external weights next to the graph, if any
    pooling: str | None = None  # embedders: cls or mean
    max_length: int = 512
    query_prefix: str = ""
    sha256: dict[str, str] = field(default_factory=dict)  # file → pinned hash, where known
    repos: dict[str, str] = field(default_factory=dict)  # mirror → repo when it differs there

    @property
    def files(self) -> tuple[str, ...]:
        return ("tokenizer.json", "config.json", self.graph, *self.extra_files)

    def url(self, mirror: str, file: str) -> str:
        return mirror_url(mirror, self.repo, file, self.repos)


ONNX_CATALOG: dict[str, OnnxEntry] = {
    "bge-small-zh-v1.5": OnnxEntry(
        "Xenova/bge-small-zh-v1.5", "onnx/model_quantized.onnx", "embedder",
        "BAAI bge-small-zh-v1.5, int8, ~24 MB, 512 dims: Chinese, CLS pooling",
        "约 24 MB，512 维：中文，CLS 池化", pooling="cls"),
    "gte-base-zh": OnnxEntry(
        "kanewang/gte-base-zh", "onnx/model_quantized.onnx", "embedder",
        "thenlper gte-base-zh, int8, ~103 MB, 768 dims: Chinese, mean pooling",
        "约 103 MB，768 维：中文，平均池化", pooling="mean"),
    "bge-m3": OnnxEntry(
        "Xenova/bge-m3", "onnx/model_quantized.onnx", "embedder",
        "BAAI bge-m3, int8, ~570 MB, 1024 dims: multilingual, CLS pooling (512 tokens read; raise "
        "max_length in zhiku-onnx.json for long passages)", "约 570 MB，1024 维：多语言，CLS 池化", pooling="cls"),
    "bge-reranker-v2-m3": OnnxEntry(
        "rozgo/bge-reranker-v2-m3", "model.onnx", "reranker",
        "BAAI bge-reranker-v2-m3 cross-encoder, float32, ~2.3 GB (no int8 conversion known): multilingual",
        "约 2.3 GB 交叉编码器：多语言", extra_files=("model.onnx.data",)),
    "gte-multilingual-reranker-base": OnnxEntry(
        "onnx-community/gte-multilingual-reranker-base", "onnx/model_int8.onnx", "reranker",
        "Alibaba gte-multilingual-reranker-base cross-encoder, int8, ~341 MB: multilingual",
        "约 341 MB 交叉编码器（int8）：多语言"),
}


@dataclass
class OnnxPullResult:
    name: str
    kind: str
    path: Path  # the model's folder
    sha256: dict[str, str]
    verified: dict[str, bool]  # False where no expected sha256 was known
    fetched: list[str]  # files downloaded now (the others were already whole)

    def settings_hint(self) -> str:
        """The settings that put the model to use."""
        if self.kind == "reranker":
            return f"retrieval:\n  rerank: onnx\n  rerank_model: {self.path}"
        return f"embedding:\n  models:\n    {self.name}:\n      type: onnx\n      model: {self.path}"


def onnx_dir(settings: "Settings") -> Path:
    from zhiku.llm.registry import models_dir

    return models_dir(settings) / "onnx"


def pull_onnx(
    settings: "Settings", name: str, mirror: str | None = None, progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None, catalog: dict[str, OnnxEntry] | None = None,
) -> OnnxPullResult:
    """Download the catalog's ONNX model ``name`` from ``mirror`` into HOME/models/onnx/NAME.
    ``progress`` sees bytes done and in all of the file being fetched."""
    entries = ONNX_CATALOG if catalog is None else catalog
    entry = entries.get(name.lower())
    if entry is None:
        raise NotFound(f"no ONNX model '{name}' in the catalog; known: {', '.join(entries)}", model=name)
    mirror = mirror or settings.llm.mirror
    folder = onnx_dir(settings) / name.lower()
    old = _read_manifest(folder)
    hashes: dict[str, str] = {}
    verified: dict[str, bool] = {}
    fetched: list[str] = []
    for file in entry.files:
        dest = folder / file
        if dest.is_file():  # only a whole, checked download is ever renamed to its final name
            hashes[file] = old.get("sha256", {}).get(file) or sha256_file(dest)
            verified[file] = bool(old.get("verified", {}).get(file))
            if entry.sha256.get(file) and hashes[file] != entry.sha256[file]:
                dest.unlink()  # another version than the pinned one: fetch it again below
            else:
                continue
        digest, checked, _ = download(entry.url(mirror, file), dest, entry.sha256.get(file), progress,
                                      cancelled=cancelled)
        hashes[file], verified[file] = digest, checked
        fetched.append(file)
        _write(folder / PROGRESS, {"sha256": hashes, "verified": verified})  # for a pull that stops later
    manifest = {"name": name.lower(), "kind": entry.kind, "repo": entry.repo, "mirror": mirror,
                "file": entry.graph, "max_length": entry.max_length, "sha256": hashes, "verified": verified}
    if entry.pooling:
        manifest["pooling"] = entry.pooling
    if entry.query_prefix:
        manifest["query_prefix"] = entry.query_prefix
    _write(folder / MANIFEST, manifest)
    (folder / PROGRESS).unlink(missing_ok=True)
    return OnnxPullResult(name.lower(), entry.kind, folder, hashes, verified, fetched)


def _write(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def _read_manifest(folder: Path) -> dict:
    """What an earlier pull recorded: the manifest of a whole one, else the files an unfinished
    one completed."""
    for name in (MANIFEST, PROGRESS):
        try:
            data = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            return data
    return {}
