"""Words the commands print: counts with the right plural, and failure reasons kept short."""

from __future__ import annotations

import re

# a loader's refusal ends with every extension zhiku reads (150 of them); `zhiku formats` lists them
_SUPPORTED_LIST = re.compile(r";\s*supported:(\s+\.[\w.+-]+)+\s*$")
FORMATS_HINT = "`zhiku formats` lists the types zhiku reads"


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 chunk``, ``2 chunks``, ``0 files``."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


def short_reason(name: str, why: str) -> str:
    """A file's failure reason as shown beside its name: without the name repeated in front
    (``x.xyz: no loader reads…``) and without the list of every supported extension."""
    base = name.rsplit("/", 1)[-1]
    for prefix in (name, base):
        if why.startswith(prefix + ": "):
            why = why[len(prefix) + 2:]
            break
    if _SUPPORTED_LIST.search(why):
        why = _SUPPORTED_LIST.sub("", why) + f" ({FORMATS_HINT})"
    return why
