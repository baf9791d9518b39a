"""Embeddings cached by (model, text hash) in the database: re-ingesting
unchanged text embeds nothing, and a crashed ingest resumes where it stopped.

It runs SQL on the store's ``embed_cache`` table, so it lives in the store; it knows of the
embedder only the little it calls (``PassageEmbedder``), so the store imports no model code.
"""

from __future__ import annotations

import hashlib
import importlib
from typing import Any, Callable, Protocol, Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from zhiku.errors import Cancelled
from zhiku.store.db import embed_cache

_LOOKUP_BATCH = 500


def text_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _insert_new(conn: Connection) -> Any:
    """An insert that skips texts another thread or process cached since we looked
    (two requests answering the same question at once embed the same sentences)."""
    if conn.dialect.name in ("sqlite", "postgresql"):
        dialect = importlib.import_module(f"sqlalchemy.dialects.{conn.dialect.name}")
        return dialect.insert(embed_cache).on_conflict_do_nothing()
    return embed_cache.insert()


class PassageEmbedder(Protocol):
    """What the cache needs of an embedder (every ``zhiku.embed.Embedder`` is one)."""

    @property
    def model_id(self) -> str: ...  # the cache key: the exact model

    @property
    def dimensions(self) -> int: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


class CachedEmbedder:
    def __init__(self, embedder: PassageEmbedder, engine: Engine) -> None:
        self.embedder = embedder
        self.engine = engine

    def _lookup(self, shas: list[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        model = self.embedder.model_id
        with self.engine.connect() as conn:
            for i in range(0, len(shas), _LOOKUP_BATCH):
                part = shas[i : i + _LOOKUP_BATCH]
                rows = conn.execute(
                    select(embed_cache.c.text_sha, embed_cache.c.vector).where(
                        embed_cache.c.model == model, embed_cache.c.text_sha.in_(part)
                    )
                )
                found.update({r.text_sha: r.vector for r in rows})
        return found

    def embed_passages(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        progress: Callable[[int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> tuple[np.ndarray, int]:
        """Vectors for ``texts`` and how many were newly embedded.

        New vectors are committed to the cache batch by batch, so work done before
        a crash or a cancel is not done again.
        """
        dim = self.embedder.dimensions
        shas = [text_sha(t) for t in texts]
        cached = self._lookup(sorted(set(shas)))
        out = np.zeros((len(texts), dim), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        done = 0
        for i, sha in enumerate(shas):
            if sha in cached:
                out[i] = np.frombuffer(cached[sha], dtype=np.float32)
                done += 1
            else:
                todo.setdefault(sha, []).append(i)
        if progress and done:
            progress(done)
        pending = list(todo.items())
        model = self.embedder.model_id
        for start in range(0, len(pending), batch_size):
            if cancelled and cancelled():
                raise Cancelled("cancelled while embedding")
            part = pending[start : start + batch_size]
            vectors = self.embedder.embed_passages([texts[idxs[0]] for _, idxs in part])
            rows = []
            for (sha, idxs), vec in zip(part, vectors):
                out[idxs] = vec
                rows.append({"model": model, "text_sha": sha, "vector": vec.astype(np.float32).tobytes()})
            with self.engine.begin() as conn:
                existing = {r.text_sha for r in conn.execute(
                    select(embed_cache.c.text_sha).where(
                        embed_cache.c.model == model, embed_cache.c.text_sha.in_([r["text_sha"] for r in rows])
                    )
                )}
                fresh = [r for r in rows if r["text_sha"] not in existing]
                if fresh:
                    conn.execute(_insert_new(conn), fresh)
            if progress:
                progress(sum(len(idxs) for _, idxs in part))
        return out, len(pending)
