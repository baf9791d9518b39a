"""The KB page's folders kept in sync (issue 19 item 1): follow a folder of the server, see each file's
outcome (a failed one with its reason, in Chinese on the Chinese page), sync again after a change,
stop following; run by Streamlit's AppTest against a real API server on 127.0.0.1, and once in a
real browser against ``zhiku start``."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from streamlit.testing.v1 import AppTest

from tests.api.conftest import OVERRIDES, LiveServer
from tests.ui.browser import ZHIKU, Watched, ZhikuServer
from tests.ui.test_pages import page, plain, texts
from zhiku import Zhiku, load_settings
from zhiku.client import AsyncZhikuClient, ZhikuClient
from zhiku.errors import ZhikuError
from zhiku.schema.sources import SyncReport

KB = "同步"


def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "handbook"
    (docs / "hr").mkdir(parents=True)
    (docs / "hr" / "leave.md").write_text("# 年假\n\n入职满一年的员工每年享有十五天带薪年假。\n", encoding="utf-8")
    (docs / "refunds.md").write_text("# Refunds\n\nRefunds are paid within 14 days.\n", encoding="utf-8")
    (docs / "empty.md").write_text("", encoding="utf-8")  # fails: the file is empty
    return docs


def opened(client: ZhikuClient) -> AppTest:
    client.create_kb(KB, "跟随文件夹")
    at = page("kbs")
    at.query_params["kb"] = KB
    at.run()
    assert not at.exception, at.exception
    return at


def outcome_rows(at: AppTest) -> dict[str, tuple[str, str]]:
    """The per-file outcome table of the (only) followed folder: name -> (outcome, detail)."""
    frames = [d.value for d in at.dataframe if "说明" in d.value.columns]
    assert len(frames) == 1, [list(d.value.columns) for d in at.dataframe]
    df = frames[0]
    return {n: (o, d) for n, o, d in zip(df["文件名"], df["结果"], df["说明"])}


def test_follow_a_folder_sync_after_a_change_and_stop_following(
        api: LiveServer, client: ZhikuClient, tmp_path: Path) -> None:
    docs = folder(tmp_path)
    at = opened(client)
    assert "这个知识库还没有关注任何文件夹" in texts(at)
    # a path that is no folder: the API refuses it, the page says why in Chinese
    at.text_input(key=f"source-path-{KB}").input(str(tmp_path / "nowhere"))
    at.button(key=f"source-follow-btn-{KB}").click().run()
    assert not at.exception, at.exception
    assert f"服务器上没有文件夹 {tmp_path / 'nowhere'}" in plain(texts(at))
    assert client.list_sources(KB) == []
    # the real folder: followed and synced
    at.text_input(key=f"source-path-{KB}").input(str(docs))
    at.button(key=f"source-follow-btn-{KB}").click().run()
    assert not at.exception, at.exception
    [source] = client.list_sources(KB)
    assert client.wait_for_source(KB, source.id, timeout=120).report.added == 2
    at.run()
    assert not at.exception, at.exception
    shown = plain(texts(at))
    assert str(docs) in shown and "手动同步" in shown and "上次同步：" in shown
    assert "共 3 个文件：新增 2 · 更新 0 · 改名 0 · 删除 0 · 跳过 0 · 失败 1 · 未变化 0" in shown
    rows = outcome_rows(at)
    assert rows["handbook/empty.md"] == ("❌ 失败", "文件是空的")  # the reason, translated
    assert rows["handbook/hr/leave.md"][0] == "✅ 新增" and rows["handbook/hr/leave.md"][1].endswith("个分块")
    assert list(rows)[0] == "handbook/empty.md"  # failed files first
    names = {f.name: f.status for f in client.list_files(KB)}
    assert names["handbook/hr/leave.md"] == "indexed" and names["handbook/refunds.md"] == "indexed"
    # a change in the folder, then "sync now"
    (docs / "refunds.md").write_text("# Refunds\n\nRefunds are paid within 30 days.\n", encoding="utf-8")
    (docs / "hr" / "leave.md").rename(docs / "hr" / "annual-leave.md")
    at.button(key=f"source-sync-{source.id}").click().run()
    assert not at.exception, at.exception
    report = client.wait_for_source(KB, source.id, timeout=120).report
    assert (report.replaced, report.renamed, report.added) == (1, 1, 0)
    at.run()
    rows = outcome_rows(at)
    assert rows["handbook/refunds.md"][0] == "🔄 已更新"
    assert rows["handbook/hr/annual-leave.md"] == ("↪️ 已改名", "原名 handbook/hr/leave.md")
    assert "30 days" in client.search(KB, "refund days")[0].text
    # stop following: asked first, cancelled, asked again, confirmed; the files stay
    at.button(key=f"source-unfollow-{source.id}").click().run()
    assert "停止关注" in plain(texts(at)) and client.list_sources(KB)
    at.button(key=f"source-unfollow-no-{source.id}").click().run()
    assert f"source-unfollow-yes-{source.id}" not in [b.key for b in at.button] and client.list_sources(KB)
    at.button(key=f"source-unfollow-{source.id}").click().run()
    at.button(key=f"source-unfollow-yes-{source.id}").click().run()
    assert not at.exception, at.exception
    assert client.list_sources(KB) == []
    assert "handbook/refunds.md" in {f.name for f in client.list_files(KB)}
    assert "这个知识库还没有关注任何文件夹" in texts(at)


def test_english_page_shows_the_servers_words(api: LiveServer, client: ZhikuClient, tmp_path: Path) -> None:
    docs = folder(tmp_path)
    at = opened(client)
    at.query_params["lang"] = "English"
    at.text_input(key=f"source-path-{KB}").input(str(docs))
    at.checkbox(key=f"source-watch-new-{KB}").check()
    at.button(key=f"source-follow-btn-{KB}").click().run()
    [source] = client.list_sources(KB)
    assert source.watch
    client.wait_for_source(KB, source.id, timeout=120)
    at.run()
    shown = plain(texts(at))
    assert "watched (kept in sync while the server runs)" in shown and "2 added" in shown
    frames = [d.value for d in at.dataframe if "Detail" in d.value.columns]
    assert "the file is empty" in " ".join(frames[0]["Detail"])
    # an admin (no sign-in here) may stop watching it: the folder is synced again, no longer watched
    at.button(key=f"source-watch-{source.id}").click().run()
    assert not at.exception, at.exception
    assert not client.wait_for_source(KB, source.id, timeout=120).watch


def test_a_sync_under_way_shows_its_progress_then_what_it_did(
        api: LiveServer, client: ZhikuClient, home: Path, tmp_path: Path) -> None:
    """A sync run by another Zhiku on the same home (as ``zhiku kb sync`` beside the server): the
    panel shows how far it is and which file, no buttons meanwhile; once it ends, the counts. A
    folder gone since: its sync fails with the reason, in Chinese, and the KB keeps its files."""
    docs = folder(tmp_path)
    at = opened(client)
    source = client.wait_for_source(KB, client.follow_folder(KB, str(docs)).id, timeout=120)
    other = Zhiku(load_settings(home=home, overrides=OVERRIDES, environ={}))
    try:
        store = other.sources.store
        store.claim(source)
        report = SyncReport(started_at=source.synced_at, files_total=4, files_done=1, current="handbook/refunds.md")
        store.save(source.id, report)
        at.run()
        assert not at.exception, at.exception
        assert [p.proto.text for p in at.get("progress")] == ["正在同步 1/4"]
        assert "正在处理：handbook/refunds.md" in plain(texts(at))
        assert f"source-sync-{source.id}" not in [b.key for b in at.button]
        report = report.model_copy(update={"files_done": 4, "current": "", "unchanged": 3, "added": 1})
        store.release(source.id, report)
        at.run()
        assert not at.exception, at.exception
        assert not at.get("progress")
        assert "共 4 个文件：新增 1 · 更新 0 · 改名 0 · 删除 0 · 跳过 0 · 失败 0 · 未变化 3" in plain(texts(at))
    finally:
        other.close()
    shutil.rmtree(docs)
    at.button(key=f"source-sync-{source.id}").click().run()
    assert client.wait_for_source(KB, source.id, timeout=120).error
    at.run()
    assert f"上次同步未能完成：文件夹 {docs} 已不存在（或未挂载）" in plain(texts(at))
    assert "handbook/refunds.md" in {f.name for f in client.list_files(KB)}


@pytest.mark.anyio
async def test_the_async_client_follows_syncs_and_unfollows(api: LiveServer, tmp_path: Path) -> None:
    docs = folder(tmp_path)
    async with AsyncZhikuClient(api.url) as zk:
        await zk.create_kb(KB)
        with pytest.raises(ZhikuError) as refused:
            await zk.follow_folder(KB, str(tmp_path / "nowhere"))
        assert refused.value.status_code == 400 and "no such folder" in str(refused.value)
        source = await zk.wait_for_source(KB, (await zk.follow_folder(KB, str(docs), watch=False)).id, timeout=120)
        assert (source.report.added, source.report.failed, source.watch) == (2, 1, False)
        (docs / "new.md").write_text("# New\n\nA new page.\n", encoding="utf-8")
        await zk.sync_source(KB, source.id)
        assert (await zk.wait_for_source(KB, source.id, timeout=120)).report.added == 1
        assert [s.id for s in await zk.list_sources(KB)] == [source.id]
        await zk.unfollow(KB, source.id)
        assert await zk.list_sources(KB) == []


@pytest.mark.slow
def test_browser_follow_change_sync_now_stop_following(browser: Any, tmp_path: Path) -> None:
    """The path a person clicks, in headless Chromium against ``zhiku start`` (Chinese page)."""
    docs = folder(tmp_path)
    server = ZhikuServer(tmp_path / "home")
    try:
        with ZhikuClient(server.url) as client:
            client.create_kb(KB, "跟随文件夹")
            w = Watched(browser, server.url)
            page = w.page
            page.goto(f"{server.url}/kbs?kb={quote(KB)}")
            page.get_by_text("同步的文件夹").first.click()  # the panel, closed at first
            page.get_by_text("这个知识库还没有关注任何文件夹。").wait_for()
            page.get_by_role("textbox", name="服务器上的文件夹路径").fill(str(docs))
            page.get_by_role("button", name="关注并同步").click()
            # the sync runs in the background; the panel follows it and then shows what it did
            page.get_by_text(re.compile("共 3 个文件：新增 2 · 更新 0 .* 失败 1")).wait_for(timeout=120_000)
            page.get_by_text(re.compile(r"3 个文件 \(1 个失败\)")).wait_for()  # the KB's own count, redrawn
            [source] = client.list_sources(KB)
            assert {f.name for f in client.list_files(KB)} >= {"handbook/hr/leave.md", "handbook/refunds.md"}
            (docs / "refunds.md").write_text("# Refunds\n\nRefunds are paid within 30 days.\n", encoding="utf-8")
            page.get_by_role("button", name="立即同步").click()
            page.get_by_text(re.compile("共 3 个文件：新增 0 · 更新 1 .* 未变化 1")).wait_for(timeout=120_000)
            assert "30 days" in client.search(KB, "refund days")[0].text
            page.get_by_role("button", name="停止关注").click()
            page.get_by_text(re.compile("^停止关注 .*？已同步进来的文件会保留在知识库中。")).wait_for()
            page.get_by_role("button", name="确定停止关注").click()
            page.get_by_text("这个知识库还没有关注任何文件夹。").wait_for()
            assert client.list_sources(KB) == [] and source.id
            assert "handbook/refunds.md" in {f.name for f in client.list_files(KB)}
            assert not w.external(), w.external()
            assert w.dialogs == []
            w.close()
    finally:
        server.stop()


@pytest.mark.slow
def test_browser_a_user_who_is_no_admin_cannot_follow_a_folder(browser: Any, tmp_path: Path) -> None:
    """A KB's owner who is no admin: the API refuses a folder of the server (403), and the panel
    offers no form, saying who can."""
    home = tmp_path / "home"
    made = subprocess.run([str(ZHIKU), "--home", str(home), "user", "add", "bob", "--password-stdin"],
                          input="correct horse 2\n", capture_output=True, text=True, timeout=60, check=False)
    assert made.returncode == 0, made.stderr
    docs = folder(tmp_path)
    server = ZhikuServer(home)
    try:
        with ZhikuClient(server.url) as anon:
            token = anon.login("bob", "correct horse 2").token
        with ZhikuClient(server.url, api_key=token) as bob:
            bob.create_kb(KB)
            with pytest.raises(ZhikuError) as refused:
                bob.follow_folder(KB, str(docs))
            assert refused.value.status_code == 403 and bob.list_sources(KB) == []
        w = Watched(browser, server.url)
        page = w.page
        page.goto(f"{server.url}/kbs?kb={quote(KB)}")
        page.get_by_role("textbox", name="用户名").fill("bob")
        page.get_by_role("textbox", name="密码").fill("correct horse 2")
        page.get_by_role("button", name="登录").click()
        page.get_by_text("同步的文件夹").first.click()
        page.get_by_text("只有管理员可以让知识库关注服务器上的文件夹").wait_for()
        assert page.get_by_role("button", name="关注并同步").count() == 0
        w.close()
    finally:
        server.stop()
