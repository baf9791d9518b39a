"""The settings page's MCP servers: the servers the agent may call (``agent.mcp_servers``), each with
its transport, status (and why it is unavailable) and tools, marked read-only (runs without asking)
or needing the user's approval for each call. Read from ``GET /api/tools/servers``; the servers are
configured in the settings file. Everything a server says (its tools' descriptions, its errors) is
shown as text, never as markdown, so nothing in it makes the browser load a resource."""

from __future__ import annotations

from typing import Any

import httpx
import streamlit as st

from zhiku.client.routes import error_from_response, unreachable
from zhiku.ui import session
from zhiku.ui.i18n import lang
from zhiku.ui.render import escape_markdown

STRINGS: dict[str, dict[str, str]] = {
    "zh": {"title": "MCP 服务", "help": "智能体可以调用的 MCP 服务（配置文件中的 agent.mcp_servers）。只读的工具直接运行，"
           "其余工具每次调用都需要你的批准。", "none": "没有配置 MCP 服务。", "tools": "工具（{n}）",
           "available": "可用", "unavailable": "不可用", "idle": "尚未连接", "disabled": "已停用",
           "read_only": "只读", "approval": "需要批准", "off": "已关闭"},
    "en": {"title": "MCP servers", "help": "MCP servers the agent may call (agent.mcp_servers in the settings file). "
           "Read-only tools run at once; every call of the others needs your approval.",
           "none": "No MCP server is configured.", "tools": "Tools ({n})", "available": "available",
           "unavailable": "unavailable", "idle": "not connected yet", "disabled": "disabled",
           "read_only": "read-only", "approval": "needs approval", "off": "off"},
}
ICONS = {"available": "✅", "unavailable": "❌", "idle": "⏸️", "disabled": "⏹️"}


def _t(key: str, **kw: Any) -> str:
    text = STRINGS.get(lang(), STRINGS["en"]).get(key) or STRINGS["en"][key]
    return text.format(**kw) if kw else text


def servers(zk: Any) -> list[dict[str, Any]]:
    try:
        response = zk.http.get("/api/tools/servers")
    except httpx.TransportError as exc:
        raise unreachable(zk.http.base_url, exc) from None
    if not response.is_success:
        raise error_from_response(response)
    return list(response.json())


def render(zk: Any) -> None:
    found = session.call(servers, zk, default=None)
    if found is None:
        return
    with st.container(border=True):
        st.markdown(f"**{_t('title')}**")
        st.caption(_t("help"))
        if not found:
            st.info(_t("none"))
        for server in found:
            show_server(server)


def show_server(server: dict[str, Any]) -> None:
    status = server.get("status", "idle")
    st.markdown(f"{ICONS.get(status, '')} **{escape_markdown(server['name'])}** — {_t(status)} · "
                f"{server['transport']} `{escape_markdown(server['target'])}`")
    if server.get("error"):
        st.text(server["error"])
    tools = server.get("tools") or []
    if not tools:
        return
    with st.expander(_t("tools", n=len(tools))):
        for tool in tools:
            mark = _t("read_only") if tool.get("read_only") else _t("approval")
            if not tool.get("enabled", True):
                mark = _t("off")
            st.text(f"{tool['offered_as']} — {mark}\n{tool.get('description') or ''}")
