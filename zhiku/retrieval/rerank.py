"""Optional second stage: reorder the best fused candidates.

``retrieval.rerank`` picks the stage:

- ``none``: the fused order stands.
- ``coverage``: built in, no model. Each candidate's fused score plus ``rerank_weight`` times its
  lexical coverage (the share of the question's rare-term weight the passage contains), so a
  passage that holds every distinctive word of the question moves above one that repeats a single
  word many times (BM25's saturation still rewards the latter).
- ``http``: a cross-encoder the user runs (Xinference, vLLM, LocalAI, Infinity, Jina, Cohere,
  SiliconFlow and others speak this protocol): ``POST {rerank_base_url}/rerank`` with
  ``{"model", "query", "documents", "top_n"}``, answered by
  ``{"results": [{"index", "relevance_score"}]}``.
- ``onnx``: a cross-encoder (bge-reranker-v2-m3, gte-multilingual-reranker-base...) run in-process
  with onnxruntime from the folder ``rerank_model`` names (``zhiku.retrieval.rerank_onnx``).

A reranker only permutes the first ``rerank_candidates`` hits: the scores users see stay the
calibrated fused ones, handed out in the new order (the best hit keeps the best score), so they
remain in [0, 1] and decrease down the list.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from zhiku.errors import InvalidInput, Unavailable
from zhiku.retrieval.fusion import Candidate

if TYPE_CHECKING:
    from zhiku.plugins import Registry

log = logging.getLogger(__name__)
KINDS = ("none", "coverage", "http")  # the built-in ones; plugins may add more


class Reranker(Protocol):
    """Reorders the best fused candidates. ``needs_texts``: whether ``scores`` reads the passages'
    texts (the caller fetches them from the database only then; otherwise ``texts`` is empty)."""

    needs_texts: bool

    def scores(self, query: str, candidates: Sequence[Candidate], texts: Sequence[str]) -> list[float]:
        """A relevance score per candidate, higher is better."""
        ...


@dataclass(frozen=True)
class RerankerOptions:
    """What a reranker factory (kind ``reranker`` in the plugin registry) is built from: the
    ``retrieval.rerank_*`` settings."""

    weight: float = 0.5
    base_url: str | None = None
    model: str | None = None
    api_key: str | None = None
    timeout_s: float = 30.0


RerankerFactory = Callable[[RerankerOptions], Reranker]


class CoverageReranker:
    needs_texts = False

    def __init__(self, weight: float) -> None:
        self.weight = weight

    def scores(self, query: str, candidates: Sequence[Candidate], texts: Sequence[str]) -> list[float]:
        top = max((c.score for c in candidates), default=0.0) or 1.0
        return [c.score / top + self.weight * (c.lexical or 0.0) for c in candidates]


class HTTPReranker:
    """A cross-encoder behind the common ``/rerank`` protocol (see the module docstring)."""

    needs_texts = True

    def __init__(self, base_url: str, model: str | None, api_key: str | None, timeout_s: float) -> None:
        if not base_url:
            raise InvalidInput("retrieval.rerank is 'http' but retrieval.rerank_base_url is empty")
        self.url = base_url.rstrip("/") + "/rerank"
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s

    def scores(self, query: str, candidates: Sequence[Candidate], texts: Sequence[str]) -> list[float]:
        import httpx

        body = {"query": query, "documents": list(texts), "top_n": len(texts), "return_documents": False}
        if self.model:
            body["model"] = self.model
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            r = httpx.post(self.url, json=body, headers=headers, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise Unavailable(f"the reranker at {self.url} is unreachable: {exc}") from None
        if r.status_code != 200:
            raise Unavailable(f"the reranker at {self.url} answered HTTP {r.status_code}: {r.text[:200]}")
        try:
            results = r.json()["results"]
            out = [float("-inf")] * len(texts)
            for item in results:
                out[int(item["index"])] = float(item["relevance_score"])
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise Unavailable(f"the reranker at {self.url} answered something else than rerank results ({exc})") \
                from None
        return out


def _coverage(options: RerankerOptions) -> Reranker:
    return CoverageReranker(options.weight)


def _http(options: RerankerOptions) -> Reranker:
    return HTTPReranker(options.base_url or "", options.model, options.api_key, options.timeout_s)


def _onnx(options: RerankerOptions) -> Reranker:
    from zhiku.retrieval.rerank_onnx import OnnxReranker  # onnxruntime loads only when chosen

    return OnnxReranker(options.model)


def register_backends(registry: "Registry") -> None:
    """zhiku's own rerankers (``none`` is no reranker, not a backend)."""
    registry.add("reranker", "coverage", _coverage)
    registry.add("reranker", "http", _http)
    registry.add("reranker", "onnx", _onnx)


def build_reranker(kind: str, weight: float = 0.5, base_url: str | None = None, model: str | None = None,
                   api_key: str | None = None, timeout_s: float = 30.0) -> Reranker | None:
    """The reranker registered as ``kind`` (None for ``none``); ``InvalidInput`` naming the choices
    for an unknown one (a request may name it)."""
    from zhiku.plugins import registry

    check_reranker(kind)
    if kind == "none":
        return None
    factory: RerankerFactory = registry().get("reranker", kind)
    return factory(RerankerOptions(weight, base_url, model, api_key, timeout_s))


def check_reranker(kind: str) -> None:
    """``InvalidInput`` naming the choices when ``kind`` names no reranker (a request's choice is
    checked before its answer starts)."""
    from zhiku.plugins import registry

    names = registry().names("reranker")
    if kind != "none" and kind not in names:
        raise InvalidInput(f"unknown reranker '{kind}'; use one of: {', '.join(['none', *names])}")


def rerank(reranker: Reranker, query: str, ranked: list[Candidate], texts: Sequence[str]) -> list[Candidate]:
    """``ranked`` (best first, with their ``texts``) reordered by the reranker; each position keeps
    the score it had, so scores still decrease down the list."""
    if len(ranked) < 2:
        return ranked
    new = reranker.scores(query, ranked, texts)
    if len(new) != len(ranked):
        raise Unavailable(f"the reranker scored {len(new)} of {len(ranked)} passages")
    positions = [c.score for c in ranked]
    order = sorted(range(len(ranked)), key=lambda i: (-new[i], i))
    out = [ranked[i] for i in order]
    for c, s in zip(out, positions):
        c.extra["fused_score"] = c.score
        c.score = s
    return out
