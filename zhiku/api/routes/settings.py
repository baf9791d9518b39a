"""Settings an admin changes while the server runs: OpenAI-compatible model servers (add, change,
remove, test the connection), the default chat model and the web-search engine. Saved to the
settings file (comments kept) and applied at once; API keys are never sent back. Anyone with the
read scope sees what answers can use (the chat page offers only the modes that can work)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from zhiku.api.deps import ZhikuDep
from zhiku.api.errors import responses
from zhiku.api.security import AdminUser, Scope
from zhiku.app import Zhiku
from zhiku.client.settings_methods import (AnswerSettings, ConnectionTest, Defaults, ModelServer, ModelServerIn,
                                           ServerModels)
from zhiku.config import edits

router = APIRouter(prefix="/api/settings", tags=["settings"])


def view(zhiku: Zhiku, admin: bool) -> AnswerSettings:
    s = zhiku.settings
    names = [i.name for i in zhiku.list_chat_models(False)]
    return AnswerSettings(
        default_model=zhiku.chat_models.default_name(), chat_models=names,
        web_search_engine=None if s.websearch.engine == "none" else s.websearch.engine,
        web_search_url=s.websearch.base_url,
        model_servers=[ModelServer(name=n, base_url=c.base_url, model=c.model, has_key=bool(c.api_key or c.api_key_env))
                       for n, c in sorted(s.llm.models.items()) if c.type == "openai"],
        settings_file=str(edits.settings_file(s)) if admin else None,
        default_embedder=s.embedding.default, embedders=s.embedder_names(), web_search_engines=edits.search_engines(),
        vision_model=zhiku.vision.model_name())


@router.get("", responses=responses(401, 403), dependencies=[Depends(Scope("read"))])
async def get_settings(zhiku: ZhikuDep) -> AnswerSettings:
    """What answers can use now: the chat models, the default one, the web-search engine."""
    return await run_in_threadpool(view, zhiku, False)


@router.put("/models/{name}", responses=responses(400, 401, 403, 422), dependencies=[Depends(AdminUser())])
async def put_model_server(zhiku: ZhikuDep, name: str, body: ModelServerIn) -> AnswerSettings:
    """Add or change an OpenAI-compatible chat model; used from the next question on."""
    def run() -> AnswerSettings:
        edits.put_model_server(zhiku.settings, name, body.base_url, body.model, body.api_key, body.clear_key)
        zhiku.chat_models.forget(name)
        return view(zhiku, True)
    return await run_in_threadpool(run)


@router.delete("/models/{name}", responses=responses(401, 403, 404, 422), dependencies=[Depends(AdminUser())])
async def delete_model_server(zhiku: ZhikuDep, name: str) -> AnswerSettings:
    """Remove a configured chat model (the default falls back to extractive answers if it was it)."""
    def run() -> AnswerSettings:
        edits.remove_model_server(zhiku.settings, name)
        zhiku.chat_models.forget(name)
        return view(zhiku, True)
    return await run_in_threadpool(run)


@router.post("/test-connection", responses=responses(400, 401, 403, 422, 503), dependencies=[Depends(AdminUser())])
async def test_model_server(zhiku: ZhikuDep, body: ConnectionTest) -> ServerModels:
    """Ask an OpenAI-compatible server which models it serves (503 with the reason when it cannot)."""
    key = body.api_key
    if not key and body.name and body.name in zhiku.settings.llm.models:
        key = zhiku.settings.llm.models[body.name].api_key
    return ServerModels(models=await run_in_threadpool(edits.server_models, body.base_url, key))


@router.put("/defaults", responses=responses(400, 401, 403, 422), dependencies=[Depends(AdminUser())])
async def put_defaults(zhiku: ZhikuDep, body: Defaults) -> AnswerSettings:
    """The default chat model, the web-search engine and the embedder of new knowledge bases (fields
    left out stay as they are; existing knowledge bases keep the embedder they were built with)."""
    def run() -> AnswerSettings:
        if body.default_embedder is not None:  # checked first: a bad field changes nothing
            edits.check_embedder(zhiku.settings, body.default_embedder)
        fields = body.model_fields_set - {"default_embedder"}
        if fields:
            names = [i.name for i in zhiku.list_chat_models(False)]
            engine = body.web_search_engine if "web_search_engine" in fields else zhiku.settings.websearch.engine
            edits.set_defaults(zhiku.settings, names, body.default_model, engine, body.web_search_url,
                               set_model="default_model" in fields,
                               set_engine="web_search_engine" in fields or "web_search_url" in fields)
        if body.default_embedder is not None:
            edits.set_default_embedder(zhiku.settings, body.default_embedder)
        return view(zhiku, True)
    return await run_in_threadpool(run)
