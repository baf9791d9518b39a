"""Routing (issue 19, item 3): a question asked of all the asker's KBs goes to those whose top hits
and profile (description, stored summary) fit it; the answer comes from their passages alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhiku import Zhiku
from zhiku.errors import InvalidInput
from zhiku.retrieval.routing import Router

DOCS = {
    "人事": ("公司人事制度", {"年假.md": "# 年假制度\n\n入职满一年的员工每年享有十五天带薪年假。年假可以分次休，但每次不少于半天。\n",
                            "病假.md": "# 病假\n\n员工因病休假需提供医院证明。病假工资按基本工资的百分之八十发放。\n"}),
    "菜谱": ("家常菜做法", {"红烧肉.md": "# 红烧肉\n\n五花肉切块焯水，加冰糖炒出糖色，再加酱油和八角小火炖一小时。\n",
                          "番茄炒蛋.md": "# 番茄炒蛋\n\n鸡蛋打散炒熟盛出，番茄炒出汁后倒回鸡蛋，加盐和少许糖。\n"}),
    "manuals": ("Product manuals in English", {
        "printer.md": "# Printer\n\nTo replace the toner cartridge, open the front cover and pull the cartridge out.\n",
        "router.md": "# Router\n\nHold the reset button for ten seconds to restore the factory settings.\n"}),
}


@pytest.fixture
def three(app: Zhiku, tmp_path: Path) -> Zhiku:
    for name, (description, files) in DOCS.items():
        app.create_kb(name, description=description)
        folder = tmp_path / name
        folder.mkdir()
        for fname, text in files.items():
            (folder / fname).write_text(text, encoding="utf-8")
        assert app.add_files(name, [folder]).ok
    return app


def test_questions_go_to_the_kb_that_holds_the_answer(three: Zhiku) -> None:
    router = Router(three.retriever)
    kbs = three.list_kbs()
    for question, kb in (("年假有几天？", "人事"), ("红烧肉怎么做？", "菜谱"), ("How do I reset the router?", "manuals")):
        route = router.route(kbs, question, 5)
        assert route.names[0] == kb, (question, route.scores)
        assert route.considered == 3 and len(route.names) <= router.max_kbs
        assert route.hits and route.hits[0].kb == kb
        assert {h.kb for h in route.hits} <= set(route.names), "the answer reads only the KBs chosen"
        assert set(route.scores) == {"人事", "菜谱", "manuals"}
        assert route.scores[kb] == max(route.scores.values())
    # a tight gate: only the best KB; a loose one keeps KBs close to it (never more than max_kbs)
    router.keep = 1.0
    assert router.route(kbs, "年假有几天？", 5).names == ["人事"]
    router.keep, router.max_kbs = 0.0, 2
    assert len(router.route(kbs, "年假有几天？", 5).names) == 2


def test_the_profile_decides_between_kbs_with_the_same_passages(app: Zhiku, tmp_path: Path) -> None:
    """Two KBs holding the same file: the one whose description (or stored summary) fits the
    question is chosen first; without profiles they tie and the profile-less router cannot tell."""
    folder = tmp_path / "same"
    folder.mkdir()
    (folder / "notes.md").write_text("# 笔记\n\n会议纪要：下周一讨论预算和年假安排。\n", encoding="utf-8")
    for name in ("甲", "乙"):
        app.create_kb(name)
        assert app.add_files(name, [folder]).ok
    profiles = {"甲": "烹饪和菜谱", "乙": "员工年假、请假和人事制度"}
    route = Router(app.retriever, lambda kb: profiles[kb.name]).route(app.list_kbs(), "年假安排", 5)
    assert route.names[0] == "乙" and route.scores["乙"] > route.scores["甲"]
    plain = Router(app.retriever, lambda kb: "").route(app.list_kbs(), "年假安排", 5)
    assert plain.scores["乙"] == plain.scores["甲"]


def test_many_kbs_are_probed_by_profile_and_words_first(three: Zhiku) -> None:
    router = Router(three.retriever)
    router.probe_max = 1  # only the KB whose words and profile fit best is searched at all
    route = router.route(three.list_kbs(), "番茄炒蛋要放糖吗？", 5)
    assert route.names == ["菜谱"] and set(route.scores) == {"菜谱"} and route.considered == 3


def test_no_kb_to_route_to_is_a_clear_error(app: Zhiku) -> None:
    with pytest.raises(InvalidInput, match="no knowledge base"):
        Router(app.retriever).route([], "年假有几天？", 5)
