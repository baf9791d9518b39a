"""The chat page's "all my knowledge bases" choice (issue 19, item 3): the conversation asks with
kbs ['*'] and the server routes each question to the KBs that fit it, naming them in the answer."""

from __future__ import annotations

from tests.api.conftest import LiveServer
from tests.ui.test_pages import app, texts
from zhiku.client import ZhikuClient


def test_all_my_kbs_routes_the_question(api: LiveServer, client: ZhikuClient, handbook: str) -> None:
    at = app()
    at.run()
    assert not at.exception
    picker = at.multiselect(key="kbs_pick")
    assert "*" in picker.options or any("全部知识库" in str(o) or "All my" in str(o) for o in picker.options)
    picker.set_value(["*"]).run()
    at.chat_input[0].set_value("年假有几天？").run()
    assert not at.exception, at.exception
    cid = at.query_params["c"][0] if isinstance(at.query_params["c"], list) else at.query_params["c"]
    conv = client.get_conversation(cid)
    assert conv.settings.kbs == ["*"]
    answer = conv.messages[1]
    assert answer.meta["kbs"] == [handbook] and "十五天" in answer.content
    assert "十五天" in texts(at)
