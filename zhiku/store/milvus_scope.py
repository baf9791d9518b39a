"""What the two Milvus index backends (zhiku.store.milvus_indexes, zhiku.store.milvus_lexical) share.

``Scoped`` is one scope of one collection through the process's client for its URI: the Milvus
timestamp of its last write, which reads wait for, the marker row written after a delete (Milvus
answers a delete with no timestamp), and the small scope file that is the saved index: written
atomically after a flush, and dropping the KB's other generations when a new one is saved. The
module docstring of zhiku.store.milvus_indexes says what a scope and a generation are.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from zhiku.store.milvus_collections import client, last_write, render

MARKER = "~written"  # the primary key and KB of the row written after a delete (no KB's filter matches it)


class Scoped:
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
        previous = read_scope(path, self.kind) if path.exists() else {}
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


def read_scope(path: Path, kind: str) -> dict[str, Any]:
    """The scope file saved at ``path`` by the backend ``kind``."""
    data: dict[str, Any] = json.loads(Path(path).read_text())  # FileNotFoundError when never saved
    if data.get("backend") != kind:
        raise ValueError(f"{path} was not saved by {kind}")
    return data
