"""The Markdown export never turns what a document or a model wrote into live HTML or pictures
(issue 20, item 8): a quote holding ``<img onerror>`` or a remote image link, or an answer that
embeds a tracking pixel, shows as written when the export is opened in a Markdown viewer."""

from __future__ import annotations

from datetime import datetime, timezone

from markdown_it import MarkdownIt

from zhiku.chat.export import to_markdown
from zhiku.schema.chat import Citation, Conversation, ConversationSettings, Message

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
HOSTILE = '<img src="http://evil.example/x.png" onerror="alert(1)"> ![pixel](http://evil.example/p.gif)'


def _export() -> str:
    cite = Citation(n=1, kb="hr", file="<b>x</b>.md", file_id="f" * 32, page=2, section="## [s](http://e/)",
                    chunk_id=1, score=0.5, text="quoted " + HOSTILE)
    conv = Conversation(
        id="c1", owner="alice", title="<script>t</script>", mode="kb", settings=ConversationSettings(kbs=["hr"]),
        created_at=NOW, updated_at=NOW, messages=[
            Message(role="user", content="what about <iframe src=http://evil.example>?", created_at=NOW),
            Message(role="assistant", content="It says so [1]. " + HOSTILE + "\n\n`a < b` stays code\n\n"
                    "```\n<b>fenced</b>\n```", citations=[cite], created_at=NOW),
        ])
    return to_markdown(conv)


def _rendered(md: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).enable(["table"]).render(md)


def test_no_html_or_remote_picture_survives_rendering() -> None:
    html = _rendered(_export())
    assert "<img" not in html and "<iframe" not in html and "<script" not in html and "<b>x" not in html
    assert 'src="http://evil.example' not in html
    assert "&lt;img" in html  # shown as written, not dropped
    assert "![pixel](http://evil.example/p.gif)" in html


def test_answers_keep_their_markdown_code_and_footnotes() -> None:
    md = _export()
    assert "It says so [^1]." in md
    assert "`a < b`" in md  # inside a code span nothing is escaped
    assert "```\n<b>fenced</b>\n```" in md
    assert md.count("[^1]:") == 1
