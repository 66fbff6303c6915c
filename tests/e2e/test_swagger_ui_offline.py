"""Swagger UI works without internet: a real Chromium opens it from a real ``gridlinks serve``
while every request that would leave loopback is blocked (and recorded).

Chromium is Debian's (``apt-get install chromium``, which scripts/test does); Playwright drives
it and never downloads a browser of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Page, Response, Route, expect, sync_playwright

from tests.e2e.running_server import Server

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
CDN_STYLE_SHEET = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"
OPERATION_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The page never reaches the database: SQLite is enough."""
    return f"sqlite:///{tmp_path / 'gridlinks.db'}"


@pytest.fixture
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test does)")
    return CHROMIUM


class LoopbackOnly:
    """Lets a page's loopback requests through and aborts (and notes) every other one."""

    def __init__(self, page: Page) -> None:
        self.blocked: list[str] = []
        self.answered: dict[str, int] = {}
        page.route("**/*", self._route)
        page.on("response", self._note_answer)

    def _route(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK_HOSTS:
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort("internetdisconnected")

    def _note_answer(self, response: Response) -> None:
        self.answered[urlsplit(response.url).path] = response.status


def operation_count(server: Server) -> int:
    document: dict[str, Any] = requests.get(f"{server.base_url}/v3/api-docs", timeout=10).json()
    return sum(
        1 for item in document["paths"].values() for method in item if method in OPERATION_METHODS
    )


@contextmanager
def swagger_ui_offline(server: Server, chromium: Path) -> Iterator[tuple[Page, LoopbackOnly]]:
    """Chromium showing the server's Swagger UI, with everything beyond loopback blocked."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium))
        try:
            page = browser.new_page()
            network = LoopbackOnly(page)
            page.goto(f"{server.base_url}/swagger-ui", wait_until="load")
            expect(page.locator(".opblock").first).to_be_visible(timeout=15_000)
            yield page, network
        finally:
            browser.close()


def test_swagger_ui_renders_every_operation_with_the_internet_blocked(
    server: Server, chromium_path: Path
) -> None:
    with swagger_ui_offline(server, chromium_path) as (page, network):
        assert page.locator(".opblock").count() == operation_count(server)
        login = page.locator(".opblock-post", has=page.locator('[data-path="/api/auth/login"]'))
        login.locator(".opblock-summary").click()
        expect(login.locator(".opblock-body")).to_be_visible()
        expect(login.get_by_role("button", name="Try it out")).to_be_visible()

    assert network.blocked == []
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert network.answered[f"/swagger-ui/assets/{asset}"] == 200
    assert network.answered["/v3/api-docs"] == 200


def test_the_offline_check_really_blocks_what_leaves_loopback(
    server: Server, chromium_path: Path
) -> None:
    with swagger_ui_offline(server, chromium_path) as (page, network):
        outcome = page.evaluate(
            "url => fetch(url).then(() => 'loaded', () => 'blocked')", CDN_STYLE_SHEET
        )

    assert outcome == "blocked"
    assert network.blocked == [CDN_STYLE_SHEET]
