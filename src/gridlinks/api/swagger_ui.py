"""Swagger UI served by GridLinks itself, so the page works without internet access.

FastAPI's default page loads Swagger UI's script and style sheet from a CDN. Here they come from
the ``fastapi-offline`` package, which ships swagger-ui-dist's files and follows its releases;
they are served under ``ASSETS_PATH`` by a static mount, which is not an API operation and so is
not in the OpenAPI document.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

SWAGGER_UI_PATH = "/swagger-ui"
ASSETS_PATH = "/swagger-ui/assets"
# Where clients used to FastAPI or Spring (ThingsBoard) look for the page.
_OTHER_PATHS = ("/docs", "/swagger-ui.html")
# Swagger UI would ask validator.swagger.io to check the document of any non-local server.
_PARAMETERS = {"validatorUrl": None}


def install_swagger_ui(app: FastAPI) -> None:
    """Serve Swagger UI for ``app.openapi_url`` at ``/swagger-ui`` with its assets."""
    assert app.openapi_url, "Swagger UI needs the OpenAPI document"
    openapi_url = app.openapi_url
    app.mount(
        ASSETS_PATH,
        StaticFiles(packages=[("fastapi_offline", "static")]),
        name="swagger-ui-assets",
    )

    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
            swagger_ui_parameters=_PARAMETERS,
        )

    async def to_swagger_ui() -> RedirectResponse:
        return RedirectResponse(SWAGGER_UI_PATH)

    app.add_api_route(SWAGGER_UI_PATH, swagger_ui, include_in_schema=False)
    for path in _OTHER_PATHS:
        app.add_api_route(path, to_swagger_ui, include_in_schema=False)
