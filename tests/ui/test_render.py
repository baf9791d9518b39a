"""Text from documents, file names and models is made inert before Streamlit's markdown sees it;
every UI string exists in both languages."""

from __future__ import annotations

import re

from zhiku.ui.i18n import STRINGS
from zhiku.ui.render import answer_markdown, escape_markdown, human_size


def test_every_string_is_in_chinese_and_english() -> None:
    assert set(STRINGS["zh"]) == set(STRINGS["en"])
    for key, zh in STRINGS["zh"].items():  # the same placeholders in both
        assert set(re.findall(r"{(\w+)}", zh)) == set(re.findall(r"{(\w+)}", STRINGS["en"][key])), key


def test_document_text_is_escaped_completely() -> None:
    hostile = '<img src=x onerror="alert(1)"> **bold** [link](javascript:alert(1)) $x$ :red[red]\n# title'
    out = escape_markdown(hostile)
    assert not re.search(r"(?<!\\)[<*\[\]$#:]", out), out  # every markup character escaped
    assert out.replace("\\", "").replace("  \n", "\n") == hostile.replace("\\", "")  # and nothing else changed


def test_answers_keep_markdown_but_lose_html_images_and_math() -> None:
    out = answer_markdown("**年假** 十五天 [1]。<script>x</script> ![t](http://evil.example/p.png) $5 [7]", {1})
    assert "**年假**" in out and ":blue-badge[1]" in out
    assert "[7]" in out and ":blue-badge[7]" not in out  # a marker with no source stays as written
    assert "\\<script>" in out and "!\\[t]" in out and "\\$5" in out


def test_code_in_answers_is_left_as_written() -> None:
    out = answer_markdown("use `a<b` and\n```\nif a < b: pass\n```\nthen <b>")
    assert "`a<b`" in out and "if a < b: pass" in out and "then \\<b>" in out


def test_sizes() -> None:
    assert [human_size(n) for n in (0, 999, 2048, 5 * 1024 ** 2)] == ["0 B", "999 B", "2.0 KB", "5.0 MB"]
