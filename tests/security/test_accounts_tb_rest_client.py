"""Token revocation as tb-rest-client 4.3 meets it, against a real ``gridlinks serve``: after
``change_password`` the client's old token is refused and the answered pair works (the client
adopts it with ``token_login``, as with ThingsBoard); after ``logout`` nothing works."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from tb_rest_client.models.models_ce import ChangePasswordRequest
from tb_rest_client.rest import ApiException
from tb_rest_client.rest_client_ce import RestClientCE

from tests.e2e.running_server import Server

pytestmark = [pytest.mark.e2e, pytest.mark.security]

NEW_PASSWORD = "another-long-password"


def refresh_status(server: Server, refresh_token: str) -> int:
    url = f"{server.base_url}/api/auth/token"
    return requests.post(url, json={"refreshToken": refresh_token}, timeout=10).status_code


def refused_with_401(call: Any) -> None:
    with pytest.raises(ApiException) as raised:
        call()
    assert raised.value.status == 401


def test_tb_rest_client_goes_on_with_the_pair_change_password_answers(server: Server) -> None:
    client = RestClientCE(server.base_url)
    client.login(server.sysadmin_email, server.sysadmin_password)
    old_refresh = client.token_info["refreshToken"]
    request = ChangePasswordRequest(
        current_password=server.sysadmin_password, new_password=NEW_PASSWORD
    )
    pair = client.change_password(request)
    refused_with_401(client.get_user)
    assert refresh_status(server, old_refresh) == 401
    client.token_login(pair["token"], pair["refreshToken"])
    assert client.get_user().email == server.sysadmin_email


def test_tb_rest_client_logout_signs_the_client_out(server: Server) -> None:
    client = RestClientCE(server.base_url)
    client.login(server.sysadmin_email, server.sysadmin_password)
    refresh_token = client.token_info["refreshToken"]
    assert client.get_user().email == server.sysadmin_email
    client.logout()
    refused_with_401(client.get_user)
    assert refresh_status(server, refresh_token) == 401
    client.login(server.sysadmin_email, server.sysadmin_password)
    assert client.get_user().email == server.sysadmin_email
