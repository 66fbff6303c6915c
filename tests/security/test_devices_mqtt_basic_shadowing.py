"""Defect 4: one tenant must not shadow another tenant's MQTT basic credentials.

MQTT basic credentials (and access tokens, which a CONNECT without password presents as its user
name) are unique across the installation in the sense that matters: no CONNECT may match the
credentials of two devices. A registration that would make one ambiguous is refused with 400,
whichever tenant holds the other credentials; the devices keep connecting to their own device.
"""

from __future__ import annotations

import pytest

from tests.integration.factories import Account, Api, create_tenant_admin_quickly, unique
from tests.integration.mqtt.harness import RunningMqtt
from tests.security.devices_support import (
    TELEMETRY,
    create_with_token,
    latest_keys,
    set_basic,
    set_token,
)

pytestmark = pytest.mark.security

AMBIGUOUS = "ambiguous"
ALREADY_ASSIGNED = "Device credentials are already assigned to another device!"


async def two_tenants(api: Api) -> tuple[Account, Account]:
    return await create_tenant_admin_quickly(api), await create_tenant_admin_quickly(api)


async def send_telemetry(
    mqtt: RunningMqtt, key: str, user_name: str | None, client_id: str, password: bytes | None
) -> None:
    """Connect as a device would and publish ``{key: 1}`` (QoS 1: stored before the PUBACK)."""
    client = await mqtt.client(4)
    connack = await client.connect(user_name, client_id=client_id, password=password)
    assert connack.reason_code == 0, connack
    await client.publish_ok(TELEMETRY, b'{"%s": 1}' % key.encode())
    await client.close()


async def test_another_tenant_cannot_shadow_user_name_only_credentials_with_client_id_and_user_name(
    api: Api, mqtt: RunningMqtt
) -> None:
    victim, attacker = await two_tenants(api)
    meter, decoy = await api.create_device(victim), await api.create_device(attacker)
    user_name, client_id = unique("meter"), unique("meter-client")
    assert (await set_basic(api, victim, meter, userName=user_name)).status_code == 200

    refused = await set_basic(api, attacker, decoy, clientId=client_id, userName=user_name)

    assert refused.status_code == 400, refused.text
    assert refused.json()["errorCode"] == 31 and AMBIGUOUS in refused.json()["message"]
    assert user_name not in refused.text and client_id not in refused.text
    await send_telemetry(mqtt, "victimReading", user_name, client_id, None)
    assert "victimReading" in await latest_keys(api, victim, meter)
    assert await latest_keys(api, attacker, decoy) == set()


async def test_user_name_only_credentials_are_refused_when_another_device_has_that_user_name(
    api: Api, mqtt: RunningMqtt
) -> None:
    first, second = await two_tenants(api)
    meter, late = await api.create_device(first), await api.create_device(second)
    user_name, client_id = unique("meter"), unique("meter-client")
    assert (await set_basic(api, first, meter, clientId=client_id, userName=user_name)).is_success

    refused = await set_basic(api, second, late, userName=user_name)

    assert refused.status_code == 400 and AMBIGUOUS in refused.json()["message"], refused.text
    await send_telemetry(mqtt, "firstReading", user_name, client_id, None)
    assert "firstReading" in await latest_keys(api, first, meter)


async def test_client_id_only_credentials_of_another_tenant_do_not_lock_out_a_device_with_password(
    api: Api, mqtt: RunningMqtt
) -> None:
    victim, other = await two_tenants(api)
    meter, neighbour = await api.create_device(victim), await api.create_device(other)
    user_name, client_id = unique("meter"), unique("meter-client")
    saved = await set_basic(api, victim, meter, userName=user_name, password="pw-meter-1")
    assert saved.status_code == 200, saved.text

    # A CONNECT with a user name never matches client-id-only credentials, so both may exist.
    assert (await set_basic(api, other, neighbour, clientId=client_id)).status_code == 200

    await send_telemetry(mqtt, "victimReading", user_name, client_id, b"pw-meter-1")
    await send_telemetry(mqtt, "neighbourReading", None, client_id, None)
    assert await latest_keys(api, victim, meter) == {"victimReading"}
    assert await latest_keys(api, other, neighbour) == {"neighbourReading"}


async def test_access_token_equal_to_another_tenants_basic_user_name_is_refused(
    api: Api, mqtt: RunningMqtt
) -> None:
    victim, attacker = await two_tenants(api)
    meter = await api.create_device(victim)
    user_name = unique("meter")
    assert (await set_basic(api, victim, meter, userName=user_name)).status_code == 200

    created = await create_with_token(api, attacker, user_name)
    changed = await set_token(api, attacker, await api.create_device(attacker), user_name)

    for refused in (created, changed):
        assert refused.status_code == 400, refused.text
        assert refused.json()["message"] == ALREADY_ASSIGNED
    await send_telemetry(mqtt, "victimReading", user_name, unique("any-client"), None)
    assert "victimReading" in await latest_keys(api, victim, meter)


async def test_basic_user_name_equal_to_another_tenants_access_token_is_refused(
    api: Api, mqtt: RunningMqtt
) -> None:
    victim, attacker = await two_tenants(api)
    token = unique("token")
    created = await create_with_token(api, victim, token)
    assert created.status_code == 200, created.text
    decoy = await api.create_device(attacker)

    for value in ({"userName": token}, {"clientId": unique("c"), "userName": token}):
        refused = await set_basic(api, attacker, decoy, **value)
        assert refused.status_code == 400 and AMBIGUOUS in refused.json()["message"], refused.text
    await send_telemetry(mqtt, "victimReading", token, "", None)
    assert "victimReading" in await latest_keys(api, victim, created.json())


async def test_credentials_are_unambiguous_within_one_tenant_too(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    first, second = await api.create_device(tenant), await api.create_device(tenant)
    user_name = unique("meter")
    assert (await set_basic(api, tenant, first, userName=user_name)).status_code == 200

    refused = await set_basic(api, tenant, second, clientId="c-1", userName=user_name)

    assert refused.status_code == 400 and AMBIGUOUS in refused.json()["message"]


async def test_saving_a_devices_own_credentials_again_is_not_a_clash(api: Api) -> None:
    tenant = await create_tenant_admin_quickly(api)
    device = await api.create_device(tenant)
    user_name = unique("meter")

    for value in ({"userName": user_name}, {"userName": user_name, "clientId": "c-2"}):
        assert (await set_basic(api, tenant, device, **value)).status_code == 200
    assert (await set_basic(api, tenant, device, **value)).status_code == 200


async def test_a_client_id_with_the_separator_is_not_taken_for_another_pair(
    api: Api, mqtt: RunningMqtt
) -> None:
    """``a|b`` + no user name and ``a`` + ``b|`` have one digest; a CONNECT of the second pair
    must not land in the device of the first."""
    tenant = await create_tenant_admin_quickly(api)
    device = await api.create_device(tenant)
    base = unique("c")
    assert (await set_basic(api, tenant, device, clientId=f"{base}|b")).status_code == 200

    client = await mqtt.client(4)
    connack = await client.connect("b|", client_id=base)

    assert connack.reason_code == 4
