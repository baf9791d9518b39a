"""Several KBs searched at once: each KB is fused on its own, so a small KB's answer is not drowned
by a large KB whose BM25 scores run on another scale (issue 17, item 1); then every passage is also
judged by its own relevance, weighed alike in every KB (``fusion.merge_kbs``)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from zhiku import Zhiku
from zhiku.demo import write_demo_documents

TOPICS = ["差旅报销须附发票原件并在三十日内提交", "会议室预订请在系统中提前一天完成", "办公用品由行政部每月统一采购",
          "新员工入职培训为期三天", "信息安全规定禁止外传客户资料", "绩效考核每季度进行一次", "加班须经主管书面批准",
          "出差住宿标准按城市等级执行", "年假申请须提前三个工作日在系统中提交并经主管批准"]


def _big_handbook(folder: Path, chunks: int) -> None:
    """A long handbook: ~``chunks`` chunks of policy text, a few of them about 年假 (annual leave)."""
    rng = random.Random(3)
    folder.mkdir(parents=True)
    for f in range(chunks // 100):
        paras = []
        for i in range(100):
            topic = TOPICS[-1] if (f * 100 + i) % 150 == 7 else rng.choice(TOPICS[:-1])
            paras.append(f"第{f}-{i}条 " + "，".join([topic] + rng.sample(TOPICS[:-1], 3)) + "。" * 1)
        (folder / f"手册-{f:02d}.md").write_text("\n\n".join(p * 4 for p in paras), encoding="utf-8")


@pytest.fixture
def two_kbs(app: Zhiku, tmp_path: Path) -> Zhiku:
    app.create_kb("demo")
    write_demo_documents(tmp_path / "demo")
    assert app.add_files("demo", [tmp_path / "demo"]).ok
    app.create_kb("手册")
    _big_handbook(tmp_path / "big", 2000)
    assert app.add_files("手册", [tmp_path / "big"]).ok
    assert len(app.indexes.get(app.kb("手册")).vectors) >= 1500
    return app


def test_a_small_kbs_answer_is_found_beside_a_large_kb(two_kbs: Zhiku) -> None:
    for mode in ("hybrid", "lexical"):
        _small_kb_found(two_kbs, mode)
    _earlier_single_fusion_lost_it(two_kbs)


def _small_kb_found(two_kbs: Zhiku, mode: str) -> None:
    alone = two_kbs.search(["demo"], "年假", top_k=5, mode=mode)
    assert alone[0].file == "demo/员工手册.md" and "十五天" in alone[0].text
    both = two_kbs.search(["手册", "demo"], "年假", top_k=5, mode=mode)
    assert any(h.kb == "demo" and "十五天" in h.text for h in both), [(h.kb, h.score) for h in both]
    demo_hit = next(h for h in both if h.kb == "demo")
    assert demo_hit.chunk_id == alone[0].chunk_id and demo_hit.score > 0
    assert all(0.0 <= h.score <= 1.0 for h in both)
    assert [h.score for h in both] == sorted((h.score for h in both), reverse=True)


def _earlier_single_fusion_lost_it(two_kbs: Zhiku) -> None:
    """What the per-KB fusion fixes: one fusion over both KBs' candidates put five hits of the large
    KB first (its BM25 scores are several times the small KB's)."""
    two_kbs.retriever.merge = "raw"
    try:
        both = two_kbs.search(["手册", "demo"], "年假", top_k=5, mode="lexical")
    finally:
        two_kbs.retriever.merge = "per_kb"
    assert all(h.kb == "手册" for h in both)
