"""The page a citation points at: ``GET .../files/{id}/content?page=N`` returns that page of a
stored PDF as a one-page PDF (typed client: ``download(kb, file_id, page=N)``)."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from pypdf import PdfReader

from tests.api.conftest import assert_error
from zhiku.client import AsyncZhikuClient, ZhikuClient
from zhiku.errors import InvalidInput

pytest.importorskip("reportlab")

PAGES = [
    "The first page introduces the warehouse inventory policy.",
    "Pallets of green tea are stored in aisle seven beside the loading dock.",
    "The third page lists who signs the monthly stock report.",
]


def three_page_pdf(path: Path) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for n, text in enumerate(PAGES, 1):  # pages long enough to be chunks of their own
        c.setFont("Helvetica", 12)
        c.drawString(72, 760, f"Page {n} opens with filler.")
        for i in range(30):
            line = text if i == 15 else f"Filler line {i} of page {n} says nothing about stock or shelves."
            c.drawString(72, 740 - 16 * i, line)
        c.showPage()
    c.save()
    return path


def _pdf_text(data: bytes) -> list[str]:
    """The line of each page that says something."""
    reader = PdfReader(io.BytesIO(data))
    return [next(ln.strip() for ln in (p.extract_text() or "").splitlines() if ln.strip() in PAGES)
            for p in reader.pages]


@pytest.fixture
def stored(asgi: ZhikuClient, tmp_path: Path) -> str:
    asgi.create_kb("kb")
    pdf = three_page_pdf(tmp_path / "库存 手册.pdf")
    done = asgi.wait_for_job(asgi.upload("kb", [pdf, ("notes.md", b"# Notes\n\nGreen tea is stored cool.\n")]).id,
                             timeout=60)
    assert done.files_failed == 0
    return next(f.id for f in asgi.list_files("kb") if f.name.endswith(".pdf"))


def test_a_citations_page_downloads_as_a_one_page_pdf(asgi: ZhikuClient, stored: str) -> None:
    hit = next(h for h in asgi.search("kb", "where are pallets of green tea stored", mode="lexical")
               if h.file_id == stored)
    assert hit.page == 2
    page = asgi.download("kb", stored, page=hit.page)
    assert page.startswith(b"%PDF-")
    assert _pdf_text(page) == [PAGES[1]]
    # without a page: the original, all three pages
    assert _pdf_text(asgi.download("kb", stored)) == PAGES


def test_page_download_is_named_after_the_page(raw: httpx.Client, stored: str) -> None:
    response = raw.get(f"/api/kbs/kb/files/{stored}/content", params={"page": 3})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["x-content-type-options"] == "nosniff"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == "库存 手册-p3.pdf"
    assert _pdf_text(response.content) == [PAGES[2]]


def test_page_out_of_range_or_not_a_pdf_is_a_400(raw: httpx.Client, asgi: ZhikuClient, stored: str) -> None:
    for page in (0, 4, -1):
        err = assert_error(raw.get(f"/api/kbs/kb/files/{stored}/content", params={"page": page}),
                           400, "invalid_input")
        assert f"page {page} is out of range" in err["message"] and "3 page(s)" in err["message"]
        assert err["details"]["pages"] == 3
    assert_error(raw.get(f"/api/kbs/kb/files/{stored}/content", params={"page": "two"}), 422)
    md = next(f.id for f in asgi.list_files("kb") if f.name == "notes.md")
    err = assert_error(raw.get(f"/api/kbs/kb/files/{md}/content", params={"page": 1}), 400, "invalid_input")
    assert "'notes.md' is not a PDF" in err["message"]
    with pytest.raises(InvalidInput, match="out of range"):
        asgi.download("kb", stored, page=9)


@pytest.mark.anyio
async def test_async_client_downloads_a_page(aclient: AsyncZhikuClient, stored: str) -> None:
    async with aclient:
        page = await aclient.download("kb", stored, page=1)
    assert _pdf_text(page) == [PAGES[0]]
