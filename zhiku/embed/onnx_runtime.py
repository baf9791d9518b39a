"""A local ONNX transformer model in a folder, run with onnxruntime: what the ONNX embedder
(``zhiku.embed.onnx``) and the ONNX cross-encoder reranker (``zhiku.retrieval.rerank_onnx``) share.

A model folder is laid out as Hugging Face repositories lay theirs out (and as ``zhiku model pull``
leaves them)::

    tokenizer.json                 the fast tokenizer (the ``tokenizers`` package reads it)
    onnx/model.onnx | model.onnx   the graph (int8 variants preferred when present: see ONNX_FILES)
    config.json                    optional: model_type, max_position_embeddings
    1_Pooling/config.json          optional: sentence-transformers' pooling (CLS or mean)
    zhiku-onnx.json                optional: what zhiku should know (file, pooling, max_length,
                                   query_prefix, passage_prefix, score_range); ``zhiku model pull``
                                   writes it from its catalog, users may write their own

Inputs are fed by name: ``input_ids``, ``attention_mask`` and ``token_type_ids`` when the graph
declares them (BERT does, XLM-R does not).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from zhiku.errors import ConfigError, MissingDependency

MANIFEST = "zhiku-onnx.json"
# the graph used when the manifest names none: the int8 ones first ("int8 where the model offers it")
ONNX_FILES = ("onnx/model_int8.onnx", "onnx/model_quantized.onnx", "onnx/model_qint8_avx512_vnni.onnx",
              "model_int8.onnx", "model_quantized.onnx", "onnx/model.onnx", "model.onnx")
DEFAULT_MAX_LENGTH = 512  # bge-m3 reads 8,192 tokens, at a cost few CPUs can pay per passage


@dataclass(frozen=True)
class ModelFolder:
    path: Path
    onnx_file: Path
    manifest: dict[str, Any]
    config: dict[str, Any]


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is not readable JSON ({exc})", path=str(path)) from None
    return data if isinstance(data, dict) else {}


def open_folder(where: str | os.PathLike[str] | None, what: str) -> ModelFolder:
    """The model folder ``where`` names (a path; ``~`` expands), checked: ``ConfigError`` saying
    what is missing. ``what`` names the setting in messages."""
    if not where:
        raise ConfigError(f"{what} needs the folder of an ONNX model (tokenizer.json + model.onnx)")
    path = Path(os.path.expanduser(str(where)))
    if not path.is_dir():
        raise ConfigError(f"{what}: {path} is not a folder (pull one with `zhiku model pull`, "
                          "see `zhiku model catalog`)", path=str(path))
    manifest = _read_json(path / MANIFEST)
    names = [manifest["file"]] if manifest.get("file") else list(ONNX_FILES)
    onnx_file = next((path / n for n in names if (path / n).is_file()), None)
    if onnx_file is None:
        raise ConfigError(f"{what}: no ONNX graph in {path} (looked for {', '.join(names)})", path=str(path))
    if not (path / "tokenizer.json").is_file():
        raise ConfigError(f"{what}: {path} has no tokenizer.json", path=str(path))
    return ModelFolder(path, onnx_file, manifest, _read_json(path / "config.json"))


def max_length(folder: ModelFolder) -> int:
    """Tokens read per text: the manifest's, else the model's positions (XLM-R keeps 2 for its
    offset), at most DEFAULT_MAX_LENGTH."""
    if folder.manifest.get("max_length"):
        return int(folder.manifest["max_length"])
    positions = int(folder.config.get("max_position_embeddings") or DEFAULT_MAX_LENGTH)
    if folder.config.get("model_type") in ("xlm-roberta", "roberta"):
        positions -= 2
    return max(8, min(positions, DEFAULT_MAX_LENGTH))


def fingerprint(folder: ModelFolder) -> str:
    """A short id of the exact graph: the pull's recorded sha256, else the file's (hashed once)."""
    digest = folder.manifest.get("sha256", {}).get(str(folder.onnx_file.relative_to(folder.path))) \
        if isinstance(folder.manifest.get("sha256"), dict) else None
    if not digest:
        h = hashlib.sha256()
        with folder.onnx_file.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        digest = h.hexdigest()
    return str(digest)[:12]


class OnnxModel:
    """A tokenizer and an inference session over one model folder; thread-safe (onnxruntime runs
    concurrent ``run`` calls on one session)."""

    def __init__(self, folder: ModelFolder, threads: int = 0) -> None:
        try:
            import onnxruntime as ort  # type: ignore[import-untyped]
        except ImportError:
            raise MissingDependency("onnxruntime", extra="onnx", purpose="ONNX models") from None
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise MissingDependency("tokenizers", extra="onnx", purpose="ONNX models") from None
        self.folder = folder
        self.max_length = max_length(folder)
        self.tokenizer = Tokenizer.from_file(str(folder.path / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.no_padding()  # each batch is padded here, to its own longest text
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(folder.onnx_file), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for a graph it cannot load
            raise ConfigError(f"{folder.onnx_file} is not an ONNX graph onnxruntime can run ({exc})",
                              path=str(folder.onnx_file)) from None
        self.inputs = {i.name for i in self.session.get_inputs()}
        if not {"input_ids", "attention_mask"} <= self.inputs:
            raise ConfigError(f"{folder.onnx_file} takes {sorted(self.inputs)}, not input_ids and attention_mask",
                              path=str(folder.onnx_file))
        self.outputs = [o.name for o in self.session.get_outputs()]
        pad = self.tokenizer.token_to_id("[PAD]")
        if pad is None:
            pad = self.tokenizer.token_to_id("<pad>")
        self.pad_id = int(pad or 0)

    def encode(self, texts: Sequence[str], pairs: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """The graph's inputs for ``texts`` (with ``pairs``: each text paired with one, as a
        cross-encoder reads a question and a passage), padded to the longest."""
        if pairs is not None:
            encodings = self.tokenizer.encode_batch(list(zip(texts, pairs)))
        else:
            encodings = self.tokenizer.encode_batch(list(texts))
        longest = max((len(e.ids) for e in encodings), default=1) or 1
        ids = np.full((len(encodings), longest), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), longest), dtype=np.int64)
        types = np.zeros((len(encodings), longest), dtype=np.int64)
        for row, e in enumerate(encodings):
            n = len(e.ids)
            ids[row, :n] = e.ids
            mask[row, :n] = 1
            types[row, :n] = e.type_ids
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = types
        return feed

    def run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        results = self.session.run(None, feed)
        return {name: np.asarray(value) for name, value in zip(self.outputs, results)}


_loaded: dict[tuple[str, int, int, str, int], OnnxModel] = {}
_loaded_lock = threading.Lock()


def load(where: str | os.PathLike[str] | None, what: str, threads: int = 0) -> OnnxModel:
    """The model in folder ``where``, loaded once per process (a reranker is built per question)."""
    folder = open_folder(where, what)
    stat = folder.onnx_file.stat()  # a graph replaced in place, or a changed manifest, loads anew
    key = (str(folder.onnx_file.resolve()), stat.st_mtime_ns, stat.st_size,
           json.dumps(folder.manifest, sort_keys=True), threads)
    with _loaded_lock:
        if key not in _loaded:
            _loaded[key] = OnnxModel(folder, threads)
        return _loaded[key]
