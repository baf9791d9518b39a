"""Milvus as zhiku's index backends use it: one client per URI, the two collections, filter expressions.

``zhiku_dense_<D>`` (one per embedder dimension) and ``zhiku_lexical`` hold every KB's rows, tagged by
scope in a VARCHAR partition key ``kb``; primary keys are ``<scope>/<chunk id>`` (``/<part>`` for the
lexical rows). A search waits for zhiku's own writes to the scope (``read_after``: the last write's
timestamp as its guarantee), so it sees every write made before it without waiting for Milvus's next
time tick; with no write known it reads ``Strong``. The
indexes themselves are in ``zhiku.store.milvus_indexes`` (dense) and ``zhiku.store.milvus_lexical`` (BM25).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zhiku.errors import MissingDependency, Unavailable

if TYPE_CHECKING:
    from pymilvus import MilvusClient

LEXICAL = "zhiku_lexical"
MAX_TEXT = 65_535  # a VARCHAR's limit: longer documents are split into parts
MAX_K = 16_384  # Milvus's largest topk / query limit
K1, B = 1.5, 0.75  # BM25's parameters, as the built-in bm25 has them
HNSW_BUILD = {"M": 16, "efConstruction": 200}  # the dense index (milvus-lite builds it with faiss)
MIN_EF = 400  # HNSW's search breadth: at least this, or 4k (measured in bench/backends.py for recall)
CONSISTENCY = "Strong"  # a search sees every write made before it (the contract's read-your-writes)

_clients: dict[str, "MilvusClient"] = {}
_clients_lock = threading.Lock()
_ready: set[tuple[str, str]] = set()


def default_uri(root: Path | None) -> str:
    """milvus-lite in a file beside the other indexes (one process at a time may open it)."""
    return str((root or Path(".")) / "milvus.db")


def client(uri: str, token: str = "") -> "MilvusClient":
    """One client per URI in this process (milvus-lite allows one opener of a file)."""
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise MissingDependency("pymilvus", "milvus", "the milvus index backends") from None

    with _clients_lock:
        found = _clients.get(uri)
        if found is None:
            lite = uri.endswith(".db")
            if lite:
                Path(uri).parent.mkdir(parents=True, exist_ok=True)
            try:
                found = MilvusClient(uri, token=token) if token else MilvusClient(uri)
            except Exception as exc:  # pymilvus's own words, one line: refused, timeout, a locked file
                why = str(getattr(exc, "message", "") or exc).splitlines()[0]
                hint = (" (milvus-lite: one process at a time may open the file; several processes need a "
                        "Milvus server as index.milvus_uri)") if lite else ""
                raise Unavailable(f"cannot open Milvus at {uri}: {why}{hint}", uri=uri) from None
            _clients[uri] = found
        return found


def last_write(c: "MilvusClient", collection: str) -> int:
    """The Milvus timestamp of this process's last write to ``collection`` (pymilvus keeps it for its
    ``Session`` reads); 0 where it cannot be read (another pymilvus: reads then fall back to Strong)."""
    try:
        from pymilvus.client import ts_utils

        db = c._generate_call_context().get_db_name()
        return int(ts_utils.get_collection_ts(collection, c._get_connection().server_address, db) or 0)
    except Exception:  # noqa: BLE001 - only a faster read is lost
        return 0


def read_after(written: int) -> dict[str, Any]:
    """A read's consistency: wait until Milvus holds the writes up to ``written`` (a write's timestamp: a
    search sees every write zhiku made to the scope before it, in this process or, through the manifest,
    in the process that saved it), or ``Strong`` where no write is known. A Strong read waits for the
    next time tick of every channel: ~200-400 ms a search on a Milvus server (docs/backends.md)."""
    if written > 0:
        return {"consistency_level": "Customized", "guarantee_timestamp": int(written)}
    return {"consistency_level": CONSISTENCY}


def close_client(uri: str) -> None:
    """Close this process's client of ``uri`` (tests and ``bench`` reopen a milvus-lite file)."""
    with _clients_lock:
        found = _clients.pop(uri, None)
        for key in [k for k in _ready if k[0] == uri]:
            _ready.discard(key)
    if found is not None:
        found.close()
    if uri.endswith(".db"):  # milvus-lite serves the file from a thread of this process until released
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(uri)


def dense_collection(c: "MilvusClient", uri: str, dimensions: int) -> str:
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
            params.add_index("vec", index_type="HNSW", metric_type="IP", params=HNSW_BUILD)
            c.create_collection(name, schema=schema, index_params=params, consistency_level=CONSISTENCY)
        c.load_collection(name)  # a collection reopened after a crash comes back released
        _ready.add((uri, name))
    return name


def lexical_collection(c: "MilvusClient", uri: str) -> str:
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
            schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT, enable_analyzer=True,
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


def as_ids(ids: Iterable[int] | np.ndarray) -> list[int]:
    return [int(i) for i in np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)]


def _literal(value: Any) -> str:
    """A value written into a filter expression (milvus-lite has no expression templates)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a double-quoted string, quotes and backslashes escaped
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_literal(v) for v in value) + "]"
    return str(int(value))


def render(template: str, params: dict[str, Any]) -> str:
    """``template`` with each ``{name}`` replaced by the literal of ``params[name]``."""
    return template.format(**{k: _literal(v) for k, v in params.items()})


def count(c: "MilvusClient", collection: str, template: str, params: dict[str, Any]) -> int:
    rows = c.query(collection, filter=render(template, params), output_fields=["count(*)"],
                   consistency_level=CONSISTENCY)
    return int(rows[0]["count(*)"]) if rows else 0


def rows(c: "MilvusClient", collection: str, template: str, params: dict[str, Any], fields: list[str]) -> list[dict]:
    """Every row the filter matches (one query when they fit in one answer, else an iterator)."""
    where = render(template, params)
    if count(c, collection, template, params) < MAX_K:
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


def all_ids(c: "MilvusClient", collection: str, template: str, params: dict[str, Any]) -> np.ndarray:
    return np.unique(np.asarray([int(r["id"]) for r in rows(c, collection, template, params, ["id"])], dtype=np.int64))


def scope_filter(allowed: np.ndarray | None) -> tuple[str, dict[str, Any]]:
    if allowed is None:
        return "kb == {kb}", {}
    return "kb == {kb} and id in {allowed}", {"allowed": as_ids(np.unique(np.asarray(allowed, dtype=np.int64)))}
