"""The built-in tools through the registry, on a real app (static embedder), a real search-engine
stand-in and web on 127.0.0.1: KB search stays inside the caller's KBs, the URL reader goes through the
SSRF guard with its caps, the calculator never evaluates code."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zhiku import Zhiku, load_settings
from zhiku.agent.base import Tool, ToolContext, ToolError
from zhiku.agent.toolbox import build_tools
from zhiku.config.agent import BUILTIN_TOOLS
from zhiku.testing.search_server import SearchServer


def tools_for(app: Zhiku, readable: list[str], enabled: list[str] | None = None) -> tuple[dict[str, Tool], ToolContext]:
    context = ToolContext(owner="alice", readable_kbs=readable, services=app.agent_services)
    tools = build_tools(context, enabled if enabled is not None else app.settings.agent.tools)
    return {t.spec.name: t for t in tools}, context


def plain(name: str) -> tuple[Tool, ToolContext]:
    """A tool that needs no service (calculator, datetime, unit_convert), built through the registry."""
    context = ToolContext(owner="alice", readable_kbs=[])
    (tool,) = build_tools(context, [name])
    return tool, context


@pytest.fixture
def server() -> Iterator[SearchServer]:
    with SearchServer() as s:
        yield s


@pytest.fixture
def web_app(home: Path, server: SearchServer) -> Iterator[Zhiku]:
    app = Zhiku(load_settings(home=home, overrides={
        "embedding": {"default": "static"},
        "websearch": {"engine": "searxng", "base_url": server.base, "allow_networks": ["127.0.0.1/32"],
                      "max_page_kb": 64, "fetch_timeout_s": 2}}))
    yield app
    app.close()


def test_every_builtin_is_registered_and_describes_itself(web_app: Zhiku) -> None:
    web_app.create_kb("docs")
    tools, _ = tools_for(web_app, ["docs"])
    # sql_query needs agent.databases; every other built-in is usable with these settings
    assert sorted(tools) == sorted(set(BUILTIN_TOOLS) - {"sql_query"})
    for tool in tools.values():
        spec = tool.spec.openai()
        assert spec["type"] == "function" and len(spec["function"]["description"]) > 40
        assert spec["function"]["parameters"]["type"] == "object"
        assert tool.spec.read_only


def test_tools_that_cannot_work_are_left_out(app: Zhiku) -> None:
    # web search off (the default engine is none), no databases, no KB the caller may read
    # (web access, read_url included, is off while websearch.engine is none: the default)
    tools, _ = tools_for(app, [])
    assert sorted(tools) == ["calculator", "datetime", "unit_convert"]


def test_unknown_tool_name_is_a_config_error_naming_the_choices(app: Zhiku) -> None:
    from zhiku.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown tool 'shell'.*calculator"):
        tools_for(app, [], ["calculator", "shell"])


def test_kb_search_only_reads_the_callers_kbs(app: Zhiku, tmp_path: Path) -> None:
    for kb, text in (("mine", "The refund window is 30 days for every order."),
                     ("theirs", "The secret refund override code is PINEAPPLE-42.")):
        app.create_kb(kb)
        f = tmp_path / kb / "policy.md"
        f.parent.mkdir()
        f.write_text(f"# Refunds\n\n{text}\n", encoding="utf-8")
        app.add_files(kb, [f])
    tools, context = tools_for(app, ["mine"])
    result = tools["kb_search"].run({"query": "refund override code"}, context)
    assert result.sources and {h.kb for h in result.sources} == {"mine"}
    assert "PINEAPPLE" not in result.text and "30 days" in result.text
    assert tools["kb_search"].spec.parameters["properties"]["kbs"]["items"]["enum"] == ["mine"]
    # naming another user's KB reads as naming one that does not exist
    with pytest.raises(ToolError) as theirs:
        tools["kb_search"].run({"query": "code", "kbs": ["theirs"]}, context)
    with pytest.raises(ToolError) as nowhere:
        tools["kb_search"].run({"query": "code", "kbs": ["nowhere"]}, context)
    assert str(theirs.value).replace("theirs", "X") == str(nowhere.value).replace("nowhere", "X")
    with pytest.raises(ToolError, match="empty"):
        tools["kb_search"].run({"query": "  "}, context)


def test_web_search_gives_results_as_citable_sources(web_app: Zhiku, server: SearchServer) -> None:
    tools, context = tools_for(web_app, [])
    result = tools["web_search"].run({"query": "longjing tea", "limit": 3}, context)
    assert "Longjing tea - Tea Encyclopedia" in result.text and f"{server.base}/pages/tea" in result.text
    assert [h.url for h in result.sources][1] == f"{server.base}/pages/tea"
    assert server.requests[-1]["path"] == "/search"


def test_read_url_reads_a_page_through_the_guard(web_app: Zhiku, server: SearchServer) -> None:
    tools, context = tools_for(web_app, [])
    result = tools["read_url"].run({"url": f"{server.base}/pages/tea"}, context)
    assert "Dragon Well" in result.text and "tracking script" not in result.text
    assert result.sources[0].url == f"{server.base}/pages/tea"


@pytest.mark.parametrize("path, reason", [
    ("/redirect?to=http://169.254.169.254/latest/meta-data/", "metadata"),
    ("/binary", "not a page"),
    ("/status/500", "HTTP 500"),
    ("/stall", "longer than"),
])
def test_read_url_refusals_are_the_guards_and_fetchers(web_app: Zhiku, server: SearchServer, path: str,
                                                      reason: str) -> None:
    tools, context = tools_for(web_app, [])
    with pytest.raises(ToolError, match=reason):
        tools["read_url"].run({"url": server.base + path}, context)


def test_read_url_refuses_private_addresses_by_default(home: Path, server: SearchServer) -> None:
    app = Zhiku(load_settings(home=home, overrides={"websearch": {"engine": "searxng", "base_url": server.base}}))
    try:
        tools, context = tools_for(app, [])
        for url in (f"{server.base}/pages/tea", "http://2130706433/", "file:///etc/passwd", "http://[::1]/"):
            with pytest.raises(ToolError, match="refused|only http"):
                tools["read_url"].run({"url": url}, context)
    finally:
        app.close()
    assert server.requests == []


def test_read_url_caps_a_huge_page(web_app: Zhiku, server: SearchServer) -> None:
    tools, context = tools_for(web_app, [])
    result = tools["read_url"].run({"url": f"{server.base}/huge"}, context)
    assert result.data["cut"] and len(result.text) < web_app.settings.agent.read_url_chars + 500


@pytest.mark.parametrize("expression, value", [
    ("1 + 2 * 3", 7), ("(1250 * 0.15 + 37) / 3", 74.83333333333333), ("2 ** 10", 1024), ("2^8", 256),
    ("sqrt(16) + abs(-2)", 6), ("15%", 0.15), ("10 // 3 + 10 % 3", 4), ("factorial(10)", 3628800),
    ("round(pi, 4)", 3.1416), ("（3 × 4）÷ 2", 6),
])
def test_calculator(expression: str, value: Any) -> None:
    tool, context = plain("calculator")
    result = tool.run({"expression": expression}, context)
    assert result.data["value"] == pytest.approx(value)


@pytest.mark.parametrize("expression, reason", [
    ("__import__('os').system('echo hacked')", "not arithmetic"),
    ("().__class__.__bases__[0].__subclasses__()", "not arithmetic"),
    ("open('/etc/passwd').read()", "not arithmetic"),
    ("x + 1", "unknown name 'x'"),
    ("9 ** 9 ** 9", "too large"), ("factorial(100000)", "factorial takes"), ("1 / 0", "division by zero"),
    ("'a' * 10", "not arithmetic"), ("[1] * 10**9", "not arithmetic"), ("lambda: 0", "not arithmetic"),
    ("1 +", "not an arithmetic expression"), ("1+" * 400 + "1", "too"),
])
def test_calculator_refuses_what_is_not_arithmetic(expression: str, reason: str) -> None:
    tool, context = plain("calculator")
    with pytest.raises(ToolError, match=reason):
        tool.run({"expression": expression}, context)


def test_datetime() -> None:
    tool, context = plain("datetime")
    run = tool.run
    assert run({"operation": "diff", "date": "2024-02-01", "date2": "2024-03-01"}, context).data["days"] == 29
    assert run({"operation": "add", "date": "2024-01-31", "months": 1}, context).data["date"] == "2024-02-29"
    assert run({"operation": "add", "date": "2024-03-01", "days": -1, "weeks": 1}, context).data["date"] == "2024-03-07"
    assert run({"operation": "weekday", "date": "2026-01-01"}, context).data["weekday"] == "Thursday"
    now = dt.datetime.fromisoformat(run({"operation": "now", "timezone": "Asia/Shanghai"}, context).data["now"])
    assert now.utcoffset() == dt.timedelta(hours=8)
    assert abs(now - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=5)
    with pytest.raises(ToolError, match="unknown time zone"):
        run({"operation": "now", "timezone": "Mars/Olympus"}, context)
    with pytest.raises(ToolError, match="YYYY-MM-DD"):
        run({"operation": "weekday", "date": "next tuesday"}, context)


@pytest.mark.parametrize("value, source, target, expected", [
    (1, "km", "m", 1000), (3, "斤", "kg", 1.5), (100, "C", "F", 212), (32, "°F", "摄氏度", 0), (1, "亩", "m2", 666.667),
    (60, "mph", "km/h", 96.5606), (1, "GiB", "MB", 1073.741824), (1, "kWh", "kcal", 860.421), (1, "atm", "kPa", 101.325),
])
def test_unit_convert(value: float, source: str, target: str, expected: float) -> None:
    tool, context = plain("unit_convert")
    result = tool.run({"value": value, "from_unit": source, "to_unit": target}, context)
    assert result.data["value"] == pytest.approx(expected, rel=1e-4)


def test_unit_convert_refuses_units_of_different_kinds() -> None:
    tool, context = plain("unit_convert")
    with pytest.raises(ToolError, match="cannot convert length"):
        tool.run({"value": 1, "from_unit": "km", "to_unit": "kg"}, context)
    with pytest.raises(ToolError, match="unknown unit 'furlongs per fortnight'"):
        tool.run({"value": 1, "from_unit": "furlongs per fortnight", "to_unit": "m"}, context)
