"""An extractive answer's citation marker survives a quote that ends in a table row."""

from __future__ import annotations

from zhiku.llm.extractive import _cited
from zhiku.ui.render import answer_html


def test_a_marker_after_a_table_goes_under_it_and_stays_visible() -> None:
    table = "| 城市 | 住宿标准 |\n| --- | --- |\n| 北京 | 每晚 600 元 |"
    quoted = _cited(table, 1)
    assert "| 北京 | 每晚 600 元 | [1]" not in quoted  # not a cell beyond the table's two columns
    html = answer_html(f"根据知识库中的内容：\n{quoted}", {1: "fees.md"})
    assert html.count('class="zk-cite" data-n="1"') == 1 and "<table>" in html and "每晚 600 元" in html
    # prose keeps its marker right after the sentence
    assert _cited("北京每晚 600 元。", 2) == "北京每晚 600 元。 [2]"
    assert _cited("a | b", 3) == "a | b [3]"
