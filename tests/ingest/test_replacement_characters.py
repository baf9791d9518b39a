"""Text holding U+FFFD (an earlier tool's undecodable bytes, common in scraped text) is text, not
"binary data" (issue 17, item 5: one such passage made `zhiku eval` abort on a 2,900-passage set)."""

from __future__ import annotations

from pathlib import Path

from zhiku.ingest.loaders import load_file
from zhiku.ingest.loaders.sniff import sniff_file


def test_a_passage_starting_with_replacement_characters_is_text(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text("\ufffd\ufffd长城是中国古代的军事防御工程。", encoding="utf-8")
    assert sniff_file(path).kind == "text"
    assert "长城" in load_file(path).text


def test_a_few_undecodable_bytes_leave_a_file_text(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_bytes("Größe: ".encode() + b"\x80\x81" + " ein Text mit kaputten Bytes in der Mitte.".encode())
    assert sniff_file(path).kind == "text"
    assert "kaputten" in load_file(path).text


def test_binary_data_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_bytes(bytes(range(32)) * 50)
    assert sniff_file(path).kind == "binary"
