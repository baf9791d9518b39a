"""Table questions over a real KB's CSV and XLSX files (added through the app, static embedder): the
original rows queried by SQL in an in-memory SQLite made read-only by its connection, exact answers,
the rows cited as hits of the file's chunks, limits, and the caller's KBs only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from zhiku import Zhiku
from zhiku.agent.base import ToolContext, ToolError, ToolResult
from zhiku.agent.tables import lineage_query
from zhiku.agent.tools.tables import TableQuery, table_query


def make_files(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / "orders.csv"
    lines = ["Order,Region,Product,Amount,Date"]
    for i in range(1, 121):
        region = ("East", "West", "North")[i % 3]
        lines.append(f"{i},{region},{('tea', 'coffee')[i % 2]},{i * 10}.5,2026-01-{(i % 28) + 1:02d}")
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    wb = Workbook()
    ws = wb.active
    ws.title = "员工"
    ws.append(["2026 员工名册"])  # a caption line above the table, as real sheets have
    ws.append(["姓名", "部门", "工资"])
    for name, dept, pay in (("张三", "研发", 9000), ("李四", "销售", 7000), ("王五", "研发", 12000)):
        ws.append([name, dept, pay])
    depts = wb.create_sheet("部门")
    depts.append(["部门", "楼层"])
    depts.append(["研发", 3])
    depts.append(["销售", 1])
    xlsx = folder / "staff.xlsx"
    wb.save(xlsx)
    return [csv, xlsx]


def new_kb_app(root: Path) -> Zhiku:
    from zhiku import load_settings

    app = Zhiku(load_settings(home=root / "home", overrides={"embedding": {"default": "static"}}))
    app.create_kb("records")
    report = app.add_files("records", make_files(root / "files"))
    assert report.added == ["orders.csv", "staff.xlsx"]
    return app


@pytest.fixture
def kb_app(tmp_path: Path) -> Iterator[Zhiku]:
    app = new_kb_app(tmp_path)
    yield app
    app.close()


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zhiku]:
    """One KB for the tests that only read it (questions, refusals): the refusals also show that
    the same loaded tables keep answering after each refused write."""
    app = new_kb_app(tmp_path_factory.mktemp("tables"))
    yield app
    app.close()


def ask(app: Zhiku, arguments: dict[str, Any], readable: list[str] | None = None) -> ToolResult:
    context = ToolContext(owner="alice", readable_kbs=readable or ["records"], services=app.agent_services)
    tool = table_query(context)
    assert tool is not None
    return tool.run(arguments, context)


def test_listing_names_tables_after_file_and_sheet_with_columns_and_rows(shared_app: Zhiku) -> None:
    result = ask(shared_app, {})
    assert result.data["tables"] == ["orders", "staff_员工", "staff_部门"]
    assert "TABLE orders — records / orders.csv, 120 rows" in result.text
    assert 'order_ INTEGER ("Order")' in result.text and 'amount REAL ("Amount")' in result.text
    assert "TABLE staff_员工 — records / staff.xlsx, sheet 员工, 3 rows" in result.text
    assert "| 3 | 张三 | 研发 | 9000 |" in result.text  # _row 3: the caption is row 1, the header row 2


@pytest.mark.parametrize("sql, rows", [
    ("SELECT count(*) FROM orders WHERE region = 'East'", [(40,)]),
    ("SELECT sum(amount) FROM orders WHERE product = 'tea' AND order_ <= 10", [(302.5,)]),
    ("SELECT region, count(*) AS n FROM orders GROUP BY region ORDER BY region", [("East", 40), ("North", 40), ("West", 40)]),
    ("SELECT 姓名 FROM staff_员工 WHERE 工资 > 8000 ORDER BY 工资 DESC", [("王五",), ("张三",)]),
    ("SELECT e.姓名, d.楼层 FROM staff_员工 e JOIN staff_部门 d ON e.部门 = d.部门 WHERE d.楼层 = 1", [("李四", 1)]),
    ("SELECT avg(工资) FROM staff_员工", [(28000 / 3,)]),
])
def test_questions_are_answered_exactly(shared_app: Zhiku, sql: str, rows: list[tuple[Any, ...]]) -> None:
    result = ask(shared_app, {"sql": sql})
    assert [tuple(r) for r in result.data["rows"]] == rows
    assert result.text.startswith(f"SQL: {sql}")


def test_the_rows_used_are_cited_as_hits_of_the_files_chunks(shared_app: Zhiku) -> None:
    result = ask(shared_app, {"sql": "SELECT count(*) FROM orders WHERE amount > 1150"})
    assert result.data["rows"] == [[6]] and result.data["cited_rows"] == {"orders": [116, 117, 118, 119, 120, 121]}
    record, chunks = shared_app.file_chunks("records", "orders.csv")
    holders = [next(c for c in chunks if c.meta.get("rows") == rows) for rows in ("111-119", "120-121")]
    # one hit per chunk that holds cited rows: the header and those rows
    assert [(h.file, h.file_id, h.chunk_id, h.kb) for h in result.sources] == [
        ("orders.csv", record.id, c.id, "records") for c in holders]
    first, second = result.sources
    assert first.text.splitlines()[0] == "| Order | Region | Product | Amount | Date |"
    assert "| 115 | West | coffee | 1150.5 | 2026-01-04 |" in first.text and len(first.text.splitlines()) == 6
    assert first.meta["rows"] == [116, 117, 118, 119] and second.meta["rows"] == [120, 121]
    assert "amount > 1150" in first.meta["sql"]


def test_a_join_cites_the_rows_of_both_sheets(shared_app: Zhiku) -> None:
    result = ask(shared_app, {"sql": "SELECT e.姓名 FROM staff_员工 e JOIN staff_部门 d ON e.部门 = d.部门 "
                                 "WHERE d.楼层 = 3 ORDER BY e.工资 DESC LIMIT 1"})
    assert result.data["rows"] == [["王五"]]
    assert result.data["cited_rows"] == {"staff_员工": [5], "staff_部门": [2]}
    assert {h.section for h in result.sources} == {"员工", "部门"}


def test_lineage_of_other_shapes_is_left_out_not_guessed() -> None:
    names = ["t", "u"]
    assert lineage_query("WITH x AS (SELECT * FROM t) SELECT count(*) FROM x", names) is None
    assert lineage_query("SELECT * FROM (SELECT * FROM t)", names) is None
    assert lineage_query("SELECT 1 FROM t UNION SELECT 2 FROM u", names) is None
    plan = lineage_query("SELECT a, count(*) FROM t WHERE b > 1 GROUP BY a HAVING count(*) > 2 LIMIT 1", names)
    assert plan is not None and plan.sql == 'SELECT "t"."_row" FROM t WHERE b > 1'


@pytest.mark.parametrize("sql, reason", [
    ("DELETE FROM orders", "DELETE is not allowed"),
    ("/* a comment */ DROP TABLE orders", "is not allowed: the database is read-only"),
    ("-- hi\nUPDATE orders SET amount = 0", "UPDATE is not allowed"),
    ("SELECT 1; DELETE FROM orders", "one statement"),
    ("WITH x AS (SELECT 1) INSERT INTO orders (order_) SELECT * FROM x", "INSERT is not allowed"),
    ("PRAGMA query_only = OFF", "PRAGMA is not allowed"),
    ("ATTACH DATABASE '/tmp/agenttools-attached.db' AS other", "ATTACH is not allowed"),
    ("SELECT * FROM sqlite_master", "not one of the tables"),
    ("CREATE TEMP TABLE x AS SELECT * FROM orders", "not allowed"),
    ("SELECT load_extension('/tmp/x.so')", "load_extension is not allowed"),
    ("SELECT nosuch FROM orders", "no such column"),
    ("SELECT length(randomblob(900000000))", "too big"),
    ("SELECT", "the query failed"),
])
def test_writes_and_escapes_are_refused_by_the_connection(shared_app: Zhiku, sql: str, reason: str) -> None:
    with pytest.raises(ToolError, match=reason):
        ask(shared_app, {"sql": sql})
    assert not Path("/tmp/agenttools-attached.db").exists()
    assert ask(shared_app, {"sql": "SELECT count(*) FROM orders"}).data["rows"] == [[120]]


def test_a_runaway_query_is_stopped_and_rows_are_capped(shared_app: Zhiku) -> None:
    context = ToolContext(owner="alice", readable_kbs=["records"], services=shared_app.agent_services)
    tool = TableQuery(shared_app.agent_services["tables"], row_limit=7, timeout_s=0.3)
    with pytest.raises(ToolError, match="longer than 0.3 s"):
        tool.run({"sql": "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
                         "SELECT count(*) FROM r, orders"}, context)
    result = tool.run({"sql": "SELECT * FROM orders"}, context)
    assert len(result.data["rows"]) == 7 and result.data["truncated"]
    assert "stopped at the limit of 7" in result.text
    cancelled = ToolContext(owner="alice", readable_kbs=["records"], services=shared_app.agent_services,
                            cancelled=lambda: True)
    with pytest.raises(ToolError, match="cancelled"):
        tool.run({"sql": "SELECT count(*) FROM orders a, orders b, orders c"}, cancelled)


def test_only_the_callers_kbs_tables_exist(kb_app: Zhiku, tmp_path: Path) -> None:
    kb_app.create_kb("payroll")
    secret = tmp_path / "secret" / "salaries.csv"
    secret.parent.mkdir()
    secret.write_text("name,salary\nboss,999999\nintern,1000\n", encoding="utf-8")
    kb_app.add_files("payroll", [secret])
    assert "salaries" not in ask(kb_app, {}).data["tables"]
    with pytest.raises(ToolError, match="no such table: salaries"):
        ask(kb_app, {"sql": "SELECT * FROM salaries"})
    with pytest.raises(ToolError, match="no knowledge base payroll"):
        ask(kb_app, {"kb": "payroll"})
    assert ask(kb_app, {"sql": "SELECT max(salary) FROM salaries"}, ["payroll"]).data["rows"] == [[999999]]


def test_a_new_version_of_a_file_is_queried_not_the_cached_one(kb_app: Zhiku, tmp_path: Path) -> None:
    assert ask(kb_app, {"sql": "SELECT count(*) FROM orders"}).data["rows"] == [[120]]
    f = tmp_path / "files" / "orders.csv"
    f.write_text("Order,Region,Amount\n1,East,5\n", encoding="utf-8")
    assert kb_app.add_files("records", [f]).replaced == ["orders.csv"]
    assert ask(kb_app, {"sql": "SELECT count(*), sum(amount) FROM orders"}).data["rows"] == [[1, 5]]


def test_a_table_over_the_row_limit_is_left_out_with_the_reason(home: Path, tmp_path: Path) -> None:
    from zhiku import load_settings

    app = Zhiku(load_settings(home=home, overrides={"embedding": {"default": "static"},
                                                    "agent": {"table_max_rows": 100}}))
    try:
        app.create_kb("records")
        app.add_files("records", make_files(tmp_path / "files"))
        listing = ask(app, {})
        assert listing.data["tables"] == ["staff_员工", "staff_部门"]
        assert "not loaded: records / orders.csv: the table has 120 rows; table questions read at most 100" in listing.text
        with pytest.raises(ToolError, match="(?s)no such table: orders.*not loaded: records / orders.csv"):
            ask(app, {"sql": "SELECT count(*) FROM orders"})
    finally:
        app.close()


def test_long_cells_are_cut_in_the_listing_and_kept_whole_in_the_data(kb_app: Zhiku, tmp_path: Path) -> None:
    long = "很长的说明" * 60  # 300 characters
    f = tmp_path / "notes.csv"
    f.write_text(f"id,note\n1,{long}\n2,short\n", encoding="utf-8")
    kb_app.add_files("records", [f])
    listing = ask(kb_app, {}).text
    assert f"| 2 | 1 | {long[:80]}… |" in listing and long not in listing
    result = ask(kb_app, {"sql": "SELECT note FROM notes WHERE id = 1"})
    assert result.data["rows"] == [[long]] and long in result.text


def test_column_types_keep_codes_as_text_and_read_grouped_numbers(kb_app: Zhiku, tmp_path: Path) -> None:
    f = tmp_path / "branches.csv"
    f.write_text('Code,Revenue,Share\n00701,"1,250.50",0.5\n10001,980,.25\n', encoding="utf-8")
    kb_app.add_files("records", [f])
    listing = ask(kb_app, {}).text
    assert 'code TEXT ("Code"), revenue REAL ("Revenue"), share REAL ("Share")' in listing
    result = ask(kb_app, {"sql": "SELECT code, revenue + 0.5, share FROM branches WHERE code = '00701'"})
    assert result.data["rows"] == [["00701", 1251.0, 0.5]]


def test_kb_chat_without_a_model_still_finds_the_rows(shared_app: Zhiku) -> None:
    from zhiku.schema import AnswerRequest

    hits = shared_app.search(["records"], "王五 工资")
    assert "王五" in hits[0].text and hits[0].file == "staff.xlsx"
    answer = shared_app.answer(AnswerRequest(mode="kb", kbs=["records"], question="王五的工资是多少？", extractive=True))
    assert "12000" in answer.answer
