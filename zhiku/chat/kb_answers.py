"""Answers to questions about a knowledge base itself (``zhiku.chat.kb_questions``), from the
catalog (its files, and which of their chunks contain a term) and the file summaries
(``zhiku.chat.summaries``), each file cited by one of its passages: the passage holding the term,
or its first. Quoted and counted, never generated: no chat model is called."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from zhiku.chat.kb_questions import KBQuestion
from zhiku.chat.summaries import Summaries
from zhiku.chat.summaries_store import StoredSummary
from zhiku.schema import Answer, AnswerEvent, Citation, Delta, FileRecord, Final, Hit, KnowledgeBase, Retrieved
from zhiku.schema.summaries import label_for
from zhiku.store.catalog import Catalog
from zhiku.store.db import chunks

LISTED_MAX = 30  # files named in one answer; the rest are counted
SHOWN_CHARS = 160  # of a file's summary in a list
ABOUT_MAX = 5  # files named as closest by their summaries when none mentions the term

TEXT = {
    "zh": {
        "source": "（根据知识库的文件目录和文件摘要回答，未检索段落。）",
        "kb": "知识库“{kb}”",
        "count_files": "{kb}有 {n} 个文件。",
        "mention": "{kb}的 {total} 个文件中，有 {n} 个提到“{term}”：",
        "mention_none": "{kb}的 {total} 个文件都没有提到“{term}”。",
        "about": "{kb}中与“{term}”有关的文件（按摘要的相关度排列）：",
        "about_none": "{kb}没有文件提到“{term}”；按摘要看最接近的是：",
        "overview": "{kb}有 {n} 个文件。摘要（{label}）：",
        "files": "文件：",
        "more": "……另有 {n} 个文件未列出。",
        "chunks": "{n} 段",
        "empty": "{kb}还没有已索引的文件。",
    },
    "en": {
        "source": "(Answered from the knowledge base's catalog and file summaries, not from retrieved passages.)",
        "kb": "the knowledge base '{kb}'",
        "count_files": "{kb} has {n} files.",
        "mention": "{n} of the {total} files of {kb} mention '{term}':",
        "mention_none": "None of the {total} files of {kb} mentions '{term}'.",
        "about": "Files of {kb} about '{term}' (closest summaries first):",
        "about_none": "No file of {kb} mentions '{term}'; the closest by their summaries are:",
        "overview": "{kb} has {n} files. Summary ({label}):",
        "files": "Files:",
        "more": "… and {n} more files not listed.",
        "chunks": "passages: {n}",
        "empty": "{kb} has no indexed files yet.",
    },
}


@dataclass
class _Cited:
    record: FileRecord
    chunk_id: int | None
    note: str = ""


class KBAnswers:
    def __init__(self, engine: Engine, catalog: Catalog, summaries: Summaries) -> None:
        self.engine, self.catalog, self.summaries = engine, catalog, summaries

    def stream(self, question: KBQuestion, kbs: Sequence[KnowledgeBase], lang: str) -> Generator[AnswerEvent, None, None]:
        t = TEXT["zh" if lang == "zh" else "en"]
        lines: list[str] = []
        cited: list[_Cited] = []
        for kb in kbs:
            if lines:
                lines.append("")
            lines += self._one(question, kb, t, cited)
        lines += ["", t["source"]]
        citations = self._citations(cited)
        hits = [Hit(**c.model_dump(exclude={"n"})) for c in citations]
        yield Retrieved(hits=hits, lang=lang, best_score=1.0 if hits else 0.0, found=bool(hits))
        text = "\n".join(line[:1].upper() + line[1:] for line in lines)
        yield Delta(text=text)
        yield Final(answer=Answer(answer=text, found=True, citations=citations, lang=lang, mode="extractive",
                                  best_score=1.0 if hits else 0.0, finish_reason="stop"))

    def _one(self, q: KBQuestion, kb: KnowledgeBase, t: dict[str, str], cited: list[_Cited]) -> list[str]:
        name = t["kb"].format(kb=kb.name)
        records = self.catalog.list_files(kb.id, status="indexed")
        if not records:
            return [t["empty"].format(kb=name)]
        if q.kind in ("count_files", "list_files"):
            parts = self.summaries.all_files(kb)
            return [t["count_files"].format(kb=name, n=len(records)), t["files"],
                    *self._listed(parts, t, cited, kb)]
        if q.kind == "count_mention":
            mentions = self.mentions(kb, q.term)
            if not mentions:
                return [t["mention_none"].format(kb=name, total=len(records), term=q.term)]
            by_id = {r.id: r for r in records}
            found = sorted(((by_id[f], first, n) for f, (first, n) in mentions.items() if f in by_id),
                           key=lambda x: x[0].name)
            lines = [t["mention"].format(kb=name, n=len(found), total=len(records), term=q.term)]
            for record, first, n in found[:LISTED_MAX]:
                lines.append(f"- {record.name} ({t['chunks'].format(n=n)}) {self._mark(cited, record, first)}")
            if len(found) > LISTED_MAX:
                lines.append(t["more"].format(n=len(found) - LISTED_MAX))
            return lines
        parts = self.summaries.all_files(kb)
        if q.kind == "which_files":
            mentions = self.mentions(kb, q.term)
            ranked = self.summaries.search(kb, q.term, parts)
            with_term = [(r, s) for r, s, _ in ranked if r.id in mentions]
            if with_term:
                lines = [t["about"].format(kb=name, term=q.term)]
                chosen = with_term
            else:
                lines = [t["about_none"].format(kb=name, term=q.term)]
                chosen = [(r, s) for r, s, _ in ranked[:ABOUT_MAX]]
            return lines + self._listed(chosen, t, cited, kb, {f: first for f, (first, _) in mentions.items()})
        summary = self.summaries.stored_kb(kb, parts)
        return [t["overview"].format(kb=name, n=len(records), label=label_for(summary.kind, summary.model, True)),
                summary.text, "", t["files"], *self._listed(parts, t, cited, kb)]

    def _listed(self, parts: Sequence[tuple[FileRecord, StoredSummary]], t: dict[str, str], cited: list[_Cited],
                kb: KnowledgeBase, passages: dict[str, int] | None = None) -> list[str]:
        lines = []
        for record, s in list(parts)[:LISTED_MAX]:
            shown = s.text if len(s.text) <= SHOWN_CHARS else s.text[:SHOWN_CHARS - 1] + "…"
            mark = self._mark(cited, record, (passages or {}).get(record.id))
            lines.append(f"- {record.name} {mark}: {shown}")
        if len(parts) > LISTED_MAX:
            lines.append(t["more"].format(n=len(parts) - LISTED_MAX))
        return lines

    @staticmethod
    def _mark(cited: list[_Cited], record: FileRecord, chunk_id: int | None) -> str:
        cited.append(_Cited(record, chunk_id))
        return f"[{len(cited)}]"

    def mentions(self, kb: KnowledgeBase, term: str) -> dict[str, tuple[int, int]]:
        """The files whose chunks contain ``term`` (any case): file id → (first such chunk, how many)."""
        if not term:
            return {}
        q = (select(chunks.c.file_id, func.min(chunks.c.id), func.count())
             .where(chunks.c.kb_id == kb.id, func.lower(chunks.c.text).contains(term.lower(), autoescape=True))
             .group_by(chunks.c.file_id))
        with self.engine.connect() as conn:
            return {row[0]: (int(row[1]), int(row[2])) for row in conn.execute(q)}

    def _citations(self, cited: list[_Cited]) -> list[Citation]:
        """Each file named, cited by its passage: the one holding the term, or its first."""
        firsts = {c.record.id: self._first_chunk(c.record.id) for c in cited if c.chunk_id is None}
        wanted = [c.chunk_id if c.chunk_id is not None else firsts.get(c.record.id) for c in cited]
        found = self.catalog.chunks_by_id([i for i in wanted if i is not None])
        out = []
        for n, (c, chunk_id) in enumerate(zip(cited, wanted), 1):
            if chunk_id is None or chunk_id not in found:
                continue
            chunk, origin = found[chunk_id]
            out.append(Citation(n=n, kb=self._kb_name(c.record), file=origin.name, file_id=c.record.id,
                                page=chunk.page, page_end=chunk.page_end,
                                section=" > ".join(chunk.section) or None,
                                chunk_id=chunk.id, score=1.0, text=chunk.text, doc_key=origin.doc_key))
        return out

    def _first_chunk(self, file_id: str) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(select(func.min(chunks.c.id)).where(chunks.c.file_id == file_id)).scalar()

    def _kb_name(self, record: FileRecord) -> str:
        return self.catalog.get_kb_by_id(record.kb_id).name
