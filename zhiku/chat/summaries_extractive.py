"""Extractive summaries: a text's most central sentences (TextRank over the sentences' shared
lexical tokens), quoted in their original order. No model; shown labelled as extractive."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from zhiku.text.sentences import split_sentences

MAX_SENTENCES = 600  # a long file is sampled evenly down to this many sentences
SENTENCE_MAX_CHARS = 300
MIN_TOKENS = 3
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[^\W_]+")
STOPWORDS = frozenset("""a an the and or but of to in on at by for with from as is are was were be been being it its
this that these those he she they we you i his her their our your not no do does did has have had will would can
could may might shall should than then there here which who whom what when where why how all any each more most
some such into over under about also only so if""".split())


def overlap_tokens(sentence: str) -> set[str]:
    """The tokens two sentences are compared by: Chinese as character pairs, other words lower-cased
    without the most common English ones (fast: no segmenter, and it only has to tell overlap)."""
    tokens: set[str] = set()
    for run in _CJK_RUN.findall(sentence):
        tokens.update(run[i:i + 2] for i in range(max(1, len(run) - 1)))
    rest = _CJK_RUN.sub(" ", sentence).lower()
    tokens.update(w for w in _WORD.findall(rest) if len(w) > 1 and w not in STOPWORDS)
    return tokens


def candidate_sentences(texts: Sequence[str]) -> list[str]:
    """The texts' sentences, once each, without the too short ones (headings, list bullets)."""
    seen: set[str] = set()
    out: list[str] = []
    for text in texts:
        for sentence in split_sentences(text):
            s = " ".join(sentence.split()).lstrip("#>*-• ").strip()
            if len(s) < 6 or s in seen:
                continue
            seen.add(s)
            out.append(s)
    if len(out) > MAX_SENTENCES:
        step = len(out) / MAX_SENTENCES
        out = [out[int(i * step)] for i in range(MAX_SENTENCES)]
    return out


def central_sentences(texts: Sequence[str], k: int = 3) -> list[str]:
    """The ``k`` most central sentences of ``texts`` (TextRank: a sentence is central when it
    shares words with many other central sentences), in the order they appear."""
    sentences = candidate_sentences(texts)
    token_sets = [overlap_tokens(s) for s in sentences]
    kept = [i for i, t in enumerate(token_sets) if len(t) >= MIN_TOKENS] or list(range(len(sentences)))
    sentences = [sentences[i] for i in kept]
    token_sets = [token_sets[i] for i in kept]
    if len(sentences) <= k:
        return [_cut(s) for s in sentences]
    scores = textrank(token_sets)
    best = sorted(np.argsort(-scores, kind="stable")[:k].tolist())
    return [_cut(sentences[i]) for i in best]


def textrank(token_sets: Sequence[set[str]], damping: float = 0.85, rounds: int = 40) -> np.ndarray:
    """PageRank over the sentence graph whose edge weight is TextRank's overlap
    |a ∩ b| / (log |a| + log |b|)."""
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for i, tokens in enumerate(token_sets):
        for t in tokens:
            rows.append(i)
            cols.append(vocab.setdefault(t, len(vocab)))
    n = len(token_sets)
    b = np.zeros((n, max(1, len(vocab))), dtype=np.float32)
    b[rows, cols] = 1.0
    overlap = b @ b.T
    logs = np.array([math.log(len(t) + 1.0) for t in token_sets], dtype=np.float32)
    weights = overlap / np.maximum(logs[:, None] + logs[None, :], 1e-6)
    np.fill_diagonal(weights, 0.0)
    out_sum = weights.sum(axis=1, keepdims=True)
    transition = np.divide(weights, out_sum, out=np.zeros_like(weights), where=out_sum > 0)
    scores = np.full(n, 1.0 / n, dtype=np.float32)
    for _ in range(rounds):
        scores = (1 - damping) / n + damping * (transition.T @ scores)
    return scores


def _cut(sentence: str) -> str:
    return sentence if len(sentence) <= SENTENCE_MAX_CHARS else sentence[:SENTENCE_MAX_CHARS - 1] + "…"


def extractive_text(texts: Sequence[str], k: int = 3) -> str:
    return " ".join(central_sentences(texts, k))
