"""Multipart uploads streamed to their staging files chunk by chunk.

Starlette's form parser spools every file before the route runs, with no size
limit; here the request body is parsed as it arrives and each part's bytes go
straight to the core's ``UploadStaging`` (which enforces the limits and refuses
bad names), so memory holds one network chunk at a time and an upload over the
limit stops at the limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from fastapi import Request
from python_multipart import MultipartParser
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from zhiku.errors import InvalidInput, TooLarge
from zhiku.ingest.jobs import StagedFile, UploadStaging

FIELD_LIMIT = 64 * 1024  # a non-file form field may not be larger than this
MAX_FIELDS = 100  # text fields in one form
OVERHEAD = 1 << 20  # multipart headers and boundaries on top of the files' bytes
_EXT_FILENAME = re.compile(r"filename\*\s*=\s*([^;]+)", re.IGNORECASE)
_FILENAME = re.compile(r'(?:^|;)\s*filename\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', re.IGNORECASE)
_ESCAPED = re.compile(r"%([01][0-9A-Fa-f]|22)")


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def filename_of(disposition: bytes) -> str | None:
    """The file name of a part (RFC 5987 ``filename*`` preferred); None for a plain field."""
    ext = _EXT_FILENAME.search(_decode(disposition))
    if ext:
        value = ext.group(1).strip().strip('"')
        charset, _, rest = value.partition("''")
        if rest:
            try:
                return unquote(rest, encoding=charset or "utf-8", errors="strict")
            except (LookupError, UnicodeDecodeError):
                raise InvalidInput("an uploaded file name is not properly encoded") from None
    # read here, not with python-multipart's parse_options_header, which cuts a name that looks like
    # a Windows path down to its last part: such a name is refused with the reason instead
    plain = _FILENAME.search(_decode(disposition))
    if plain is None:
        return None
    value = plain.group(1).strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace("\\\\", "\\").replace('\\"', '"')
    # browsers escape " CR LF (the HTML standard), httpx every control character: undo it, so
    # that a control character is seen (and refused) rather than kept as "%00"
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), value)


class _Receiver:
    """python-multipart callbacks queue operations; ``flush`` runs them off the event loop. File parts
    go to ``staging``; the (small) text fields are kept, and ``on_field`` sees each one as soon as it
    is complete, before any later part is written."""

    def __init__(self, staging: UploadStaging, on_field: Callable[[str, str], None] | None = None) -> None:
        self.staging = staging
        self.on_field = on_field
        self.fields: dict[str, str] = {}
        self._name: str | None = None
        self._value = bytearray()
        self.ops: list[tuple[str, Any]] = []
        self.header_field = b""
        self.header_value = b""
        self.disposition = b""
        self.field_size = 0
        self.in_file = False
        self.current: StagedFile | None = None
        self.finished = False

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._part_begin, "on_header_field": self._header_field,
            "on_header_value": self._header_value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_part_end": self._part_end, "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self.disposition, self.field_size, self.in_file = b"", 0, False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def _header_end(self) -> None:
        if self.header_field.lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_field, self.header_value = b"", b""

    def _headers_finished(self) -> None:
        name = filename_of(self.disposition)
        self._value.clear()
        self._name = None
        if name is not None and name != "":  # browsers send filename="" for an empty file input
            self.in_file = True
            self.ops.append(("open", name))
        else:
            raw = parse_options_header(self.disposition)[1].get(b"name")
            self._name = raw.decode("utf-8", "replace") if raw is not None else None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            self.ops.append(("data", bytes(data[start:end])))
            return
        self.field_size += end - start
        if self.field_size > FIELD_LIMIT:
            raise TooLarge("a form field is over 64 KB: send files as file parts")
        self._value += data[start:end]

    def _part_end(self) -> None:
        if self.in_file:
            self.ops.append(("close", None))
        elif self._name is not None:
            if len(self.fields) >= MAX_FIELDS:
                raise InvalidInput(f"a form has at most {MAX_FIELDS} fields")
            self.fields[self._name] = self._value.decode("utf-8", "replace")
            self.ops.append(("field", (self._name, self.fields[self._name])))

    def _end(self) -> None:
        self.finished = True

    def flush(self) -> None:
        ops, self.ops = self.ops, []
        for op, arg in ops:
            if op == "field":
                if self.on_field is not None:
                    self.on_field(*arg)
            elif op == "open":
                self.current = self.staging.add(arg)
            elif op == "data" and self.current is not None:
                self.current.write(arg)
            elif op == "close" and self.current is not None:
                self.current.close()
                self.current = None

    def close(self) -> None:
        if self.current is not None:
            self.current.close()


async def receive_files(
    request: Request, staging: UploadStaging, on_field: Callable[[str, str], None] | None = None,
    expected: str = "send the files as multipart/form-data, one part per file (field name 'files')",
) -> dict[str, str]:
    """Stream the request's file parts into ``staging`` and return its text fields (``on_field``
    sees each as it completes, in a worker thread); raises TooLarge / InvalidInput (``expected``
    says what a body that is not multipart should have been)."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise InvalidInput(expected)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > staging.total_limit + OVERHEAD:
        raise TooLarge(f"the upload is over the {staging.total_limit >> 20} MB limit for one request",
                       limit_mb=staging.total_limit >> 20)
    receiver = _Receiver(staging, on_field)
    parser = MultipartParser(boundary, receiver.callbacks())  # type: ignore[arg-type]  # its callbacks TypedDict is total; the parser takes any subset
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if receiver.ops:
                await run_in_threadpool(receiver.flush)
        parser.finalize()
        await run_in_threadpool(receiver.flush)
    except MultipartParseError as exc:
        raise InvalidInput(f"malformed multipart body: {exc}") from None
    except ClientDisconnect:
        raise InvalidInput("the client went away during the upload") from None
    finally:
        receiver.close()
    if not receiver.finished:
        raise InvalidInput("the upload ended before its last part")
    return receiver.fields
