"""The Langchain-Chatchat 0.3-compatible API: its knowledge-base and chat routes, with its
request and response shapes, over zhiku's services (docs/chatchat-compat.md lists each route).

Errors have real HTTP statuses; their bodies carry Chatchat's ``code``/``msg``/``data`` beside
zhiku's ``error`` object (see ``chatchat_common``). These routes are left out of the OpenAPI
document, whose error shape they do not share; the table in docs/chatchat-compat.md is theirs.
"""

from __future__ import annotations

from fastapi import APIRouter

from zhiku.api.routes import chatchat_chat, chatchat_files, chatchat_kb

router = APIRouter()
router.include_router(chatchat_kb.router)
router.include_router(chatchat_chat.router)
router.include_router(chatchat_files.router)
