"""table_query and sql_query: questions about tables answered by SQL over the original rows.

``table_query`` reads the CSV and spreadsheet files of the knowledge bases the caller may read
(``zhiku.agent.tables``); ``sql_query`` the databases the admin listed in ``agent.databases``
(``zhiku.agent.sql``). Both are read-only by construction and bounded in rows and time; called without
``sql`` they list their tables with columns and a few rows, so the model can write the query. A table
question's answer shows the query and cites the rows it rests on, as hits of the file's chunks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from zhiku.agent.base import ToolContext, ToolError, ToolResult, ToolSpec
from zhiku.agent.sql import QueryResult
from zhiku.agent.tables import ROW, KBTables, Table
from zhiku.ingest.loaders.tables import cell_text, markdown_table
from zhiku.schema import Hit

SHOWN_ROWS = 50  # result rows written out for the model (all of them are in data)
CITED_ROWS = 20  # rows cited as sources, at most
DESCRIBED = 30  # tables listed with their rows; beyond that, their names and columns only
SAMPLE_CHARS = 80  # a listed row's cells are cut to this; a result's cells to RESULT_CHARS
RESULT_CHARS = 1000


def _cut(value: Any, chars: int) -> str:
    text = cell_text(value)
    return text if len(text) <= chars else text[:chars] + "…"


def result_text(result: QueryResult, shown: int = SHOWN_ROWS) -> str:
    rows = [[_cut(v, RESULT_CHARS) for v in r] for r in result.rows[:shown]]
    more = len(result.rows) - len(rows)
    parts = [f"SQL: {result.sql}", markdown_table(result.columns, rows) if result.columns else "(no columns)"]
    count = f"{len(result.rows)} row{'s' if len(result.rows) != 1 else ''}"
    if result.truncated:
        count += f" (stopped at the limit of {len(result.rows)}; more rows matched)"
    if more > 0:
        count += f"; the first {shown} shown"
    parts.append(count)
    return "\n".join(parts)


def _range(meta: dict[str, Any]) -> tuple[int, int] | None:
    rows = str(meta.get("rows") or "")
    try:
        first, _, last = rows.partition("-")
        return int(first), int(last or first)
    except ValueError:
        return None


def row_hits(context: ToolContext, tables: Sequence[Table], cited: dict[str, list[int]], sql: str) -> list[Hit]:
    """The cited rows as hits of the chunks that hold them (one hit per chunk: the header and those rows)."""
    catalog = context.services["catalog"]
    by_name = {t.name: t for t in tables}
    hits: list[Hit] = []
    budget = CITED_ROWS
    for name, numbers in cited.items():
        table = by_name.get(name)
        if table is None or budget <= 0:
            continue
        numbers = numbers[:budget]
        budget -= len(numbers)
        texts = dict(zip((n for n, _ in table.sheet.rows), table.sheet.texts))
        chunks = [c for c in catalog.file_chunks(table.file.id)
                  if table.sheet.sheet is None or c.meta.get("sheet") == table.sheet.sheet]
        groups: dict[int, list[int]] = {}
        fallback = chunks[0].id if chunks else 0
        for n in numbers:
            holder = next((c.id for c in chunks if (r := _range(c.meta)) and r[0] <= n <= r[1]), fallback)
            groups.setdefault(holder, []).append(n)
        for chunk_id, rows in groups.items():
            text = markdown_table(table.sheet.header, [texts.get(n, []) for n in rows])
            section = table.sheet.sheet
            hits.append(Hit(
                kb=table.kb.name, file=table.file.name, file_id=table.file.id, page=None, section=section,
                chunk_id=chunk_id, score=1.0, text=text, doc_key=table.file.doc_key,
                meta={"rows": rows, "table": table.name, "sql": sql}))
    return hits


def describe_tables(tables: Sequence[Table], sample: int = 3) -> str:
    """Each table's KB, file, sheet, row count and columns, with ``sample`` rows for the first
    ``DESCRIBED`` (a KB of a hundred spreadsheets still gives the model a listing it can read)."""
    out = []
    for i, t in enumerate(tables):
        cols = ", ".join(f"{c} {kind}" + (f" (\"{h}\")" if h and h != c else "")
                         for c, kind, h in zip(t.sheet.columns, t.sheet.types, t.sheet.header))
        where = f"{t.kb.name} / {t.file.name}" + (f", sheet {t.sheet.sheet}" if t.sheet.sheet else "")
        text = f"TABLE {t.name} — {where}, {len(t.sheet.rows)} rows\ncolumns: {ROW} INTEGER (row number in the file), {cols}"
        if i < DESCRIBED:
            rows = [[str(n), *(_cut(v, SAMPLE_CHARS) for v in vals)] for n, vals in t.sheet.rows[:sample]]
            text += "\n" + markdown_table([ROW, *t.sheet.columns], rows)
        out.append(text)
    if len(tables) > DESCRIBED:
        out.append(f"(rows shown for the first {DESCRIBED} of {len(tables)} tables; SELECT * FROM a table LIMIT 3 "
                   "shows more)")
    return "\n\n".join(out)


class TableQuery:
    def __init__(self, provider: KBTables, row_limit: int, timeout_s: float) -> None:
        self.provider, self.row_limit, self.timeout_s = provider, row_limit, timeout_s
        self.spec = ToolSpec(
            name="table_query",
            description="Answer questions about the CSV and Excel tables in the user's knowledge bases exactly (how "
            "many, totals, averages, the rows where...) with one SQLite SELECT over the original rows. Call it "
            "first without sql to list the tables, their columns and a few rows; then call it with sql. The data "
            "is read-only. Select _row too when listing rows, so the answer can cite them.",
            parameters={"type": "object", "properties": {
                "sql": {"type": "string", "description": "one SQLite SELECT statement; omit to list the tables"},
                "kb": {"type": "string", "description": "list only this knowledge base's tables"}},
                "additionalProperties": False},
            timeout_s=max(20.0, timeout_s * 3),
        )

    def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        readable = list(context.readable_kbs)
        kb_name = arguments.get("kb")
        if kb_name is not None and kb_name not in readable:
            raise ToolError(f"no knowledge base {kb_name}; you may use: {', '.join(readable)}")
        kb_of = context.services["kb"]
        problems: list[str] = []
        tables = self.provider.tables([kb_of(n) for n in readable], problems)
        left_out = ("\nnot loaded: " + "; ".join(problems)) if problems else ""
        sql = arguments.get("sql")
        if not sql:
            listed = [t for t in tables if kb_name is None or t.kb.name == kb_name]
            if not listed:
                return ToolResult(text="there are no CSV or Excel tables in these knowledge bases" + left_out,
                                  summary="0 tables", data={"tables": [], "not_loaded": problems})
            return ToolResult(text=describe_tables(listed) + left_out, summary=f"{len(listed)} tables",
                              data={"tables": [t.name for t in listed], "not_loaded": problems})
        if not isinstance(sql, str):
            raise ToolError("sql must be a string")
        if not tables:
            raise ToolError("there are no CSV or Excel tables in these knowledge bases" + left_out)
        try:
            result, cited = self.provider.query(tables, sql, self.row_limit, self.timeout_s, context.cancelled)
        except ToolError as exc:
            if problems and "no such table" in exc.message:
                raise ToolError(exc.message + left_out) from None
            raise
        hits = row_hits(context, tables, cited, result.sql)
        cited_text = "; ".join(f"{t} rows {', '.join(map(str, rows[:CITED_ROWS]))}" for t, rows in cited.items())
        text = result_text(result) + (f"\nrows used: {cited_text}" if cited_text else "")
        return ToolResult(text=text, sources=hits, summary=f"{len(result.rows)} rows from {', '.join(result.tables)}",
                          data={"sql": result.sql, "columns": result.columns, "rows": [list(r) for r in result.rows],
                                "truncated": result.truncated, "tables": result.tables, "cited_rows": cited})


class SqlQuery:
    def __init__(self, databases: Any) -> None:
        self.databases = databases
        names = databases.names()
        about = "; ".join(f"{n}: {c.description}" if c.description else n for n, c in databases.configs.items())
        self.spec = ToolSpec(
            name="sql_query",
            description="Query a SQL database the administrator connected (read-only; only its listed tables). "
            "Call it with just the database to see its tables, columns and a few rows; then with one SELECT "
            f"statement in the database's dialect. Databases: {about}.",
            parameters={"type": "object", "properties": {
                "database": {"type": "string", "enum": names},
                "sql": {"type": "string", "description": "one SELECT statement; omit to list the tables"}},
                "required": ["database"], "additionalProperties": False},
            timeout_s=max(20.0, *(c.timeout_s * 3 for c in databases.configs.values())),
        )

    def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        name = str(arguments.get("database") or "")
        sql = arguments.get("sql")
        if not sql:
            infos = self.databases.describe(name)
            parts = []
            for info in infos:
                cols = ", ".join(f"{c} {t}" for c, t in info.columns)
                sample = info.sample
                rows = markdown_table(sample.columns, [[cell_text(v) for v in r] for r in sample.rows]) \
                    if sample is not None and sample.columns else ""
                parts.append(f"TABLE {info.name}\ncolumns: {cols}\n{rows}".rstrip())
            return ToolResult(text="\n\n".join(parts), summary=f"{len(infos)} tables",
                              data={"tables": [i.name for i in infos]})
        if not isinstance(sql, str):
            raise ToolError("sql must be a string")
        result = self.databases.query(name, sql, context.cancelled)
        return ToolResult(text=result_text(result), summary=f"{len(result.rows)} rows",
                          data={"database": name, "sql": result.sql, "columns": result.columns,
                                "rows": [[cell_text(v) if not isinstance(v, (int, float, str, type(None))) else v
                                          for v in r] for r in result.rows],
                                "truncated": result.truncated})


def table_query(context: ToolContext) -> TableQuery | None:
    """None when the caller may read no knowledge base or the services lack the tables provider."""
    provider = context.services.get("tables")
    if provider is None or not context.readable_kbs:
        return None
    settings = context.services.get("settings")
    agent = settings.agent if settings is not None else None
    return TableQuery(provider, agent.table_row_limit if agent else 200, agent.table_timeout_s if agent else 5.0)


def sql_query(context: ToolContext) -> SqlQuery | None:
    """None when no database is configured (``agent.databases``)."""
    databases = context.services.get("databases")
    if databases is None or not databases.names():
        return None
    return SqlQuery(databases)
