"""A started tb-rest-client 4.3 keeps its session alive through ``POST /api/auth/token``."""

from __future__ import annotations

import time

import pytest
import requests
from tb_rest_client.rest_client_ce import RestClientCE

from tests.e2e.running_server import StartServer

pytestmark = pytest.mark.e2e

TOKEN_LIFETIME_SECONDS = 2


def wait_for_new_token(client: RestClientCE, previous: str, timeout_seconds: float = 5) -> str:
    """The client's token once its refresh thread has replaced ``previous``."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if client.get_token() != previous:
            return str(client.get_token())
        time.sleep(0.02)
    raise AssertionError(f"the client did not refresh its token within {timeout_seconds} s")


def status_with(base_url: str, token: str) -> int:
    headers = {"X-Authorization": f"Bearer {token}"}
    return requests.get(f"{base_url}/api/auth/user", headers=headers, timeout=10).status_code


def test_started_client_keeps_working_after_its_first_token_expired(
    start_server: StartServer,
) -> None:
    server = start_server(access_token_lifetime_seconds=str(TOKEN_LIFETIME_SECONDS))
    with RestClientCE(server.base_url) as client:
        client.login(server.sysadmin_email, server.sysadmin_password)
        first_token = client.get_token()
        time.sleep(2 * TOKEN_LIFETIME_SECONDS)
        # The client checks its token once a second, so for up to a second after expiry it
        # still holds the old one: call right after a refresh, as a long-lived token would.
        wait_for_new_token(client, previous=client.get_token())
        user = client.get_user()
    client.join(timeout=5)

    assert type(user).__name__ == "User"  # 4.3 returns a ValueError for a reply it cannot read
    assert user.email == server.sysadmin_email
    assert status_with(server.base_url, first_token) == 401  # the first token really expired
    refreshes = server.log_text().count("POST /api/auth/token -> 200")
    assert refreshes >= 2, f"expected at least 2 refreshes in {2 * TOKEN_LIFETIME_SECONDS} s"
