"""Index backends on Milvus through pymilvus: ``milvus`` (dense) and ``milvus_bm25`` (lexical).

Milvus is not transactional with the metadata database, so these are *derived* indexes like faiss
and bm25: ``IndexManager`` applies each change as it commits it, records the KB revision in the
KB's manifest only after ``save`` (which flushes Milvus), and rebuilds from the database whenever
the manifest is missing or stale — after a crash or ``kill -9`` mid-ingestion, for example. What a
"saved index" is here: a small file naming the Milvus URI, collection and *scope* whose rows it is,
with the counts its one writer keeps (so no search or save scans Milvus with a filter).

Layout (docs/backends.md says why): one collection per embedder dimension for the vectors
(``zhiku_dense_<D>``) and one for the lexical documents (``zhiku_lexical``), each row tagged with
its scope in a VARCHAR *partition key* (``kb``); a KB is one scope, a rebuild writes a new scope
``<kb id>@<generation>`` and drops the KB's other generations once the new one is saved, so the
old copy answers until the switch. Primary keys are ``<scope>/<chunk id>``: ids are only unique
within a scope.

Lexical: Milvus's own BM25 function over an analysed VARCHAR into a sparse vector. The text is
zhiku's own tokens (jieba / English, as the built-in ``bm25`` sees them), each written as a hash
word (``k`` + 16 hex digits) that Milvus's ``standard`` tokenizer keeps whole — milvus-lite has no
whitespace tokenizer — so Milvus scores exactly zhiku's tokens. Milvus's BM25 statistics span
the collection (every KB in it), so its hits are candidates, scored again with the scope's own
statistics (``Stats``: documents, length, document frequencies) into the built-in bm25's scores and
coverage. A document longer than one VARCHAR is stored as several rows (``part``) and found as one.
"""

from __future__ import annotations

import json
import math
import os
import threading
import uuid
from dataclasses import dataclass, field
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zhiku.store.milvus_collections import (
    B, K1, LEXICAL, MAX_K, MAX_TEXT, MIN_EF, all_ids, as_ids, client, close_client, count, default_uri,
    dense_collection, last_write, lexical_collection, read_after, render, rows, scope_filter, term_word,
)

if TYPE_CHECKING:
    from zhiku.config import IndexSettings

__all__ = ["LEXICAL", "MilvusLexicalIndex", "MilvusLexicalType", "MilvusVectorIndex", "MilvusVectorType", "client",
           "close_client", "term_word"]

PER_PART = MAX_TEXT // 18  # words in one row: "k" + 16 hex digits + a space each
MARKER = "~written"  # the primary key and KB of the row written after a delete (no KB's filter matches it)


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


class _Scoped:
    """What both Milvus indexes share: a client, a collection, a scope; save/load of the scope file."""

    kind = ""

    def __init__(self, uri: str, token: str, scope: str, written: int = 0) -> None:
        """``written``: the Milvus timestamp of the scope's last write (from its manifest), 0 if unknown."""
        self.uri, self.token, self.scope = uri, token, scope
        self.client = client(uri, token)
        self.collection = ""
        self.written = int(written)

    def _wrote(self) -> None:
        """After a write: reads wait for it (``read_after``), and no longer than for it."""
        self.written = max(self.written, last_write(self.client, self.collection))

    def _deleted(self) -> None:
        """After a delete: Milvus answers a delete with no timestamp, so a row of no KB (``MARKER``, the same
        one each time) is written after it, and reads wait for that write, which Milvus orders after the delete."""
        self.client.upsert(self.collection, [self._marker()])
        self._wrote()

    def _marker(self) -> dict[str, Any]:
        raise NotImplementedError

    def _record(self, path: Path, **extra: Any) -> None:
        self.client.flush(self.collection)  # what the file names is durable before the file says so
        previous = _read_scope(path, self.kind) if path.exists() else {}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        # "written": another process that loads this scope reads after the writes it names, not Strong
        tmp.write_text(json.dumps({"backend": self.kind, "uri": self.uri, "collection": self.collection,
                                   "scope": self.scope, "written": self.written, **extra}))
        os.replace(tmp, path)
        if "@" in self.scope and previous.get("scope") != self.scope:
            self.drop_generations()

    def drop_generations(self) -> None:
        """Delete the rows of this KB's other generations (a replaced copy, an interrupted rebuild)."""
        kb = self.scope.split("@", 1)[0]
        self.client.delete(self.collection, filter=render("kb like {prefix} and kb != {kb}",
                                                        {"prefix": f"{kb}@%", "kb": self.scope}))

    def drop(self) -> None:
        """Delete every row of this scope (the KB was deleted)."""
        self.client.delete(self.collection, filter=render("kb == {kb}", {"kb": self.scope}))

    def close(self) -> None:
        pass  # the client is shared by every index on the URI in this process


def _read_scope(path: Path, kind: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(path).read_text())  # FileNotFoundError when never saved
    if data.get("backend") != kind:
        raise ValueError(f"{path} was not saved by {kind}")
    return data


class MilvusVectorIndex(_Scoped):
    """The ``milvus`` vector index of one scope (see the module docstring)."""

    kind = "milvus"
    upgraded = False

    def __init__(self, uri: str, token: str, scope: str, dimensions: int, held: int | None = 0,
                 written: int = 0) -> None:
        """``held``: how many vectors the scope holds (saved with it; None: counted in Milvus)."""
        super().__init__(uri, token, scope, written)
        self.dimensions = int(dimensions)
        self.collection = dense_collection(self.client, uri, self.dimensions)
        self._lock = threading.Lock()
        self._held = held if held is not None else count(self.client, self.collection, "kb == {kb}",
                                                         {"kb": self.scope})

    @classmethod
    def configure(cls, settings: "IndexSettings", root: Path | None = None) -> "MilvusVectorType":
        return MilvusVectorType(settings.milvus_uri or default_uri(root), settings.milvus_token)

    def __len__(self) -> int:
        return self._held

    def _marker(self) -> dict[str, Any]:
        return {"pk": MARKER, "id": -1, "kb": MARKER, "vec": [0.0] * self.dimensions}

    def _present(self, ids: list[int]) -> int:
        """How many of ``ids`` the scope holds (primary-key reads: no filter scan)."""
        return len(self.client.get(self.collection, ids=[f"{self.scope}/{i}" for i in ids], output_fields=["id"],
                                   **read_after(self.written)))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if not ids.size:
            return
        vectors = np.asarray(vectors, dtype=np.float32).reshape(ids.size, -1)
        rows = {int(i): v for i, v in zip(ids.tolist(), vectors)}  # the last copy of an id wins
        with self._lock:  # one writer at a time keeps the count right
            present = self._present(list(rows))
            write = self.client.upsert if present else self.client.insert  # insert: nothing to replace
            items = list(rows.items())
            for start in range(0, len(items), 5000):
                write(self.collection, [{"pk": f"{self.scope}/{i}", "id": i, "kb": self.scope, "vec": v.tolist()}
                                        for i, v in items[start:start + 5000]])
            self._held += len(rows) - present
            self._wrote()

    def remove(self, ids: Iterable[int]) -> None:
        gone = sorted(set(as_ids(ids)))
        if gone:
            with self._lock:
                present = self._present(gone)
                self.client.delete(self.collection, ids=[f"{self.scope}/{i}" for i in gone])
                self._held -= present
                self._deleted()

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        if k <= 0 or (allowed is not None and not len(allowed)):
            return []
        template, params = scope_filter(allowed)
        found = self.client.search(
            self.collection, data=[np.asarray(query, dtype=np.float32).ravel().tolist()], anns_field="vec",
            limit=min(int(k), MAX_K), filter=render(template, {"kb": self.scope, **params}), output_fields=["id"],
            search_params={"metric_type": "IP", "params": {"ef": min(MAX_K, max(MIN_EF, 4 * int(k)))}},
            **read_after(self.written))
        hits = [(int(h["entity"]["id"]), float(h["distance"])) for h in found[0]]
        hits.sort(key=lambda h: (-h[1], h[0]))
        return hits

    def reconstruct(self, ids: list[int]) -> np.ndarray:
        out = np.zeros((len(ids), self.dimensions), dtype=np.float32)
        if not ids:
            return out
        rows = self.client.get(self.collection, ids=[f"{self.scope}/{int(i)}" for i in ids],
                               output_fields=["id", "vec"], **read_after(self.written))
        found = {int(r["id"]): np.asarray(r["vec"], dtype=np.float32) for r in rows}
        for n, i in enumerate(ids):
            if int(i) in found:
                out[n] = found[int(i)]
        return out

    def ids(self) -> np.ndarray:
        return all_ids(self.client, self.collection, "kb == {kb}", {"kb": self.scope})

    def save(self, path: Path) -> None:
        self._record(path, dimensions=self.dimensions, held=self._held)


class MilvusLexicalIndex(_Scoped):
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


class MilvusVectorType:
    """``MilvusVectorIndex`` on one Milvus, shaped as a ``VectorIndexType`` (each new index: a new scope)."""

    def __init__(self, uri: str, token: str = "") -> None:
        self.uri, self.token = uri, token

    def __call__(self, dimensions: int) -> MilvusVectorIndex:
        return MilvusVectorIndex(self.uri, self.token, f"t-{uuid.uuid4().hex}", dimensions)

    def for_kb(self, kb_id: str, dimensions: int) -> MilvusVectorIndex:
        """A new empty generation of a KB's index (the others are dropped when it is saved)."""
        return MilvusVectorIndex(self.uri, self.token, f"{kb_id}@{uuid.uuid4().hex[:12]}", dimensions)

    def load(self, path: Path, dimensions: int) -> MilvusVectorIndex:
        data = _read_scope(path, "milvus")
        if data.get("uri") != self.uri:
            raise ValueError(f"{path} names another Milvus ({data.get('uri')}) than index.milvus_uri")
        held = data.get("held")
        return MilvusVectorIndex(self.uri, self.token, data["scope"], dimensions, None if held is None else int(held),
                                 written=int(data.get("written") or 0))

    def discard(self, path: Path) -> None:
        """Delete the rows of the index saved at ``path`` (its KB is deleted); nothing if none was."""
        try:
            data = _read_scope(path, "milvus")
        except (OSError, ValueError):
            return
        if data.get("uri") == self.uri:
            MilvusVectorIndex(self.uri, self.token, data["scope"], int(data["dimensions"]), held=0).drop()


class MilvusLexicalType:
    """``MilvusLexicalIndex`` on one Milvus, shaped as a ``LexicalIndexType``."""

    def __init__(self, uri: str, token: str = "") -> None:
        self.uri, self.token = uri, token

    def __call__(self) -> MilvusLexicalIndex:
        return MilvusLexicalIndex(self.uri, self.token, f"t-{uuid.uuid4().hex}")

    def for_kb(self, kb_id: str) -> MilvusLexicalIndex:
        return MilvusLexicalIndex(self.uri, self.token, f"{kb_id}@{uuid.uuid4().hex[:12]}")

    def load(self, path: Path) -> MilvusLexicalIndex:
        data = _read_scope(path, "milvus_bm25")
        if data.get("uri") != self.uri:
            raise ValueError(f"{path} names another Milvus ({data.get('uri')}) than index.milvus_uri")
        stats = Stats(int(data["docs"]), int(data["length"]), {str(w): int(n) for w, n in data["df"].items()})
        return MilvusLexicalIndex(self.uri, self.token, data["scope"], stats, written=int(data.get("written") or 0))

    def discard(self, path: Path) -> None:
        try:
            data = _read_scope(path, "milvus_bm25")
        except (OSError, ValueError):
            return
        if data.get("uri") == self.uri:
            MilvusLexicalIndex(self.uri, self.token, data["scope"]).drop()
