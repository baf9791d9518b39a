"""Extractive summaries: a text's most central sentences (TextRank over the sentences' shared
lexical tokens), quoted in their original order. No model; shown labelled as extractive."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from zhiku.text.normalize import lexical_tokens
from zhiku.text.sentences import split_sentences

MAX_SENTENCES = 600  # a long file is sampled evenly down to this many sentences
SENTENCE_MAX_CHARS = 300
MIN_TOKENS = 3


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
    token_sets = [set(lexical_tokens(s)) for s in sentences]
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
