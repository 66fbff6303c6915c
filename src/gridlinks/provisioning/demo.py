"""The demo accounts of SPEC §6, created idempotently by ``gridlinks init --demo``."""

from __future__ import annotations

from dataclasses import dataclass

from gridlinks.accounts.domain import Authority, Principal, User
from gridlinks.accounts.repository import CustomerRepository, TenantRepository, UserRepository
from gridlinks.accounts.schemas import CustomerSave, IdRef, TenantSave, UserSave
from gridlinks.accounts.service import AccountService
from gridlinks.attributes.domain import SERVER_SCOPE
from gridlinks.attributes.service import AttributeService
from gridlinks.claiming.domain import CLAIMING_DATA
from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.devices.repository import DeviceRepository
from gridlinks.devices.schemas import DeviceSave
from gridlinks.devices.service import DeviceService
from gridlinks.kit.clock import Clock
from gridlinks.kit.secrets import claim_code

SYSADMIN = ("sysadmin@gridlinks.local", "sysadmin")
TENANT_ADMIN = ("tenant@gridlinks.local", "tenant")
CUSTOMER_USER = ("customer@gridlinks.local", "customer")
TENANT_TITLE = "Demo Maker"
CUSTOMER_TITLE = "Demo Customer"
DEMO_DEVICES = ("Demo Thermostat 1", "Demo Thermostat 2", "Demo Thermostat 3")
DEMO_CLAIM_CODE_LIFETIME_MS = 30 * 86_400_000


@dataclass(frozen=True)
class DemoSummary:
    accounts: list[tuple[str, str, str]]
    # (device name, claim code) of the unclaimed demo devices.
    claim_codes: list[tuple[str, str]]


def _principal(user: User) -> Principal:
    return Principal(user.id, user.email, user.authority, user.tenant_id, user.customer_id)


async def seed_demo(
    uow: UnitOfWork,
    accounts: AccountService,
    devices: DeviceService,
    attributes: AttributeService,
    clock: Clock,
) -> DemoSummary:
    """Create what is missing of the demo data; running it twice creates nothing twice.

    Claim codes are stored only as keyed hashes, so they can be shown only when issued: each
    run gives every still unclaimed demo device a new code (valid 30 days) and returns it."""
    users = UserRepository(uow.connection)
    sysadmin = await users.find_by_email(SYSADMIN[0])
    if sysadmin is None:
        sysadmin = await accounts.create_sys_admin(uow, *SYSADMIN)
    tenant = await TenantRepository(uow.connection).find_by_title(TENANT_TITLE)
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
    codes = []
    for name in DEMO_DEVICES:
        device = await DeviceRepository(uow.connection).find_by_name(tenant.id, name)
        if device is None:
            device = await devices.save_device(
                uow, actor, DeviceSave(name=name, type="thermostat"), None
            )
        if device.customer_id is None:
            code = claim_code()
            expiry = clock.now_ms() + DEMO_CLAIM_CODE_LIFETIME_MS
            claiming_data = {CLAIMING_DATA: {"secretKey": code, "expirationTime": expiry}}
            await attributes.save(uow, "DEVICE", device.id, SERVER_SCOPE, claiming_data)
            codes.append((name, code))
    return DemoSummary(
        accounts=[
            ("system administrator", *SYSADMIN),
            (f"tenant admin of {TENANT_TITLE!r}", *TENANT_ADMIN),
            (f"user of customer {CUSTOMER_TITLE!r}", *CUSTOMER_USER),
        ],
        claim_codes=codes,
    )
