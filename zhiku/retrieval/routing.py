"""Routing: a question asked of no knowledge base in particular ("all my KBs") goes to the KBs
that fit it, and the answer names them.

A KB fits by its **top hits** and by its **profile** (its description, and its summary where one
was made). Every candidate KB is searched once (each KB's hits are fused on its own, so a KB's
scores do not depend on the others searched, and compare across them: ``Retriever.merge``); a KB's
evidence is the score of its best hit, plus a small share of how close the question is to its
profile (the calibrated similarity of the question's vector and the profile's). The KBs within
``keep`` of the best one are chosen, at most ``max_kbs`` of them; the answer comes from their
hits alone. When there are more than ``probe_max`` candidates, only the ``probe_max`` whose
profiles fit the question best (and whose lexical index matches its words) are searched.

bench/routing.py measures it: the dev sets pooled, each its own KB; recall@5 routed against
searching each question's own KB directly (docs/benchmarks.md, "Routing").
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from zhiku.errors import InvalidInput
from zhiku.retrieval.fusion import calibrate
from zhiku.schema import Hit, KnowledgeBase

if TYPE_CHECKING:
    from zhiku.retrieval.search import Retriever

#: what a KB is about, beyond its name: its description and (when there is one) its summary
Profile = Callable[[KnowledgeBase], str]


@dataclass
class Route:
    """Where a question went: the KBs chosen (best first), their hits, and what each KB scored."""

    kbs: list[KnowledgeBase]
    hits: list[Hit]
    considered: int  # candidate KBs
    scores: dict[str, float] = field(default_factory=dict)  # KB name → route score, every KB searched

    @property
    def names(self) -> list[str]:
        return [kb.name for kb in self.kbs]


def description_profile(kb: KnowledgeBase) -> str:
    return kb.description.strip()


class Router:
    #: a KB is chosen when its route score is at least this share of the best KB's
    keep = 0.9
    #: the most KBs an answer is taken from
    max_kbs = 3
    #: the weight of the profile's fit beside the best hit's score
    profile_weight = 0.1
    #: more candidates than this: only those whose profile and words fit best are searched
    probe_max = 24
    #: hits looked at per question to score the KBs (the KBs' best hits among them)
    probe_hits = 50

    def __init__(self, retriever: "Retriever", profile: Profile | None = None) -> None:
        self.retriever = retriever
        self.profile = profile or description_profile
        self._vectors: dict[tuple[str, str, str], np.ndarray] = {}
        self._lock = threading.Lock()

    def route(self, kbs: Sequence[KnowledgeBase], question: str, top_k: int, mode: str | None = None,
              query_vectors: dict[str, np.ndarray] | None = None) -> Route:
        """Choose among ``kbs`` (those the asker may read) and return the chosen KBs' ``top_k`` hits."""
        if not kbs:
            raise InvalidInput("there is no knowledge base to answer from: create one, or ask for access to one")
        vectors = dict(query_vectors or {})
        mode = mode or self.retriever.settings.mode
        fit = self._profile_fit(kbs, question, vectors) if mode != "lexical" else {}
        probed = self._probe(kbs, question, fit)
        hits = self.retriever.search(probed, question, max(self.probe_hits, top_k), mode, query_vectors=vectors)
        best: dict[str, float] = {}
        for h in hits:
            best.setdefault(h.kb, h.score)  # hits come best first
        scores = {kb.name: best.get(kb.name, 0.0) + self.profile_weight * fit.get(kb.name, 0.0) for kb in probed}
        ranked = sorted(probed, key=lambda kb: scores[kb.name], reverse=True)
        top = scores[ranked[0].name]
        chosen = [kb for kb in ranked if scores[kb.name] >= top * self.keep and scores[kb.name] > 0][: self.max_kbs]
        chosen = chosen or ranked[:1]
        names = {kb.name for kb in chosen}
        kept = [h for h in hits if h.kb in names]
        if len(kept) < top_k and len(chosen) < len(probed):
            # the probe's hits ran out for the chosen KBs: their own search (scores are the same, per KB)
            kept = self.retriever.search(chosen, question, top_k, mode, query_vectors=vectors)
        return Route(kbs=chosen, hits=kept[:top_k], considered=len(kbs),
                     scores={k: round(v, 6) for k, v in scores.items()})

    def _probe(self, kbs: Sequence[KnowledgeBase], question: str, fit: dict[str, float]) -> list[KnowledgeBase]:
        """The KBs searched: all of them, or the ``probe_max`` that fit best by profile and by words."""
        if len(kbs) <= self.probe_max:
            return list(kbs)
        from zhiku.text.normalize import lexical_tokens

        tokens = lexical_tokens(question)
        words: dict[str, float] = {}
        for kb in kbs:
            found = self.retriever.indexes.get(kb).lexical.search(tokens, 1) if tokens else []
            words[kb.name] = found[0][2] if found else 0.0  # the best passage's coverage of the question
        ranked = sorted(kbs, key=lambda kb: words[kb.name] + fit.get(kb.name, 0.0), reverse=True)
        return ranked[: self.probe_max]

    def _profile_fit(self, kbs: Sequence[KnowledgeBase], question: str,
                     vectors: dict[str, np.ndarray]) -> dict[str, float]:
        """KB name → how close the question is to the KB's profile, calibrated to [0, 1] (0: no profile)."""
        out: dict[str, float] = {}
        for kb in kbs:
            text = self.profile(kb)
            if not text:
                continue
            if kb.embedder not in vectors:
                vectors[kb.embedder] = self.retriever.query_vector(kb.embedder, question)
            vec = self._profile_vector(kb, text)
            cosine = float(vec @ vectors[kb.embedder])
            out[kb.name] = calibrate(cosine, self.retriever.embedders.score_range(kb.embedder))
        return out

    def _profile_vector(self, kb: KnowledgeBase, text: str) -> np.ndarray:
        key = (kb.id, kb.embedder, text)
        with self._lock:
            vec = self._vectors.get(key)
        if vec is None:
            vec = self.retriever.embedders.get(kb.embedder).embed_passages([text])[0]
            with self._lock:
                if len(self._vectors) > 4096:
                    self._vectors.clear()
                self._vectors[key] = vec
        return vec
