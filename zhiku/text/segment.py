"""jieba's precise mode with the HMM on (``jieba.lcut(text)``), token for token, over a compact
copy of its dictionary.

jieba keeps its dictionary as one Python dict of ~500k strings: every word and every prefix of
every word (the prefixes stop its word lookup early), ~60 MB resident in each server process.
Here the 349k words with a frequency are sorted arrays of integer keys, one per word length up to
four characters (each character one 16-bit field: exact, no hashing), with the word's weight
``log(freq) - log(total)`` beside it, computed with ``math.log`` as jieba computes it; the ~7k
longer words stay a small dict. ~5 MB. A text's candidate words are looked up for every position
at once (NumPy ``searchsorted`` over the windows of each length), then the best route through them
is jieba's own dynamic programme with the same floating-point operations in the same order, ties
broken as its ``max`` over ``(score, end)`` breaks them; runs of single characters that form no
word go to jieba's HMM (``jieba.finalseg``) as in jieba. Equal to ``jieba.lcut`` on every dev-set
text (``tests/text/test_segment.py``).

Why the words alone give jieba's graph: jieba walks ``text[k:i+1]`` while it is a key of its dict
and keeps the ``i`` whose frequency is not zero; since every prefix of a word is a key, the ``i``
it keeps are exactly those where ``text[k:i+1]`` is a word with a frequency.

The arrays are built once from jieba's ``dict.txt`` (~1 s) and cached as an ``.npz`` under the
user's cache folder, keyed by the dictionary file's size and time (a start then loads in a few ms
instead of jieba's ~0.7 s marshal load).
"""

from __future__ import annotations

import logging
import math
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from zhiku.text import disk_cache

log = logging.getLogger(__name__)

FORMAT = 1  # of the cache file
SHORT = 4  # words up to this many characters are integer keys (4 x 16 bits = 64)

# jieba's own block patterns (jieba/__init__.py: re_han_default, re_skip_default)
RE_HAN = re.compile("([\u4E00-\u9FD5a-zA-Z0-9+#&\\._%\\-]+)", re.U)
RE_SKIP = re.compile("(\r\n|\\s)", re.U)
_NAN = float("nan")


def _import_jieba() -> Any:
    # jieba imports pkg_resources (setuptools' deprecated API, ~0.3 s idle, 1.7 s at load 20) only
    # to open its own files, and falls back to open() without it
    hidden = "pkg_resources" not in sys.modules
    if hidden:
        sys.modules["pkg_resources"] = None  # type: ignore[assignment]
    try:
        import jieba
        import jieba.finalseg
    finally:
        if hidden and sys.modules.get("pkg_resources", 0) is None:
            del sys.modules["pkg_resources"]
    jieba.setLogLevel(logging.WARNING)
    return jieba


class Segmenter:
    """``cut(text)`` == ``jieba.lcut(text)`` (precise mode, HMM on); see the module."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        # one sorted array for every length: a word of n characters has its n-th field non-zero, so
        # its key lies in [2^(16(n-1)), 2^(16n)) and the arrays of lengths 1..4 follow one another
        self.keys = np.concatenate([arrays[f"keys{n}"] for n in range(1, SHORT + 1)])
        self.weights = np.concatenate([arrays[f"weights{n}"] for n in range(1, SHORT + 1)])
        long_words = bytes(arrays["long_words"]).decode("utf-8").split("\n") if len(arrays["long_words"]) else []
        self.long = dict(zip(long_words, arrays["long_weights"].tolist()))
        self.long_starts = np.unique(np.array([_key(w[:SHORT]) for w in long_words], dtype=np.uint64))
        self.long_max = max((len(w) for w in long_words), default=0)
        self.single = -float(arrays["logtotal"])  # a character that is no word: log(1) - log(total)
        self.finalseg = _import_jieba().finalseg

    def is_word(self, s: str) -> bool:
        """Whether jieba's dictionary has ``s`` with a frequency (``FREQ.get(s)`` is not 0 or None)."""
        if len(s) > SHORT:
            return s in self.long
        if not s or any(ord(c) > 0xFFFF for c in s):
            return False
        key = np.uint64(_key(s))
        i = int(np.searchsorted(self.keys, key))
        return i < len(self.keys) and self.keys[i] == key

    def cut(self, text: str) -> list[str]:
        blocks = RE_HAN.split(text)
        han = [b for b in blocks if b and RE_HAN.match(b)]
        if not han:
            return [t for b in blocks if b for t in _skip(b)]
        weights, long_at = self._candidates(han)
        out: list[str] = []
        base = 0
        for b in blocks:
            if not b:
                continue
            if RE_HAN.match(b):
                self._cut_block(b, base, weights, long_at, out)
                base += len(b) + 1
            else:
                out.extend(_skip(b))
        return out

    def _candidates(self, han: list[str]) -> tuple[list[list[float]], set[int]]:
        """Per word length up to SHORT, per position of the blocks joined by NUL: the weight of the
        word that starts there, or NaN; and the positions where a longer word may start. A window
        that runs past its block's end may match a shorter word (its high fields are the NUL's 0):
        ``_cut_block`` reads only the windows inside the block."""
        codes = np.frombuffer("\0".join(han).encode("utf-16-le"), dtype=np.uint16).astype(np.uint64)
        windows = [codes]  # the key of the window of n characters at every position, n = 1..4
        for n in range(1, SHORT):
            windows.append(windows[-1][:-1] | (codes[n:] << np.uint64(16 * n)))
        key = np.concatenate(windows)
        long_at: set[int] = set()
        if len(self.long_starts) and len(windows[-1]):
            j = np.minimum(np.searchsorted(self.long_starts, windows[-1]), len(self.long_starts) - 1)
            long_at = set(np.flatnonzero(self.long_starts[j] == windows[-1]).tolist())
        if not len(self.keys):
            found: list[float] = [_NAN] * len(key)
        else:
            i = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
            found = np.where(self.keys[i] == key, self.weights[i], _NAN).tolist()
        weights, start = [], 0
        for w in windows:
            weights.append(found[start:start + len(w)])
            start += len(w)
        return weights, long_at

    def _cut_block(self, block: str, base: int, weights: list[list[float]], long_at: set[int],
                   out: list[str]) -> None:
        """jieba's ``__cut_DAG`` for one block starting at ``base`` of the joined text."""
        n = len(block)
        score = [0.0] * (n + 1)
        end = [0] * n
        single = self.single
        w1, w2, w3, w4 = weights
        for k in range(n - 1, -1, -1):  # unrolled over the four short lengths: this loop is the cost
            p = base + k
            best, at = -math.inf, -1
            w = w1[p]
            if w == w:  # a word: not NaN
                best, at = w + score[k + 1], k
            if k + 1 < n:
                w = w2[p]
                if w == w:
                    v = w + score[k + 2]
                    if v >= best:  # ties: the longer word, as jieba's max over (score, end)
                        best, at = v, k + 1
                if k + 2 < n:
                    w = w3[p]
                    if w == w:
                        v = w + score[k + 3]
                        if v >= best:
                            best, at = v, k + 2
                    if k + 3 < n:
                        w = w4[p]
                        if w == w:
                            v = w + score[k + 4]
                            if v >= best:
                                best, at = v, k + 3
                        if p in long_at:
                            best, at = self._longer(block, k, best, at, score)
            if at < 0:  # no word starts here: the character alone
                best, at = single + score[k + 1], k
            score[k], end[k] = best, at
        x, buf = 0, ""
        while x < n:
            y = end[x] + 1
            if y - x == 1:
                buf += block[x]
            else:
                if buf:
                    self._flush(buf, out)
                    buf = ""
                out.append(block[x:y])
            x = y
        if buf:
            self._flush(buf, out)

    def _longer(self, block: str, k: int, best: float, at: int, score: list[float]) -> tuple[float, int]:
        """The words of more than SHORT characters that start at ``k`` of ``block``, after the short ones."""
        for length in range(SHORT + 1, min(self.long_max, len(block) - k) + 1):
            w = self.long.get(block[k:k + length])
            if w is not None:
                v = w + score[k + length]
                if v >= best:
                    best, at = v, k + length - 1
        return best, at

    def _flush(self, buf: str, out: list[str]) -> None:
        if len(buf) == 1:
            out.append(buf)
        elif not self.is_word(buf):
            out.extend(self.finalseg.cut(buf))
        else:
            out.extend(buf)


def _skip(block: str) -> list[str]:
    """jieba's handling of what lies between its blocks: whitespace as it is, the rest char by char."""
    out: list[str] = []
    for x in RE_SKIP.split(block):
        if RE_SKIP.match(x):
            out.append(x)
        else:
            out.extend(x)
    return out


def _key(word: str) -> int:
    return sum(ord(c) << (16 * j) for j, c in enumerate(word))


def dictionary_file() -> Path:
    """jieba's default dictionary (the one ``jieba.initialize()`` loads)."""
    import importlib.util

    spec = importlib.util.find_spec("jieba")
    if spec is None or spec.origin is None:
        raise ImportError("jieba is not installed")
    return Path(spec.origin).with_name("dict.txt")


def build_arrays(path: Path) -> dict[str, np.ndarray]:
    """The compact dictionary from a jieba dictionary file, read as jieba's ``gen_pfdict`` reads
    it: a later line for the same word replaces its frequency; the total counts every line."""
    freq: dict[str, int] = {}
    total = 0
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip().decode("utf-8")
            try:
                word, text_count = line.split(" ")[:2]
                freq[word] = int(text_count)
            except ValueError:
                raise ValueError(f"invalid dictionary entry in {path} at line {lineno}: {line}") from None
            total += freq[word]
    logtotal = math.log(total)
    by_length: list[list[tuple[int, float]]] = [[] for _ in range(SHORT)]
    long_words: list[str] = []
    long_weights: list[float] = []
    for word, n_seen in freq.items():
        if not n_seen or any(ord(c) > 0xFFFF for c in word):
            continue  # a prefix only; or a character no block of text can hold
        weight = math.log(n_seen) - logtotal  # jieba: log(FREQ.get(frag) or 1) - logtotal
        if len(word) <= SHORT:
            by_length[len(word) - 1].append((_key(word), weight))
        else:
            long_words.append(word)
            long_weights.append(weight)
    arrays: dict[str, np.ndarray] = {"logtotal": np.array(logtotal, dtype=np.float64)}
    for n, items in enumerate(by_length, 1):
        items.sort()
        arrays[f"keys{n}"] = np.array([k for k, _ in items], dtype=np.uint64)
        arrays[f"weights{n}"] = np.array([w for _, w in items], dtype=np.float64)
    arrays["long_words"] = np.frombuffer("\n".join(long_words).encode("utf-8"), dtype=np.uint8)
    arrays["long_weights"] = np.array(long_weights, dtype=np.float64)
    return arrays


def load(path: Path | None = None) -> Segmenter:
    """The segmenter over jieba's dictionary (``path``: another jieba dictionary file), from the
    cache when it holds this file's arrays, else built and cached (where the cache can be written)."""
    path = path or dictionary_file()
    st = path.stat()
    name = f"segment-{FORMAT}-{st.st_size}-{st.st_mtime_ns}.npz"
    for folder in disk_cache.folders():
        try:
            with np.load(folder / name, allow_pickle=False) as cached:
                segmenter = Segmenter({k: cached[k] for k in cached.files})
        except (OSError, ValueError, KeyError):
            continue
        disk_cache.used(folder / name)
        return segmenter
    arrays = build_arrays(path)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]

    # each jieba install or upgrade wrote its own
    disk_cache.store(name, "segment-*.npz", write, "the segmenter's dictionary")
    return Segmenter(arrays)


