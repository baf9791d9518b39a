"""Langchain-Chatchat 0.3's server and helper routes over zhiku: ``/server/configs``,
``/server/get_prompt_template`` and ``/other/embed_texts`` (``/knowledge_base/kb_summary_api/*``:
``chatchat_summary``)."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Request
from pydantic import AfterValidator, Field
from starlette.concurrency import run_in_threadpool

from zhiku.api.deps import ReadScope, ZhikuDep
from zhiku.api.edge import checked_base_url
from zhiku.api.routes.chatchat_common import ChatchatRoute, CompatBody, envelope
from zhiku.chat.prompts import template
from zhiku.schema import limits

router = APIRouter(tags=["chatchat-compatible"], route_class=ChatchatRoute, include_in_schema=False)

# Chatchat's prompt types and names → zhiku's templates (zhiku/chat/prompts/zh/*.txt), which are
# what zhiku actually sends; zhiku's fields are ``{name}`` (str.format), not Chatchat's jinja2 ``{{name}}``
PROMPTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("rag", "default"): ("kb_system", "kb_user"),
    ("rag", "empty"): ("no_sources",),
    ("llm_model", "default"): ("llm_system",),
    ("search_engine", "default"): ("web_system", "web_user"),
}


class PromptTemplateBody(CompatBody):
    type: str = Field("llm_model", max_length=limits.NAME_MAX_CHARS)
    name: str = Field("default", max_length=limits.NAME_MAX_CHARS)


class EmbedTextsBody(CompatBody):
    texts: Annotated[list[Annotated[str, Field(max_length=limits.EMBED_INPUT_MAX_CHARS)]],
                     Field(max_length=limits.EMBED_INPUTS_MAX), AfterValidator(limits.embedding_inputs)]
    embed_model: str | None = Field(None, max_length=limits.NAME_MAX_CHARS)
    to_query: bool = False


@router.post("/server/configs")
def server_configs(request: Request, who: ReadScope, zhiku: ZhikuDep) -> dict[str, Any]:
    """Chatchat answers ``{"api_address": ...}`` (no envelope); zhiku adds its model names."""
    s = zhiku.settings
    return {"api_address": checked_base_url(request), "default_embedding_model": s.embedding.default,
            "embed_models": s.embedder_names(), "llm_models": sorted(s.llm.models),
            "score_threshold_meaning": "distance (1 - relevance); see docs/chatchat-compat.md"}


@router.post("/server/get_prompt_template")
def get_prompt_template(body: PromptTemplateBody, who: ReadScope) -> dict[str, Any]:
    names = PROMPTS.get((body.type, body.name))
    if names is None:
        known = ", ".join(f"{t}/{n}" for t, n in PROMPTS)
        return envelope(None, f"Prompt template not found: {body.type}/{body.name} (zhiku has {known})", 404)
    return envelope("\n\n".join(template("zh", n).strip() for n in names))


@router.post("/other/embed_texts")
async def embed_texts(body: EmbedTextsBody, who: ReadScope, zhiku: ZhikuDep) -> dict[str, Any]:
    """Vectors from one of zhiku's embedders: ``embed_model`` when zhiku has one of that name (else
    zhiku's default, as create_knowledge_base treats Chatchat's model names); ``to_query`` embeds
    each text as a question."""
    names = zhiku.settings.embedder_names()
    name = body.embed_model if body.embed_model in names else zhiku.settings.embedding.default
    embedder = await run_in_threadpool(zhiku.embedder, name)

    def embed() -> list[list[float]]:
        if not body.texts:
            return []
        if body.to_query:
            return [np.asarray(embedder.embed_query(t), dtype=np.float32).tolist() for t in body.texts]
        return np.asarray(embedder.embed_passages(body.texts), dtype=np.float32).tolist()

    return envelope(await run_in_threadpool(embed), f"embedded with {name}")
