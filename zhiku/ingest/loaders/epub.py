"""EPUB e-books: chapters in spine order, each chapter's table-of-contents title as section.

Read with zipfile + lxml (entities and network off) and the HTML loader for the
chapters; ``meta["chapter"]`` is the 1-based spine position.
"""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from zhiku.errors import LoadError
from zhiku.ingest.loaders.base import Block, LoadedDocument, register
from zhiku.ingest.loaders.limits import checkpoint
from zhiku.ingest.loaders.encoding import clean_text
from zhiku.ingest.loaders.html import decode_html, html_to_blocks
from zhiku.ingest.loaders.text import SectionStack

_NS = {
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "ncx": "http://www.daisy.org/z3986/2005/ncx/",
    "x": "http://www.w3.org/1999/xhtml",
    "epub": "http://www.idpf.org/2007/ops",
    "enc": "http://www.w3.org/2001/04/xmlenc#",
}
_FONT_OBFUSCATION = {"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"}
_HTML_TYPES = {"application/xhtml+xml", "text/html", "application/x-dtbook+xml"}
MAX_PART_BYTES = 50 * 1024 * 1024


def _xml(data: bytes) -> Any:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True)
    root = etree.fromstring(data, parser)
    if root is None:
        raise LoadError("damaged EPUB (unreadable XML)")
    return root


def _read(zf: zipfile.ZipFile, name: str) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > MAX_PART_BYTES:
        raise LoadError(f"EPUB part {name} is too large")
    return zf.read(info)


def _join(base: str, href: str) -> str:
    return posixpath.normpath(posixpath.join(base, unquote(href.split("#")[0])))


def _toc(zf: zipfile.ZipFile, opf_dir: str, manifest: dict[str, tuple[str, str, str]],
         spine_toc: str | None) -> dict[str, str]:
    """Chapter path -> table-of-contents label (EPUB 3 nav, else EPUB 2 NCX)."""
    labels: dict[str, str] = {}
    for href, _type, props in manifest.values():
        if "nav" in props.split():
            try:
                root = _xml(_read(zf, href))
            except (KeyError, LoadError):
                continue
            base = posixpath.dirname(href)
            for a in root.iterfind(".//x:nav//x:a[@href]", _NS):
                label = " ".join(clean_text("".join(a.itertext())).split())
                labels.setdefault(_join(base, a.get("href")), label)
    if not labels and spine_toc and spine_toc in manifest:
        href = manifest[spine_toc][0]
        try:
            root = _xml(_read(zf, href))
        except (KeyError, LoadError):
            return labels
        base = posixpath.dirname(href)
        for point in root.iterfind(".//ncx:navPoint", _NS):
            text = point.find("ncx:navLabel/ncx:text", _NS)
            src = point.find("ncx:content", _NS)
            if text is not None and src is not None and src.get("src"):
                label = " ".join(clean_text(text.text or "").split())
                labels.setdefault(_join(base, src.get("src")), label)
    return {k: v for k, v in labels.items() if v}


def _check_drm(zf: zipfile.ZipFile) -> None:
    if "META-INF/encryption.xml" not in zf.namelist():
        return
    root = _xml(_read(zf, "META-INF/encryption.xml"))
    for method in root.iterfind(".//enc:EncryptionMethod", _NS):
        if method.get("Algorithm") not in _FONT_OBFUSCATION:
            raise LoadError("DRM-protected EPUB; its chapters are encrypted", reason="encrypted")


@register("epub", (".epub",))
def load_epub(path: Path) -> LoadedDocument:
    with zipfile.ZipFile(path) as zf:
        _check_drm(zf)
        try:
            container = _xml(_read(zf, "META-INF/container.xml"))
        except KeyError as e:
            raise LoadError("damaged EPUB (no META-INF/container.xml)") from e
        rootfile = container.find(".//c:rootfile", _NS)
        if rootfile is None or not rootfile.get("full-path"):
            raise LoadError("damaged EPUB (no package document)")
        opf_path = rootfile.get("full-path")
        try:
            opf = _xml(_read(zf, opf_path))
        except KeyError as e:
            raise LoadError(f"damaged EPUB ({opf_path} is missing)") from e
        opf_dir = posixpath.dirname(opf_path)
        manifest = {
            item.get("id"): (_join(opf_dir, item.get("href") or ""),
                             item.get("media-type") or "", item.get("properties") or "")
            for item in opf.iterfind(".//opf:manifest/opf:item", _NS)
        }
        spine = opf.find(".//opf:spine", _NS)
        toc = _toc(zf, opf_dir, manifest, spine.get("toc") if spine is not None else None)
        title_el = opf.find(".//dc:title", _NS)
        title = " ".join(clean_text(title_el.text or "").split()) if title_el is not None else ""
        blocks: list[Block] = []
        refs = spine.iterfind("opf:itemref", _NS) if spine is not None else []
        chapter = 0
        for ref in refs:
            checkpoint()
            item = manifest.get(ref.get("idref"))
            if item is None or item[1] not in _HTML_TYPES:
                continue
            href = item[0]
            try:
                data = _read(zf, href)
            except KeyError:
                continue
            chapter += 1
            label = toc.get(href)
            new, _ = html_to_blocks(
                decode_html(data), SectionStack((label,) if label else ())
            )
            for b in new:
                b.meta["chapter"] = chapter
            blocks.extend(new)
    return LoadedDocument(blocks, title=title or None, meta={"chapters": chapter})
