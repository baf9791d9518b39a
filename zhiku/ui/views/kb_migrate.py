"""The knowledge-base page's migration panel (in its upkeep tab): where the KB's indexes live and with
which embedder, a form to move it to another backend and/or embedder (``POST /api/kbs/{kb}/migrate``)
and the progress of a migration under way (``GET``), which the page follows until it ends."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import streamlit as st

from zhiku.ui import session
from zhiku.ui.i18n import t

TARGETS = ["embedded", "postgres", "milvus"]
STRINGS: dict[str, dict[str, str]] = {
    "zh": {"migrate_title": "迁移：索引后端与嵌入模型", "migrate_now": "当前：{backend} · 嵌入模型 {embedder}",
           "migrate_to": "目标后端", "migrate_embedder": "新的嵌入模型（留空则不变）", "migrate_start": "开始迁移",
           "migrate_progress": "{status}：{done}/{total} 个分块", "migrate_error": "迁移已停止：{error}",
           "migrate_done": "迁移完成：现在位于 {backend}，嵌入模型 {embedder}",
           "migrate_help": "新副本在后台构建，期间检索仍使用旧副本；完成后瞬间切换并删除旧副本。中断后再次开始会从中断处继续。"},
    "en": {"migrate_title": "Migrate: index backend and embedder", "migrate_now": "Now: {backend} · embedder {embedder}",
           "migrate_to": "Target backend", "migrate_embedder": "New embedder (empty: keep it)",
           "migrate_start": "Start the migration", "migrate_progress": "{status}: {done}/{total} chunks",
           "migrate_error": "The migration stopped: {error}",
           "migrate_done": "Migrated: now on {backend} with embedder {embedder}",
           "migrate_help": "The new copy is built in the background while searches use the old one; then it "
                           "switches at once and the old copy is deleted. Started again after an interruption, "
                           "it goes on where it stopped."},
}


def _call(zk: Any, method: str, kb: str, body: Any = None) -> Any:
    from zhiku.client.routes import Call

    return zk._do(Call(method, f"/api/kbs/{quote(kb, safe='')}/migrate", lambda x: x, json=body))


def panel(zk: Any, kb: Any) -> None:
    with st.expander(t("migrate_title"), icon=":material/move_up:", key=f"migrate-panel-{kb.name}"):
        progress = session.call(_call, zk, "GET", kb.name, default=None)
        backend = (progress or {}).get("backend") or kb.index_backend or "default"
        st.caption(t("migrate_now", backend=backend, embedder=(progress or {}).get("current_embedder") or kb.embedder))
        if progress is not None and progress.get("running"):
            total = max(int(progress["total"]), 1)
            st.progress(min(int(progress["done"]) / total, 1.0), text=t(
                "migrate_progress", status=progress["status"], done=progress["done"], total=progress["total"]))
            if st.button("↻", key=f"migrate-refresh-{kb.name}", help=t("refresh")):
                st.rerun()
        elif progress is not None and progress.get("error"):
            st.error(t("migrate_error", error=progress["error"]))
        elif progress is not None and progress.get("status") == "done":
            st.success(t("migrate_done", backend=progress["backend"], embedder=progress["current_embedder"]))
        with st.form(f"migrate-{kb.name}"):
            to = st.selectbox(t("migrate_to"), TARGETS, index=None, key=f"migrate-to-{kb.name}")
            embedder = st.text_input(t("migrate_embedder"), max_chars=200, key=f"migrate-embedder-{kb.name}")
            if st.form_submit_button(t("migrate_start"), help=t("migrate_help"), key=f"migrate-start-{kb.name}"):
                if session.call(_call, zk, "POST", kb.name, {"to": to, "embedder": embedder or None}) is not None:
                    st.rerun()


def _register() -> None:
    from zhiku.ui.i18n import STRINGS as ALL

    for code, strings in STRINGS.items():
        ALL.setdefault(code, {}).update(strings)


_register()
