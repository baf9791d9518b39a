"""``Zhiku`` itself: every face put together, opened from settings and closed in one place."""

from __future__ import annotations

from typing import Any

from zhiku.app.chat import ChatFace
from zhiku.app.jobs import JobsFace
from zhiku.config import load_settings


class Zhiku(JobsFace, ChatFace):
    """The application: knowledge bases and files (``zhiku.app.kbs``), background jobs
    (``zhiku.app.jobs``), answers and chat (``zhiku.app.chat``) over the stores and models built on
    opening (``zhiku.app.base``)."""

    @classmethod
    def open(cls, **kwargs: Any) -> "Zhiku":
        """Build settings from every source (see ``load_settings``) and open the app."""
        return cls(load_settings(**kwargs))

    def close(self) -> None:
        if "_agent_services" in self.__dict__:
            from zhiku.agent.services import close_services

            close_services(self.__dict__["_agent_services"])
        if "_temp_kbs" in self.__dict__:
            self.__dict__["_temp_kbs"].stop()
        if "_sources" in self.__dict__:
            self.__dict__["_sources"].stop()
        if self._jobs is not None:
            self._jobs.shutdown()
        self.close_chat_models()
        self.retriever.close()
        self.indexes.close()  # saves what changed, releases every open index
        self.engine.dispose()

    def __enter__(self) -> "Zhiku":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
