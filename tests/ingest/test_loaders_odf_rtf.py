"""RTF, ODT, ODS and ODP: documents the test writes (odfpy for OpenDocument, RTF by hand as Word
and WordPad write it), read through ``load_file`` and ingested into a KB, Chinese and English."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhiku import Zhiku
from zhiku.errors import LoadError, UnsupportedFormat
from zhiku.ingest.loaders import load_file, supported_extensions

# 年假制度 in code page 936, as \'xx bytes; 病假 as \u escapes
RTF = (rb"{\rtf1\ansi\ansicpg936\deff0{\fonttbl{\f0\fnil SimSun;}}" b"\n"
       rb"\f0\'c4\'ea\'bc\'d9\'d6\'c6\'b6\'c8\par" b"\n"
       rb"Every employee has \b 20 days\b0  of annual leave.\par" b"\n"
       rb"\uc1\u30149?\u20551?\u38656?\u35201?\u21307?\u38498?\u35777?\u26126?\u12290?\par" b"\n}")


def write_odt(path: Path) -> Path:
    from odf.opendocument import OpenDocumentText
    from odf.table import Table, TableCell, TableColumn, TableRow
    from odf.text import H, List, ListItem, P

    doc = OpenDocumentText()
    doc.text.addElement(H(outlinelevel=1, text="员工手册"))
    doc.text.addElement(H(outlinelevel=2, text="年假"))
    doc.text.addElement(P(text="入职满一年的员工每年享有十五天带薪年假。"))
    items = List()
    item = ListItem()
    item.addElement(P(text="Leave is taken in half days at least."))
    items.addElement(item)
    doc.text.addElement(items)
    table = Table(name="rates")
    table.addElement(TableColumn(numbercolumnsrepeated=2))
    for cells in (["city", "allowance"], ["Beijing", "300"], ["Shanghai", "280"]):
        row = TableRow()
        for c in cells:
            cell = TableCell(valuetype="string")
            cell.addElement(P(text=c))
            row.addElement(cell)
        table.addElement(row)
    doc.text.addElement(table)
    doc.save(str(path))
    return path


def write_ods(path: Path) -> Path:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    for name, rows in (("费用", [["项目", "金额"], ["差旅", "1200"], ["住宿", "800"]]),
                       ("Staff", [["name", "team"], ["Lin Wei", "Aurora"]])):
        sheet = Table(name=name)
        for cells in rows:
            row = TableRow()
            for c in cells:
                cell = TableCell(valuetype="string")
                cell.addElement(P(text=c))
                row.addElement(cell)
            row.addElement(TableCell(numbercolumnsrepeated=1000))  # formatted, empty columns
            sheet.addElement(row)
        sheet.addElement(TableRow(numberrowsrepeated=100000))  # formatted, empty rows
        doc.spreadsheet.addElement(sheet)
    doc.save(str(path))
    return path


def write_odp(path: Path) -> Path:
    from odf.draw import Frame, Page, TextBox
    from odf.opendocument import OpenDocumentPresentation
    from odf.presentation import Notes
    from odf.style import MasterPage, PageLayout
    from odf.text import P

    doc = OpenDocumentPresentation()
    layout = PageLayout(name="layout")
    doc.automaticstyles.addElement(layout)
    master = MasterPage(name="master", pagelayoutname=layout)
    doc.masterstyles.addElement(master)
    for title, body, note in (("Quarterly results", "Revenue grew 12 percent in the third quarter.", "Say thanks."),
                              ("下一步", "明年在杭州开设新的办公室。", None)):
        page = Page(masterpagename=master)
        for text in (title, body):
            frame = Frame(width="20cm", height="3cm", x="1cm", y="1cm")
            box = TextBox()
            box.addElement(P(text=text))
            frame.addElement(box)
            page.addElement(frame)
        if note:
            notes = Notes()
            frame = Frame(width="20cm", height="3cm", x="1cm", y="1cm")
            box = TextBox()
            box.addElement(P(text=note))
            frame.addElement(box)
            notes.addElement(frame)
            page.addElement(notes)
        doc.presentation.addElement(page)
    doc.save(str(path))
    return path


def write_rtf(path: Path) -> Path:
    path.write_bytes(RTF)
    return path


WRITERS = {".rtf": write_rtf, ".odt": write_odt, ".ods": write_ods, ".odp": write_odp}


def test_the_formats_are_supported() -> None:
    assert {".rtf", ".odt", ".ods", ".odp"} <= set(supported_extensions())


def test_rtf_reads_code_page_bytes_and_unicode_escapes(tmp_path: Path) -> None:
    doc = load_file(write_rtf(tmp_path / "policy.rtf"))
    assert [b.text for b in doc.blocks] == ["年假制度", "Every employee has 20 days of annual leave.",
                                            "病假需要医院证明。"]
    assert doc.meta["format"] == "rtf"


def test_odt_keeps_headings_lists_and_tables(tmp_path: Path) -> None:
    doc = load_file(write_odt(tmp_path / "handbook.odt"))
    kinds = [(b.kind, b.text.splitlines()[0], b.section) for b in doc.blocks]
    assert kinds[:4] == [("heading", "员工手册", ("员工手册",)), ("heading", "年假", ("员工手册", "年假")),
                         ("text", "入职满一年的员工每年享有十五天带薪年假。", ("员工手册", "年假")),
                         ("text", "Leave is taken in half days at least.", ("员工手册", "年假"))]
    table = doc.blocks[4]
    assert table.kind == "table" and "| Beijing | 300 |" in table.text and doc.title == "员工手册"


def test_ods_reads_every_sheet_without_the_formatted_emptiness(tmp_path: Path) -> None:
    doc = load_file(write_ods(tmp_path / "costs.ods"))
    text = doc.text
    assert "差旅" in text and "1200" in text and "Lin Wei" in text
    assert {b.meta.get("sheet") for b in doc.blocks} == {"费用", "Staff"}
    assert len(text) < 2000  # 1000 empty columns and 100,000 empty rows are not cells


def test_odp_reads_slides_as_pages_with_notes(tmp_path: Path) -> None:
    doc = load_file(write_odp(tmp_path / "results.odp"))
    assert doc.pages == 2
    assert [(b.page, b.text) for b in doc.blocks if not b.meta.get("notes")] == [
        (1, "Quarterly results"), (1, "Revenue grew 12 percent in the third quarter."),
        (2, "下一步"), (2, "明年在杭州开设新的办公室。")]
    assert [(b.page, b.text) for b in doc.blocks if b.meta.get("notes")] == [(1, "Say thanks.")]
    assert doc.blocks[1].section == ("Quarterly results",)


@pytest.mark.parametrize("ext", sorted(WRITERS))
def test_a_damaged_or_misnamed_file_is_a_clear_error(tmp_path: Path, ext: str) -> None:
    good = WRITERS[ext](tmp_path / f"good{ext}")
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    if ext == ".rtf":  # a stream: the text before the cut is read, honestly
        assert load_file(cut).blocks[0].text == "年假制度"
    else:
        with pytest.raises((LoadError, UnsupportedFormat)) as err:
            load_file(cut)
        assert err.value.message.startswith(f"cut{ext}:")
    png = tmp_path / f"picture{ext}"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(UnsupportedFormat, match="picture"):
        load_file(png)


def test_each_format_is_searchable_once_ingested(app: Zhiku, tmp_path: Path) -> None:
    app.create_kb("docs")
    paths = [w(tmp_path / f"doc{ext}") for ext, w in WRITERS.items()]
    report = app.add_files("docs", paths)
    assert report.ok and len(report.added) == 4
    for query, name in (("annual leave 20 days", "doc.rtf"), ("Beijing allowance", "doc.odt"),
                        ("差旅 金额", "doc.ods"), ("Revenue third quarter", "doc.odp")):
        assert app.search(["docs"], query, top_k=1)[0].file == name, query
