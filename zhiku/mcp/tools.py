"""What the MCP tools do, apart from the protocol: each takes the ``Zhiku`` app and the caller and
returns a :class:`ToolOutput` (readable text for the model, structured data for the client).

A KB the caller may not read is "does not exist", word for word as an unknown one, so names do
not leak; listing shows only readable KBs. Every refusal is a :class:`ToolRefusal` carrying the
reason (the server turns it into an MCP tool error). The calls block (database, embedder, chat
model): the server runs them on a worker thread.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from zhiku.auth import AuthService, Principal
from zhiku.errors import NotFound, ZhikuError
from zhiku.schema import AnswerRequest, Chunk, Hit, limits

if TYPE_CHECKING:
    from zhiku.app import Zhiku

TOP_K_MAX = 200  # as the API's /api/search
CONTEXT_CHUNKS_MAX = 5  # neighbours read on each side of a chunk
PAGE_TEXT_MAX_CHARS = 50_000  # a page's text is cut here (a spreadsheet "page" can be huge)


class ToolRefusal(Exception):
    """A tool call that cannot be done as asked; ``str()`` is the reason, for the caller."""


@dataclass
class ToolOutput:
    text: str
    data: dict[str, Any] = field(default_factory=dict)


def _missing(name: str) -> ToolRefusal:
    return ToolRefusal(f"knowledge base '{name}' does not exist")


class KBTools:
    """The tools for one caller (``who``) over one app."""

    def __init__(self, zhiku: "Zhiku", who: Principal) -> None:
        self.zhiku, self.who = zhiku, who

    # -- access ----------------------------------------------------------------------------
    def _readable(self) -> dict[str, Any]:
        """Name → KB, for every KB the caller may read (file chat's temporary KBs are never listed)."""
        try:
            AuthService.require_scope(self.who, "read")
        except ZhikuError as exc:
            raise ToolRefusal(exc.message) from None
        ids = self.zhiku.auth.readable_kb_ids(self.who)
        return {kb.name: kb for kb in self.zhiku.list_kbs() if ids is None or kb.id in ids}

    def _kb_names(self, names: Sequence[str] | None) -> list[str]:
        """The KBs named (all readable ones when none is), each one the caller may read."""
        readable = self._readable()
        if not names:
            if not readable:
                raise ToolRefusal("there is no knowledge base to search (create one with `zhiku kb create`)")
            if len(readable) > limits.KB_NAMES_MAX:
                raise ToolRefusal(f"name the knowledge bases to search (at most {limits.KB_NAMES_MAX})")
            return sorted(readable)
        wanted = list(dict.fromkeys(unicodedata.normalize("NFC", n.strip()) for n in names))
        for name in wanted:
            if name not in readable:
                raise _missing(name)
        return wanted

    @staticmethod
    def _query(text: str, what: str) -> str:
        text = text.strip()
        if not text:
            raise ToolRefusal(f"the {what} is empty")
        if len(text) > limits.QUESTION_MAX_CHARS:
            raise ToolRefusal(f"the {what} is at most {limits.QUESTION_MAX_CHARS:,} characters")
        return text

    @staticmethod
    def _top_k(top_k: int | None) -> int | None:
        if top_k is not None and not 1 <= top_k <= TOP_K_MAX:
            raise ToolRefusal(f"top_k is between 1 and {TOP_K_MAX}")
        return top_k

    # -- the tools ---------------------------------------------------------------------------
    def list_kbs(self) -> ToolOutput:
        kbs = sorted(self._readable().values(), key=lambda kb: kb.name)
        rows = [{"name": kb.name, "description": kb.description, "files": kb.files, "chunks": kb.chunks}
                for kb in kbs]
        lines = [f"- {r['name']}: {r['files']} files, {r['chunks']} chunks"
                 + (f" — {r['description']}" if r["description"] else "") for r in rows]
        text = "\n".join(lines) if lines else "No knowledge base is readable."
        return ToolOutput(text, {"knowledge_bases": rows})

    def search(self, query: str, kbs: Sequence[str] | None = None, top_k: int | None = None,
               mode: str | None = None) -> ToolOutput:
        query = self._query(query, "query")
        names, top_k = self._kb_names(kbs), self._top_k(top_k)
        hits = self._call(lambda: self.zhiku.search(names, query, top_k=top_k, mode=mode))
        results = [{"n": i, **citation(h)} for i, h in enumerate(hits, 1)]
        if not results:
            return ToolOutput(f"Nothing found in {', '.join(names)}.", {"results": []})
        text = "\n\n".join(f"[{r['n']}] {where(r)} (score {r['score']:.2f})\n{r['text']}" for r in results)
        return ToolOutput(text, {"results": results})

    def ask(self, question: str, kbs: Sequence[str] | None = None, top_k: int | None = None,
            mode: str | None = None) -> ToolOutput:
        question = self._query(question, "question")
        names, top_k = self._kb_names(kbs), self._top_k(top_k)
        request = AnswerRequest(mode="kb", kbs=names, question=question, top_k=top_k, retrieval=mode,
                                owner=self.who.user_id or "local")
        answer = self._call(lambda: self.zhiku.answer(request))
        cited = [{"n": c.n, **citation(c)} for c in answer.citations]
        text = answer.answer
        if cited:
            text += "\n\n" + "\n".join(f"[{c['n']}] {where(c)}" for c in cited)
        data = {"answer": answer.answer, "found": answer.found, "citations": cited, "answered_by": answer.mode,
                "model": answer.model, "warning": answer.warning}
        return ToolOutput(text, data)

    def read_chunk(self, kb: str, chunk_id: int, context_chunks: int = 0) -> ToolOutput:
        name = self._kb_names([kb])[0]
        if not 0 <= context_chunks <= CONTEXT_CHUNKS_MAX:
            raise ToolRefusal(f"context_chunks is between 0 and {CONTEXT_CHUNKS_MAX}")
        if not 1 <= chunk_id <= limits.INT_MAX:
            raise ToolRefusal(f"chunk {chunk_id} does not exist in knowledge base '{name}'")
        try:
            chunk = self.zhiku.chunk(name, chunk_id)
        except NotFound:
            raise ToolRefusal(f"chunk {chunk_id} does not exist in knowledge base '{name}'") from None
        record, chunks = self._call(lambda: self.zhiku.file_chunks(name, chunk.file_id))
        at = next((i for i, c in enumerate(chunks) if c.id == chunk.id), 0)
        around = chunks[max(0, at - context_chunks): at + context_chunks + 1] if context_chunks else [chunk]
        data = {**_chunk_citation(name, record.name, chunk), "text": chunk.text,
                "passage": "\n".join(c.text for c in around), "chunk_ids": [c.id for c in around]}
        return ToolOutput(f"{where(data)}\n{data['passage']}", data)

    def read_page(self, kb: str, file: str, page: int) -> ToolOutput:
        name = self._kb_names([kb])[0]
        if page < 1:
            raise ToolRefusal("page numbers start at 1")
        file = file.strip()
        if not file or len(file) > limits.FILE_NAME_MAX_CHARS:
            raise ToolRefusal(f"name the file (at most {limits.FILE_NAME_MAX_CHARS} characters)")
        try:
            record, chunks = self.zhiku.file_chunks(name, file)
        except NotFound:
            raise ToolRefusal(f"no file '{file}' in knowledge base '{name}'") from None
        on_page = [c for c in chunks if c.page is not None and c.page <= page <= (c.page_end or c.page)]
        if not on_page:
            pages = f" (it has {record.pages} pages)" if record.pages else " (it has no page numbers)"
            raise ToolRefusal(f"'{record.name}' has no text on page {page}{pages}")
        text = "\n".join(c.text for c in on_page)
        cut = len(text) > PAGE_TEXT_MAX_CHARS
        data = {"kb": name, "file": record.name, "file_id": record.id, "page": page, "pages": record.pages,
                "chunk_ids": [c.id for c in on_page], "text": text[:PAGE_TEXT_MAX_CHARS], "truncated": cut}
        return ToolOutput(f"{record.name}, page {page} ({name})\n{data['text']}", data)

    @staticmethod
    def _call(run: Any) -> Any:
        """Run a call into the app; a zhiku error (bad mode, unknown file...) is a refusal with its reason."""
        try:
            return run()
        except ZhikuError as exc:
            raise ToolRefusal(exc.message) from None


def citation(hit: Hit) -> dict[str, Any]:
    """Where a passage is (file, page, KB, chunk id) with its text and score."""
    return {"kb": hit.kb, "file": hit.file, "file_id": hit.file_id, "page": hit.page, "page_end": hit.page_end,
            "section": hit.section, "chunk_id": hit.chunk_id, "score": round(hit.score, 4), "text": hit.text}


def _chunk_citation(kb: str, file: str, chunk: Chunk) -> dict[str, Any]:
    return {"kb": kb, "file": file, "file_id": chunk.file_id, "page": chunk.page, "page_end": chunk.page_end,
            "section": " > ".join(chunk.section) or None, "chunk_id": chunk.id}


def where(c: dict[str, Any]) -> str:
    """``file, p. 3 (KB, chunk 12)``: a citation as people read it."""
    page = ""
    if c.get("page"):
        page = f", p. {c['page']}" + (f"-{c['page_end']}" if c.get("page_end") not in (None, c["page"]) else "")
    return f"{c['file']}{page} ({c['kb']}, chunk {c['chunk_id']})"
