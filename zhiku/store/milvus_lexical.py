"""The ``milvus_bm25`` lexical index: zhiku's BM25 on Milvus (see zhiku.store.milvus_indexes for what a
scope, a saved index and the collections are).

Milvus's own BM25 function over an analysed VARCHAR into a sparse vector. The text is
zhiku's own tokens (jieba / English, as the built-in ``bm25`` sees them), each written as a hash
word (``k`` + 16 hex digits) that Milvus's ``standard`` tokenizer keeps whole — milvus-lite has no
whitespace tokenizer — so Milvus scores exactly zhiku's tokens. Milvus's BM25 statistics span
the collection (every KB in it), so its hits are candidates, scored again with the scope's own
statistics (``Stats``: documents, length, document frequencies) into the built-in bm25's scores and
coverage. A document longer than one VARCHAR is stored as several rows (``part``) and found as one.
"""

from __future__ import annotations

import math
import threading
import uuid
from dataclasses import dataclass, field
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zhiku.store.milvus_collections import (
    B, K1, MAX_K, MAX_TEXT, all_ids, as_ids, default_uri, lexical_collection, read_after, render, scope_filter,
    term_word,
)
from zhiku.store.milvus_scope import MARKER, Scoped, read_scope

if TYPE_CHECKING:
    from zhiku.config import IndexSettings

__all__ = ["MilvusLexicalIndex", "MilvusLexicalType", "Stats"]

PER_PART = MAX_TEXT // 18  # words in one row: "k" + 16 hex digits + a space each


def parts_of(length: int) -> int:
    """Rows a document of ``length`` words takes (an empty one: one row)."""
    return max(1, -(-int(length) // PER_PART))


@dataclass(frozen=True)
class Stats:
    """A lexical scope's BM25 statistics, kept by its one writer and saved with it: Milvus's own span
    the whole collection (every KB of the scope's collection), not one KB."""

    docs: int = 0
    length: int = 0  # words in all documents
    df: dict[str, int] = field(default_factory=dict)  # documents holding each word

    def changed(self, removed: Iterable[list[str]], added: Iterable[list[str]]) -> "Stats":
        df, docs, length = dict(self.df), self.docs, self.length
        for words, sign in [(w, -1) for w in removed] + [(w, 1) for w in added]:
            docs += sign
            length += sign * len(words)
            for w in set(words):
                n = df.get(w, 0) + sign
                if n > 0:
                    df[w] = n
                else:
                    df.pop(w, None)
        return Stats(docs, length, df)


class MilvusLexicalIndex(Scoped):
    """The ``milvus_bm25`` lexical index of one scope (see the module docstring)."""

    kind = "milvus_bm25"

    def __init__(self, uri: str, token: str, scope: str, stats: "Stats | None" = None, written: int = 0) -> None:
        """``stats``: the scope's document count, total length and document frequencies (saved with it)."""
        super().__init__(uri, token, scope, written)
        self.collection = lexical_collection(self.client, uri)
        self._lock = threading.Lock()  # one writer at a time keeps the statistics right
        self._stats = stats or Stats()

    @classmethod
    def configure(cls, settings: "IndexSettings", root: Path | None = None) -> "MilvusLexicalType":
        return MilvusLexicalType(settings.milvus_uri or default_uri(root), settings.milvus_token)

    def __len__(self) -> int:
        return self._stats.docs

    def _marker(self) -> dict[str, Any]:
        return {"pk": MARKER, "id": -1, "part": 0, "kb": MARKER, "length": 0, "text": term_word(MARKER)}

    def _parts(self, cid: int, words: list[str]) -> list[dict[str, Any]]:
        chunks = [words[i:i + PER_PART] for i in range(0, len(words), PER_PART)] or [[]]
        return [{"pk": f"{self.scope}/{cid}/{n}", "id": cid, "part": n, "kb": self.scope, "length": len(words),
                 "text": " ".join(ws)} for n, ws in enumerate(chunks)]

    def _held(self, ids: list[int]) -> dict[int, list[str]]:
        """The words each of ``ids`` holds now (primary-key reads of all its parts: no filter scan)."""
        first = self.client.get(self.collection, ids=[f"{self.scope}/{i}/0" for i in ids],
                                output_fields=["id", "length", "text"], **read_after(self.written))
        held = {int(r["id"]): r["text"].split() for r in first}
        more = [f"{self.scope}/{int(r['id'])}/{n}" for r in first for n in range(1, parts_of(int(r["length"])))]
        if more:
            for r in self.client.get(self.collection, ids=more, output_fields=["id", "text"],
                                     **read_after(self.written)):
                held[int(r["id"])].extend(r["text"].split())
        return held

    def add(self, ids: Sequence[int], tokens: Sequence[Sequence[str]]) -> None:
        docs = {cid: [term_word(t) for t in toks] for cid, toks in zip(as_ids(ids), tokens)}  # the last copy wins
        if not docs:
            return
        with self._lock:
            old = self._held(list(docs))
            rows = [row for cid, words in docs.items() for row in self._parts(cid, words)]
            write = self.client.upsert if old else self.client.insert  # insert: nothing to replace
            for start in range(0, len(rows), 2000):
                write(self.collection, rows[start:start + 2000])
            stale = [f"{self.scope}/{cid}/{n}" for cid, words in old.items()
                     for n in range(parts_of(len(docs[cid])), parts_of(len(words)))]
            if stale:  # parts a longer earlier version of a document had
                self.client.delete(self.collection, ids=stale)
            self._stats = self._stats.changed(removed=old.values(), added=docs.values())
            if stale:
                self._deleted()
            else:
                self._wrote()

    def remove(self, ids: Iterable[int]) -> None:
        gone = sorted(set(as_ids(ids)))
        if not gone:
            return
        with self._lock:
            old = self._held(gone)
            if old:
                self.client.delete(self.collection, ids=[f"{self.scope}/{cid}/{n}" for cid, words in old.items()
                                                         for n in range(parts_of(len(words)))])
                self._stats = self._stats.changed(removed=old.values(), added=())
                self._deleted()

    def search(
        self, query_tokens: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float, float]]:
        """Milvus's BM25 (its statistics span the whole collection) finds the candidates; they are
        scored again with the scope's own statistics, so scores and order are those of the built-in bm25."""
        words = list(dict.fromkeys(term_word(t) for t in query_tokens))
        if k <= 0 or not words or (allowed is not None and not len(allowed)):
            return []
        template, params = scope_filter(allowed)
        found = self.client.search(
            self.collection, data=[" ".join(words)], anns_field="sparse", limit=min(max(2 * int(k), 50), MAX_K),
            filter=render(template, {"kb": self.scope, **params}), output_fields=["id", "text", "length"],
            search_params={"metric_type": "BM25"}, **read_after(self.written))
        if not found or not found[0]:
            return []
        held: dict[int, list[str]] = {}
        length: dict[int, int] = {}
        for h in found[0]:
            cid = int(h["entity"]["id"])
            held.setdefault(cid, []).extend(h["entity"]["text"].split())
            length[cid] = int(h["entity"]["length"])
        stats = self._stats  # one snapshot (a writer replaces it whole)
        if not stats.docs:
            return []
        avgdl = stats.length / stats.docs if stats.length else 1.0
        idf = {w: math.log(1.0 + (stats.docs - stats.df.get(w, 0) + 0.5) / (stats.df.get(w, 0) + 0.5)) for w in words}
        total = sum(idf.values()) or 1.0
        wanted = set(words)
        scored = []
        for cid, doc in held.items():
            tf: dict[str, int] = {}
            for w in doc:
                if w in wanted:
                    tf[w] = tf.get(w, 0) + 1
            if not tf:
                continue
            norm = K1 * (1.0 - B + B * length[cid] / avgdl)
            score = sum(idf[w] * f * (K1 + 1.0) / (f + norm) for w, f in sorted(tf.items(), key=lambda t: -idf[t[0]]))
            scored.append((cid, score, min(1.0, sum(idf[w] for w in tf) / total)))
        scored.sort(key=lambda h: (-h[1], h[0]))
        return scored[:int(k)]

    def ids(self) -> np.ndarray:
        return all_ids(self.client, self.collection, "kb == {kb} and part == 0", {"kb": self.scope})

    def save(self, path: Path) -> None:
        stats = self._stats
        self._record(path, docs=stats.docs, length=stats.length, df=stats.df)


class MilvusLexicalType:
    """``MilvusLexicalIndex`` on one Milvus, shaped as a ``LexicalIndexType``."""

    def __init__(self, uri: str, token: str = "") -> None:
        self.uri, self.token = uri, token

    def __call__(self) -> MilvusLexicalIndex:
        return MilvusLexicalIndex(self.uri, self.token, f"t-{uuid.uuid4().hex}")

    def for_kb(self, kb_id: str) -> MilvusLexicalIndex:
        return MilvusLexicalIndex(self.uri, self.token, f"{kb_id}@{uuid.uuid4().hex[:12]}")

    def load(self, path: Path) -> MilvusLexicalIndex:
        data = read_scope(path, "milvus_bm25")
        if data.get("uri") != self.uri:
            raise ValueError(f"{path} names another Milvus ({data.get('uri')}) than index.milvus_uri")
        stats = Stats(int(data["docs"]), int(data["length"]), {str(w): int(n) for w, n in data["df"].items()})
        return MilvusLexicalIndex(self.uri, self.token, data["scope"], stats, written=int(data.get("written") or 0))

    def discard(self, path: Path) -> None:
        try:
            data = read_scope(path, "milvus_bm25")
        except (OSError, ValueError):
            return
        if data.get("uri") == self.uri:
            MilvusLexicalIndex(self.uri, self.token, data["scope"]).drop()
