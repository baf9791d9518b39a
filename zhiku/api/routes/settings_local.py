"""Local models from the settings page (admins): model servers running on the server's own machine
(Ollama, llama.cpp server, vLLM, LM Studio, Xinference: probed on 127.0.0.1 only), added with one
call; and GGUF files pulled from the catalog (or any URL) in the background, with their progress and
a cancel. One pull of a file at a time."""

from __future__ import annotations

import threading
import weakref

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from zhiku.api.deps import ZhikuDep
from zhiku.api.errors import responses
from zhiku.api.routes.settings import view
from zhiku.api.security import AdminUser
from zhiku.app import Zhiku
from zhiku.client.settings_methods import (AnswerSettings, Catalog, CatalogModel, DetectedAdd, DetectedServer,
                                           Detection, PullIn, PullStatus)
from zhiku.config import edits
from zhiku.llm import detect as local
from zhiku.llm.pull import CATALOG, MIRRORS
from zhiku.llm.pull_tasks import PullTask, PullTasks

router = APIRouter(prefix="/api/settings", tags=["settings"])
_PULLS: "weakref.WeakKeyDictionary[Zhiku, PullTasks]" = weakref.WeakKeyDictionary()
_PULLS_LOCK = threading.Lock()


def pulls(zhiku: Zhiku) -> PullTasks:
    """The pulls of this app (made on first use; a running pull is a daemon thread of the server)."""
    with _PULLS_LOCK:
        tasks = _PULLS.get(zhiku)
        if tasks is None:
            tasks = _PULLS[zhiku] = PullTasks(zhiku.settings)
        return tasks


def status(task: PullTask) -> PullStatus:
    return PullStatus(id=task.id, what=task.what, file=task.target.file, name=task.target.name, state=task.state,
                      done_bytes=task.done_bytes, total_bytes=task.total_bytes, resumed_from=task.resumed_from,
                      sha256=task.sha256, verified=task.verified, error=task.error)


@router.get("/detect", responses=responses(401, 403), dependencies=[Depends(AdminUser())])
async def detect_servers(zhiku: ZhikuDep) -> Detection:
    """Look for model servers on this machine's loopback, at once (about half a second at most)."""
    def run() -> Detection:
        found = local.detect_for(zhiku.settings)
        configured = zhiku.settings.llm.models
        return Detection(
            found=[DetectedServer(kind=f.kind, label=f.label, port=f.port, base_url=f.base_url, models=f.models,
                                  added=sorted(n for n, c in configured.items()
                                               if c.base_url and c.base_url.rstrip("/") == f.base_url))
                   for f in found.found],
            probed=found.probed, problems=found.problems)
    return await run_in_threadpool(run)


@router.post("/detect/add", responses=responses(400, 401, 403, 404, 422), dependencies=[Depends(AdminUser())])
async def add_detected(zhiku: ZhikuDep, body: DetectedAdd) -> AnswerSettings:
    """Add one model of a server found on this machine as a model server of the settings (probed again
    first: 404 when it is gone or does not serve that model)."""
    def run() -> AnswerSettings:
        found, model = local.pick(zhiku.settings, body.kind, body.model)
        name = (body.name or "").strip() or local.model_name(found.kind, model)
        edits.put_model_server(zhiku.settings, name, found.base_url, model)
        zhiku.chat_models.forget(name)
        if body.make_default:
            edits.set_defaults(zhiku.settings, [i.name for i in zhiku.list_chat_models(False)], name,
                               set_engine=False)
        return view(zhiku, True)
    return await run_in_threadpool(run)


@router.get("/catalog", responses=responses(401, 403), dependencies=[Depends(AdminUser())])
async def model_catalog(zhiku: ZhikuDep) -> Catalog:
    """The curated GGUF models a pull knows by name, and the mirrors it can download from."""
    return Catalog(models=[CatalogModel(name=n, about=e.about, about_zh=e.about_zh, file=e.file, pinned_sha256=e.sha256 is not None)
                           for n, e in CATALOG.items()],
                   mirrors=list(MIRRORS), mirror=zhiku.settings.llm.mirror)


@router.post("/pulls", status_code=202, responses=responses(400, 401, 403, 404, 409, 422),
             dependencies=[Depends(AdminUser())])
async def start_pull(zhiku: ZhikuDep, body: PullIn) -> PullStatus:
    """Start downloading a catalog model or a GGUF URL into HOME/models (resumable, sha256-checked);
    it becomes a local chat model when done. 409 when that file is being pulled already."""
    task = await run_in_threadpool(pulls(zhiku).start, body.what.strip(), body.mirror or None, body.sha256 or None,
                                   (body.name or "").strip() or None)
    return status(task)


@router.get("/pulls/{pull_id}", responses=responses(401, 403, 404, 422), dependencies=[Depends(AdminUser())])
async def pull_status(zhiku: ZhikuDep, pull_id: str) -> PullStatus:
    """How far a pull is: bytes done of the total (null while unknown), its state and error."""
    return status(pulls(zhiku).get(pull_id))


@router.delete("/pulls/{pull_id}", responses=responses(401, 403, 404, 422), dependencies=[Depends(AdminUser())])
async def cancel_pull(zhiku: ZhikuDep, pull_id: str) -> PullStatus:
    """Cancel a pull: it stops at the next block it receives (state cancelling, then cancelled) and its
    partial file is deleted. A finished pull is left as it is."""
    return status(pulls(zhiku).cancel(pull_id))
