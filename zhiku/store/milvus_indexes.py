"""Index backends on Milvus through pymilvus: ``milvus`` (dense) and ``milvus_bm25`` (lexical).

Milvus is not transactional with the metadata database, so these are *derived* indexes like faiss
and bm25: ``IndexManager`` applies each change as it commits it, records the KB revision in the
KB's manifest only after ``save`` (which flushes Milvus), and rebuilds from the database whenever
the manifest is missing or stale — after a crash or ``kill -9`` mid-ingestion, for example. What a
"saved index" is here: a small file naming the Milvus URI, collection and *scope* whose rows it is.

Layout (docs/backends.md says why): one collection per embedder dimension for the vectors
(``zhiku_dense_<D>``) and one for the lexical documents (``zhiku_lexical``), each row tagged with
its scope in a VARCHAR *partition key* (``kb``); a KB is one scope, a rebuild writes a new scope
``<kb id>@<generation>`` and drops the KB's other generations once the new one is saved, so the
old copy answers until the switch. Primary keys are ``<scope>/<chunk id>``: ids are only unique
within a scope.

Lexical: Milvus's own BM25 function over an analysed VARCHAR into a sparse vector. The text is
zhiku's own tokens (jieba / English, as the built-in ``bm25`` sees them), each written as a hash
word (``k`` + 16 hex digits) that Milvus's ``standard`` tokenizer keeps whole — milvus-lite has no
whitespace tokenizer — so Milvus scores exactly zhiku's tokens. Coverage (the share of the query's
IDF weight a document holds) uses per-KB document frequencies counted with ``TEXT_MATCH``. A
document longer than one VARCHAR is stored as several rows (``part``) and found as one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pymilvus import MilvusClient

    from zhiku.config import IndexSettings

LEXICAL = "zhiku_lexical"
MAX_TEXT = 65_535  # a VARCHAR's limit: longer documents are split into parts
MAX_K = 16_384  # Milvus's largest topk / query limit
MAX_COUNTED_TERMS = 32  # query terms whose document frequency is counted; longer queries weigh terms alike
K1, B = 1.5, 0.75  # BM25's parameters, as the built-in bm25 has them
CONSISTENCY = "Strong"  # a search sees every write made before it (the contract's read-your-writes)

_clients: dict[str, "MilvusClient"] = {}
_clients_lock = threading.Lock()
_ready: set[tuple[str, str]] = set()


def default_uri(root: Path | None) -> str:
    """milvus-lite in a file beside the other indexes (one process at a time may open it)."""
    return str((root or Path(".")) / "milvus.db")


def client(uri: str, token: str = "") -> "MilvusClient":
    """One client per URI in this process (milvus-lite allows one opener of a file)."""
    from pymilvus import MilvusClient

    with _clients_lock:
        found = _clients.get(uri)
        if found is None:
            if uri.endswith(".db"):
                Path(uri).parent.mkdir(parents=True, exist_ok=True)
            found = _clients[uri] = MilvusClient(uri, token=token) if token else MilvusClient(uri)
        return found


def close_client(uri: str) -> None:
    """Close this process's client of ``uri`` (tests and ``bench`` reopen a milvus-lite file)."""
    with _clients_lock:
        found = _clients.pop(uri, None)
        for key in [k for k in _ready if k[0] == uri]:
            _ready.discard(key)
    if found is not None:
        found.close()


def _dense_collection(c: "MilvusClient", uri: str, dimensions: int) -> str:
    from pymilvus import DataType, MilvusClient

    name = f"zhiku_dense_{int(dimensions)}"
    with _clients_lock:
        if (uri, name) in _ready:
            return name
        if not c.has_collection(name):
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("pk", DataType.VARCHAR, max_length=200, is_primary=True)
            schema.add_field("id", DataType.INT64)
            schema.add_field("kb", DataType.VARCHAR, max_length=128, is_partition_key=True)
            schema.add_field("vec", DataType.FLOAT_VECTOR, dim=int(dimensions))
            params = c.prepare_index_params()
            params.add_index("vec", index_type="AUTOINDEX", metric_type="IP")
            c.create_collection(name, schema=schema, index_params=params, consistency_level=CONSISTENCY)
        c.load_collection(name)  # a collection reopened after a crash comes back released
        _ready.add((uri, name))
    return name


def _lexical_collection(c: "MilvusClient", uri: str) -> str:
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    with _clients_lock:
        if (uri, LEXICAL) in _ready:
            return LEXICAL
        if not c.has_collection(LEXICAL):
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("pk", DataType.VARCHAR, max_length=200, is_primary=True)
            schema.add_field("id", DataType.INT64)
            schema.add_field("part", DataType.INT32)
            schema.add_field("length", DataType.INT64)  # the whole document's tokens (BM25's length norm)
            schema.add_field("kb", DataType.VARCHAR, max_length=128, is_partition_key=True)
            schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT, enable_analyzer=True, enable_match=True,
                             analyzer_params={"tokenizer": "standard"})
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                         input_field_names=["text"], output_field_names=["sparse"]))
            params = c.prepare_index_params()
            params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
            c.create_collection(LEXICAL, schema=schema, index_params=params, consistency_level=CONSISTENCY)
        c.load_collection(LEXICAL)
        _ready.add((uri, LEXICAL))
    return LEXICAL


def term_word(token: str) -> str:
    """A token as one word Milvus's standard tokenizer keeps whole (64 bits of its BLAKE2 hash)."""
    return "k" + hashlib.blake2b(token.encode("utf-8"), digest_size=8).hexdigest()


def _ids(ids: Iterable[int] | np.ndarray) -> list[int]:
    return [int(i) for i in np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)]


def _literal(value: Any) -> str:
    """A value written into a filter expression (milvus-lite has no expression templates)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a double-quoted string, quotes and backslashes escaped
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_literal(v) for v in value) + "]"
    return str(int(value))


def _expr(template: str, params: dict[str, Any]) -> str:
    return template.format(**{k: _literal(v) for k, v in params.items()})


def _count(c: "MilvusClient", collection: str, expr: str, params: dict[str, Any]) -> int:
    rows = c.query(collection, filter=_expr(expr, params), output_fields=["count(*)"],
                   consistency_level=CONSISTENCY)
    return int(rows[0]["count(*)"]) if rows else 0


def _rows(c: "MilvusClient", collection: str, expr: str, params: dict[str, Any], fields: list[str]) -> list[dict]:
    """Every row the filter matches (one query when they fit in one answer, else an iterator)."""
    where = _expr(expr, params)
    if _count(c, collection, expr, params) < MAX_K:
        return list(c.query(collection, filter=where, output_fields=fields, limit=MAX_K,
                            consistency_level=CONSISTENCY))
    out: list[dict] = []
    it = c.query_iterator(collection, batch_size=MAX_K, filter=where, output_fields=fields,
                          consistency_level=CONSISTENCY)
    try:
        while batch := it.next():
            out.extend(batch)
    finally:
        it.close()
    return out


def _all_ids(c: "MilvusClient", collection: str, expr: str, params: dict[str, Any]) -> np.ndarray:
    return np.unique(np.asarray([int(r["id"]) for r in _rows(c, collection, expr, params, ["id"])], dtype=np.int64))


def _scope_filter(allowed: np.ndarray | None) -> tuple[str, dict[str, Any]]:
    if allowed is None:
        return "kb == {kb}", {}
    return "kb == {kb} and id in {allowed}", {"allowed": _ids(np.unique(np.asarray(allowed, dtype=np.int64)))}


class _Scoped:
    """What both Milvus indexes share: a client, a collection, a scope; save/load of the scope file."""

    kind = ""

    def __init__(self, uri: str, token: str, scope: str) -> None:
        self.uri, self.token, self.scope = uri, token, scope
        self.client = client(uri, token)
        self.collection = ""

    def _record(self, path: Path, **extra: Any) -> None:
        self.client.flush(self.collection)  # what the file names is durable before the file says so
        previous = _read_scope(path, self.kind) if path.exists() else {}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_text(json.dumps({"backend": self.kind, "uri": self.uri, "collection": self.collection,
                                   "scope": self.scope, **extra}))
        os.replace(tmp, path)
        if "@" in self.scope and previous.get("scope") != self.scope:
            self.drop_generations()

    def drop_generations(self) -> None:
        """Delete the rows of this KB's other generations (a replaced copy, an interrupted rebuild)."""
        kb = self.scope.split("@", 1)[0]
        self.client.delete(self.collection, filter=_expr("kb like {prefix} and kb != {kb}",
                                                        {"prefix": f"{kb}@%", "kb": self.scope}))

    def drop(self) -> None:
        """Delete every row of this scope (the KB was deleted)."""
        self.client.delete(self.collection, filter=_expr("kb == {kb}", {"kb": self.scope}))

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

    def __init__(self, uri: str, token: str, scope: str, dimensions: int) -> None:
        super().__init__(uri, token, scope)
        self.dimensions = int(dimensions)
        self.collection = _dense_collection(self.client, uri, self.dimensions)

    @classmethod
    def configure(cls, settings: "IndexSettings", root: Path | None = None) -> "MilvusVectorType":
        return MilvusVectorType(settings.milvus_uri or default_uri(root), settings.milvus_token)

    def __len__(self) -> int:
        return _count(self.client, self.collection, "kb == {kb}", {"kb": self.scope})

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if not ids.size:
            return
        vectors = np.asarray(vectors, dtype=np.float32).reshape(ids.size, -1)
        rows = {int(i): v for i, v in zip(ids.tolist(), vectors)}  # the last copy of an id wins
        for start in range(0, len(rows), 5000):
            part = list(rows.items())[start:start + 5000]
            self.client.upsert(self.collection, [{"pk": f"{self.scope}/{i}", "id": i, "kb": self.scope,
                                                  "vec": v.tolist()} for i, v in part])

    def remove(self, ids: Iterable[int]) -> None:
        gone = _ids(ids)
        if gone:
            self.client.delete(self.collection, ids=[f"{self.scope}/{i}" for i in gone])

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        if k <= 0 or (allowed is not None and not len(allowed)):
            return []
        expr, params = _scope_filter(allowed)
        found = self.client.search(
            self.collection, data=[np.asarray(query, dtype=np.float32).ravel().tolist()], anns_field="vec",
            limit=min(int(k), MAX_K), filter=_expr(expr, {"kb": self.scope, **params}), output_fields=["id"],
            search_params={"metric_type": "IP"}, consistency_level=CONSISTENCY)
        hits = [(int(h["entity"]["id"]), float(h["distance"])) for h in found[0]]
        hits.sort(key=lambda h: (-h[1], h[0]))
        return hits

    def reconstruct(self, ids: list[int]) -> np.ndarray:
        out = np.zeros((len(ids), self.dimensions), dtype=np.float32)
        if not ids:
            return out
        rows = self.client.get(self.collection, ids=[f"{self.scope}/{int(i)}" for i in ids], output_fields=["id", "vec"])
        found = {int(r["id"]): np.asarray(r["vec"], dtype=np.float32) for r in rows}
        for n, i in enumerate(ids):
            if int(i) in found:
                out[n] = found[int(i)]
        return out

    def ids(self) -> np.ndarray:
        return _all_ids(self.client, self.collection, "kb == {kb}", {"kb": self.scope})

    def save(self, path: Path) -> None:
        self._record(path, dimensions=self.dimensions)


class MilvusLexicalIndex(_Scoped):
    """The ``milvus_bm25`` lexical index of one scope (see the module docstring)."""

    kind = "milvus_bm25"

    def __init__(self, uri: str, token: str, scope: str) -> None:
        super().__init__(uri, token, scope)
        self.collection = _lexical_collection(self.client, uri)
        self._stats_lock = threading.Lock()
        self._total: int | None = None  # tokens in the scope's documents (BM25's average length), once counted
        self._df: dict[str, int] = {}  # document frequency of words counted since the last write

    @classmethod
    def configure(cls, settings: "IndexSettings", root: Path | None = None) -> "MilvusLexicalType":
        return MilvusLexicalType(settings.milvus_uri or default_uri(root), settings.milvus_token)

    def __len__(self) -> int:
        return _count(self.client, self.collection, "kb == {kb} and part == 0", {"kb": self.scope})

    def _parts(self, cid: int, tokens: Sequence[str]) -> list[dict[str, Any]]:
        words = [term_word(t) for t in tokens]
        per = MAX_TEXT // 18  # "k" + 16 hex digits + a space
        chunks = [words[i:i + per] for i in range(0, len(words), per)] or [[]]
        return [{"pk": f"{self.scope}/{cid}/{n}", "id": cid, "part": n, "kb": self.scope, "length": len(words),
                 "text": " ".join(ws)} for n, ws in enumerate(chunks)]

    def _lengths(self, ids: list[int]) -> int:
        """Total length of those of ``ids`` the scope holds now."""
        rows = self.client.query(self.collection, filter=_expr("kb == {kb} and part == 0 and id in {ids}", {
            "kb": self.scope, "ids": ids}), output_fields=["length"], consistency_level=CONSISTENCY)
        return sum(int(r["length"]) for r in rows)

    def _changed(self, before: int, after: int) -> None:
        with self._stats_lock:
            self._df.clear()
            if self._total is not None:
                self._total += after - before

    def add(self, ids: Sequence[int], tokens: Sequence[Sequence[str]]) -> None:
        docs = dict(zip(_ids(ids), tokens))  # the last copy of an id wins
        if not docs:
            return
        before = self._lengths(list(docs)) if self._total is not None else 0
        rows = [row for cid, toks in docs.items() for row in self._parts(cid, toks)]
        for start in range(0, len(rows), 2000):
            self.client.upsert(self.collection, rows[start:start + 2000])
        parts: dict[int, int] = {}
        for row in rows:
            parts[row["id"]] = row["part"] + 1
        by_count: dict[int, list[int]] = {}
        for cid, n in parts.items():
            by_count.setdefault(n, []).append(cid)
        for n, cids in by_count.items():  # parts a longer earlier version of these documents had
            self.client.delete(self.collection, filter=_expr("kb == {kb} and id in {ids} and part >= {n}",
                                                             {"kb": self.scope, "ids": cids, "n": n}))
        self._changed(before, sum(len(t) for t in docs.values()))

    def remove(self, ids: Iterable[int]) -> None:
        gone = _ids(ids)
        if gone:
            before = self._lengths(gone) if self._total is not None else 0
            self.client.delete(self.collection, filter=_expr("kb == {kb} and id in {ids}",
                                                             {"kb": self.scope, "ids": gone}))
            self._changed(before, 0)

    def _stats(self, words: list[str]) -> tuple[int, float, dict[str, float]]:
        """(documents, average length, Lucene IDF of each query word) over this scope, as the built-in
        bm25 computes them; document frequencies counted with TEXT_MATCH for the first few words."""
        n = len(self)
        with self._stats_lock:
            total, df = self._total, dict(self._df)
        if total is None:
            total = sum(int(r["length"]) for r in _rows(self.client, self.collection, "kb == {kb} and part == 0",
                                                         {"kb": self.scope}, ["length"]))
        for w in words[:MAX_COUNTED_TERMS]:
            if w not in df:
                df[w] = _count(self.client, self.collection, "kb == {kb} and part == 0 and TEXT_MATCH(text, {w})",
                               {"kb": self.scope, "w": w})
        with self._stats_lock:
            self._total = total
            self._df.update(df)
        idf = {w: math.log(1.0 + (n - d + 0.5) / (d + 0.5)) for w, d in df.items() if w in words}
        rest = sum(idf.values()) / len(idf) if idf else 1.0  # words past the counted ones weigh alike
        return n, (total / n if n and total else 1.0), {w: idf.get(w, rest) for w in words}

    def search(
        self, query_tokens: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float, float]]:
        """Milvus's BM25 (its statistics span the whole collection) finds the candidates; they are
        scored again with the KB's own statistics, so scores and order are those of the built-in bm25."""
        words = list(dict.fromkeys(term_word(t) for t in query_tokens))
        if k <= 0 or not words or (allowed is not None and not len(allowed)):
            return []
        expr, params = _scope_filter(allowed)
        found = self.client.search(
            self.collection, data=[" ".join(words)], anns_field="sparse", limit=min(max(2 * int(k), 50), MAX_K),
            filter=_expr(expr, {"kb": self.scope, **params}), output_fields=["id", "text", "length"],
            search_params={"metric_type": "BM25"}, consistency_level=CONSISTENCY)
        if not found or not found[0]:
            return []
        held: dict[int, list[str]] = {}
        length: dict[int, int] = {}
        for h in found[0]:
            cid = int(h["entity"]["id"])
            held.setdefault(cid, []).extend(h["entity"]["text"].split())
            length[cid] = int(h["entity"]["length"])
        n, avgdl, idf = self._stats(words)
        if not n:
            return []
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
        return _all_ids(self.client, self.collection, "kb == {kb} and part == 0", {"kb": self.scope})

    def save(self, path: Path) -> None:
        self._record(path)


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
        return MilvusVectorIndex(self.uri, self.token, data["scope"], dimensions)

    def discard(self, path: Path) -> None:
        """Delete the rows of the index saved at ``path`` (its KB is deleted); nothing if none was."""
        try:
            data = _read_scope(path, "milvus")
        except (OSError, ValueError):
            return
        if data.get("uri") == self.uri:
            MilvusVectorIndex(self.uri, self.token, data["scope"], int(data["dimensions"])).drop()


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
        return MilvusLexicalIndex(self.uri, self.token, data["scope"])

    def discard(self, path: Path) -> None:
        try:
            data = _read_scope(path, "milvus_bm25")
        except (OSError, ValueError):
            return
        if data.get("uri") == self.uri:
            MilvusLexicalIndex(self.uri, self.token, data["scope"]).drop()
