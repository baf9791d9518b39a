"""zhiku-example-plugin: registers a ``.note`` loader and the ``numpy-exact`` vector index.

zhiku calls ``register_backends`` once, the first time it looks a backend up, because this module
is named by an entry point in the group ``zhiku.plugins`` (see pyproject.toml).
"""

from __future__ import annotations

from typing import Any

from zhiku.ingest.loaders.base import LoaderSpec
from zhiku_example_plugin.note import load_note, looks_like_note
from zhiku_example_plugin.numpy_index import NumpyExactIndex

__all__ = ["NumpyExactIndex", "load_note", "register_backends"]


def register_backends(registry: Any) -> None:
    registry.add("loader", "note", LoaderSpec("note", (".note",), load_note, looks_like_note))
    registry.add("vector_index", "numpy-exact", NumpyExactIndex)
