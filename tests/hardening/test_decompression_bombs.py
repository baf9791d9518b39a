"""Decompression bombs (issue 20, item 2): a ~1 MB docx, xlsx, pptx, EPUB or PDF that unpacks to
512 MB is refused with a per-file error naming the reason, and loading it leaves the process's
memory where it was. Before the fix a 1 MB docx took a server from 103 MB to 2.1 GB resident.

Memory is measured in a fresh subprocess (peak resident set, ``ru_maxrss``, against the resident
set after the libraries are imported and a normal file of the same format was loaded), and
compared with a generous bound: ``GROWTH_BOUND_MB``. Nothing is timed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hardening import bombs
from zhiku.errors import LoadError
from zhiku.ingest.loaders import LoadLimits, load_file
from zhiku.ingest.loaders.limits import check_unpacked

#: what loading a refused bomb may add to the peak resident memory of the process
GROWTH_BOUND_MB = 100
INFLATED = 512 * bombs.MB

_PROBE = r"""
import json, resource, sys
from pathlib import Path
from zhiku.ingest.loaders import load_file
from zhiku.errors import ZhikuError

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024

normal, bomb = Path(sys.argv[1]), Path(sys.argv[2])
load_file(normal)  # libraries imported and warmed on a normal file of the format
before = max(rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
try:
    load_file(bomb)
    error = None
except ZhikuError as e:
    error = {"type": type(e).__name__, "message": e.message, "details": e.details}
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"before_mb": before, "peak_mb": peak, "error": error}))
"""


def _normal(kind: str, dest: Path) -> Path:
    return bombs.BOMBS[kind](dest, inflated=bombs.MB)  # the same file with 1 MB of padding: a normal file


def _probe(normal: Path, bomb: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE, str(normal), str(bomb)], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # five ~1 MB bombs are written (512 MB of padding deflated each) and loaded in subprocesses
@pytest.mark.parametrize("kind", sorted(bombs.BOMBS))
def test_a_bomb_is_refused_per_file_and_memory_stays_put(kind: str, tmp_path: Path) -> None:
    bomb = bombs.BOMBS[kind](tmp_path / f"bomb.{kind}", inflated=INFLATED)
    assert bomb.stat().st_size < 3 * bombs.MB
    normal = _normal(kind, tmp_path / f"normal.{kind}")
    got = _probe(normal, bomb)
    assert got["error"] is not None, "the bomb was loaded"
    assert got["error"]["type"] == "LoadError" and got["error"]["details"]["reason"] == "unpacked_too_large"
    assert got["error"]["message"].startswith(f"bomb.{kind}: refused as a decompression bomb")
    assert got["peak_mb"] - got["before_mb"] < GROWTH_BOUND_MB, got


@pytest.mark.parametrize("kind", sorted(bombs.BOMBS))
def test_files_within_the_limit_load(kind: str, tmp_path: Path) -> None:
    doc = load_file(_normal(kind, tmp_path / f"normal.{kind}"))
    assert "bomb" in doc.text.lower()


def test_the_limit_is_the_setting(tmp_path: Path) -> None:
    """An honest 8 MB part (no bomb ratio) passes the default limit and is refused under a 4 MB one."""
    path = bombs.docx_bomb(tmp_path / "honest.docx", inflated=8 * bombs.MB)
    check_unpacked("docx", path)
    with pytest.raises(LoadError, match=r"honest.docx: refused as a decompression bomb: its parts unpack to "
                                        r"more than 4.0 MB \(the ingest.max_unpacked_mb setting\)"):
        load_file(path, limits=LoadLimits(4 * bombs.MB))


def test_a_part_that_lies_about_its_size_is_a_damaged_file(tmp_path: Path) -> None:
    """zipfile never inflates past a part's declared size: a bomb declaring 1 KB reads as damaged."""
    import struct

    path = bombs.docx_bomb(tmp_path / "liar.docx", inflated=64 * bombs.MB)
    data = bytearray(path.read_bytes())
    name = b"word/document.xml"
    cd = data.index(b"PK\x01\x02")  # the central directory's first entry
    while data[cd + 46: cd + 46 + len(name)] != name:
        cd = data.index(b"PK\x01\x02", cd + 4)
    extra_len = struct.unpack_from("<H", data, cd + 30)[0]
    if struct.unpack_from("<I", data, cd + 24)[0] == 0xFFFFFFFF or extra_len:  # zip64: size in the extra field
        pytest.skip("the part's size is in a zip64 extra field here")
    struct.pack_into("<I", data, cd + 24, 1024)
    path.write_bytes(bytes(data))
    with pytest.raises(LoadError, match="liar.docx: cannot read it as a Word document; the file may be damaged"):
        load_file(path)


@pytest.mark.slow  # writes a zip of 50,001 parts
def test_a_zip_listing_too_many_parts_is_refused_before_its_directory_is_read(tmp_path: Path) -> None:
    import zipfile

    from zhiku.ingest.loaders import limits

    path = tmp_path / "many.docx"
    src = bombs.docx_bomb(tmp_path / "src.docx", inflated=bombs.MB)
    with zipfile.ZipFile(src) as z, zipfile.ZipFile(path, "w") as out:
        for info in z.infolist():
            out.writestr(info, z.read(info))
        for i in range(limits.MAX_MEMBERS + 1 - len(z.infolist())):
            out.writestr(f"x/{i}", b"")
    with pytest.raises(LoadError, match=r"many.docx: refused as a decompression bomb: the archive lists 50,001 parts"):
        load_file(path)
