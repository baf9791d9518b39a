"""Citation markers in a model's answer, checked against the sources it was given.

``[2]``, ``[1, 3]``, ``[1][3]`` and the full-width ``【2】`` are read as citations;
numbers that name no source are dropped (a marker left empty disappears), the rest
are written as ``[n]``. The same check runs on a stream, holding back only the text
of a marker that is still open.
"""

from __future__ import annotations

import re
from typing import Collection

_MARK = re.compile(r"\s?[\[【]\s*(\d{1,3}(?:\s*[,，、;；]\s*\d{1,3})*)\s*[\]】]")
_OPEN = re.compile(r"[\[【][\d\s,，、;；]{0,16}$")


def check(text: str, valid: Collection[int]) -> tuple[str, list[int]]:
    """The text with invalid citation numbers removed, and the valid numbers in order of use."""
    used: list[int] = []

    def fix(m: re.Match[str]) -> str:
        nums = [int(n) for n in re.findall(r"\d+", m.group(1))]
        keep = [n for n in dict.fromkeys(nums) if n in valid]
        for n in keep:
            if n not in used:
                used.append(n)
        lead = " " if m.group(0).startswith((" ", "\t")) else ""
        return (lead + "".join(f"[{n}]" for n in keep)) if keep else ""

    return _MARK.sub(fix, text), used


class StreamChecker:
    """Feed deltas, get checked text back; call ``flush`` at the end."""

    def __init__(self, valid: Collection[int]) -> None:
        self.valid = set(valid)
        self._pending = ""
        self.used: list[int] = []

    def feed(self, delta: str) -> str:
        text = self._pending + delta
        m = _OPEN.search(text)
        # hold back an unfinished marker (and one space before it, which a dropped marker takes along)
        cut = m.start() if m else len(text)
        if cut > 0 and text[cut - 1] in " \t":
            cut -= 1
        ready, self._pending = text[:cut], text[cut:]
        return self._emit(ready)

    def flush(self) -> str:
        ready, self._pending = self._pending, ""
        return self._emit(ready)

    def _emit(self, ready: str) -> str:
        out, used = check(ready, self.valid)
        for n in used:
            if n not in self.used:
                self.used.append(n)
        return out
