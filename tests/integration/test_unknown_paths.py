"""Unknown paths answer 404, ThingsBoard features GridLinks lacks answer 404 naming the feature,
a known path with a malformed id answers 400 and a known path with the wrong method 405, all
with ThingsBoard error JSON."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.routing import Match

from gridlinks.api.app import create_app
from gridlinks.api.openapi import api_routes
from gridlinks.api.routes.missing_features import MISSING_FEATURES, MissingFeaturesRoute
from gridlinks.bootstrap import Platform
from tests.integration.factories import Api, expect_error

SOME_ID = "0b6f1a5e-0000-4000-8000-000000000000"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# ThingsBoard REST paths of each feature GridLinks does not have yet.
FEATURE_PATHS = {
    "Assets": (
        "/api/tenant/assets",
        "/api/tenant/assetInfos",
        f"/api/asset/{SOME_ID}",
        "/api/asset",
        f"/api/customer/{SOME_ID}/assets",
        f"/api/customer/asset/{SOME_ID}",
        "/api/assetProfileInfos",
        "/api/user/assets",
    ),
    "Dashboards": (
        "/api/tenant/dashboards",
        f"/api/dashboard/{SOME_ID}",
        f"/api/dashboard/info/{SOME_ID}",
        f"/api/customer/{SOME_ID}/dashboards",
        "/api/dashboard/home",
    ),
    "Alarms": (
        "/api/alarms",
        "/api/alarm",
        f"/api/alarm/{SOME_ID}/ack",
        f"/api/alarm/DEVICE/{SOME_ID}",
        "/api/v2/alarms",
    ),
    "Rule chains": ("/api/ruleChains", f"/api/ruleChain/{SOME_ID}/metadata", "/api/ruleChain"),
    "Entity views": (
        "/api/tenant/entityViews",
        f"/api/entityView/{SOME_ID}",
        f"/api/customer/{SOME_ID}/entityViews",
    ),
    "Edges": ("/api/edges", "/api/tenant/edges", f"/api/edge/{SOME_ID}/devices"),
    "OTA packages": ("/api/otaPackages", f"/api/otaPackage/{SOME_ID}/download"),
    "Widgets": ("/api/widgetsBundles", f"/api/widgetType/{SOME_ID}", "/api/widgetTypes"),
}


def assert_missing_feature(response: httpx.Response, feature: str, example: str) -> None:
    assert response.status_code == 404, (example, response.status_code, response.text)
    if response.request.method != "HEAD":
        body = expect_error(response, 404, 32)
        assert body["message"].startswith(f"{feature} are not available in GridLinks yet"), body


def test_every_missing_feature_has_example_paths() -> None:
    assert {feature.name for feature in MISSING_FEATURES} == set(FEATURE_PATHS)


@pytest.mark.parametrize("feature", sorted(FEATURE_PATHS))
async def test_a_thingsboard_feature_gridlinks_lacks_is_404_naming_it_for_every_method(
    api: Api, feature: str
) -> None:
    for path in FEATURE_PATHS[feature]:
        for method in (*METHODS, "HEAD"):
            response = await api.client.request(method, path, headers=api.sysadmin.headers)
            assert_missing_feature(response, feature, f"{method} {path}")


async def test_a_missing_feature_is_named_without_signing_in(client: httpx.AsyncClient) -> None:
    assert_missing_feature(await client.get("/api/tenant/assets"), "Assets", "anonymous")


async def test_an_unknown_path_is_404_with_thingsboard_error_json(api: Api) -> None:
    for path in ("/api/nothing", "/api/tenant/devices/extra", "/nothing", "/api/customer/x/1"):
        for method in METHODS:
            response = await api.client.request(method, path, headers=api.sysadmin.headers)
            body = expect_error(response, 404, 32)
            assert "no endpoint at this path" in body["message"], (method, path, body)


async def test_an_unknown_device_api_path_does_not_repeat_the_token(
    client: httpx.AsyncClient,
) -> None:
    token = "secret-token-7f3a91"
    for path in (f"/api/v1/{token}/nothing", f"/api/v1/{token}/firmware"):
        response = await client.get(path)
        expect_error(response, 404, 32)
        assert token not in response.text


async def test_a_known_path_with_a_malformed_id_is_still_a_bad_request(api: Api) -> None:
    for path in ("/api/tenant/not-a-uuid", "/api/device/42", "/api/customer/abc/devices"):
        response = await api.client.get(
            path, headers=api.sysadmin.headers, params={"pageSize": 10, "page": 0}
        )
        body = expect_error(response, 400, 31)
        assert "valid UUID" in body["message"], (path, body)


async def test_a_known_path_with_the_wrong_method_is_405_naming_the_allowed_ones(
    api: Api,
) -> None:
    for method, path, allowed in (
        ("PATCH", "/api/tenant/devices", "GET"),
        ("PUT", f"/api/device/{SOME_ID}", "DELETE, GET"),
        ("GET", "/api/auth/login", "POST"),
        ("GET", f"/api/plugins/telemetry/{SOME_ID}/SERVER_SCOPE", "DELETE, POST"),
    ):
        response = await api.client.request(method, path, headers=api.sysadmin.headers)
        body = expect_error(response, 405, 31)
        assert response.headers["allow"] == allowed, (method, path)
        assert body["message"] == (
            f"Request method '{method}' is not supported here; use {allowed}"
        )


def sample_path(path_format: str) -> str:
    """A request path for a route template: ids as UUIDs, other words as feature names."""
    return re.sub(
        r"\{(\w+)(?::path)?\}",
        lambda m: SOME_ID if m.group(1).endswith("id") else "assets",
        path_format,
    )


async def test_no_gridlinks_path_is_taken_for_a_missing_feature(platform: Platform) -> None:
    route = MissingFeaturesRoute()
    app = create_app(platform)
    paths = [sample_path(r.path_format) for r in api_routes(app.routes)]
    assert len(paths) > 50
    taken = [p for p in paths if route.matches({"type": "http", "path": p})[0] is Match.FULL]
    assert taken == []


async def test_device_names_that_look_like_features_reach_the_device_paths(api: Api) -> None:
    for name in ("assets", "dashboards", "edges"):
        response = await api.client.delete(
            f"/api/customer/device/{name}/claim", headers=api.sysadmin.headers
        )
        body = expect_error(response, 403, 20)  # the claim route answered, not "not available"
        assert "not available" not in body["message"]


async def test_missing_features_are_not_operations_in_the_openapi_document(
    client: httpx.AsyncClient,
) -> None:
    route = MissingFeaturesRoute()
    paths = (await client.get("/v3/api-docs")).json()["paths"]
    documented = [sample_path(p) for p in paths]
    assert [p for p in documented if route.regex.fullmatch(p)] == []
