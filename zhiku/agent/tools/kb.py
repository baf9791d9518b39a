"""kb_search: hybrid search over the knowledge bases the caller may read (``ToolContext.readable_kbs``),
never beyond them; the hits are the sources the answer cites."""

from __future__ import annotations

from typing import Any

from zhiku.agent.base import ToolContext, ToolError, ToolResult, ToolSpec
from zhiku.errors import ZhikuError
from zhiku.schema import Hit

MAX_TOP_K = 20
PASSAGE_CHARS = 1200


def passages_text(hits: list[Hit], chars: int = PASSAGE_CHARS) -> str:
    """The hits as numbered passages for the model (file, page or section, text)."""
    out = []
    for i, h in enumerate(hits, 1):
        where = f", page {h.page}" if h.page else (f", {h.section}" if h.section else "")
        text = h.text if len(h.text) <= chars else h.text[:chars] + "…"
        out.append(f"[{i}] {h.kb} / {h.file}{where} (score {h.score:.2f})\n{text}")
    return "\n\n".join(out)


class KBSearch:
    def __init__(self, kbs: list[str]) -> None:
        self.kbs = kbs
        self.spec = ToolSpec(
            name="kb_search",
            description="Search the user's knowledge bases for passages about a query (hybrid keyword and "
            "semantic search). Search once per sub-question; rephrase and search again when the passages do not "
            "answer. Knowledge bases: " + ", ".join(kbs) + ".",
            parameters={"type": "object", "properties": {
                "query": {"type": "string", "description": "what to look for, in the documents' language"},
                "kbs": {"type": "array", "items": {"type": "string", "enum": kbs},
                        "description": "knowledge bases to search (default: all of them)"},
                "top_k": {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K}},
                "required": ["query"], "additionalProperties": False},
        )

    def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        query = str(arguments.get("query") or "").strip()
        if not query:
            raise ToolError("the query is empty")
        readable = list(context.readable_kbs)
        names = arguments.get("kbs") or readable
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ToolError("kbs must be a list of knowledge base names")
        unknown = [n for n in names if n not in readable]
        if unknown:  # the same words for a KB that exists but is not the caller's: nothing leaks
            raise ToolError(f"no knowledge base {', '.join(unknown)}; you may search: {', '.join(readable)}")
        top_k = arguments.get("top_k")
        if top_k is not None and (not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K):
            raise ToolError(f"top_k must be a whole number from 1 to {MAX_TOP_K}")
        kb_of, retriever = context.services["kb"], context.services["retriever"]
        try:
            hits: list[Hit] = retriever.search([kb_of(n) for n in dict.fromkeys(names)], query, top_k)
        except ZhikuError as exc:
            raise ToolError(f"the search failed: {exc.message}") from None
        if not hits:
            return ToolResult(text=f"no passages found for '{query}'", summary="0 passages",
                              data={"query": query, "kbs": names})
        return ToolResult(text=passages_text(hits), sources=hits, summary=f"{len(hits)} passages",
                          data={"query": query, "kbs": names})


def kb_search(context: ToolContext) -> KBSearch | None:
    """None when the caller may read no knowledge base, or the services lack the retriever."""
    if not context.readable_kbs or "retriever" not in context.services:
        return None
    return KBSearch(list(context.readable_kbs))
