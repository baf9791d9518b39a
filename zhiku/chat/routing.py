"""What a knowledge base is about, for routing (zhiku.retrieval.routing): its description and,
when one was made (zhiku.chat.summaries), its KB summary as stored. Routing never makes a
summary: that can call a chat model; a KB without one is routed by its description and hits."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from zhiku.retrieval.routing import Profile
from zhiku.schema import KnowledgeBase

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)
SUMMARY_CHARS = 1500  # the profile is embedded as one passage: the summary's head is enough


def kb_profile(engine: "Engine") -> Profile:
    def profile(kb: KnowledgeBase) -> str:
        text = kb.description.strip()
        try:
            from zhiku.chat.summaries_store import SummaryStore

            stored = SummaryStore(engine).get(kb.id, None)
        except Exception:  # no summaries table or module (yet): the description alone
            log.debug("no KB summary for routing %s", kb.name, exc_info=True)
            stored = None
        if stored is not None and stored.text.strip():
            text = f"{text}\n{stored.text.strip()[:SUMMARY_CHARS]}".strip()
        return text

    return profile
