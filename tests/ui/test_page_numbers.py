"""One passage, one page number: a passage running from page 1 onto page 2 is "pages 1–2" in the
chunk view, the retrieval test, the citation and the Markdown export (issue 21, item 7: the chunk
view and the export named page 1 only while the citation said 1–2)."""

from __future__ import annotations

import io

import pytest

from tests.api.conftest import LiveServer
from tests.ui.test_pages import page
from zhiku.client import ZhikuClient


def two_page_pdf() -> bytes:
    pytest.importorskip("reportlab")
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    for text in ("Green tea pallets are stored in aisle seven.", "They are counted every Monday morning."):
        c.setFont("Helvetica", 12)
        c.drawString(72, 760, text)
        c.showPage()
    c.save()
    return out.getvalue()


def test_a_passage_over_two_pages_names_both_everywhere(api: LiveServer, client: ZhikuClient) -> None:
    client.create_kb("stock")
    assert client.wait_for_job(client.upload("stock", [("stock.pdf", two_page_pdf())]).id).status == "done"
    f = client.list_files("stock")[0]
    chunk = client.list_chunks("stock", f.id)[0]
    assert (chunk.page, chunk.page_end) == (1, 2)

    at = page("kbs")
    at.query_params["lang"] = "English"
    at.run()
    assert not at.exception, at.exception
    assert any("pages 1–2" in e.label for e in at.expander), [e.label for e in at.expander]  # the chunk view
    at.text_input(key="test-q-stock").input("green tea pallets")
    next(b for b in at.button if b.label == "Search").click().run()
    assert list(at.dataframe[-1].value["Pages"]) == ["pages 1–2"]  # the retrieval test

    conv = client.create_conversation("kb", kbs="stock")
    answer = client.send_message(conv.id, "where are the green tea pallets?")
    cited = answer.citations[0]
    assert (cited.page, cited.page_end) == (1, 2)  # the citation (the UI says pages_of: "pages 1–2")
    assert "stock.pdf, pp. 1–2" in client.export_conversation(conv.id)  # the export
