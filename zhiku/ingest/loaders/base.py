"""What every loader returns, and the registry that picks a loader for a file.

A loader turns the bytes of one file into ``Block``s in reading order. Blocks
carry where they came from (page, section path, sheet, rows...) so that chunks
and citations can point back to the exact place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from zhiku.errors import UnsupportedFormat


@dataclass
class Block:
    """A run of text in reading order.

    ``kind`` is ``"text"``, ``"heading"``, ``"table"`` (markdown table, header row first)
    or ``"code"``. ``page`` is 1-based (PDF page, slide number); None when the format has
    no pages. ``section`` is the heading path, outermost first. ``meta`` holds
    format-specific places: ``sheet``, ``rows`` ("2-40"), ``ocr`` (True), ``lang``...
    """

    text: str
    kind: str = "text"
    page: int | None = None
    section: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class LoadedDocument:
    blocks: list[Block]
    title: str | None = None
    pages: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n\n".join(b.text for b in self.blocks)


class Loader(Protocol):
    def __call__(self, path: Path) -> LoadedDocument: ...


@dataclass(frozen=True)
class LoaderSpec:
    name: str
    extensions: tuple[str, ...]
    load: Callable[[Path], LoadedDocument]
    sniff: Callable[[bytes], bool] | None = None


_REGISTRY: dict[str, LoaderSpec] = {}


def register(
    name: str, extensions: tuple[str, ...], sniff: Callable[[bytes], bool] | None = None
) -> Callable[[Callable[[Path], LoadedDocument]], Callable[[Path], LoadedDocument]]:
    """Register a loader for the given extensions (lower case, with the dot)."""

    def deco(fn: Callable[[Path], LoadedDocument]) -> Callable[[Path], LoadedDocument]:
        _REGISTRY[name] = LoaderSpec(name, tuple(e.lower() for e in extensions), fn, sniff)
        return fn

    return deco


def registered() -> dict[str, LoaderSpec]:
    return dict(_REGISTRY)


def spec_for_extension(ext: str) -> LoaderSpec | None:
    ext = ext.lower()
    for spec in _REGISTRY.values():
        if ext in spec.extensions:
            return spec
    return None


def unsupported(path: Path, why: str = "") -> UnsupportedFormat:
    known = sorted({e for s in _REGISTRY.values() for e in s.extensions})
    reason = why or f"no loader reads '{path.suffix or path.name}' files"
    return UnsupportedFormat(
        f"{path.name}: {reason}; supported: {' '.join(known)}", file=path.name, supported=known
    )
