"""``kb check``: do the database, the stored files and the indexes agree?"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select, update

from zhiku.schema import KnowledgeBase
from zhiku.store.db import chunks, files

if TYPE_CHECKING:
    from zhiku.app import Zhiku


def check_kb(app: "Zhiku", kb: KnowledgeBase, repair: bool) -> list[str]:
    """Return the problems found (after repair: what was repaired, prefixed 'repaired:')."""
    problems: list[str] = []
    catalog = app.catalog
    all_files = catalog.list_files(kb.id)
    stored_dir = app.settings.home / "kbs" / kb.id / "files"

    pending = [f for f in all_files if f.status == "pending"]
    for f in pending:
        problems.append(f"file '{f.name}' was interrupted while being added (status pending)")
    if repair and pending:
        catalog.remove_files(kb.id, [f.id for f in pending])
        for f in pending:
            (stored_dir / f.id).unlink(missing_ok=True)

    for f in all_files:
        if f.status == "indexed" and not (stored_dir / f.id).is_file():
            problems.append(f"stored copy of '{f.name}' is missing (search works; download will not)")

    known = {f.id for f in all_files}
    if stored_dir.is_dir():
        for p in stored_dir.iterdir():
            stem = p.name.removesuffix(".part")
            if stem not in known or p.name.endswith(".part"):
                problems.append(f"stray stored file {p.name} belongs to no file record")
                if repair:
                    p.unlink(missing_ok=True)

    with app.engine.begin() as conn:
        actual = dict(conn.execute(
            select(chunks.c.file_id, func.count()).where(chunks.c.kb_id == kb.id).group_by(chunks.c.file_id)
        ).all())
        for f in all_files:
            if f.status == "indexed" and actual.get(f.id, 0) != f.chunks:
                problems.append(f"file '{f.name}' records {f.chunks} chunks but has {actual.get(f.id, 0)}")
                if repair:
                    conn.execute(update(files).where(files.c.id == f.id).values(chunks=actual.get(f.id, 0)))

    index_problems = app.indexes.check(kb)
    problems.extend(index_problems)
    if repair and index_problems:
        app.indexes.rebuild(kb)
    return problems
