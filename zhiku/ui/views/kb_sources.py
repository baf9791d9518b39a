"""The folders a knowledge base follows, on its page (``/api/kbs/{kb}/sources``): each folder's state
(watched or not, its last sync's time and counts, why it could not run), a "sync now" button, "stop
following" (confirmed first), and for admins a form to follow a folder of the server. While a sync
runs the panel follows it (a fragment polling the source once a second, the page redrawn once it
ends so the file table shows what it brought); then each changed, skipped or failed file is listed
with its outcome, a failed one with its reason in the page's language."""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from zhiku.ui import session
from zhiku.ui.i18n import lang, t
from zhiku.ui.messages import code_text, file_reason
from zhiku.ui.render import escape_markdown
from zhiku.ui.views.settings_models import is_admin

POLL_S = 1.0
OUTCOME_ICON = {"added": "✅", "replaced": "🔄", "renamed": "↪️", "removed": "🗑️", "skipped": "⏭️", "failed": "❌"}
# a synced file's detail, in Chinese (the English words are the server's)
DETAILS_ZH = [
    (re.compile(r"^(?:renamed )?from (?P<name>.+)$"), "原名 {name}"),
    (re.compile(r"^(?P<n>\d+) chunks?"), "{n} 个分块"),
    (re.compile(r"same content as (?P<name>.+)$"), "与 {name} 内容相同"),
]


def panel(zk: Any, kb: str) -> None:
    with st.expander(t("sources_title"), icon=":material/folder_special:", key=f"sources-panel-{kb}"):
        st.caption(t("sources_help"))
        sources = session.call(zk.list_sources, kb, default=None)
        if sources is None:
            return
        if not sources:
            st.caption(t("sources_none"))
        admin = is_admin(zk)
        for source in sources:
            with st.container(border=True, key=f"source-{source.id}"):
                if source.status == "syncing":
                    _following(zk, kb, source.id, admin)
                else:
                    show(zk, kb, source, admin)
        if admin:
            follow_form(zk, kb)
        else:
            st.caption(t("source_admin_only"))


def _following(zk: Any, kb: str, source_id: str, admin: bool) -> None:
    """A source being synced: drawn by a fragment Streamlit runs again every ``POLL_S`` seconds
    (no sleeping script), until its sync ends; then the whole page is drawn again, its file table
    and counts changed by the sync, and the source no longer polled."""
    st.fragment(_look, run_every=POLL_S)(zk, kb, source_id, admin)


def _look(zk: Any, kb: str, source_id: str, admin: bool) -> None:
    source = session.call(zk.get_source, kb, source_id, default=None)
    if source is None:
        return
    if source.status != "syncing":
        st.rerun()
    show(zk, kb, source, admin)


def show(zk: Any, kb: str, source: Any, admin: bool) -> None:
    r = source.report
    watched = t("source_watching") if source.watch else t("source_not_watching")
    st.markdown(f"**{escape_markdown(source.path)}**  \n:material/folder: `{escape_markdown(source.prefix)}/` · "
                + escape_markdown(watched))
    if source.status == "syncing":
        total = max(r.files_total, 1)
        st.progress(min(r.files_done / total, 1.0), text=t("source_syncing", done=r.files_done, total=r.files_total))
        if r.current:
            st.caption(escape_markdown(t("source_current", name=r.current)))
    else:
        when = (t("source_synced", when=source.synced_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"))
                if source.synced_at else t("source_never"))
        counts = t("source_counts", total=r.files_total, added=r.added, replaced=r.replaced, renamed=r.renamed,
                   removed=r.removed, skipped=r.skipped, failed=r.failed, unchanged=r.unchanged)
        st.caption(escape_markdown(when + (" · " + counts if source.synced_at else "")))
        if source.error:
            st.error(escape_markdown(t("source_error", error=code_text(None, source.error))), icon="⚠️")
        elif r.cancelled:
            st.warning(t("source_cancelled"))
    if r.files:
        outcomes(r.files, source.id)
    if source.status != "syncing":
        actions(zk, kb, source, admin)


def detail_text(outcome: str, detail: str) -> str:
    """A synced file's detail in the page's language: a failed file's reason translated as uploads'
    are, the others' known sentences (no English sentence on a Chinese page)."""
    if outcome == "failed":
        return file_reason(detail)
    if outcome == "removed" or lang() != "zh":
        return "" if outcome == "removed" else detail
    for pattern, zh in DETAILS_ZH:
        if found := pattern.search(detail):
            return zh.format(**found.groupdict())
    return ""


def outcomes(files: list[Any], source_id: str) -> None:
    """Each file the sync changed, skipped or could not read; the failed ones first."""
    ordered = sorted(files, key=lambda f: f.outcome != "failed")
    rows = [{t("col_name"): f.name,
             t("col_outcome"): f"{OUTCOME_ICON.get(f.outcome, '')} {t('sync_outcome_' + f.outcome)}",
             t("col_outcome_detail"): detail_text(f.outcome, f.detail)} for f in ordered]
    st.caption(t("source_files"))
    st.dataframe(rows, hide_index=True, width="stretch", key=f"source-files-{source_id}")


def actions(zk: Any, kb: str, source: Any, admin: bool) -> None:
    confirm_key = f"source-unfollow-ask-{source.id}"
    cols = st.columns(3)
    if cols[0].button(t("source_sync"), key=f"source-sync-{source.id}", icon=":material/sync:"):
        if session.call(zk.sync_source, kb, source.id) is not None:
            st.toast(escape_markdown(t("source_sync_started", path=source.path)), icon=":material/sync:")
            st.rerun()
    if cols[1].button(t("source_unfollow"), key=f"source-unfollow-{source.id}", icon=":material/link_off:"):
        st.session_state[confirm_key] = True
    if admin:
        label = t("source_watch_off") if source.watch else t("source_watch_on")
        if cols[2].button(label, key=f"source-watch-{source.id}", icon=":material/visibility:"):
            if session.call(zk.follow_folder, kb, source.path, not source.watch) is not None:
                st.rerun()
    if st.session_state.get(confirm_key):
        st.warning(escape_markdown(t("source_unfollow_confirm", path=source.path)))
        yes, no = st.columns(2)
        if yes.button(t("source_unfollow_yes"), key=f"source-unfollow-yes-{source.id}", type="primary"):
            st.session_state.pop(confirm_key, None)
            if session.call(zk.unfollow, kb, source.id, default=False) is not False:
                st.toast(escape_markdown(t("source_unfollowed", path=source.path)))
                st.rerun()
        if no.button(t("cancel"), key=f"source-unfollow-no-{source.id}"):
            st.session_state.pop(confirm_key, None)
            st.rerun()


def follow_form(zk: Any, kb: str) -> None:
    """Admins: follow a folder of the server (the API refuses a path that is no folder, with why)."""
    with st.form(f"source-follow-{kb}", clear_on_submit=False):
        st.markdown(f"**{t('source_follow')}**")
        path = st.text_input(t("source_path"), help=t("source_path_help"), max_chars=4096,
                             key=f"source-path-{kb}")
        watch = st.checkbox(t("source_watch"), key=f"source-watch-new-{kb}")
        if st.form_submit_button(t("source_follow_btn"), type="primary", icon=":material/create_new_folder:",
                                 key=f"source-follow-btn-{kb}"):
            if not path.strip():
                st.warning(t("source_path_first"))
            elif session.call(zk.follow_folder, kb, path.strip(), watch) is not None:
                st.rerun()
