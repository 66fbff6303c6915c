"""The demo accounts and devices of SPEC §6: loaded once by ``gridlinks init --demo``, shown
again by ``gridlinks demo --show``.

Loaded once: the first ``init --demo`` on a database creates what is missing, gives each
unclaimed demo device a claim code and records the load in ``admin_settings``; later runs (every
``scripts/serve``) change nothing, so codes stay valid across restarts and a deleted demo account
does not come back with its well-known password.

Claim codes are stored only as keyed hashes (docs/security.md), so they can be printed only when
issued. ``issue_demo_codes`` replaces the codes of the still unclaimed demo devices when the
operator asks for it. A demo password is reported only while it still is the account's password.
"""

from __future__ import annotations

from dataclasses import dataclass

from gridlinks.accounts.domain import Authority, Principal, Tenant, User
from gridlinks.accounts.repository import CustomerRepository, TenantRepository, UserRepository
from gridlinks.accounts.schemas import CustomerSave, IdRef, TenantSave, UserSave
from gridlinks.accounts.service import AccountService
from gridlinks.attributes.domain import SERVER_SCOPE
from gridlinks.attributes.service import AttributeService
from gridlinks.claiming.domain import CLAIMING_DATA, WindowSource
from gridlinks.claiming.repository import ClaimWindowRepository
from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.devices.domain import Device
from gridlinks.devices.repository import DeviceRepository
from gridlinks.devices.schemas import DeviceSave
from gridlinks.devices.service import DeviceService
from gridlinks.errors import NotFoundError
from gridlinks.kit.clock import Clock
from gridlinks.kit.secrets import claim_code
from gridlinks.provisioning.repository import AdminSettingsRepository

SYSADMIN = ("sysadmin@gridlinks.local", "sysadmin")
TENANT_ADMIN = ("tenant@gridlinks.local", "tenant")
CUSTOMER_USER = ("customer@gridlinks.local", "customer")
TENANT_TITLE = "Demo Maker"
CUSTOMER_TITLE = "Demo Customer"
DEMO_DEVICES = ("Demo Thermostat 1", "Demo Thermostat 2", "Demo Thermostat 3")
DEMO_CLAIM_CODE_LIFETIME_MS = 30 * 86_400_000
DEMO_SETTING = "demo"
_ACCOUNTS = (
    ("system administrator", SYSADMIN),
    (f"tenant admin of {TENANT_TITLE!r}", TENANT_ADMIN),
    (f"user of customer {CUSTOMER_TITLE!r}", CUSTOMER_USER),
)


@dataclass(frozen=True)
class DemoAccount:
    email: str
    role: str
    # The demo password while it is still the account's password; None once changed.
    password: str | None
    exists: bool = True


@dataclass(frozen=True)
class DemoDevice:
    name: str
    claimed_by: str | None  # the owning customer's title
    claim_code: str | None  # only right after it was issued: it is stored hashed
    code_expires_ms: int | None  # the open server claim window's expiry, if any


@dataclass(frozen=True)
class DemoReport:
    loaded_ms: int  # when ``init --demo`` loaded the demo data
    accounts: list[DemoAccount]
    devices: list[DemoDevice]


def _principal(user: User) -> Principal:
    return Principal(user.id, user.email, user.authority, user.tenant_id, user.customer_id)


async def load_demo_once(
    uow: UnitOfWork,
    accounts: AccountService,
    devices: DeviceService,
    attributes: AttributeService,
    clock: Clock,
) -> DemoReport | None:
    """Load the demo data if this database never had it: the report of what was loaded, with
    the new claim codes; ``None`` if it was loaded before (then nothing is changed)."""
    settings = AdminSettingsRepository(uow.connection)
    if await settings.get(DEMO_SETTING) is not None:
        return None
    await _create_missing(uow, accounts, devices)
    await settings.add(DEMO_SETTING, {"loadedTime": clock.now_ms()}, clock.now_ms())
    return await issue_demo_codes(uow, accounts, attributes, clock)


async def demo_report(uow: UnitOfWork, accounts: AccountService) -> DemoReport:
    """The demo accounts and devices as they are now (no claim codes: they are hashed)."""
    loaded_ms = await _loaded_ms(uow)
    reported = [await _device_report(uow, d, None) for d in await _demo_devices(uow)]
    return DemoReport(loaded_ms, await _account_report(uow, accounts), reported)


async def issue_demo_codes(
    uow: UnitOfWork, accounts: AccountService, attributes: AttributeService, clock: Clock
) -> DemoReport:
    """New claim codes (valid 30 days) for the demo devices nobody has claimed yet; their old
    codes stop working. Claimed demo devices are left alone."""
    loaded_ms = await _loaded_ms(uow)
    reported = []
    for device in await _demo_devices(uow):
        code = None
        if device.customer_id is None:
            code = claim_code()
            expiry = clock.now_ms() + DEMO_CLAIM_CODE_LIFETIME_MS
            claiming_data = {CLAIMING_DATA: {"secretKey": code, "expirationTime": expiry}}
            await attributes.save(uow, "DEVICE", device.id, SERVER_SCOPE, claiming_data)
        reported.append(await _device_report(uow, device, code))
    return DemoReport(loaded_ms, await _account_report(uow, accounts), reported)


async def _loaded_ms(uow: UnitOfWork) -> int:
    loaded = await AdminSettingsRepository(uow.connection).get(DEMO_SETTING)
    if loaded is None:
        raise NotFoundError("No demo data in this database; `gridlinks init --demo` loads it")
    return int(loaded["loadedTime"])


async def _account_report(uow: UnitOfWork, accounts: AccountService) -> list[DemoAccount]:
    users = UserRepository(uow.connection)
    found = []
    for role, (email, password) in _ACCOUNTS:
        user = await users.find_by_email(email)
        if user is None:
            found.append(DemoAccount(email, role, None, exists=False))
        elif await accounts.password_is(uow, user, password):
            found.append(DemoAccount(email, role, password))
        else:
            found.append(DemoAccount(email, role, None))
    return found


async def _demo_tenant(uow: UnitOfWork) -> Tenant | None:
    return await TenantRepository(uow.connection).find_by_title(TENANT_TITLE)


async def _demo_devices(uow: UnitOfWork) -> list[Device]:
    tenant = await _demo_tenant(uow)
    if tenant is None:
        return []
    repository = DeviceRepository(uow.connection)
    found = [await repository.find_by_name(tenant.id, name) for name in DEMO_DEVICES]
    return [device for device in found if device is not None]


async def _device_report(uow: UnitOfWork, device: Device, code: str | None) -> DemoDevice:
    owner = None
    if device.customer_id is not None:
        customer = await CustomerRepository(uow.connection).get(device.customer_id)
        owner = customer.title if customer else "?"
    windows = await ClaimWindowRepository(uow.connection).of_device(device.id)
    expiry = [w.expires_at_ms for w in windows if w.source is WindowSource.SERVER]
    return DemoDevice(device.name, owner, code, expiry[0] if expiry else None)


async def _create_missing(
    uow: UnitOfWork, accounts: AccountService, devices: DeviceService
) -> None:
    """Create what is missing of the demo data; nothing is created twice."""
    users = UserRepository(uow.connection)
    sysadmin = await users.find_by_email(SYSADMIN[0])
    if sysadmin is None:
        sysadmin = await accounts.create_sys_admin(uow, *SYSADMIN)
    tenant = await _demo_tenant(uow)
    if tenant is None:
        tenant = await accounts.save_tenant(
            uow, _principal(sysadmin), TenantSave(title=TENANT_TITLE)
        )
    admin = await users.find_by_email(TENANT_ADMIN[0])
    if admin is None:
        data = UserSave(
            email=TENANT_ADMIN[0],
            authority=Authority.TENANT_ADMIN.value,
            tenantId=IdRef(id=tenant.id),
            firstName="Demo",
            lastName="Maker",
        )
        admin = await accounts.save_user(uow, _principal(sysadmin), data, [])
        admin = await accounts.set_password(uow, admin, TENANT_ADMIN[1])
    actor = _principal(admin)
    customer = await CustomerRepository(uow.connection).find_by_title(tenant.id, CUSTOMER_TITLE)
    if customer is None:
        customer = await accounts.save_customer(uow, actor, CustomerSave(title=CUSTOMER_TITLE))
    if await users.find_by_email(CUSTOMER_USER[0]) is None:
        data = UserSave(
            email=CUSTOMER_USER[0],
            authority=Authority.CUSTOMER_USER.value,
            customerId=IdRef(id=customer.id),
            firstName="Demo",
            lastName="Buyer",
        )
        buyer = await accounts.save_user(uow, actor, data, [])
        await accounts.make_customer_admin(uow, buyer)
        await accounts.set_password(uow, buyer, CUSTOMER_USER[1])
    for name in DEMO_DEVICES:
        if await DeviceRepository(uow.connection).find_by_name(tenant.id, name) is None:
            await devices.save_device(uow, actor, DeviceSave(name=name, type="thermostat"), None)
