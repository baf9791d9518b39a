"""JSON, JSON Lines and Jupyter notebooks.

JSON is flattened to ``key.sub: value`` lines, which read (and search) better than
braces: an array gives one block per item, an object one block per top-level key
whose value is large (``section`` = the key).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from zhiku.errors import LoadError
from zhiku.ingest.loaders.base import Block, LoadedDocument, register
from zhiku.ingest.loaders.encoding import clean_text
from zhiku.ingest.loaders.text import SectionStack, markdown_blocks, paragraph_blocks, read_text

log = logging.getLogger(__name__)

_SMALL = 1500
_MAX_OUTPUT = 2000


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return clean_text(str(value))


def flatten(value: Any, prefix: str = "") -> list[str]:
    """``key.sub[0].x: value`` lines; lists of scalars on one line."""
    if isinstance(value, dict):
        if not value:
            return [f"{prefix}: {{}}"] if prefix else []
        lines: list[str] = []
        for key, sub in value.items():
            lines.extend(flatten(sub, f"{prefix}.{key}" if prefix else str(key)))
        return lines
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            joined = ", ".join(_scalar(v) for v in value)
            return [f"{prefix}: {joined}" if prefix else joined]
        lines = []
        for i, sub in enumerate(value):
            lines.extend(flatten(sub, f"{prefix}[{i}]"))
        return lines
    return [f"{prefix}: {_scalar(value)}" if prefix else _scalar(value)]


def _item_block(value: Any, section: tuple[str, ...] = (), **meta: Any) -> Block:
    return Block("\n".join(flatten(value)), section=section, meta=meta)


def json_blocks(data: Any) -> list[Block]:
    if isinstance(data, list) and all(not isinstance(v, (dict, list)) for v in data):
        return [  # an array of scalars: lines, a hundred per block
            Block("\n".join(_scalar(v) for v in data[i : i + 100]), meta={"index": i})
            for i in range(0, len(data), 100)
        ]
    if isinstance(data, list):
        return [_item_block(item, index=i) for i, item in enumerate(data)]
    if not isinstance(data, dict):
        return [_item_block(data)]
    whole = "\n".join(flatten(data))
    if len(whole) <= _SMALL:
        return [Block(whole)]
    blocks: list[Block] = []
    scalars = {k: v for k, v in data.items() if not isinstance(v, (dict, list))}
    if scalars:
        blocks.append(_item_block(scalars))
    for key, value in data.items():
        if key in scalars:
            continue
        section = (str(key),)
        if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
            blocks.extend(_item_block(v, section, index=i) for i, v in enumerate(value))
        else:
            blocks.append(Block("\n".join(flatten(value, str(key))), section=section))
    return blocks


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise LoadError(f"invalid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from e
    except RecursionError as e:
        raise LoadError("JSON nested too deeply to read") from e


@register("json", (".json",))
def load_json(path: Path) -> LoadedDocument:
    data = _parse_json(read_text(path))
    title = data.get("title") if isinstance(data, dict) else None
    return LoadedDocument(json_blocks(data), title=title if isinstance(title, str) else None)


@register("jsonl", (".jsonl", ".ndjson"))
def load_jsonl(path: Path) -> LoadedDocument:
    blocks: list[Block] = []
    good = bad = 0
    first_error = ""
    for n, line in enumerate(read_text(path).split("\n"), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as e:
            bad += 1
            first_error = first_error or f"line {n}: {e}"
            blocks.append(Block(line.strip(), meta={"line": n, "invalid_json": True}))
            continue
        good += 1
        blocks.append(_item_block(value, line=n))
    if bad and not good:
        raise LoadError(f"not JSON Lines ({first_error})")
    if bad:
        log.warning("%s: %d line(s) are not valid JSON, kept as text (%s)", path.name, bad,
                    first_error)
    return LoadedDocument(blocks)


def _source(value: Any) -> str:
    return clean_text("".join(value) if isinstance(value, list) else str(value or ""))


def _outputs(cell: dict[str, Any]) -> str:
    texts = []
    for out in cell.get("outputs") or []:
        if out.get("output_type") == "stream":
            texts.append(_source(out.get("text")))
        elif out.get("output_type") in ("execute_result", "display_data"):
            texts.append(_source((out.get("data") or {}).get("text/plain")))
    text = "\n".join(t.strip("\n") for t in texts if t.strip())
    return text[:_MAX_OUTPUT] + (" …" if len(text) > _MAX_OUTPUT else "")


@register("ipynb", (".ipynb",))
def load_ipynb(path: Path) -> LoadedDocument:
    nb = _parse_json(read_text(path))
    if not isinstance(nb, dict):
        raise LoadError("not a Jupyter notebook (no cells)")
    cells = nb.get("cells")
    if cells is None and nb.get("worksheets"):  # nbformat 3
        cells = nb["worksheets"][0].get("cells")
    if not isinstance(cells, list):
        raise LoadError("not a Jupyter notebook (no cells)")
    meta = nb.get("metadata") or {}
    lang = ((meta.get("kernelspec") or {}).get("language")
            or (meta.get("language_info") or {}).get("name") or "")
    sections = SectionStack()
    blocks: list[Block] = []
    title = meta.get("title") if isinstance(meta.get("title"), str) else None
    for i, cell in enumerate(cells, 1):
        if not isinstance(cell, dict):
            continue
        kind = cell.get("cell_type")
        src = _source(cell.get("source", cell.get("input")))
        if kind == "markdown":
            new, h1 = markdown_blocks(src, sections)
            title = title or h1
        elif kind == "code":
            new = [Block(src, kind="code", section=sections.path,
                         meta={"lang": lang} if lang else {})] if src.strip() else []
            output = _outputs(cell)
            if output:
                new.append(Block(output, section=sections.path, meta={"output": True}))
        else:
            new = paragraph_blocks(src, sections.path)
        for b in new:
            b.meta["cell"] = i
        blocks.extend(new)
    return LoadedDocument(blocks, title=title, meta={"lang": lang} if lang else {})
