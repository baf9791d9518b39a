"""OpenAPI docs that work offline: Swagger UI and ReDoc served from the assets the
``fastapi-offline`` package ships (FastAPI's own pages load them from a CDN)."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from zhiku.errors import MissingDependency

ASSETS_URL = "/docs-assets"


def install(app: FastAPI) -> None:
    try:
        assets = files("fastapi_offline") / "static"
    except ModuleNotFoundError:
        raise MissingDependency("fastapi-offline", purpose="the offline API docs") from None
    app.mount(ASSETS_URL, StaticFiles(directory=str(assets)), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url, title=f"{app.title} API",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            oauth2_redirect_url=root + "/docs/oauth2-redirect",
            swagger_ui_parameters={"validatorUrl": None},  # the default badge calls validator.swagger.io
        )

    @app.get("/", include_in_schema=False)
    async def home(request: Request) -> RedirectResponse:
        """Without the web UI (`zhiku start --no-ui`, or the bare API app) the address opens the API docs."""
        return RedirectResponse(request.scope.get("root_path", "") + "/docs")

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=root + openapi_url, title=f"{app.title} API",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png", with_google_fonts=False,
        )
