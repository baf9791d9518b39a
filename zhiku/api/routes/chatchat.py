"""The Langchain-Chatchat 0.3-compatible API: its knowledge-base and chat routes, with its
request and response shapes, over zhiku's services (docs/chatchat-compat.md lists each route).

Errors follow Chatchat: most inside an HTTP 200 with its ``code``/``msg``, zhiku's ``error``
object beside them (see ``chatchat_common``). These routes are left out of the OpenAPI document,
whose error shape they do not share; the table in docs/chatchat-compat.md is theirs.
"""

from __future__ import annotations

from fastapi import APIRouter

from zhiku.api.routes import (chatchat_agent, chatchat_chat, chatchat_files, chatchat_kb, chatchat_missing,
                              chatchat_server, chatchat_summary)

router = APIRouter()
router.include_router(chatchat_kb.router)
router.include_router(chatchat_chat.router)
router.include_router(chatchat_files.router)
router.include_router(chatchat_server.router)
router.include_router(chatchat_summary.router)  # /knowledge_base/kb_summary_api/*
router.include_router(chatchat_agent.router)  # the agent's /tools, /tools/call, /chat/chat/completions
# routers of other Chatchat paths (the agent's /tools, /chat/chat/completions) go above this line:
# the catch-all answers JSON 404 for what none of them serves (it steps aside for any route that matches)
router.include_router(chatchat_missing.router)
