"""Text from documents, file names and models is made inert before Streamlit's markdown sees it,
answers become HTML in which nothing can run or fetch and only real citation markers are buttons;
every UI string exists in both languages."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from zhiku.ui.i18n import STRINGS
from zhiku.ui.render import (
    answer_html,
    answer_markdown,
    escape_markdown,
    human_size,
    is_allowed_html,
)


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


class Tags(HTMLParser):
    """The tags, attribute names and link targets of some HTML, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.attrs: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.add(tag)
        self.attrs |= {name for name, _ in attrs}
        self.hrefs += [value or "" for name, value in attrs if name == "href"]


HOSTILE = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    "<svg onload=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](data:text/html,<script>alert(1)</script>)",
    "[click](vbscript:msgbox(1))",
    "<javascript:alert(1)>",
    "[ref]\n\n[ref]: javascript:alert(1)",
    "![pixel](http://evil.example/p.png)",
    '![x](x" onerror="alert(1))',
    '[x](https://ok.example/" onmouseover="alert(1))',
    "<iframe src=http://evil.example></iframe>",
    "<style>body{background:url(http://evil.example/p.png)}</style>",
    "<!-- comment --><div onclick=alert(1)>x</div>",
    "``` onclick=alert(1)\ncode\n```",
]


def test_answer_html_turns_real_citation_markers_into_buttons() -> None:
    out = answer_html("年假十五天 [1]，可以分次休 [2]。见 [7] 和 [1][2]", {1: "年假.md · 第 3 页", 2: "b.md"})
    assert out.count('class="zk-cite" data-n="1"') == 2 and out.count('class="zk-cite" data-n="2"') == 2
    assert 'title="年假.md · 第 3 页"' in out
    assert "[7]" in out and 'data-n="7"' not in out  # a number this answer does not cite stays text
    assert "[1]" not in out.replace("aria-label=\"[1]", "")


def test_answer_html_leaves_markers_in_code_and_links_alone() -> None:
    out = answer_html("`a[1]` and [see [1]](https://example.org)\n\n```\nx = y[1]\n```\n\n    z[1]\n", {1: "a.md"})
    assert "zk-cite" not in out
    assert "<code>a[1]</code>" in out and "x = y[1]" in out and "z[1]" in out
    assert '<a href="https://example.org" target="_blank" rel="noopener noreferrer nofollow">see [1]</a>' in out


def test_a_marker_after_a_quoted_table_is_kept_below_it() -> None:
    """An answer quoting a passage that ends in a table puts ``[1]`` after its last row; a table
    would drop that extra cell (and the marker) so it moves below the table."""
    out = answer_html("根据：\n\n| 工龄 | 天数 |\n|---|---|\n| 1 年 | 15 | [1]", {1: "a.md"})
    assert out.endswith('</table>\n<p><button type="button" class="zk-cite" data-n="1" title="a.md" '
                        'aria-label="[1] a.md">1</button></p>\n')
    assert "<td>15</td>" in out
    code = answer_html("```\n| a | b | [1]\n\n```", {1: "a.md"})
    assert "| a | b | [1]\n\n</code>" in code  # code is left as written


def test_answer_html_keeps_the_markdown_a_reader_expects() -> None:
    out = answer_html("# 标题\n\n**粗** *斜* ~~删~~\n\n- 一 [1]\n- 二\n\n1. a\n2. b\n\n> 引用\n\n"
                      "| a | b |\n|---|:-:|\n| 1 | 2 |\n\n```python\nprint(1)\n```\n", {1: "a.md"})
    for piece in ("<h1>标题</h1>", "<strong>粗</strong>", "<em>斜</em>", "<s>删</s>", "<ul>", "<ol>",
                  "<blockquote>", "<table>", '<td style="text-align:center">2</td>',
                  '<code class="language-python">print(1)', 'data-n="1"'):
        assert piece in out, piece


def test_nothing_in_an_answer_or_a_file_name_can_run_or_fetch() -> None:
    for text in HOSTILE:
        out = answer_html(f"[1]\n\n{text} [1]", {1: '"><img src=x onerror=alert(1)>.md'})
        assert is_allowed_html(out), (text, out)
        tags = Tags()
        tags.feed(out)
        assert tags.names <= {"p", "a", "button", "code", "pre", "br"}, (text, out)  # no img/script/svg/...
        assert not [a for a in tags.attrs if a.startswith("on")], (text, out)  # no event handler
        assert all(h.startswith(("http://", "https://")) for h in tags.hrefs), (text, out)
        assert 'data-n="1" title="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;.md"' in out  # the name, escaped
    image = "![pixel](http://evil.example/p.png)"
    assert image in answer_html(image, {})  # an image shows as written, never fetched


def test_the_allow_list_check_refuses_what_markdown_it_never_writes() -> None:
    assert is_allowed_html('<p>a <code>b</code> <a href="https://x.org">c</a></p>')
    for bad in ('<img src="x">', '<p onclick="x()">a</p>', '<a href="javascript:x()">a</a>', "<script>x</script>",
                '<td style="background:url(http://evil.example)">a</td>', "<!-- x -->"):
        assert not is_allowed_html(bad), bad


def test_sizes() -> None:
    assert [human_size(n) for n in (0, 999, 2048, 5 * 1024 ** 2)] == ["0 B", "999 B", "2.0 KB", "5.0 MB"]


def test_conversation_titles_are_cut_between_words() -> None:
    from zhiku.ui.render import short_title

    assert short_title("Within how many days are refunds paid after receiving the returned item?") == \
        "Within how many days are refunds paid…"
    assert short_title("年假有几天？") == "年假有几天？"
    assert short_title("入职" * 30) == "入职" * 20 + "…"
    assert short_title("  first line\nsecond line") == "first line"
