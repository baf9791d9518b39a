"""`zhiku start`'s web UI and MCP tools, each set up on its first request (see zhiku.api.lazy_mount).

Each is built exactly as the eager mounts build it (``mount_ui``, ``mount_mcp``), on a FastAPI app of
its own that the server's route hands the request to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from zhiku.api.lazy_mount import LazyASGI

if TYPE_CHECKING:
    from fastapi import FastAPI

    from zhiku.app import Zhiku


def _inner(mount: Callable[[Any], None]) -> Callable[[], tuple[Any, Any]]:
    def build() -> tuple[Any, Any]:
        from fastapi import FastAPI

        inner = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
        mount(inner)
        return inner, inner.router.lifespan_context

    return build


def mount_lazy_mcp(api: "FastAPI", zhiku: "Zhiku") -> LazyASGI:
    """/mcp, answered by ``mount_mcp``'s app once the first request has built it."""
    from starlette.routing import Route

    def mount(inner: Any) -> None:
        from zhiku.mcp.http import PATH, mount_mcp

        assert PATH == "/mcp"
        mount_mcp(inner, zhiku)

    lazy = LazyASGI(_inner(mount), "the MCP tools")
    api.router.routes.append(Route("/mcp", endpoint=lazy, name="mcp"))
    api.router.lifespan_context = lazy.lifespan(api.router.lifespan_context)
    return lazy


def mount_lazy_ui(api: "FastAPI", api_url: str) -> LazyASGI:
    """The web UI at / (every path the API does not take; API misses stay API errors), Streamlit
    imported and its runtime started by the first request for a page."""
    from zhiku.ui.server import APIMissOrUI, mount_ui

    lazy = LazyASGI(_inner(lambda inner: mount_ui(inner, api_url)), "the web UI")
    # the UI takes over "/" (until now a redirect to the API docs), as mount_ui does
    api.router.routes[:] = [r for r in api.router.routes if getattr(r, "path", None) != "/"]
    api.router.lifespan_context = lazy.lifespan(api.router.lifespan_context)
    api.mount("/", APIMissOrUI(lazy, list(api.router.routes)), name="ui")
    return lazy
