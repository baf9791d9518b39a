"""Context for the answer: chunks stay small for search, the answerer reads their surroundings.

A hit's passage is widened with the chunks before and after it in its file — the same section only
(a heading is a boundary) — taking the nearer one first, while the whole stays within a budget
(``retrieval.context_chars`` characters per passage; 0 turns it off). The overlap repeated between
neighbouring chunks is read once. Citations still point at the exact passage found: the widened
text is what the model (or the extractive answerer) reads, never what a citation shows.

The chat model's prompt gets the same context (``answer.prompt_context_chars`` for the questions in
``answer.prompt_context_langs``), within the prompt's token budget: a source is widened only while
the prompt still holds every source and earlier turn that it held unwidened, each whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.engine import Engine

from zhiku.chat.budget import Fitted
from zhiku.llm.extractive import ExtractiveAnswerer
from zhiku.llm.relevance import best_relevance
from zhiku.schema import Answer, Hit
from zhiku.text.normalize import detect_lang
from zhiku.store.db import chunks

_MAX_OVERLAP = 2000  # the most characters two neighbouring chunks can repeat (chunk_overlap is at most 2000)


def _join(left: str, right: str) -> str:
    """``left`` then ``right``, the text that ends one and starts the other (the splitter's overlap) once."""
    limit = min(len(left), len(right), _MAX_OVERLAP)
    for k in range(limit, 7, -1):
        if left.endswith(right[:k]):
            return left + right[k:]
    sep = "" if (left[-1:] or " ") > "\u2e80" or (right[:1] or " ") > "\u2e80" else "\n"
    return left + sep + right


@dataclass
class _Row:
    id: int
    seq: int
    text: str
    section: tuple[str, ...]


class ContextWidener:
    """Widens hits with their neighbouring chunks (see the module docstring)."""

    def __init__(self, engine: Engine | None, budget_chars: int, langs: tuple[str, ...] | list[str] | None = None,
                 prompt_chars: int = 0, prompt_langs: tuple[str, ...] | list[str] | None = None) -> None:
        """``engine``: the database of the chunks (None: nothing is widened); ``langs``: the questions'
        languages the extractive answer widens for (None: every one); ``prompt_chars`` and
        ``prompt_langs`` the same for a chat model's prompt (0: its sources are the passages found)."""
        self.engine, self.budget_chars = engine, budget_chars
        self.langs = None if langs is None else set(langs)
        self.prompt_chars = prompt_chars
        self.prompt_langs = None if prompt_langs is None else set(prompt_langs)

    def for_prompt(self, lang: str, hits: list[Hit], fit_texts: Callable[[list[str]], Fitted]) -> Fitted:
        """The prompt's sources fitted (``fit_texts(texts)``, one text per hit, in order), each hit
        widened within ``prompt_chars`` (or half, a quarter... of it) as far as the prompt still keeps,
        whole, every source and turn it keeps with the passages themselves; higher-ranked hits first,
        and a chunk is read once across the sources."""
        plain = [h.text.strip() for h in hits]
        base = fit_texts(plain)
        if self.engine is None or self.prompt_chars <= 0 or (self.prompt_langs is not None and lang not in self.prompt_langs):
            return base
        kept = len(base.sources)
        texts, best = list(plain), base
        with self.engine.connect() as conn:
            where = {r.id: r for r in conn.execute(
                select(chunks.c.id, chunks.c.file_id, chunks.c.seq, chunks.c.section)
                .where(chunks.c.id.in_([h.chunk_id for h in hits])))}
            used = {h.chunk_id for h in hits}
            for i, h in enumerate(hits[:kept]):
                row, budget = where.get(h.chunk_id), self.prompt_chars
                while row is not None and budget > len(h.text):
                    text, taken = ContextWidener(self.engine, budget)._around(conn, h.text, row, used)
                    if not taken:
                        break
                    trial = texts[:i] + [text.strip()] + texts[i + 1:]
                    fitted = fit_texts(trial)
                    if (len(fitted.sources) >= kept and fitted.dropped_turns <= base.dropped_turns
                            and all(s.endswith(t) for s, t in zip(fitted.sources, trial))):  # none shortened
                        texts, best = trial, fitted
                        used |= taken
                        break
                    budget //= 2
        return best

    def widen(self, hits: list[Hit]) -> list[Hit]:
        """Each hit with its text widened (a copy; the same hit when there is nothing to add)."""
        if self.engine is None or self.budget_chars <= 0 or not hits:
            return hits
        with self.engine.connect() as conn:
            where = {r.id: r for r in conn.execute(
                select(chunks.c.id, chunks.c.file_id, chunks.c.seq, chunks.c.section)
                .where(chunks.c.id.in_([h.chunk_id for h in hits])))}
            out = []
            used = {h.chunk_id for h in hits}  # a chunk is read once: as its own hit, or in one hit's context
            for h in hits:
                row = where.get(h.chunk_id)
                if row is None or len(h.text) >= self.budget_chars:
                    out.append(h)
                    continue
                text, taken = self._around(conn, h.text, row, used)
                used |= taken
                out.append(h.model_copy(update={"text": text}) if taken else h)
        return out

    def _around(self, conn: Any, text: str, row: Any, used: set[int]) -> tuple[str, set[int]]:
        """The text widened, and the ids of the chunks it took (none of ``used``)."""
        reach = max(1, self.budget_chars // max(len(text), 50))  # chunks at most this far on each side
        section = tuple(row.section or [])
        near = [_Row(r.id, r.seq, r.text, tuple(r.section or [])) for r in conn.execute(
            select(chunks.c.id, chunks.c.seq, chunks.c.text, chunks.c.section)
            .where(chunks.c.file_id == row.file_id, chunks.c.seq.between(row.seq - reach, row.seq + reach))
            .order_by(chunks.c.seq))]
        sides = {"before": [r for r in near if r.seq < row.seq][::-1], "after": [r for r in near if r.seq > row.seq]}
        growing = {"before": True, "after": True}
        widened, taken = text, set()
        while any(growing.values()):
            for side in ("after", "before"):  # one chunk each side in turn: the nearest context first
                rows = sides[side]
                if not growing[side]:
                    continue
                if not rows or rows[0].section != section or rows[0].id in used:  # a heading ends the context
                    growing[side] = False
                    continue
                nxt = rows.pop(0)
                candidate = _join(widened, nxt.text) if side == "after" else _join(nxt.text, widened)
                if len(candidate) > self.budget_chars:
                    growing[side] = False
                    continue
                widened = candidate
                taken.add(nxt.id)
        return widened, taken

    def answer_extractively(self, answerer: ExtractiveAnswerer, question: str, hits: list[Hit], embedder: str,
                            query_vector: Any = None) -> Answer:
        """The extractive answerer's answer from the widened hits, with the relevance (and the refusal)
        judged on the passages found, and each citation showing the passage found."""
        lang = detect_lang(question)
        if self.engine is None or self.budget_chars <= 0 or (self.langs is not None and lang not in self.langs):
            return answerer.answer(question, hits, embedder, query_vector)
        best = best_relevance(lang, hits, question)
        if best < answerer.floor:
            return answerer.answer(question, hits, embedder, query_vector)  # judged on the passages found
        read = answerer.options.passages  # the passages the answerer reads: a later hit may be their context
        answer = answerer.answer(question, self.widen(hits[:read]) + hits[read:], embedder, query_vector)
        if not answer.found:  # wider text diluted the relevance: answer from the passages themselves
            return answerer.answer(question, hits, embedder, query_vector)
        by_id = {h.chunk_id: h for h in hits}
        answer.citations = [c.model_copy(update={"text": by_id[c.chunk_id].text}) if c.chunk_id in by_id else c
                            for c in answer.citations]
        answer.best_score = round(best, 6)
        return answer
