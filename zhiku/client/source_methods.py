"""The folders a KB follows in the typed client (``/api/kbs/{kb}/sources``): list them, follow one
(admins: a path on the server), sync one now, stop following one. A sync runs on the server in the
background; ``wait_for_source`` polls the source until it is idle again."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from zhiku.client.routes import Call, parse_as, seg
from zhiku.schema.sources import KBSource


def _base(kb: str) -> str:
    return f"/api/kbs/{seg(kb)}/sources"


class SourceRoutes:
    @staticmethod
    def list_sources(kb: str) -> Call:
        return Call("GET", _base(kb), parse_as(list[KBSource]))

    @staticmethod
    def get_source(kb: str, source_id: str) -> Call:
        return Call("GET", f"{_base(kb)}/{seg(source_id)}", parse_as(KBSource))

    @staticmethod
    def follow_folder(kb: str, path: str, watch: bool | None) -> Call:
        return Call("POST", _base(kb), parse_as(KBSource), json={"path": path, "watch": watch})

    @staticmethod
    def sync_source(kb: str, source_id: str) -> Call:
        return Call("POST", f"{_base(kb)}/{seg(source_id)}/sync", parse_as(KBSource))

    @staticmethod
    def unfollow(kb: str, source_id: str) -> Call:
        return Call("DELETE", f"{_base(kb)}/{seg(source_id)}", None)


class SourceMethods:
    """Source methods of ``ZhikuClient``."""

    if TYPE_CHECKING:  # provided by the client
        def _do(self, call: Any, **kw: Any) -> Any: ...

    def list_sources(self, kb: str) -> list[KBSource]:
        """The folders the KB follows, each with its last (or running) sync's report."""
        return self._do(SourceRoutes.list_sources(kb))

    def get_source(self, kb: str, source_id: str) -> KBSource:
        return self._do(SourceRoutes.get_source(kb, source_id))

    def follow_folder(self, kb: str, path: str, watch: bool | None = None) -> KBSource:
        """Follow a folder of the server (admins) and start syncing it (a folder followed already is
        synced again); poll the returned source for progress."""
        return self._do(SourceRoutes.follow_folder(kb, path, watch))

    def sync_source(self, kb: str, source_id: str) -> KBSource:
        """Sync the folder now (``Conflict`` while it is being synced)."""
        return self._do(SourceRoutes.sync_source(kb, source_id))

    def unfollow(self, kb: str, source_id: str) -> None:
        """Stop following the folder; the files it brought stay in the KB."""
        self._do(SourceRoutes.unfollow(kb, source_id))

    def wait_for_source(self, kb: str, source_id: str, timeout: float = 300.0, poll: float = 0.3) -> KBSource:
        """The source once its sync has ended (``TimeoutError`` after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while (source := self.get_source(kb, source_id)).status == "syncing":
            if time.monotonic() > deadline:
                raise TimeoutError(f"the sync of '{source.path}' did not end within {timeout:g} s")
            time.sleep(poll)
        return source


class AsyncSourceMethods:
    """Source methods of ``AsyncZhikuClient``."""

    if TYPE_CHECKING:  # provided by the client
        async def _do(self, call: Any, **kw: Any) -> Any: ...

    async def list_sources(self, kb: str) -> list[KBSource]:
        return await self._do(SourceRoutes.list_sources(kb))

    async def get_source(self, kb: str, source_id: str) -> KBSource:
        return await self._do(SourceRoutes.get_source(kb, source_id))

    async def follow_folder(self, kb: str, path: str, watch: bool | None = None) -> KBSource:
        return await self._do(SourceRoutes.follow_folder(kb, path, watch))

    async def sync_source(self, kb: str, source_id: str) -> KBSource:
        return await self._do(SourceRoutes.sync_source(kb, source_id))

    async def unfollow(self, kb: str, source_id: str) -> None:
        await self._do(SourceRoutes.unfollow(kb, source_id))

    async def wait_for_source(self, kb: str, source_id: str, timeout: float = 300.0,
                              poll: float = 0.3) -> KBSource:
        deadline = time.monotonic() + timeout
        while (source := await self.get_source(kb, source_id)).status == "syncing":
            if time.monotonic() > deadline:
                raise TimeoutError(f"the sync of '{source.path}' did not end within {timeout:g} s")
            await asyncio.sleep(poll)
        return source
