"""E-mail (.eml): subject as title, a header block, the body, then the attachments.

The body is the text/plain part when there is one, else the HTML part as text.
Attachments are listed by name; those in a format zhiku reads are loaded too
(through ``load_file``, at most two levels of mail-in-mail), their blocks under the
section "Attachment: <name>" with ``meta["attachment"]``.
"""

from __future__ import annotations

import contextvars
import logging
import re
import tempfile
from pathlib import Path
from typing import Any

from zhiku.errors import LoadError, ZhikuError
from zhiku.ingest.loaders.base import Block, LoadedDocument, register, spec_for_extension
from zhiku.ingest.loaders.encoding import bom_encoding, clean_text, decode_bytes, wide_encoding
from zhiku.ingest.loaders.html import html_to_blocks
from zhiku.ingest.loaders.text import paragraph_blocks

log = logging.getLogger(__name__)

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
_MAX_DEPTH = 2
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("zhiku_mail_depth", default=0)
_HEADERS = ("From", "To", "Cc", "Date", "Subject")
_SAFE_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,10}$")


def _parse(data: bytes) -> Any:
    from email import message_from_bytes, message_from_string, policy

    if bom_encoding(data) or wide_encoding(data):
        return message_from_string(decode_bytes(data), policy=policy.default)
    return message_from_bytes(data, policy=policy.default)


def _header(msg: Any, name: str) -> str:
    try:
        value = str(msg.get(name) or "")
    except Exception:  # noqa: BLE001 - a malformed header: fall back to its raw text
        value = next((str(v) for k, v in msg.raw_items() if k.lower() == name.lower()), "")
    return " ".join(clean_text(value).split())


def _part_text(part: Any) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, AssertionError, KeyError):
        content = None
    if not isinstance(content, str):
        payload = part.get_payload(decode=True) or b""
        content = decode_bytes(payload) if isinstance(payload, bytes) else str(payload)
    return clean_text(content)


def _body_blocks(msg: Any) -> list[Block]:
    try:
        body = msg.get_body(preferencelist=("plain", "html"))
    except Exception:  # noqa: BLE001
        body = None
    if body is None:
        if msg.is_multipart():
            return []
        body = msg
    text = _part_text(body)
    if body.get_content_subtype() == "html":
        blocks, _ = html_to_blocks(text)
        return blocks
    return paragraph_blocks(text)


def _attachment_bytes(part: Any) -> bytes:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        return inner.as_bytes() if hasattr(inner, "as_bytes") else b""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _load_attachment(name: str, data: bytes) -> list[Block] | str:
    """Blocks of one attachment, or why it was not read."""
    from zhiku.ingest.loaders import load_file

    suffix = Path(name).suffix.lower()
    if not _SAFE_SUFFIX.match(suffix) or spec_for_extension(suffix) is None:
        return "not a supported format"
    if len(data) > MAX_ATTACHMENT_BYTES:
        return "too large"
    if _depth.get() >= _MAX_DEPTH:
        return "nested too deeply"
    token = _depth.set(_depth.get() + 1)
    try:
        with tempfile.TemporaryDirectory(prefix="zhiku-eml-") as tmp:
            target = Path(tmp) / f"attachment{suffix}"
            target.write_bytes(data)
            doc = load_file(target, filename=name)
    except ZhikuError as e:
        return e.message.removeprefix(f"{name}: ")
    finally:
        _depth.reset(token)
    section = (f"Attachment: {name}",)
    return [
        Block(b.text, kind=b.kind, page=b.page, section=section + b.section,
              meta={**b.meta, "attachment": name})
        for b in doc.blocks
    ]


@register("eml", (".eml",))
def load_eml(path: Path) -> LoadedDocument:
    msg = _parse(path.read_bytes())
    headers = {h: _header(msg, h) for h in _HEADERS}
    if not any(headers.values()) and not msg.keys():
        raise LoadError("not an e-mail message (no headers)")
    blocks: list[Block] = []
    head = "\n".join(f"{h}: {v}" for h, v in headers.items() if v)
    if head:
        blocks.append(Block(head, meta={"headers": True}))
    blocks.extend(_body_blocks(msg))
    names: list[str] = []
    extra: list[Block] = []
    for i, part in enumerate(msg.iter_attachments(), 1):
        name = " ".join(clean_text(part.get_filename() or "").split())
        if not name and part.get_content_type() == "message/rfc822":
            name = f"message-{i}.eml"
        name = Path(name.replace("\\", "/")).name or f"attachment-{i}"
        names.append(name)
        loaded = _load_attachment(name, _attachment_bytes(part))
        if isinstance(loaded, str):
            log.info("%s: attachment %s not loaded: %s", path.name, name, loaded)
        else:
            extra.extend(loaded)
    if names:
        blocks.append(Block("Attachments: " + ", ".join(names), meta={"attachments": names}))
    blocks.extend(extra)
    return LoadedDocument(
        blocks, title=headers["Subject"] or None,
        meta={"from": headers["From"], "date": headers["Date"], "attachments": names},
    )
