"""What routing knows of a KB beyond its hits: its description and its stored KB summary
(zhiku.chat.routing.kb_profile); routing never makes a summary itself."""

from __future__ import annotations

from pathlib import Path

from zhiku import Zhiku
from zhiku.chat.routing import SUMMARY_CHARS, kb_profile
from zhiku.chat.summaries_store import SummaryStore
from zhiku.retrieval.routing import Router


def test_the_profile_is_the_description_then_the_stored_summary(app: Zhiku, tmp_path: Path) -> None:
    kb = app.create_kb("人事", description="公司人事制度")
    profile = kb_profile(app.engine)
    assert profile(kb) == "公司人事制度"  # no summary made: none is made for routing
    assert SummaryStore(app.engine).get(kb.id, None) is None
    summary = "本知识库收录年假、病假和加班制度。" * 200
    SummaryStore(app.engine).put(kb.id, None, "extractive", None, summary, "src", None)
    text = profile(kb)
    assert text.startswith("公司人事制度\n本知识库收录年假") and len(text) <= len("公司人事制度\n") + SUMMARY_CHARS


def test_a_stored_summary_steers_routing_between_kbs_with_the_same_passages(app: Zhiku, tmp_path: Path) -> None:
    folder = tmp_path / "same"
    folder.mkdir()
    (folder / "notes.md").write_text("# 笔记\n\n会议纪要：下周一讨论预算和年假安排。\n", encoding="utf-8")
    for name in ("甲", "乙"):
        app.create_kb(name)
        assert app.add_files(name, [folder]).ok
    store = SummaryStore(app.engine)
    store.put(app.kb("甲").id, None, "extractive", None, "菜谱与烹饪技巧：红烧肉、番茄炒蛋。", "s", None)
    store.put(app.kb("乙").id, None, "extractive", None, "员工年假、病假、请假流程和人事制度。", "s", None)
    route = Router(app.retriever, kb_profile(app.engine)).route(app.list_kbs(), "年假安排", 5)
    assert route.names[0] == "乙" and route.scores["乙"] > route.scores["甲"]
