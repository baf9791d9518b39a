"""A table question in agent mode, end to end: the answer pipeline, a scripted tool-calling model (a
real HTTP server spoken to by the openai SDK), the real table_query tool over a KB's CSV. The model
lists the tables, writes the SQL, answers citing [1]; the answer cites the rows and the trace shows
the query. A model that writes a DELETE gets the refusal as the tool's result, and the rows stay."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zhiku import Zhiku, load_settings
from zhiku.agent.base import ToolContext
from zhiku.agent.tools.tables import table_query
from zhiku.schema import AnswerRequest, Final, ToolStep
from zhiku.testing.tool_server import ToolChatServer

CSV = "Order,Region,Amount\n" + "".join(f"{i},{('East', 'West')[i % 2]},{i * 10}\n" for i in range(1, 21))


def call(name: str, arguments: dict[str, Any], n: int) -> dict[str, Any]:
    return {"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


class Script:
    """List the tables, run ``sql``, then answer with the tool's last result in view."""

    def __init__(self, sql: str) -> None:
        self.sql = sql

    def __call__(self, body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        results = [m["content"] for m in body["messages"] if m["role"] == "tool"]
        if not results:
            return "", [call("table_query", {}, 1)]
        if len(results) == 1:
            return "", [call("table_query", {"sql": self.sql}, 2)]
        return f"From the table: {results[-1].splitlines()[-1]} [1]", []


@pytest.fixture
def server() -> Iterator[ToolChatServer]:
    with ToolChatServer(script=Script("")) as s:
        yield s


def app_with_table(home: Path, tmp_path: Path, server: ToolChatServer) -> Zhiku:
    app = Zhiku(load_settings(home=home, environ={}, overrides={
        "embedding": {"default": "static"},
        "llm": {"default": "tools", "detect_local": False,
                "models": {"tools": {"base_url": server.base_url, "model": "tools"}}},
        "agent": {"tools": ["table_query", "calculator"]}}))
    app.create_kb("sales")
    f = tmp_path / "orders.csv"
    f.write_text(CSV, encoding="utf-8")
    assert app.add_files("sales", [f]).ok
    return app


def run(app: Zhiku, question: str) -> tuple[Any, list[ToolStep]]:
    events = list(app.answer_stream(AnswerRequest(mode="agent", kbs=["sales"], question=question)))
    assert isinstance(events[-1], Final)
    return events[-1].answer, [e for e in events if isinstance(e, ToolStep)]


def test_a_table_question_is_answered_from_sql_citing_the_rows(home: Path, tmp_path: Path,
                                                              server: ToolChatServer) -> None:
    sql = "SELECT count(*), sum(amount) FROM orders WHERE region = 'East' AND amount > 100"
    server.script = Script(sql)
    with app_with_table(home, tmp_path, server) as app:
        answer, trace = run(app, "How many East orders above 100, and their total?")
    assert [(s.tool, s.arguments, s.status) for s in trace] == [
        ("table_query", {}, "ok"), ("table_query", {"sql": sql}, "ok")]
    listing = server.requests[1]["messages"][-1]["content"]
    assert "TABLE orders" in listing and "region TEXT" in listing
    result = server.requests[2]["messages"][-1]["content"]
    assert result.startswith(f"SQL: {sql}") and "| 5 | 800 |" in result  # East = even orders 12..20
    (citation,) = answer.citations
    assert citation.file == "orders.csv" and citation.kb == "sales"
    assert citation.meta["rows"] == [13, 15, 17, 19, 21] and citation.meta["sql"] == sql
    assert "| 20 | East | 200 |" in citation.text


def test_a_model_that_writes_a_delete_gets_the_refusal(home: Path, tmp_path: Path, server: ToolChatServer) -> None:
    server.script = Script("DELETE FROM orders WHERE 1 = 1 -- make room")
    with app_with_table(home, tmp_path, server) as app:
        answer, trace = run(app, "Remove the orders")
        assert trace[-1].tool == "table_query" and trace[-1].status == "error"
        assert "DELETE is not allowed: the database is read-only" in (trace[-1].error or "")
        assert not answer.citations
        context = ToolContext(owner="local", readable_kbs=["sales"], services=app.agent_services)
        tool = table_query(context)
        assert tool is not None
        assert tool.run({"sql": "SELECT count(*) FROM orders"}, context).data["rows"] == [[20]]
