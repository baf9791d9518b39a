"""A knowledge base's CSV and spreadsheet files as SQL tables, read from the stored originals.

Ingestion keeps every file's original bytes (``Ingestor.stored_path``) and indexes its rows as
markdown chunks (``zhiku.ingest.loaders.sheets``). For table questions the original is read again,
on demand, into rows (cached per file content, by its sha256) and loaded into an in-memory SQLite
database made read-only by ``zhiku.agent.sql.ReadOnlySqlite``. Tables are named after the file (and the
sheet, for workbooks); each has a column ``_row``, the row's number in the file
(as the chunks' ``rows`` meta numbers them), so a result's rows are cited as the chunks that hold them.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zhiku.agent.base import ToolError
from zhiku.agent.sql import QueryResult, ReadOnlySqlite
from zhiku.schema import FileRecord, KnowledgeBase

TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".xlsx", ".xlsm", ".xls")
ROW = "_row"
_INT = re.compile(r"^[-+]?(0|[1-9]\d*)$")
# a number: no leading zero before other digits ("007", "01234" are codes, kept as text)
_FLOAT = re.compile(r"^[-+]?((0|[1-9]\d*)(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
_GROUPED = re.compile(r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$")
# SQL keywords a header may spell ("Order", "Group", "Values"...): such a column gets a trailing "_",
# so a model's unquoted SELECT order_ works
_KEYWORDS = frozenset("""abort action add after all alter always analyze and as asc attach autoincrement before begin
between by cascade case cast check collate column commit conflict constraint create cross current current_date
current_time current_timestamp database default deferrable deferred delete desc detach distinct do drop each else end
escape except exclude exclusive exists explain fail filter first following for foreign from full generated glob group
groups having if ignore immediate in index indexed initially inner insert instead intersect into is isnull join key
last left like limit match materialized natural no not nothing notnull null nulls of offset on or order others outer
over partition plan pragma preceding primary query raise range recursive references regexp reindex release rename
replace restrict returning right rollback row rows savepoint select set table temp temporary then ties to transaction
trigger unbounded union unique update using vacuum values view virtual when where window with without""".split())


@dataclass
class Sheet:
    """One table of a file as its loader sees it: the header and the data rows with their numbers."""

    sheet: str | None  # None for CSV
    header_row: int
    columns: list[str]  # SQL column names (unique, never "_row")
    header: list[str]  # the header cells as written
    types: list[str]  # INTEGER, REAL or TEXT per column
    rows: list[tuple[int, list[Any]]]  # (row number in the file, typed values)
    texts: list[list[str]]  # the cells as text, as the chunks show them


@dataclass
class Table:
    name: str  # the SQL table name
    kb: KnowledgeBase
    file: FileRecord
    sheet: Sheet


def is_table_file(name: str) -> bool:
    return name.lower().endswith(TABLE_SUFFIXES)


def _raw_rows(path: Path, name: str, max_rows: int) -> list[tuple[str | None, list[tuple[int, list[str]]]]]:
    """Each sheet's rows as (row number, cell texts), read the way the loaders read them; a sheet of
    more than ``max_rows`` rows (and a few caption lines) is refused as it is read, not after."""
    limit = max_rows + 100

    def too_many(sheet: str | None) -> ToolError:
        where = f"the sheet {sheet} of {name}" if sheet else name
        return ToolError(f"{where} has more than {max_rows} rows; table questions read at most {max_rows} "
                         "(agent.table_max_rows)")
    from zhiku.ingest.loaders.encoding import clean_text
    from zhiku.ingest.loaders.sheets import sniff_delimiter
    from zhiku.ingest.loaders.tables import cell_text
    from zhiku.ingest.loaders.text import read_text

    lower = name.lower()
    if lower.endswith((".xlsx", ".xlsm")):
        from openpyxl import load_workbook

        out: list[tuple[str | None, list[tuple[int, list[str]]]]] = []
        with path.open("rb") as fh:
            wb = load_workbook(fh, read_only=True, data_only=True)
            try:
                for ws in wb.worksheets:
                    rows: list[tuple[int, list[str]]] = []
                    number = 0
                    for row in ws.iter_rows():
                        if len(rows) > limit:
                            raise too_many(ws.title)
                        number += 1
                        number = next((c.row for c in row if getattr(c, "row", None)), None) or number
                        rows.append((number, [clean_text(cell_text(c.value)) for c in row]))
                    out.append((ws.title, rows))
            finally:
                wb.close()
        return out
    if lower.endswith(".xls"):
        import xlrd

        from zhiku.ingest.loaders.sheets import _xls_value

        book = xlrd.open_workbook(str(path), on_demand=True)
        try:
            sheets = []
            for i in range(book.nsheets):
                sh = book.sheet_by_index(i)
                if sh.nrows > limit:
                    raise too_many(sh.name)
                sheets.append((sh.name, [(r + 1, [clean_text(cell_text(_xls_value(c, book.datemode)))
                                                  for c in sh.row(r)]) for r in range(sh.nrows)]))
            return sheets
        finally:
            book.release_resources()
    text = read_text(path)
    delim = sniff_delimiter(text[:20000], "\t" if lower.endswith((".tsv", ".tab")) else ",")
    lines: list[tuple[int, list[str]]] = []
    try:
        for i, cells in enumerate(csv.reader(io.StringIO(text), delimiter=delim), 1):
            if len(lines) > limit:
                raise too_many(None)
            lines.append((i, cells))
    except csv.Error as exc:
        raise ToolError(f"{name}: malformed CSV ({exc})") from None
    return [(None, lines)]


def _ident(text: str, fallback: str) -> str:
    slug = re.sub(r"\W+", "_", text.strip().lower()).strip("_")
    if not slug:
        slug = fallback
    if slug[0].isdigit():
        return f"t_{slug}"
    return f"{slug}_" if slug in _KEYWORDS else slug


def _typed(cells: list[str]) -> tuple[str, Callable[[str], Any]]:
    values = [c for c in cells if c != ""]
    if values and all(_INT.match(v) for v in values):
        return "INTEGER", int
    if values and all(_FLOAT.match(v) or _GROUPED.match(v) for v in values):
        return "REAL", lambda v: float(v.replace(",", ""))
    return "TEXT", str


def parse_sheet(sheet: str | None, raw: list[tuple[int, list[str]]], max_rows: int) -> Sheet | None:
    """The table of one sheet: caption lines (one value) skipped, the first row of two or more values
    the header, empty rows and columns dropped (as ``table_blocks`` does for the chunks)."""
    kept = [(n, [c.strip() for c in cells]) for n, cells in raw if any(c.strip() for c in cells)]
    start = 0
    while start < len(kept) and sum(1 for c in kept[start][1] if c) < 2:
        start += 1
    if start >= len(kept):
        return None
    width = max(len(c) for _, c in kept[start:])
    used = [i for i in range(width) if any(i < len(c) and c[i] for _, c in kept[start:])]
    kept = [(n, [c[i] if i < len(c) else "" for i in used]) for n, c in kept[start:]]
    (header_row, header), data = kept[0], kept[1:]
    if len(data) > max_rows:
        where = f"the sheet {sheet}" if sheet else "the table"
        raise ToolError(f"{where} has {len(data)} rows; table questions read at most {max_rows} (agent.table_max_rows)")
    columns: list[str] = []
    for i, h in enumerate(header):
        base = _ident(h, f"col_{i + 1}")
        name, k = base, 2
        while name in columns or name == ROW:
            name, k = f"{base}_{k}", k + 1
        columns.append(name)
    kinds = [_typed([r[i] for _, r in data]) for i in range(len(columns))]
    rows = [(n, [None if c == "" else kinds[i][1](c) for i, c in enumerate(r)]) for n, r in data]
    return Sheet(sheet, header_row, columns, header, [k[0] for k in kinds], rows, [r for _, r in data])


class KBTables:
    """The table files of knowledge bases, parsed on demand (cached by content) and queried read-only.

    ``stored_path(kb, file_id)`` is where the Ingestor keeps a file's original bytes."""

    def __init__(self, catalog: Any, stored_path: Callable[[KnowledgeBase, str], Path], max_rows: int = 200_000,
                 cached_files: int = 32) -> None:
        self.catalog, self.stored_path, self.max_rows = catalog, stored_path, max_rows
        self._cache: OrderedDict[str, list[Sheet]] = OrderedDict()
        self._cached_files = cached_files
        self._lock = threading.Lock()
        # loaded databases by the tables they hold (name, content, sheet), each with the lock that lets
        # one query at a time use it; a new version of a file is new content, so a new database
        self._databases: OrderedDict[tuple[tuple[str, str, str | None], ...], tuple[ReadOnlySqlite, threading.Lock]] \
            = OrderedDict()
        self._cached_databases = 8

    def _sheets(self, kb: KnowledgeBase, record: FileRecord) -> list[Sheet]:
        with self._lock:
            if record.sha256 in self._cache:
                self._cache.move_to_end(record.sha256)
                return self._cache[record.sha256]
        path = self.stored_path(kb, record.id)
        if not path.is_file():
            raise ToolError(f"the stored copy of {record.name} is missing; add the file again")
        try:
            raw = _raw_rows(path, record.name, self.max_rows)
        except ToolError:
            raise
        except Exception as exc:  # noqa: BLE001 - a damaged file is reported, not raised through
            raise ToolError(f"{record.name} cannot be read as a table: {type(exc).__name__}: {exc}") from None
        sheets = [s for s in (parse_sheet(name, rows, self.max_rows) for name, rows in raw) if s is not None]
        with self._lock:
            self._cache[record.sha256] = sheets
            while len(self._cache) > self._cached_files:
                self._cache.popitem(last=False)
        return sheets

    def tables(self, kbs: Sequence[KnowledgeBase], problems: list[str] | None = None) -> list[Table]:
        """Every table of the KBs' indexed CSV/spreadsheet files, named uniquely: the file's name
        (``sales.csv`` → ``sales``), with the sheet for workbooks (``report.xlsx`` sheet Q1 →
        ``report_q1``), then ``_2``... when two would share a name. A file that cannot be read as
        tables (too many rows, damaged) raises ``ToolError``, or with ``problems`` is left out and
        its reason appended there."""
        out: list[Table] = []
        taken: set[str] = set()
        for kb in kbs:
            files = [f for f in self.catalog.list_files(kb.id, status="indexed") if is_table_file(f.name)]
            for record in sorted(files, key=lambda f: f.name):
                stem = _ident(Path(record.name).stem, "table")
                try:
                    sheets = self._sheets(kb, record)
                except ToolError as exc:
                    if problems is None:
                        raise
                    problems.append(f"{kb.name} / {record.name}: {exc.message}")
                    continue
                for sheet in sheets:
                    base = stem if sheet.sheet is None else f"{stem}_{_ident(sheet.sheet, 'sheet')}"
                    name, k = base, 2
                    while name in taken:
                        name, k = f"{base}_{k}", k + 1
                    taken.add(name)
                    out.append(Table(name, kb, record, sheet))
        return out

    @staticmethod
    def connect(tables: Sequence[Table]) -> ReadOnlySqlite:
        """An in-memory database holding the tables (with ``_row``), read-only from then on."""
        conn = sqlite3.connect(":memory:", check_same_thread=False)
        for t in tables:
            cols = ", ".join(f'"{c}" {kind}' for c, kind in zip(t.sheet.columns, t.sheet.types))
            conn.execute(f'CREATE TABLE "{t.name}" ("{ROW}" INTEGER PRIMARY KEY, {cols})')
            marks = ", ".join("?" * (len(t.sheet.columns) + 1))
            conn.executemany(f'INSERT INTO "{t.name}" VALUES ({marks})', ([n, *vals] for n, vals in t.sheet.rows))
        conn.commit()
        return ReadOnlySqlite(conn, [t.name for t in tables])

    def query(self, tables: Sequence[Table], sql: str, row_limit: int, timeout_s: float,
              cancelled: Callable[[], bool] = lambda: False) -> tuple[QueryResult, dict[str, list[int]]]:
        """The query's result, and the rows it rests on: table name → row numbers (``lineage_query``)."""
        used = referenced(tables, sql)
        db, lock = self._database(used)
        with lock:
            result = db.query(sql, row_limit, timeout_s, cancelled)
            result.tables = [t.name for t in used]
            cited: dict[str, list[int]] = {}
            plan = lineage_query(sql, [t.name for t in used])
            if plan is not None:
                try:
                    lineage = db.query(plan.sql, 200, timeout_s, cancelled)
                except ToolError:
                    lineage = None
                if lineage is not None:
                    for row in lineage.rows:
                        for table, value in zip(plan.tables, row):
                            if isinstance(value, int):
                                cited.setdefault(table, [])
                                if value not in cited[table]:
                                    cited[table].append(value)
        return result, {t: sorted(v) for t, v in cited.items()}

    def _database(self, tables: Sequence[Table]) -> tuple[ReadOnlySqlite, threading.Lock]:
        """The read-only in-memory database holding these tables: loaded once, kept for the next
        questions (the 8 most recent sets of tables)."""
        key = tuple((t.name, t.file.sha256, t.sheet.sheet) for t in tables)
        with self._lock:
            entry = self._databases.get(key)
            if entry is not None:
                self._databases.move_to_end(key)
                return entry
        mine = (self.connect(tables), threading.Lock())
        evicted = []
        with self._lock:
            entry = self._databases.setdefault(key, mine)
            while len(self._databases) > self._cached_databases:
                evicted.append(self._databases.popitem(last=False)[1])
        if entry is not mine:  # another thread loaded the same tables meanwhile
            evicted.append(mine)
        for db, lock in evicted:
            with lock:  # a query still running on it finishes first
                db.conn.close()
        return entry

    def close(self) -> None:
        with self._lock:
            entries = list(self._databases.values())
            self._databases.clear()
        for db, lock in entries:
            with lock:
                db.conn.close()


def referenced(tables: Sequence[Table], sql: str) -> list[Table]:
    """The tables whose names the SQL mentions (only these are loaded; the authorizer, not this,
    keeps a query inside them). None named: every table, so the error names the missing one."""
    lower = sql.lower()
    used = [t for t in tables if re.search(rf'(?<![\w]){re.escape(t.name)}(?![\w])', lower)]
    return used or list(tables)


@dataclass
class Lineage:
    sql: str  # selects the _row of each table the query reads, for the rows it reads
    tables: list[str]


def lineage_query(sql: str, names: Sequence[str]) -> Lineage | None:
    """A query for the rows a SELECT rests on, to cite them: its FROM and JOINs and WHERE, selecting
    each table's ``_row``; an aggregate (GROUP BY, COUNT, SUM...) keeps only the WHERE (the rows
    counted), a plain listing keeps its ORDER BY and LIMIT too (the rows shown). None when the query
    is of another shape (a CTE, a subquery in FROM, a UNION): the answer then cites no rows. The
    query is parsed with sqlglot only to cite; it runs on the same read-only connection as any other."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(sql, read="sqlite")
    except sqlglot.errors.SqlglotError:
        return None
    if not isinstance(tree, exp.Select) or tree.args.get("with_") or tree.args.get("with"):
        return None
    source = tree.args.get("from_") or tree.args.get("from")
    if source is None:
        return None
    known = {n.lower() for n in names}
    sources: list[tuple[str, str]] = []
    for item in [source.this, *(j.this for j in tree.args.get("joins") or [])]:
        if not isinstance(item, exp.Table) or item.name.lower() not in known:
            return None
        sources.append((item.alias_or_name, item.name.lower()))
    aggregate = bool(tree.args.get("group")) or any(
        isinstance(node, (exp.AggFunc, exp.Window)) for e in tree.expressions for node in e.walk())
    cite = tree.copy()
    cite.set("expressions", [exp.column(ROW, table=alias, quoted=True) for alias, _ in sources])
    cite.set("distinct", None)
    if aggregate:
        for part in ("group", "having", "order", "limit", "offset"):
            cite.set(part, None)
    return Lineage(cite.sql(dialect="sqlite"), [name for _, name in sources])
