"""Routing through every face (issue 19, item 3): ``kbs: ["*"]`` (all the caller may read) on
/api/ask, /api/chat and conversations, and `zhiku ask QUESTION` with no KB. The question goes to
the KBs that fit it, only ever among those the caller may read, and the answer names them."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from tests.api.conftest import EN, SICK, ZH, assert_error
from tests.api.test_auth import PASSWORD, Server
from zhiku import Zhiku


@pytest.fixture
def srv(zk: Zhiku) -> Iterator[Server]:
    """alice reads her HR KB and her refunds KB; bob only his own, which holds another 年假 policy."""
    zk.auth.create_user("alice", PASSWORD)
    zk.auth.create_user("bob", PASSWORD)
    zk.auth.create_user("carol", PASSWORD)
    s = Server(zk)
    alice, bob = s.client(s.key("alice")), s.client(s.key("bob"))
    for who, kb, files in ((alice, "人事", [("年假.md", ZH), ("病假.md", SICK)]), (alice, "refunds", [("refunds.md", EN)]),
                           (bob, "bob-hr", [("假期.md", "# 假期\n\n本部门员工每年享有二十天带薪年假。\n")])):
        who.create_kb(kb)
        job = who.wait_for_job(who.upload(kb, [(n, t.encode()) for n, t in files]).id, timeout=60)
        assert job.status == "done" and job.files_failed == 0, job
    yield s
    s.close()


def _first_line(text: str) -> str:
    return text.split("\n", 1)[0]


def test_ask_all_my_kbs_routes_and_names_them(srv: Server) -> None:
    alice = srv.client(srv.key("alice"))
    answer = alice.ask("*", "年假有几天？")
    assert answer.kbs and answer.kbs[0] == "人事" and "bob-hr" not in answer.kbs
    assert "十五天" in answer.answer and answer.citations[0].kb == "人事"
    assert _first_line(answer.answer).startswith("已在以下知识库中查找：人事")
    assert "2 个知识库" in _first_line(answer.answer)  # chosen among the two she may read
    english = alice.ask(["*"], "How soon are refunds paid?")
    assert english.kbs and english.kbs[0] == "refunds" and english.answer.startswith("Searched: refunds")

    bob = srv.client(srv.key("bob"))  # the same question: only his KB, never alice's
    theirs = bob.ask("*", "年假有几天？")
    assert theirs.kbs == ["bob-hr"] and "二十天" in theirs.answer
    assert all(c.kb == "bob-hr" for c in theirs.citations)

    named = alice.ask("人事", "年假有几天？")  # naming KBs is unchanged: no routing, no line
    assert named.kbs is None and not named.answer.startswith("已在")


def test_streamed_ask_says_the_kbs_first(srv: Server) -> None:
    events = list(srv.client(srv.key("alice")).ask_stream("*", "年假有几天？"))
    text = "".join(e.text or "" for e in events if e.type == "delta")
    assert text.startswith("已在以下知识库中查找：人事") and "十五天" in text
    done = [e.answer for e in events if e.type == "done"]
    assert done and done[0] is not None and done[0].kbs and done[0].kbs[0] == "人事"
    assert done[0].answer == text.strip()


def test_chat_and_conversations_route_all_my_kbs(srv: Server) -> None:
    alice = srv.client(srv.key("alice"))
    msg = alice.chat("kb", "病假工资怎么算？", kbs=["*"])
    assert msg.status == "complete" and msg.meta["kbs"][0] == "人事" and "百分之八十" in msg.content
    conv = alice.create_conversation("kb", kbs=["*"])
    assert conv.settings.kbs == ["*"]
    reply = alice.send_message(conv.id, "How soon are refunds paid?")
    assert reply.meta["kbs"][0] == "refunds" and reply.content.startswith("Searched: refunds")
    again = alice.send_message(conv.id, "年假有几天？")  # each question routed on its own
    assert again.meta["kbs"][0] == "人事"


def test_nothing_to_read_and_unknown_kbs_are_clear_errors(srv: Server) -> None:
    carol = srv.raw(srv.key("carol"))
    r = carol.post("/api/ask", json={"kbs": ["*"], "question": "年假有几天？"})
    err = assert_error(r, 400)
    assert "no knowledge base you can read" in err["message"]
    # '*' beside a KB the caller cannot read: that KB is still refused as unknown
    bob = srv.raw(srv.key("bob"))
    assert_error(bob.post("/api/ask", json={"kbs": ["*", "人事"], "question": "年假有几天？"}), 404)


def test_cli_ask_without_a_kb_routes(cli: Any) -> None:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        for kb, name, text in (("人事", "年假.md", ZH), ("refunds", "refunds.md", EN)):
            assert cli("kb", "create", kb).code == 0
            (Path(tmp) / name).write_text(text, encoding="utf-8")
            assert cli("kb", "add", kb, str(Path(tmp) / name)).code == 0
    r = cli("ask", "年假有几天？")
    assert r.code == 0, r.err
    assert "已在以下知识库中查找：人事" in r.out and "十五天" in r.out
    r = cli("ask", "*", "How soon are refunds paid?", "--json")
    assert r.code == 0 and '"kbs": [' in r.out and "refunds" in r.out


def test_cli_ask_without_a_kb_on_a_server_routes_there(live: Any, zk: Zhiku, tmp_path: Any,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """With --server the CLI sends kbs ['*'] and the server routes over the caller's KBs."""
    from zhiku.cli import main

    for kb, name, text in (("人事", "年假.md", ZH), ("refunds", "refunds.md", EN)):
        zk.create_kb(kb)
        (tmp_path / name).write_text(text, encoding="utf-8")
        assert zk.add_files(kb, [tmp_path / name]).ok
    code = main(["--home", str(tmp_path / "cli-home"), "--server", live.url, "ask", "年假有几天？", "--json"])
    out = capsys.readouterr().out
    assert code == 0 and '"kbs": [\n    "人事"' in out and "十五天" in out
