"""The pages' logic, run by Streamlit's AppTest against a real API server on 127.0.0.1."""

from __future__ import annotations

import json
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.api.conftest import LiveServer
from tests.ui.conftest import XSS, XSS_NAME
from zhiku.client import ZhikuClient
from zhiku.ui import context
from zhiku.ui.server import SCRIPT

TIMEOUT = 60


def app() -> AppTest:
    return AppTest.from_file(str(SCRIPT), default_timeout=TIMEOUT)


def page(name: str) -> AppTest:
    """One page on its own (the shell's navigation is exercised by the browser tests)."""
    def script() -> None:
        import sys

        from zhiku.ui.views import chat, kbs, settings

        {"chat": chat, "kbs": kbs, "settings": settings}[sys.argv[-1]].render()

    at = AppTest.from_function(script, default_timeout=TIMEOUT)
    import sys

    sys.argv.append(name)  # read when the script runs, in this process
    return at


def plain(markdown: str) -> str:
    """What escaped markdown shows."""
    return re.sub(r"\\(.)", r"\1", markdown)


def answers(at: AppTest) -> list[str]:
    """The HTML of each finished answer (shown by the citations component, which AppTest cannot run)."""
    return [json.loads(el.proto.json)["html"] for el in at.get("bidi_component")
            if el.proto.component_name == "zhiku_answer"]


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [e.value for e in at.error]
    parts += answers(at)
    parts += [i.value for i in at.info] + [s.value for s in at.success] + [w.value for w in at.warning]
    return "\n".join(str(p) for p in parts)


def test_chat_answers_from_the_kb_with_sources_and_keeps_the_conversation(
        api: LiveServer, client: ZhikuClient, handbook: str) -> None:
    at = app()
    at.run()
    assert not at.exception
    assert at.multiselect(key="kbs_pick").value == [handbook]
    at.chat_input[0].set_value("年假有几天？").run()
    assert not at.exception, at.exception
    cid = at.query_params["c"][0] if isinstance(at.query_params["c"], list) else at.query_params["c"]
    conv = client.get_conversation(cid)
    assert [m.role for m in conv.messages] == ["user", "assistant"]
    answer = conv.messages[1]
    assert "十五天" in answer.content and answer.citations
    shown = texts(at)
    html = answers(at)[-1]
    assert "十五天" in html  # the answer, with its marker [1] as a button that opens passage 1
    assert '<button type="button" class="zk-cite" data-n="1" title="年假.md"' in html
    assert "**年假\\.md**" in shown  # the source file name (escaped), in its popover
    # a new session with ?c= shows the same conversation (a page refresh)
    again = app()
    again.query_params["c"] = cid
    again.run()
    assert not again.exception
    assert "年假有几天？" in texts(again) and "十五天" in texts(again)
    assert any(b.label == "年假有几天？" for b in again.sidebar.button)  # listed, titled by its question


def test_chat_in_english_cites_the_english_document(api: LiveServer, handbook: str) -> None:
    at = app()
    at.run()
    at.chat_input[0].set_value("Within how many days are refunds paid after receiving the returned item?").run()
    assert not at.exception, at.exception
    assert "14 days" in texts(at) and "refunds\\.md" in texts(at)


def test_hostile_text_is_shown_escaped_never_as_html(api: LiveServer, client: ZhikuClient, handbook: str) -> None:
    at = app()
    at.run()
    at.chat_input[0].set_value("报销需要在多少天内提交？" + XSS).run()
    assert not at.exception, at.exception
    for element in list(at.markdown) + list(at.caption):
        if "onerror" in element.value or "script" in element.value:
            # document text, file names and questions are escaped: markdown shows them as written
            assert not re.search(r"(?<!\\)<", element.value), element.value  # every < escaped
    assert "\\<img src=x onerror=" in texts(at)
    html = "".join(answers(at))
    assert "window.__xss" in html and "<img" not in html and "<script" not in html
    assert "&lt;img src=x onerror=" in html  # the answer's markup (and the cited file's name) come out as text


def test_a_clicked_marker_opens_its_passage_with_the_source_file(api: LiveServer, client: ZhikuClient,
                                                                handbook: str) -> None:
    """What a click on ``[n]`` in an answer runs (``open_passage``; AppTest cannot click inside the
    component): a dialog with the file, its section, the passage as written and the file's download."""
    conv = client.create_conversation("kb", kbs=[handbook])
    answer = client.send_message(conv.id, "报销需要在多少天内提交？", mode="kb", kbs=[handbook])
    cited = next(c for c in answer.citations if c.file == XSS_NAME)

    def script(citation: dict) -> None:
        from types import SimpleNamespace

        from zhiku.ui.citations import open_passage

        open_passage(SimpleNamespace(**citation), "m1-d1")

    at = AppTest.from_function(script, args=(cited.model_dump(),), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    shown = "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)
    assert plain(shown).count(XSS_NAME) == 1 and "\\<img" in shown  # the hostile name, escaped
    assert "报销需要在三十天内提交" in shown and "\\<script\\>" in shown  # the passage as written
    assert "章节" in shown  # its section
    assert [b.label for b in at.get("download_button")] == ["下载原文件"]  # not a PDF: no page download


def test_kb_page_creates_a_kb_and_lists_files_with_status(api: LiveServer, client: ZhikuClient,
                                                          handbook: str) -> None:
    at = page("kbs")
    at.run()
    assert not at.exception, at.exception
    at.sidebar.text_input(key="new-kb-name").input("合同 Contracts")
    at.sidebar.text_area(key="new-kb-desc").input("合同范本")
    at.sidebar.button[0].click().run()
    assert not at.exception, at.exception
    assert "合同 Contracts" in [kb.name for kb in client.list_kbs()]
    at.selectbox(key="kb_pick").select(handbook).run()
    table = at.dataframe[0].value
    names = set(table.iloc[:, 0])
    assert names == {"年假.md", "refunds.md", XSS_NAME}
    assert all("已索引" in s for s in table.iloc[:, 1])  # status: indexed
    assert (table.iloc[:, 3] > 0).all()  # chunks


def test_kb_page_retrieval_test_and_chunk_editing(api: LiveServer, client: ZhikuClient, handbook: str) -> None:
    at = page("kbs")
    at.run()
    at.text_input(key=f"test-q-{handbook}").input("refunds paid within days")
    submit = next(b for b in at.button if b.label == "检索")
    submit.click().run()
    assert not at.exception, at.exception
    hits = at.dataframe[-1].value
    assert hits["文件名"].iloc[0] == "refunds.md"
    assert 0 < hits["综合分"].iloc[0] <= 1  # score in [0, 1]
    # what the fused score means, and each channel's own order beside it (issue 21, item 7)
    assert "综合分是向量与关键词两路的加权融合" in texts(at)
    for column, score in (("向量名次", "向量分"), ("关键词名次", "关键词分")):
        found = hits[hits[score].notna()]
        assert sorted(found[column]) == list(range(1, len(found) + 1))
        assert list(found.sort_values(column)[score]) == sorted(found[score], reverse=True)
    # edit the English file's chunk: the new text is stored and searchable
    refunds = next(f for f in client.list_files(handbook) if f.name == "refunds.md")
    at.selectbox(key=f"chunk-file-{handbook}").select(refunds).run()
    chunk = client.list_chunks(handbook, refunds.id)[0]
    at.text_area(key=f"chunk-{handbook}-{chunk.id}").input("Refunds are paid within 30 days.").run()
    at.button(key=f"chunk-save-{chunk.id}").click().run()
    assert not at.exception, at.exception
    assert client.get_chunk(handbook, chunk.id).text == "Refunds are paid within 30 days."


def test_settings_page_shows_the_server(api: LiveServer, handbook: str) -> None:
    at = page("settings")
    at.run()
    assert not at.exception, at.exception
    shown = texts(at)
    assert api.url in shown and "static" in shown


def test_an_unreachable_server_is_one_readable_error(api: LiveServer) -> None:
    context.configure("http://127.0.0.1:9")  # nothing listens on the discard port
    try:
        at = app()
        at.run()
    finally:
        context.configure(api.url)
    assert not at.exception
    assert any("无法连接知库服务器" in e.value and "127.0.0.1:9" in plain(e.value) for e in at.error)


def test_feedback_rename_export_and_delete_a_conversation(api: LiveServer, client: ZhikuClient,
                                                          handbook: str) -> None:
    at = app()
    at.run()
    at.chat_input[0].set_value("年假有几天？").run()
    cid = at.query_params["c"]
    cid = cid[0] if isinstance(cid, list) else cid
    answer = client.get_conversation(cid).messages[1]
    # thumbs down with a reason
    at.feedback(key=f"fb-{answer.id}").set_value(0).run()
    at.text_input(key=f"fbr-{answer.id}").input("没有说明能否跨年")
    next(b for b in at.button if b.label == "提交反馈").click().run()
    assert not at.exception, at.exception
    stored = client.get_conversation(cid).messages[1].feedback
    assert stored is not None and stored.rating == "down" and stored.reason == "没有说明能否跨年"
    # rename
    at.text_input(key="conv-title").input("年假问题")
    next(b for b in at.button if b.label == "保存").click().run()
    assert client.get_conversation(cid).title == "年假问题"
    assert any(b.label == "年假问题" for b in at.sidebar.button)
    # export (what the download button serves) and delete
    assert "年假有几天？" in client.export_conversation(cid)
    at.button(key="conv-del").click().run()
    assert not at.exception, at.exception
    assert cid not in [c.id for c in client.list_conversations()]
    assert "c" not in at.query_params


def test_deleting_a_kb_needs_its_name_typed(api: LiveServer, client: ZhikuClient, handbook: str) -> None:
    at = page("kbs")
    at.run()
    button = at.button(key=f"del-kb-btn-{handbook}")
    assert button.disabled
    at.text_input(key=f"del-kb-{handbook}").input("wrong").run()
    assert at.button(key=f"del-kb-btn-{handbook}").disabled
    at.text_input(key=f"del-kb-{handbook}").input(handbook).run()
    at.button(key=f"del-kb-btn-{handbook}").click().run()
    assert not at.exception, at.exception
    assert client.list_kbs() == []


def test_after_deleting_a_kb_the_page_shows_another_with_its_delete_panel_closed(
        api: LiveServer, client: ZhikuClient, handbook: str) -> None:
    client.create_kb("其他")
    at = page("kbs")
    at.query_params["kb"] = handbook
    at.run()
    at.text_input(key=f"del-kb-{handbook}").input(handbook).run()
    at.button(key=f"del-kb-btn-{handbook}").click().run()
    assert not at.exception, at.exception
    assert [kb.name for kb in client.list_kbs()] == ["其他"]
    assert at.selectbox(key="kb_pick").value == "其他" and at.query_params["kb"] in ("其他", ["其他"])
    panel = next(e for e in at.expander if e.label == "删除知识库")
    assert not panel.proto.expanded  # it was open on the next KB (issue 21, item 7)
    assert at.text_input(key="del-kb-其他").value == ""


def test_a_failed_file_shows_its_reason(api: LiveServer, client: ZhikuClient, handbook: str) -> None:
    job = client.upload(handbook, [("broken.pdf", b"%PDF-1.4 this is not a pdf")])
    client.wait_for_job(job.id, timeout=60)
    at = page("kbs")
    at.run()
    table = at.dataframe[0].value
    row = table[table.iloc[:, 0] == "broken.pdf"].iloc[0]
    assert "失败" in row.iloc[1] and row.iloc[6]  # status failed, with the reason
    # the reason in the page's language (the server's is English), the caption counting the failed file
    assert row.iloc[6] == "文件已损坏或格式不正确，无法读取", row.iloc[6]
    assert "4 个文件 (1 个失败)" in plain(texts(at))
    at.query_params["lang"] = "English"
    at.run()
    table = at.dataframe[0].value
    assert "PDF" in table[table.iloc[:, 0] == "broken.pdf"].iloc[0].iloc[6]  # English: the server's words
    assert "4 files (1 failed)" in plain(texts(at))


def test_an_unreachable_model_is_a_readable_error(tmp_path: Path) -> None:
    from tests.api.conftest import LiveServer as _LiveServer
    from zhiku import Zhiku, load_settings

    closed = "http://127.0.0.1:9/v1"  # nothing listens there
    overrides = {"embedding": {"default": "static"},
                 "llm": {"default": "far", "detect_local": False,
                         "models": {"far": {"base_url": closed, "model": "qwen"}}}}
    zk = Zhiku(load_settings(home=tmp_path / "llm-home", overrides=overrides, environ={}))
    server = _LiveServer(zk)
    context.configure(server.url)
    try:
        at = app()
        at.run()
        at.sidebar.radio(key="mode@zh").set_value("llm").run()
        at.chat_input[0].set_value("你好").run()
        assert not at.exception, at.exception
        errors = plain(" ".join(e.value for e in at.error))
        # one line that says what is wrong and where: 模型不可用：cannot reach model 'far' at http://127.0.0.1:9/v1 ...
        assert "模型不可用" in errors and "far" in errors and closed in errors, errors
        assert "far" in at.sidebar.selectbox(key="model@zh").options  # the picker offers the configured model
        settings = page("settings")
        settings.run()
        assert not settings.exception, settings.exception
        shown = texts(settings)
        assert "far" in shown and "❌ 不可连接" in shown, shown  # the settings page checked it
    finally:
        server.stop()
        zk.close()


def test_a_passage_offers_what_its_source_allows() -> None:
    """A PDF passage with a page offers that page on its own beside the whole file; a web page found by
    search mode offers a link to the page (there is no file to download)."""
    def script(citation: dict) -> None:
        from types import SimpleNamespace

        from zhiku.ui.citations import open_passage

        open_passage(SimpleNamespace(**citation), "m3-d2")

    base = {"n": 2, "kb": "kb", "file_id": "f1", "section": None, "score": 0.5, "text": "Refunds take 14 days."}
    pdf = AppTest.from_function(script, args=({**base, "file": "report.pdf", "page": 3, "url": None},))
    pdf.run()
    assert not pdf.exception, pdf.exception
    assert [b.label for b in pdf.get("download_button")] == ["下载原文件", "下载第 3 页（PDF）"]
    assert "第 3 页" in texts(pdf)
    spans = AppTest.from_function(script, args=({**base, "file": "report.pdf", "page": 3, "url": None,
                                                 "page_end": 4},))
    spans.run()
    assert not spans.exception, spans.exception
    assert "第 3–4 页" in texts(spans)  # a passage running onto the next page says so
    web = AppTest.from_function(script, args=({**base, "kb": "web", "file": "Refunds | Shop", "page": None,
                                               "url": "https://shop.example/refunds"},))
    web.run()
    assert not web.exception, web.exception
    assert len(web.get("download_button")) == 0
    links = web.get("link_button")
    assert len(links) == 1 and links[0].proto.url == "https://shop.example/refunds"
