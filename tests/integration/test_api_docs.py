"""The app serves its OpenAPI document and Swagger UI."""

from __future__ import annotations

import httpx


async def test_openapi_document_lists_the_thingsboard_paths_and_body_schemas(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v3/api-docs")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    for path in ("/api/auth/login", "/api/device", "/api/tenant/devices", "/api/entityGroup"):
        assert path in document["paths"]
    login_body = document["paths"]["/api/auth/login"]["post"]["requestBody"]
    reference = login_body["content"]["application/json"]["schema"]["$ref"]
    schema_name = reference.rsplit("/", 1)[1]
    assert "username" in document["components"]["schemas"][schema_name]["properties"]
    device_schema = document["components"]["schemas"]["DeviceSave"]
    assert "deviceProfileId" in device_schema["properties"]


async def test_swagger_ui_is_served_and_the_usual_paths_lead_to_it(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/swagger-ui")
    assert page.status_code == 200
    assert "swagger-ui" in page.text and "/v3/api-docs" in page.text
    for path in ("/docs", "/swagger-ui.html"):
        redirect = await client.get(path)
        assert redirect.status_code in (302, 307)
        assert redirect.headers["location"] == "/swagger-ui"


async def test_swagger_ui_loads_its_assets_from_gridlinks_not_a_cdn(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/swagger-ui")).text
    assert "cdn." not in page and "https://" not in page
    for asset, media_type in (
        ("swagger-ui-bundle.js", "javascript"),
        ("swagger-ui.css", "text/css"),
        ("favicon.png", "image/png"),
    ):
        assert f'"/swagger-ui/assets/{asset}"' in page
        served = await client.get(f"/swagger-ui/assets/{asset}")
        assert served.status_code == 200, asset
        assert media_type in served.headers["content-type"]


async def test_the_docs_pages_and_their_assets_are_not_api_operations(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/v3/api-docs")).json()["paths"]
    assert not [p for p in paths if p.startswith(("/swagger-ui", "/docs", "/v3"))]
