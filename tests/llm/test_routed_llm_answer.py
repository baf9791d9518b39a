"""A routed question answered by a chat model (issue 19, item 3): the model reads only the chosen
KBs' passages, and the answer (stream and final text) names the KBs it was routed to."""

from __future__ import annotations

from pathlib import Path

from tests.llm.conftest import DOC, app_with_model
from zhiku.chat.pipeline import ALL_KBS, routed
from zhiku.schema import AnswerRequest, Delta, Final, Notice
from zhiku.testing.llm_servers import ChatServer


def test_the_models_answer_names_the_kbs_and_reads_only_theirs(home: Path, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "guide.md").write_text(DOC, encoding="utf-8")
    (docs / "recipes.md").write_text("# 红烧肉\n\n五花肉切块焯水，加冰糖炒出糖色，再加酱油和八角小火炖一小时。\n",
                                     encoding="utf-8")
    with ChatServer(reply="长城全长两万一千多千米[1]。", models=("ok",)) as server:
        app = app_with_model(home, server.base_url)
        try:
            app.create_kb("地理")
            assert app.add_files("地理", [docs / "guide.md"]).ok
            app.create_kb("菜谱")
            assert app.add_files("菜谱", [docs / "recipes.md"]).ok
            asked = routed(AnswerRequest(mode="kb", kbs=[ALL_KBS], question="长城有多长？"),
                           lambda: [kb.name for kb in app.list_kbs()])
            assert asked.route and set(asked.kbs) == {"地理", "菜谱"}
            events = list(app.answer_stream(asked))
        finally:
            app.close()
    notices = [e.text for e in events if isinstance(e, Notice)]
    assert notices and notices[0].startswith("已在以下知识库中查找：地理")
    final = next(e.answer for e in events if isinstance(e, Final))
    assert final.kbs == ["地理"] and final.mode == "llm"
    assert final.answer.startswith(notices[0] + "\n\n") and final.answer.endswith("长城全长两万一千多千米[1]。")
    assert "".join(e.text for e in events if isinstance(e, Delta)) == "长城全长两万一千多千米[1]。"
    prompt = "\n".join(m["content"] for m in server.requests[-1]["messages"])
    assert "长城位于中国北方" in prompt and "五花肉" not in prompt  # only the chosen KB's passages
    assert all(c.kb == "地理" for c in final.citations)
