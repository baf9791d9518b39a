"""Strings of the summaries shown on the knowledge-base page and in its file table, merged into
``zhiku.ui.i18n.STRINGS``."""

from __future__ import annotations

SUMMARY_STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "summary_kb": "知识库摘要", "summary_file": "文件摘要：{name}",
        "summary_show": "查看摘要", "summary_again": "重新生成摘要",
        "summary_extractive": "抽取式摘要：原文中最核心的句子（未使用大模型）",
        "summary_by": "由大模型 {model} 生成", "summary_when": "{label} · {when}",
        "summary_help": "首次查看时生成并保存；文件变化后再次查看会自动重新生成。",
        "col_summary": "摘要", "summary_cell_extractive": "（抽取）{text}", "summary_cell_stale": "（已过期）{text}",
        "summary_cell_help": "表格中只显示开头；选中一行即可查看该文件的完整摘要",
    },
    "en": {
        "summary_kb": "Summary of the knowledge base", "summary_file": "Summary of {name}",
        "summary_show": "Show the summary", "summary_again": "Make it again",
        "summary_extractive": "Extractive summary: the most central sentences, quoted (no language model)",
        "summary_by": "Written by the chat model {model}", "summary_when": "{label} · {when}",
        "summary_help": "Made and kept the first time it is shown; made again when its files have changed.",
        "col_summary": "Summary", "summary_cell_extractive": "(extractive) {text}",
        "summary_cell_stale": "(outdated) {text}",
        "summary_cell_help": "The table shows its beginning: pick the row to read the file's whole summary",
    },
}
