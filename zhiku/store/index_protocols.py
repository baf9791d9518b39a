"""What a search index backend must be: the two protocols ``IndexManager`` and the retriever talk to.

Each knowledge base has one vector index (dense channel) and one lexical index (keyword channel),
both derived from the database and keyed by chunk id (int64). The settings ``index.vector`` and
``index.lexical`` name the backends; the plugin registry (``zhiku.plugins``, kinds
``vector_index`` and ``lexical_index``) maps a name to an *index type*: something that makes an
empty index and opens a saved one (a class with a ``load`` classmethod is one).

What every backend honours (``zhiku.testing.contracts`` checks it; subclass its suites):

- ``add`` replaces ids already present (within one call the last copy wins); empty input is a no-op.
- ``remove`` ignores unknown ids.
- ``search`` returns best first, at most ``k``, never an id outside ``allowed`` when it is given
  (an empty ``allowed`` returns nothing), and nothing on an empty index.
- Concurrent ``search`` calls may run beside one writer (``add``/``remove``); a search sees a write
  entirely or not at all.
- ``save`` is atomic: if the process dies during it, ``load`` reads the previous save (or the new one),
  never half of each. ``IndexManager`` records the KB revision only after both indexes are saved.
- ``load`` raises ``FileNotFoundError`` when nothing was saved there; any other failure means damaged
  (the manager rebuilds from the database either way).

A *database-resident* backend (``resident = True`` on its type, e.g. ``pgvector`` and ``pg_bm25``)
keeps its index in the metadata database, written by the catalog in the same transaction as the
chunks. Its type also has ``open(engine, kb_id, ...)`` (the index of one KB, nothing to load) and
``bind(engine)`` (a plain index type on that database, for the contract suites); ``save`` only
records which index it was. See ``ResidentVectorIndexType`` and docs/backends.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


@runtime_checkable
class VectorIndex(Protocol):
    """Vectors by chunk id, searched by inner product (vectors are L2-normalised: cosine)."""

    dimensions: int
    upgraded: bool  # read from an older on-disk format: worth saving again

    def __len__(self) -> int:
        """How many vectors it holds."""
        ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Store ``vectors`` (n × dimensions float32) under ``ids`` (n int64), replacing those ids."""
        ...

    def remove(self, ids: Iterable[int]) -> None: ...

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``k`` best (chunk id, cosine similarity), best first, only among ``allowed`` when given."""
        ...

    def reconstruct(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of these ids (approximately, at the backend's precision), one row each."""
        ...

    def ids(self) -> np.ndarray:
        """Every id held, as int64."""
        ...

    def save(self, path: Path) -> None:
        """Persist atomically at ``path`` (a file or a folder: the backend's choice)."""
        ...

    def close(self) -> None:
        """Release what the index holds (files, connections); the object is not used again."""
        ...


class VectorIndexType(Protocol):
    """What the registry holds for a vector index backend."""

    def __call__(self, dimensions: int) -> VectorIndex:
        """A new empty index."""
        ...

    def load(self, path: Path, dimensions: int) -> VectorIndex:
        """The index saved at ``path``; ``FileNotFoundError`` when there is none."""
        ...


@runtime_checkable
class LexicalIndex(Protocol):
    """Token lists by chunk id, searched by a keyword score (BM25 for the built-in one)."""

    def __len__(self) -> int:
        """How many documents it holds."""
        ...

    def add(self, ids: Sequence[int], tokens: Sequence[Sequence[str]]) -> None:
        """Index one token list per id, replacing those ids."""
        ...

    def remove(self, ids: Iterable[int]) -> None: ...

    def search(
        self, query_tokens: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float, float]]:
        """The ``k`` best (id, score > 0, coverage in [0, 1]) among documents sharing a query term, best
        first; coverage is the share of the query's term weight the document contains."""
        ...

    def ids(self) -> np.ndarray:
        """Every id held, sorted, as int64."""
        ...

    def save(self, path: Path) -> None:
        """Persist atomically under the folder ``path``."""
        ...

    def close(self) -> None:
        """Release what the index holds; the object is not used again."""
        ...


class LexicalIndexType(Protocol):
    """What the registry holds for a lexical index backend."""

    def __call__(self) -> LexicalIndex:
        """A new empty index."""
        ...

    def load(self, path: Path) -> LexicalIndex:
        """The index saved at ``path``; ``FileNotFoundError`` when there is none."""
        ...


class ResidentVectorIndexType(Protocol):
    """What the registry holds for a database-resident vector backend."""

    resident: bool

    def open(self, engine: "Engine", kb_id: str, dimensions: int) -> VectorIndex:
        """The index of one KB (its rows are in the database already)."""
        ...

    def bind(self, engine: "Engine") -> VectorIndexType:
        """A plain index type on this database (each new index its own scope)."""
        ...


class ResidentLexicalIndexType(Protocol):
    """What the registry holds for a database-resident lexical backend."""

    resident: bool

    def open(self, engine: "Engine", kb_id: str) -> LexicalIndex: ...

    def bind(self, engine: "Engine") -> LexicalIndexType: ...


def is_resident(backend: object) -> bool:
    """Whether an index backend lives in the metadata database (see the module docstring)."""
    return bool(getattr(backend, "resident", False))


def vector_index_type(name: str) -> VectorIndexType:
    """The vector index backend registered as ``name`` (``ConfigError`` naming the choices)."""
    from zhiku.plugins import lookup

    backend: VectorIndexType = lookup("vector_index", name)
    return backend


def lexical_index_type(name: str) -> LexicalIndexType:
    """The lexical index backend registered as ``name`` (``ConfigError`` naming the choices)."""
    from zhiku.plugins import lookup

    backend: LexicalIndexType = lookup("lexical_index", name)
    return backend
