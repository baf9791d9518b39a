"""The tools one answer may use: the enabled ones (``agent.tools``) that can work with the settings."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from zhiku.agent.base import Tool, ToolContext, ToolFactory


log = logging.getLogger(__name__)


def build_tools(context: ToolContext, enabled: Sequence[str]) -> list[Tool]:
    """Each enabled tool made for ``context``, in the order of ``enabled``. A name the registry does not
    know is a ``ConfigError`` naming the choices; a factory returning ``None`` (the tool cannot work with
    the current settings, e.g. web search with no engine) leaves the tool out."""
    from zhiku.plugins import lookup

    tools: list[Tool] = []
    for name in dict.fromkeys(enabled):
        factory: ToolFactory = lookup("tool", name)
        tool = factory(context)
        if tool is None:
            log.debug("tool %s is not available with the current settings", name)
            continue
        tools.append(tool)
    return tools



