"""kb_search: hybrid search over the knowledge bases the caller may read (``ToolContext.readable_kbs``),
never beyond them; the hits are the sources the answer cites.

The one KB search tool: agent mode, agentic KB chat (``zhiku.chat.agent``), ``GET /api/tools``,
``POST /api/tools/call`` and Chatchat's tool routes all make it through the registry. It is what makes
agentic retrieval work well:

- a name outside ``readable_kbs`` reads as unknown (the same words as a KB that does not exist), so
  names do not leak;
- its result tells the model when the best hits look weakly related to the query (the answerers'
  refusal rule: ``zhiku.llm.relevance.best_relevance`` of the query and the passage, under
  ``retrieval.relevance_floor``), so that it rephrases and searches again rather than answering from
  passages that do not hold the answer;
- the passages go back as the result's ``sources``: the loop numbers them once for the whole answer,
  and the answer's citations name only the passages the model actually cited.

Services read: ``retriever`` (required), ``kb`` (name -> KnowledgeBase), ``settings`` (the default
number of passages, ``answer.passages``, the search mode and the floor), and ``retrieval_mode`` (a
request's choice of hybrid, dense or lexical search, over ``retrieval.mode``).
"""

from __future__ import annotations

from typing import Any

from zhiku.agent.base import ToolContext, ToolError, ToolResult, ToolSpec
from zhiku.errors import ZhikuError
from zhiku.schema import Hit

MAX_TOP_K = 20
PASSAGE_CHARS = 1200
DEFAULT_FLOOR = 0.41  # retrieval.relevance_floor's default, for a context without settings


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
        names = ", ".join(kbs) or "none"
        self.spec = ToolSpec(
            name="kb_search",
            description="Search the user's knowledge bases for passages about a query (hybrid keyword and "
            "semantic search); returns numbered passages to cite as [n]. Search once per sub-question; rephrase "
            f"and search again when the passages do not answer. Knowledge bases: {names}.",
            parameters={"type": "object", "properties": {
                "query": {"type": "string", "description": "what to look for: search words or one sub-question, "
                          "in the documents' language"},
                "kbs": {"type": "array", "items": {"type": "string", "enum": kbs},
                        "description": f"only these knowledge bases (of: {names}); default all"},
                "top_k": {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K,
                          "description": f"passages to return, 1-{MAX_TOP_K}"}},
                "required": ["query"], "additionalProperties": False},
            timeout_s=30.0,
        )

    def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        from zhiku.llm.relevance import best_relevance
        from zhiku.text.normalize import detect_lang

        query = str(arguments.get("query") or "").strip()
        if not query:
            raise ToolError("the query is empty")
        readable = [n for n in context.readable_kbs if n in self.kbs]
        names = arguments.get("kbs") or readable
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ToolError("kbs must be a list of knowledge base names")
        names = list(dict.fromkeys(names))
        unknown = [n for n in names if n not in readable]
        if unknown:  # the same words for a KB that exists but is not the caller's: nothing leaks
            raise ToolError(f"no knowledge base named {', '.join(map(repr, unknown))} "
                            f"(these can be searched: {', '.join(readable) or 'none'})")
        if not names:
            raise ToolError("no knowledge base was chosen for this answer")
        settings = context.services.get("settings")
        top_k = arguments.get("top_k")
        if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool)
                                  or not 1 <= top_k <= MAX_TOP_K):
            raise ToolError(f"top_k must be a whole number from 1 to {MAX_TOP_K}")
        if top_k is None and settings is not None:
            top_k = min(MAX_TOP_K, settings.answer.passages)
        mode = context.services.get("retrieval_mode") or (settings.retrieval.mode if settings is not None else None)
        kb_of, retriever = context.services["kb"], context.services["retriever"]
        try:
            hits: list[Hit] = retriever.search([kb_of(n) for n in names], query, top_k, mode)
        except ZhikuError as exc:
            raise ToolError(f"the search failed: {exc.message}") from None
        if not hits:
            return ToolResult(text=f"Nothing found for '{query}'. Search again with other words, or say that the "
                                   "knowledge bases do not hold the answer.",
                              summary=f"no passages for '{query}'", data={"query": query, "kbs": names})
        floor = settings.retrieval.relevance_floor if settings is not None else DEFAULT_FLOOR
        lang = detect_lang(query)
        best = best_relevance(lang, hits, query)  # the answerers' rule, given the question
        weak = best < floor
        note = (" They look weakly related to the query: if they do not answer, search again with other words "
                "or a narrower sub-question.") if weak else ""
        files = len({(h.kb, h.file) for h in hits})
        return ToolResult(text=f"{len(hits)} passages for '{query}'.{note}\n\n{passages_text(hits)}", sources=hits,
                          summary=f"{len(hits)} passages from {files} file(s) for '{query}'" + (" (weak)" if weak else ""),
                          data={"query": query, "kbs": names, "best_relevance": round(best, 4), "weak": weak})


def kb_search(context: ToolContext) -> KBSearch | None:
    """None when the caller may read no knowledge base, or the services lack the retriever."""
    if not context.readable_kbs or "retriever" not in context.services:
        return None
    return KBSearch(list(context.readable_kbs))
