"""Summaries in the typed client: a KB's and a file's, read (made by the server when missing or
stale) or made again. A file is named by its id or its name as listed (folders included)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from zhiku.client.routes import Call, parse_as, seg
from zhiku.schema.summaries import Summary


def _path(kb: str, file: str | None) -> str:
    base = f"/api/kbs/{seg(kb)}"
    return f"{base}/summary" if file is None else f"{base}/files/{quote(file, safe='/')}/summary"


def _body(model: str | None, extractive: bool, files: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"extractive": extractive}
    if model is not None:
        body["model"] = model
    if files:
        body["files"] = True
    return body


class SummaryRoutes:
    @staticmethod
    def summaries(kb: str) -> Call:
        return Call("GET", f"/api/kbs/{seg(kb)}/summaries", parse_as(list[Summary]))

    @staticmethod
    def summary(kb: str, file: str | None) -> Call:
        return Call("GET", _path(kb, file), parse_as(Summary))

    @staticmethod
    def make_summary(kb: str, file: str | None, model: str | None, extractive: bool, files: bool) -> Call:
        return Call("POST", _path(kb, file), parse_as(Summary), json=_body(model, extractive, files))


class SummaryMethods:
    """Summary methods of ``ZhikuClient``."""

    if TYPE_CHECKING:  # provided by the client
        def _do(self, call: Any, **kw: Any) -> Any: ...

    def list_summaries(self, kb: str) -> list[Summary]:
        """The file summaries made so far (none is made; ``stale`` when its file changed since)."""
        return self._do(SummaryRoutes.summaries(kb))

    def summary(self, kb: str, file: str | None = None) -> Summary:
        """The KB's summary, or a file's (``kind`` llm with its ``model``, or extractive)."""
        return self._do(SummaryRoutes.summary(kb, file))

    def make_summary(self, kb: str, file: str | None = None, *, model: str | None = None, extractive: bool = False,
                     files: bool = False) -> Summary:
        """Make the summary again now (``files``: a KB's file summaries too)."""
        return self._do(SummaryRoutes.make_summary(kb, file, model, extractive, files))


class AsyncSummaryMethods:
    """Summary methods of ``AsyncZhikuClient``."""

    if TYPE_CHECKING:  # provided by the client
        async def _do(self, call: Any, **kw: Any) -> Any: ...

    async def list_summaries(self, kb: str) -> list[Summary]:
        return await self._do(SummaryRoutes.summaries(kb))

    async def summary(self, kb: str, file: str | None = None) -> Summary:
        return await self._do(SummaryRoutes.summary(kb, file))

    async def make_summary(self, kb: str, file: str | None = None, *, model: str | None = None,
                           extractive: bool = False, files: bool = False) -> Summary:
        return await self._do(SummaryRoutes.make_summary(kb, file, model, extractive, files))
