"""Strings of the folders a knowledge base follows (the sources panel of the KB page), merged into
``zhiku.ui.i18n.STRINGS``."""

from __future__ import annotations

SOURCE_STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "sources_title": "同步的文件夹", "sources_none": "这个知识库还没有关注任何文件夹。",
        "sources_help": "知识库关注服务器上的文件夹：新增和修改的文件会被索引，删除的文件会从知识库移除，"
                        "未变化的文件只做校验。",
        "source_watching": "自动同步（服务器运行时监视变化）", "source_not_watching": "手动同步",
        "source_never": "尚未同步", "source_synced": "上次同步：{when}",
        "source_counts": "共 {total} 个文件：新增 {added} · 更新 {replaced} · 改名 {renamed} · 删除 {removed} · "
                         "跳过 {skipped} · 失败 {failed} · 未变化 {unchanged}",
        "source_syncing": "正在同步 {done}/{total}", "source_current": "正在处理：{name}",
        "source_error": "上次同步未能完成：{error}", "source_cancelled": "上次同步被中断，将在下次同步时继续。",
        "source_sync": "立即同步", "source_unfollow": "停止关注",
        "source_unfollow_confirm": "停止关注 {path}？已同步进来的文件会保留在知识库中。",
        "source_unfollow_yes": "确定停止关注", "source_unfollowed": "已停止关注 {path}",
        "source_sync_started": "已开始同步 {path}",
        "source_watch_on": "开启自动同步", "source_watch_off": "关闭自动同步",
        "source_files": "各文件结果", "col_outcome_detail": "说明",
        "sync_outcome_added": "新增", "sync_outcome_replaced": "已更新", "sync_outcome_renamed": "已改名",
        "sync_outcome_removed": "已移除", "sync_outcome_skipped": "已跳过", "sync_outcome_failed": "失败",
        "source_follow": "关注文件夹", "source_path": "服务器上的文件夹路径",
        "source_path_help": "服务器所在机器上的路径（仅管理员可添加）。文件在知识库中命名为“文件夹名/相对路径”。",
        "source_watch": "自动同步（服务器运行时监视变化）", "source_follow_btn": "关注并同步",
        "source_path_first": "请先填写文件夹路径。",
        "source_admin_only": "只有管理员可以让知识库关注服务器上的文件夹（命令行：`zhiku kb sync`）。",
    },
    "en": {
        "sources_title": "Folders kept in sync", "sources_none": "This knowledge base follows no folder yet.",
        "sources_help": "The knowledge base follows folders on the server: new and changed files are indexed, "
                        "deleted ones removed from it, unchanged ones only hashed.",
        "source_watching": "watched (kept in sync while the server runs)", "source_not_watching": "synced on request",
        "source_never": "not synced yet", "source_synced": "Last sync: {when}",
        "source_counts": "{total} files: {added} added · {replaced} changed · {renamed} renamed · {removed} removed · "
                         "{skipped} skipped · {failed} failed · {unchanged} unchanged",
        "source_syncing": "Syncing {done} of {total}", "source_current": "Now: {name}",
        "source_error": "The last sync could not run: {error}",
        "source_cancelled": "The last sync was interrupted; the next one goes on where it stopped.",
        "source_sync": "Sync now", "source_unfollow": "Stop following",
        "source_unfollow_confirm": "Stop following {path}? The files it brought stay in the knowledge base.",
        "source_unfollow_yes": "Yes, stop following", "source_unfollowed": "No longer following {path}",
        "source_sync_started": "Syncing {path}",
        "source_watch_on": "Watch it", "source_watch_off": "Stop watching",
        "source_files": "Outcome per file", "col_outcome_detail": "Detail",
        "sync_outcome_added": "added", "sync_outcome_replaced": "changed", "sync_outcome_renamed": "renamed",
        "sync_outcome_removed": "removed", "sync_outcome_skipped": "skipped", "sync_outcome_failed": "failed",
        "source_follow": "Follow a folder", "source_path": "Folder on the server",
        "source_path_help": "A path on the server's machine (admins only). Its files are named "
                            "'<folder name>/<path in the folder>' in the knowledge base.",
        "source_watch": "Watch it (kept in sync while the server runs)", "source_follow_btn": "Follow and sync",
        "source_path_first": "Name the folder first.",
        "source_admin_only": "Only an admin can have a knowledge base follow a folder of the server "
                             "(`zhiku kb sync` on its machine).",
    },
}
