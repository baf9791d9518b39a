"""Read a Langchain-Chatchat 0.3 data folder, for ``zhiku import chatchat PATH``.

Chatchat keeps its knowledge bases under ``<data>/knowledge_base/``: one folder per KB whose
``content/`` holds the files as uploaded (names may hold folders: ``wiki/Home.MD``), a
``vector_store/`` (FAISS), and beside them ``info.db``, a SQLite database with the tables
``knowledge_base`` (kb_name, kb_info, vs_type, embed_model, ...) and ``knowledge_file`` (file_name,
kb_name, custom_docs, docs_count, ...), as Chatchat's ``server/db/models`` define them.

Nothing here writes: info.db is opened read-only and immutable (SQLite makes no journal beside
it), files are only listed. What cannot be brought over is said, per KB:

- files info.db lists whose original is not in ``content/``;
- custom chunk edits (``custom_docs``): their text lives only in Chatchat's FAISS ``index.pkl``, a
  pickle, and unpickling a file runs code it holds; the file is brought over from its original and
  split by zhiku;
- the vector stores themselves (zhiku embeds with its own model) and Chatchat's embedding model name.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from zhiku.errors import InvalidInput
from zhiku.ingest.pipeline import Source


@dataclass
class ChatchatKB:
    name: str
    description: str = ""
    embed_model: str | None = None
    files: list[Source] = field(default_factory=list)
    not_brought: list[str] = field(default_factory=list)  # what cannot come over, one line each


@dataclass
class ChatchatData:
    root: Path  # the knowledge_base folder
    kbs: list[ChatchatKB]
    notes: list[str] = field(default_factory=list)


def find_root(path: Path) -> Path:
    """The ``knowledge_base`` folder of a Chatchat data folder given as itself, its parent ``data``
    folder or Chatchat's root (``CHATCHAT_ROOT``)."""
    path = path.expanduser()
    if not path.is_dir():
        raise InvalidInput(f"{path} is not a folder: give Chatchat's data folder (the one holding knowledge_base/)")
    for candidate in (path, path / "knowledge_base", path / "data" / "knowledge_base"):
        if (candidate / "info.db").is_file():
            return candidate
    raise InvalidInput(f"{path} is not a Chatchat data folder: no knowledge_base/info.db in it, nor in "
                       f"{path / 'knowledge_base'} or {path / 'data' / 'knowledge_base'}")


def _read_db(db: Path) -> tuple[list[tuple[str, str, str | None]], dict[str, list[tuple[str, bool]]]]:
    """(name, kb_info, embed_model) of each KB and (file_name, custom_docs) of each file by KB."""
    uri = f"file:{quote(str(db.resolve()))}?mode=ro&immutable=1"  # never writes, not even a journal
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise InvalidInput(f"cannot open {db}: {exc}") from None
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "knowledge_base" not in tables:
            raise InvalidInput(f"{db} is not Chatchat's info.db: it has no knowledge_base table")
        kbs = [(str(n), str(i or ""), m) for n, i, m in
               conn.execute("SELECT kb_name, kb_info, embed_model FROM knowledge_base ORDER BY id")]
        files: dict[str, list[tuple[str, bool]]] = {}
        if "knowledge_file" in tables:
            for kb, name, custom in conn.execute(
                    "SELECT kb_name, file_name, custom_docs FROM knowledge_file ORDER BY id"):
                files.setdefault(str(kb), []).append((str(name), bool(custom)))
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(f"cannot read {db}: {exc}") from None
    finally:
        conn.close()
    return kbs, files


def _content_files(content: Path) -> list[Source]:
    """The files under ``content/`` named by their path in it, as Chatchat names them."""
    out = []
    for p in sorted(content.rglob("*")):
        rel = p.relative_to(content)
        if p.is_file() and not p.is_symlink() and not any(part.startswith(".") for part in rel.parts):
            out.append(Source(p, rel.as_posix()))
    return out


def read_chatchat(path: Path) -> ChatchatData:
    """What a Chatchat data folder holds, and what of it cannot be brought over."""
    root = find_root(path)
    db_kbs, db_files = _read_db(root / "info.db")
    data = ChatchatData(root, [])
    known = {n for n, _, _ in db_kbs}
    # folders with a content/ that info.db does not list: Chatchat's recreate_vector_store adds them too
    extra = sorted(d.name for d in root.iterdir()
                   if d.is_dir() and (d / "content").is_dir() and d.name not in known)
    for name, info, embed in [*db_kbs, *[(n, "", None) for n in extra]]:
        kb = ChatchatKB(name, info, embed)
        content = root / name / "content"
        kb.files = _content_files(content) if content.is_dir() else []
        present = {s.name for s in kb.files}
        for file_name, custom in db_files.get(name, []):
            if file_name not in present:
                kb.not_brought.append(f"{file_name}: listed in info.db, but its file is not in {name}/content/")
            elif custom:
                kb.not_brought.append(
                    f"{file_name}: its custom chunk edits (custom_docs) are only in Chatchat's FAISS index.pkl, a "
                    "pickle zhiku does not load (loading one runs code); the file comes over from its original, "
                    "split by zhiku")
        if not content.is_dir():
            kb.not_brought.append(f"no {name}/content/ folder: the knowledge base comes over empty")
        data.kbs.append(kb)
    if any(kb.embed_model for kb in data.kbs):
        data.notes.append("Chatchat's vector stores are not copied: zhiku embeds the files again with its own "
                          "embedder (Chatchat's embedding model names are not zhiku's)")
    return data
