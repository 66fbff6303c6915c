"""Devices over the REST API: create, look up, list, credentials, ownership."""

from __future__ import annotations

from tests.integration.factories import Api, unique


async def test_device_created_with_given_token_gets_default_profile(api: Api) -> None:
    tenant = await api.create_tenant_admin()
    token = unique("tok")
    device = await api.ok(
        "POST",
        f"/api/device?accessToken={token}",
        tenant,
        json={"name": "Dev A", "type": "default"},
    )
    default = await api.ok("GET", "/api/deviceProfileInfo/default", tenant)
    assert device["deviceProfileId"] == default["id"]
    assert device["customerId"]["id"] == "13814000-1dd2-11b2-8080-808080808080"
    credentials = await api.ok("GET", f"/api/device/{device['id']['id']}/credentials", tenant)
    assert credentials["credentialsType"] == "ACCESS_TOKEN"
    assert credentials["credentialsId"] == token


async def test_device_is_found_by_name_through_both_lookup_paths(api: Api) -> None:
    tenant = await api.create_tenant_admin()
    device = await api.create_device(tenant, name="Dev With Space")
    for path in ("/api/tenant/devices", "/api/tenant/device"):
        found = await api.ok("GET", path, tenant, params={"deviceName": "Dev With Space"})
        assert found["id"] == device["id"]


async def test_tenant_device_listing_pages_and_searches(api: Api) -> None:
    tenant = await api.create_tenant_admin()
    for index in range(5):
        await api.create_device(tenant, name=f"Meter {index}", type="meter")
    await api.create_device(tenant, name="Pump 1")
    page = await api.ok(
        "GET",
        "/api/tenant/devices",
        tenant,
        params={
            "pageSize": 2,
            "page": 1,
            "textSearch": "meter",
            "sortProperty": "name",
            "sortOrder": "DESC",
        },
    )
    assert [d["name"] for d in page["data"]] == ["Meter 2", "Meter 1"]
    assert (page["totalElements"], page["totalPages"], page["hasNext"]) == (5, 3, True)
    by_type = await api.ok(
        "GET", "/api/tenant/devices", tenant, params={"pageSize": 10, "page": 0, "type": "meter"}
    )
    assert by_type["totalElements"] == 5


async def test_access_tokens_are_unique_across_tenants(api: Api) -> None:
    first, second = await api.create_tenant_admin(), await api.create_tenant_admin()
    await api.ok("POST", "/api/device?accessToken=shared-token", first, json={"name": "A"})
    response = await api.client.post(
        "/api/device?accessToken=shared-token", headers=second.headers, json={"name": "B"}
    )
    assert response.status_code == 400
    assert response.json()["errorCode"] == 31
    names = await api.ok("GET", "/api/tenant/devices", second, params={"pageSize": 10, "page": 0})
    assert names["totalElements"] == 0  # the refused device was not half-created


async def test_assign_and_unassign_with_both_url_styles(api: Api) -> None:
    tenant = await api.create_tenant_admin()
    customer = await api.create_customer(tenant)
    device = await api.create_device(tenant)
    device_id, customer_id = device["id"]["id"], customer["id"]["id"]
    assigned = await api.ok("POST", f"/api/customer/{customer_id}/device/{device_id}", tenant)
    assert assigned["customerId"]["id"] == customer_id
    released = await api.ok("DELETE", f"/api/customer/device/{device_id}", tenant)
    assert released["customerId"]["id"] == "13814000-1dd2-11b2-8080-808080808080"
    await api.ok("POST", f"/api/owner/CUSTOMER/{customer_id}/DEVICE/{device_id}", tenant)
    listed = await api.ok(
        "GET", f"/api/customer/{customer_id}/devices", tenant, params={"pageSize": 10, "page": 0}
    )
    assert [d["id"] for d in listed["data"]] == [device["id"]]
    tenant_id = tenant.user["tenantId"]["id"]
    await api.ok("POST", f"/api/owner/TENANT/{tenant_id}/DEVICE/{device_id}", tenant)
    after = await api.ok("GET", f"/api/device/{device_id}", tenant)
    assert after["customerId"]["id"] == "13814000-1dd2-11b2-8080-808080808080"


async def test_mqtt_basic_credentials_never_return_the_password(api: Api) -> None:
    tenant = await api.create_tenant_admin()
    device = await api.create_device(tenant)
    value = '{"clientId": "c1", "userName": "u1", "password": "pw-secret-1"}'
    saved = await api.ok(
        "POST",
        "/api/device/credentials",
        tenant,
        json={"deviceId": device["id"], "credentialsType": "MQTT_BASIC", "credentialsValue": value},
    )
    assert saved["credentialsType"] == "MQTT_BASIC"
    read = await api.ok("GET", f"/api/device/{device['id']['id']}/credentials", tenant)
    assert "pw-secret-1" not in str(read) and "pw-secret-1" not in str(saved)


async def test_deleted_device_is_gone(api: Api) -> None:
    tenant = await api.create_tenant_admin()
    device = await api.create_device(tenant)
    await api.ok("DELETE", f"/api/device/{device['id']['id']}", tenant)
    response = await api.client.get(f"/api/device/{device['id']['id']}", headers=tenant.headers)
    assert response.status_code == 404
    assert response.json()["errorCode"] == 32


async def test_owner_change_refuses_unknown_owner_types_and_foreign_tenants(api: Api) -> None:
    tenant = await api.create_tenant_admin()
    device_id = (await api.create_device(tenant))["id"]["id"]
    tenant_id = tenant.user["tenantId"]["id"]
    other_tenant = "5a0d2c44-0d6e-4f57-9d3c-1f3a8b7e2a10"
    for path in (
        f"/api/owner/EDGE/{tenant_id}/DEVICE/{device_id}",
        f"/api/owner/TENANT/{other_tenant}/DEVICE/{device_id}",
        f"/api/owner/TENANT/{tenant_id}/ASSET/{device_id}",
    ):
        response = await api.client.post(path, headers=tenant.headers)
        assert response.status_code == 400, path
        assert response.json()["errorCode"] == 30


async def test_device_with_access_token_credentials_is_created_in_one_call(api: Api) -> None:
    tenant = await api.create_tenant_admin()
    token = unique("tok")
    device = await api.ok(
        "POST",
        "/api/device-with-credentials",
        tenant,
        json={
            "device": {"name": unique("Dev"), "type": "default"},
            "credentials": {"credentialsType": "ACCESS_TOKEN", "credentialsId": token},
        },
    )
    credentials = await api.ok("GET", f"/api/device/{device['id']['id']}/credentials", tenant)
    assert (credentials["credentialsType"], credentials["credentialsId"]) == ("ACCESS_TOKEN", token)


async def test_device_with_mqtt_basic_credentials_is_created_in_one_call(api: Api) -> None:
    tenant = await api.create_tenant_admin()
    value = '{"clientId": "c-42", "userName": "u-42", "password": "pw-42-secret"}'
    device = await api.ok(
        "POST",
        "/api/device-with-credentials",
        tenant,
        json={
            "device": {"name": unique("Dev")},
            "credentials": {"credentialsType": "MQTT_BASIC", "credentialsValue": value},
        },
    )
    credentials = await api.ok("GET", f"/api/device/{device['id']['id']}/credentials", tenant)
    assert credentials["credentialsType"] == "MQTT_BASIC"
    assert "c-42" in credentials["credentialsValue"]
    assert "pw-42-secret" not in str(credentials)


async def test_device_with_bad_credentials_is_not_created(api: Api) -> None:
    tenant = await api.create_tenant_admin()
    name = unique("Dev")
    response = await api.client.post(
        "/api/device-with-credentials",
        headers=tenant.headers,
        json={
            "device": {"name": name},
            "credentials": {"credentialsType": "MQTT_BASIC", "credentialsValue": "{}"},
        },
    )
    assert response.status_code == 400
    lookup = await api.client.get(
        "/api/tenant/device", headers=tenant.headers, params={"deviceName": name}
    )
    assert lookup.status_code == 404
