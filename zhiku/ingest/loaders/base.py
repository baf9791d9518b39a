"""What every loader returns, what a loader is, and how a file's extension finds one.

A loader turns the bytes of one file into ``Block``s in reading order. Blocks
carry where they came from (page, section path, sheet, rows...) so that chunks
and citations can point back to the exact place.

Loaders live in the plugin registry (``zhiku.plugins``, kind ``loader``) as
``LoaderSpec``s: zhiku's own are declared with ``@register`` in this package's
modules and registered by ``zhiku.ingest.loaders.register_backends``; a plugin
package registers its own with ``registry.add("loader", spec.name, spec)``.
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
    """Reads one file. Raises ``LoadError`` (damaged, encrypted, empty) or ``UnsupportedFormat``
    (not what its name says) for a bad file; any other exception is reported as a damaged file."""

    def __call__(self, path: Path) -> LoadedDocument: ...


Sniff = Callable[[bytes], bool]


@dataclass(frozen=True)
class LoaderSpec:
    """A loader as the registry holds it: ``name`` (also the document's ``meta["format"]``), the
    ``extensions`` it reads (lower case, with the dot), ``load``, and ``sniff``: given the file's
    first bytes, whether they are this format (a plugin's loader without one trusts the extension)."""

    name: str
    extensions: tuple[str, ...]
    load: Callable[[Path], LoadedDocument]  # a Loader
    sniff: Sniff | None = None


_DECLARED: dict[str, LoaderSpec] = {}  # zhiku's own, declared at import of this package's modules


def register(
    name: str, extensions: tuple[str, ...], sniff: Sniff | None = None
) -> Callable[[Callable[[Path], LoadedDocument]], Callable[[Path], LoadedDocument]]:
    """Declare one of zhiku's loaders for the given extensions (lower case, with the dot); the
    built-in plugin registers the declared ones. Outside zhiku, use ``registry.add("loader", ...)``."""

    def deco(fn: Callable[[Path], LoadedDocument]) -> Callable[[Path], LoadedDocument]:
        _DECLARED[name] = LoaderSpec(name, tuple(e.lower() for e in extensions), fn, sniff)
        return fn

    return deco


def declared() -> list[LoaderSpec]:
    return list(_DECLARED.values())


def registered() -> dict[str, LoaderSpec]:
    """Every loader in the plugin registry, by name."""
    from zhiku.plugins import registry

    specs: dict[str, LoaderSpec] = registry().backends("loader")
    return specs


def spec_for_extension(ext: str) -> LoaderSpec | None:
    ext = ext.lower()
    for spec in registered().values():
        if ext in spec.extensions:
            return spec
    return None


def unsupported(path: Path, why: str = "") -> UnsupportedFormat:
    known = sorted({e for s in registered().values() for e in s.extensions})
    reason = why or f"no loader reads '{path.suffix or path.name}' files"
    return UnsupportedFormat(
        f"{path.name}: {reason}; supported: {' '.join(known)}", file=path.name, supported=known
    )
