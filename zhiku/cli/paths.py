"""What `zhiku kb add` and `zhiku kb remove` take: files, folders and patterns, and the names
files get in a knowledge base.

``kb add KB ~/docs/handbook/ "*.pdf"``: a pattern filters the files of the folders given (matched
against each file's path under its folder, or its file name); without a folder it is matched in
the current folder, as a shell would (Windows' shells do not expand patterns). A pattern or folder
that finds nothing is a warning, not the end of the batch.

Names (README "Adding files"): a folder's files are named by their path under the folder, starting
with the folder's own name (``handbook/leave/policy.pdf``); a file given by itself by its file
name (``policy.pdf``), unless the knowledge base holds a folder's file under a name its path ends
with: adding ``~/docs/handbook/leave/policy.pdf`` alone after its folder replaces
``handbook/leave/policy.pdf`` instead of adding a second copy. (A name of one part, ``policy.pdf``,
says nothing of its folder and is never taken for another path's.) Names are joined with ``/``
and in Unicode NFC (macOS gives file names in NFD), on every system.
"""

from __future__ import annotations

import fnmatch
import glob
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Collection, Sequence

from zhiku.ingest.pipeline import Source


@dataclass
class Expansion:
    """The files found (in a stable order, each once) and what found nothing."""

    sources: list[Source] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


_RELATIVE = ("./", "../", ".\\", "..\\")


def is_pattern(text: str) -> bool:
    return glob.has_magic(text)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _hidden(part: str) -> bool:
    return part.startswith(".") and part not in (".", "..")


def folder_file_name(folder: PurePath, relative: PurePath) -> str:
    """The name of a folder's file: the folder's name, then the file's path under it, joined
    with '/' whatever the system's separator (``PureWindowsPath`` parts as well as POSIX ones)."""
    parts = [p for p in (folder.name, *relative.parts) if p]
    return nfc("/".join(parts))


def matches(name: str, pattern: str) -> bool:
    """Whether a pattern matches a file's name in a KB (or its path under a folder): the whole
    name or its end from any '/' on (``sub/*`` finds handbook/sub/pay.md, ``*.pdf`` any PDF);
    case does not matter (``*.pdf`` finds X.PDF)."""
    name, pattern = nfc(name).casefold(), nfc(pattern).casefold()
    parts = name.split("/")
    return any(fnmatch.fnmatchcase("/".join(parts[i:]), pattern) for i in range(len(parts)))


def expand(args: Sequence[str], existing: Collection[str] = (), cwd: Path | None = None) -> Expansion:
    """The files that ``args`` (files, folders, patterns) name. ``existing``: the names the KB
    holds already (a file whose path ends with one of them takes that name); ``cwd``: where a
    pattern given without a folder is matched (the current folder by default)."""
    found = Expansion()
    seen: set[Path] = set()
    here = cwd or Path.cwd()
    files: list[Path] = []
    folders: list[tuple[Path, str]] = []  # with the argument as given, to name it in a warning
    patterns: list[str] = []  # filters of the folders given (or, with none, matched in ``here``)
    paths: list[str] = []  # patterns written as paths (/…, ~/…, ./…, ../…): always matched where they point
    for raw in args:
        p = Path(raw).expanduser()
        if not p.is_absolute():
            p = here / p
        if p.is_dir():
            folders.append((p, raw))
        elif p.is_file():
            files.append(p)
        elif is_pattern(raw) and (Path(raw).expanduser().is_absolute() or raw.startswith(_RELATIVE)):
            paths.append(raw)
        elif is_pattern(raw):
            patterns.append(raw)
        else:
            found.warnings.append(f"no such file or folder: {raw}")
    by_name = _existing_tails(existing)

    def take(path: Path, name: str) -> None:
        real = path.resolve()
        if real in seen:
            return
        seen.add(real)
        found.sources.append(Source(path, _known_name(real, name, by_name)))

    hits = {pattern: 0 for pattern in patterns}
    if folders:
        for folder, given in folders:
            listed = _folder_files(folder)
            if not listed:
                found.warnings.append(f"no files found in {given}")
                continue
            for sub in listed:
                rel = sub.relative_to(folder)
                chosen = [pat for pat in patterns if matches(rel.as_posix(), pat)]
                for pat in chosen:
                    hits[pat] += 1
                if chosen or not patterns:
                    take(sub, folder_file_name(folder.resolve(), rel))
        where = folders[0][1] if len(folders) == 1 else "the folders given"
        for pat, n in hits.items():
            if not n:
                found.warnings.append(f"no files in {where} match '{pat}'")
    for f in files:  # after the folders: a file inside a folder given too keeps its folder's name
        take(f, nfc(f.name))
    for pat in [*paths, *(() if folders else patterns)]:  # matched where they point, as a shell would
        full = Path(pat).expanduser()
        listed = sorted(Path(m) for m in glob.glob(str(full if full.is_absolute() else here / full), recursive=True))
        matched = False
        for m in listed:
            if m.is_file():
                matched = True
                take(m, nfc(m.name))
            elif m.is_dir():  # a folder the pattern names: its files, under its name
                matched = True
                for sub in _folder_files(m):
                    take(sub, folder_file_name(m.resolve(), sub.relative_to(m)))
        if not matched:
            found.warnings.append(f"no files match '{pat}'")
    return found


def _folder_files(folder: Path) -> list[Path]:
    """A folder's files, recursively, hidden files and folders left out, in a stable order."""
    out = []
    for sub in sorted(folder.rglob("*")):
        rel = sub.relative_to(folder)
        if sub.is_file() and not any(_hidden(x) for x in rel.parts):
            out.append(sub)
    return out


def _existing_tails(existing: Collection[str]) -> dict[str, list[tuple[str, ...]]]:
    """The KB's names by their last part, each as its '/'-separated parts."""
    out: dict[str, list[tuple[str, ...]]] = {}
    for name in existing:
        parts = tuple(nfc(name).split("/"))
        out.setdefault(parts[-1], []).append(parts)
    return out


def _known_name(path: Path, name: str, by_name: dict[str, list[tuple[str, ...]]]) -> str:
    """``name``, unless the KB holds a folder's file under a name this path ends with (the longest):
    a name of one part says nothing about the folder, so it is never taken for another path's."""
    parts = tuple(nfc(p) for p in path.parts)
    best: tuple[str, ...] | None = None
    for candidate in by_name.get(parts[-1], ()):
        if 1 < len(candidate) <= len(parts) and parts[-len(candidate):] == candidate and (best is None or len(candidate) > len(best)):
            best = candidate
    return "/".join(best) if best is not None else name
