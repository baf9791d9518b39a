"""Mount the web UI (a Streamlit app, ``st.App``) at ``/`` of the API's FastAPI app: one process, one port.

The API keeps ``/api``, ``/v1`` and ``/docs``; every other path goes to Streamlit. Streamlit is
configured here, in code, so that nothing leaves the machine (usage statistics off) and nothing
watches or serves files it should not (no file watcher, no static folder, no developer toolbar).
The pages reach the API of this same server through ``zhiku.client`` at the URL given to
:func:`mount_ui`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, AsyncIterator

from zhiku.ui import context

log = logging.getLogger(__name__)

SCRIPT = Path(__file__).with_name("main.py")

# Streamlit options (dotted names, as in its config.toml); command-line precedence over any config file.
STREAMLIT_OPTIONS: dict[str, Any] = {
    "browser.gatherUsageStats": False,  # otherwise the page calls home
    "server.fileWatcherType": "none",
    "server.runOnSave": False,
    "server.headless": True,
    "global.developmentMode": False,
    "client.toolbarMode": "viewer",
    "client.showErrorDetails": "none",
    "server.enableStaticServing": False,
    "theme.base": "light",
    "theme.primaryColor": "#1f6feb",
    # Chinese glyphs come from the system's fonts (Noto CJK): never a web font from a CDN
    "theme.font": "'Source Sans', 'Noto Sans CJK SC', 'Noto Sans SC', 'PingFang SC', 'Microsoft YaHei', sans-serif",
}


class UIUnavailable(RuntimeError):
    """Streamlit is not installed (it comes with ``pip install zhiku``; reinstall it)."""


def configure_streamlit() -> None:
    """Apply :data:`STREAMLIT_OPTIONS` (before the Streamlit runtime starts)."""
    from streamlit.web import bootstrap

    bootstrap.load_config_options({k.replace(".", "_"): v for k, v in STREAMLIT_OPTIONS.items()})


def mount_ui(api: Any, api_url: str) -> None:
    """Serve the UI at ``/`` of ``api`` (a FastAPI app), talking to the API at ``api_url``.

    Call after every API route is added: the mount at ``/`` takes whatever they do not."""
    try:
        import streamlit as st
    except ImportError as exc:  # pragma: no cover - streamlit is a core dependency
        raise UIUnavailable(f"the web UI needs streamlit: pip install 'streamlit>=1.67' ({exc})") from None
    context.configure(api_url=api_url)
    configure_streamlit()
    ui = st.App(str(SCRIPT))
    # the UI takes over "/" (until now a redirect to the API docs)
    api.router.routes[:] = [r for r in api.router.routes if getattr(r, "path", None) != "/"]
    from zhiku.ui.web_login import ROUTES

    api.router.routes.extend(ROUTES)  # sign-in and sign-out of the web UI (cookie)
    api.router.lifespan_context = _chain(api.router.lifespan_context, ui.lifespan())
    api.mount("/", APIMissOrUI(ui, list(api.router.routes)), name="ui")
    log.info("web UI mounted at / (API at %s)", api_url)


class APIMissOrUI:
    """The UI, except for paths under ``/api`` and ``/v1`` that no API route took: those stay API
    errors (405 when the path exists with another method, else the 404 error body), never a page."""

    def __init__(self, ui: Any, api_routes: list[Any]) -> None:
        self.ui, self.api_routes = ui, api_routes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("root_path", "") + scope.get("path", "") if scope["type"] == "http" else ""
        if path.rstrip("/") in API_PREFIXES or path.startswith(tuple(p + "/" for p in API_PREFIXES)):
            from starlette.routing import Match

            from zhiku.errors import NotFound

            for route in self.api_routes:
                match, child = route.matches({**scope, "path": path})
                if match == Match.PARTIAL:
                    await route.handle({**scope, **child, "path": path}, receive, send)
                    return
            raise NotFound(f"no such API route: {scope['method']} {path}", path=path)
        await self.ui(scope, receive, send)


API_PREFIXES = ("/api", "/v1")


def _chain(first: Any, second: Any) -> Any:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        from anyio import to_thread

        limiter = to_thread.current_default_thread_limiter()
        api_threads = limiter.total_tokens
        async with first(app) as state, second(app):
            # Streamlit lowers the process-wide worker-thread limit to suit its file serving; the API's
            # blocking routes share that pool, so they keep the larger of the two
            limiter.total_tokens = max(limiter.total_tokens, api_threads)
            yield state

    return lifespan


def local_url(sockname: tuple[Any, ...]) -> str:
    """The URL this process reaches its own listening socket at (a wildcard address becomes loopback)."""
    host, port = str(sockname[0]), int(sockname[1])
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
