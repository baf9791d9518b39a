"""The FastAPI application factory. No globals: the ``Zhiku`` instance lives on ``app.state``."""

from __future__ import annotations

from importlib.metadata import version as dist_version

from fastapi import FastAPI

from zhiku.api import access_log, database_down, docs, edge, errors, security
from zhiku.api.routes import auth as auth_routes
from zhiku.api.routes import chat as chat_routes
from zhiku.api.routes import conversations as conversation_routes
from zhiku.api.routes import chatchat as chatchat_routes
from zhiku.api.routes import chunks, files, jobs, kbs, maintenance, models, openai_compat, search, system
from zhiku.api.routes import tools as tool_routes
from zhiku.api.routes import sources as source_routes
from zhiku.api.routes import settings as settings_routes
from zhiku.api.routes import pictures as picture_routes
from zhiku.api.routes import settings_local
from zhiku.api.routes import kb_migrate
from zhiku.api.routes import summaries as summary_routes
from zhiku.app import Zhiku

DESCRIPTION = """知库 zhiku: offline-first knowledge-base question answering.

Every error is `{"error": {"type", "message", "details"}}` with a 4xx/5xx status; `type` names the
error (not_found, conflict, invalid_input, too_large, validation_error, load_error, unavailable, ...).
Uploads return 202 with an ingestion job to poll (`GET /api/jobs/{id}`) or follow as server-sent
events (`GET /api/jobs/{id}/events`).
"""


def create_app(zhiku: Zhiku, *, start_jobs: bool = True) -> FastAPI:
    """The API over ``zhiku``; starts its ingestion worker pool (``zhiku.close()`` stops it)."""
    app = FastAPI(
        title="zhiku", version=dist_version("zhiku"), description=DESCRIPTION,
        docs_url=None, redoc_url=None,  # served offline by zhiku.api.docs
    )
    app.state.zhiku = zhiku
    if start_jobs:
        zhiku.start_jobs()
        zhiku.temp_kbs.start_sweeper()  # file chat's expired temporary KBs go, now and periodically
        zhiku.sources.start_watching()  # followed folders: interrupted syncs resume, watched ones stay current
    errors.install(app)
    access_log.install()  # no API key of a URL's query string in uvicorn's access log
    security.install(app, zhiku.auth)
    database_down.install(app)  # a database that is down is a 503 with the reason, auth lookups included
    server = zhiku.settings.server  # Host, Origin and JSON-body checks, before anything else sees a request
    edge.install(app, allowed_hosts=server.allowed_hosts, allowed_origins=server.allowed_origins)
    for module in (system, kbs, maintenance, files, chunks, search, jobs, models, openai_compat):
        app.include_router(module.router)
    app.include_router(auth_routes.router)
    app.include_router(conversation_routes.router)
    app.include_router(chat_routes.router)
    app.include_router(tool_routes.router)  # the agent's tools: list, and call by hand (admins)
    app.include_router(source_routes.router)  # folders KBs follow (zhiku kb sync)
    app.include_router(picture_routes.router)  # the pictures of files, as citations show them
    app.include_router(settings_local.router)  # local model servers found, GGUF pulls with progress (admins)
    app.include_router(settings_routes.router)  # model servers and defaults, changed while running (admins)
    app.include_router(summary_routes.router)  # summaries of KBs and files
    app.include_router(kb_migrate.router)  # zhiku kb migrate: another backend or embedder, live
    app.include_router(chatchat_routes.router)  # Langchain-Chatchat 0.3-compatible
    docs.install(app)
    return app
