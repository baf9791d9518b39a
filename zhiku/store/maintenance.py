"""``kb check``: do the database, the stored files and the indexes agree?"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from zhiku.schema import FileRecord, KnowledgeBase

if TYPE_CHECKING:
    from zhiku.store.catalog import Catalog
    from zhiku.store.indexes import IndexManager


# ends the problems that --repair cannot fix (the CLI recommends --repair only for the others)
NOT_REPAIRABLE = "repair cannot restore it; add the file again"


def check_kb(kb: KnowledgeBase, catalog: "Catalog", indexes: "IndexManager", stored_dir: Path,
             repair: bool) -> list[str]:
    """Return the problems found (after repair: what was repaired, prefixed 'repaired:').
    ``stored_dir``: the folder of the KB's stored original files."""
    problems: list[str] = []
    all_files = catalog.list_files(kb.id)

    pending = [f for f in all_files if f.status == "pending"]
    for f in pending:
        problems.append(f"file '{f.name}' was interrupted while being added (status pending)")
    if repair and pending:
        catalog.remove_files(kb.id, [f.id for f in pending])
        for f in pending:
            (stored_dir / f.id).unlink(missing_ok=True)

    by_name: dict[str, list[FileRecord]] = {}
    for f in all_files:
        if f.status == "indexed":
            by_name.setdefault(f.name, []).append(f)
    for name, versions in by_name.items():  # one indexed version per name: the last committed
        if len(versions) > 1:
            problems.append(f"file '{name}' is indexed {len(versions)} times (older versions still searchable)")
            if repair:
                newest = max(versions, key=lambda f: f.updated_at)
                older = [f.id for f in versions if f.id != newest.id]
                catalog.remove_files(kb.id, older)
                for fid in older:
                    (stored_dir / fid).unlink(missing_ok=True)
                all_files = [f for f in all_files if f.id not in older]

    for f in all_files:
        if f.status == "indexed" and not (stored_dir / f.id).is_file():
            problems.append(f"stored copy of '{f.name}' is missing (search works; download will not): {NOT_REPAIRABLE}")

    known = {f.id for f in all_files}
    if stored_dir.is_dir():
        for p in stored_dir.iterdir():
            stem = p.name.removesuffix(".part")
            if stem not in known or p.name.endswith(".part"):
                problems.append(f"stray stored file {p.name} belongs to no file record")
                if repair:
                    p.unlink(missing_ok=True)

    actual = catalog.chunk_counts(kb.id)
    for f in all_files:
        if f.status == "indexed" and actual.get(f.id, 0) != f.chunks:
            problems.append(f"file '{f.name}' records {f.chunks} chunks but has {actual.get(f.id, 0)}")
            if repair:
                catalog.set_chunk_count(f.id, actual.get(f.id, 0))

    index_problems = indexes.check(kb)
    problems.extend(index_problems)
    if repair and index_problems:
        indexes.rebuild(kb)
    return problems
