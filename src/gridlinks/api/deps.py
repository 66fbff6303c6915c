"""Request dependencies: the platform, one unit of work per request, the caller, bodies.

Bodies are read by us, not by FastAPI: ThingsBoard clients send JSON with ``text/plain`` (4.4
attribute writes) or an empty body with ``application/json`` (4.4 DELETE), so we parse JSON
whatever the content type and treat an empty body as missing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel, ValidationError

from gridlinks.accounts.domain import Principal
from gridlinks.api.params import page_query, page_size_query
from gridlinks.bootstrap import Platform
from gridlinks.db.unit_of_work import UnitOfWork
from gridlinks.errors import AuthenticationError, BadRequestError
from gridlinks.kit.jsonvalue import parse_json, text_problem
from gridlinks.kit.pagination import PageRequest

ModelT = TypeVar("ModelT", bound=BaseModel)
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# Dependencies are ``async def``: FastAPI runs plain ``def`` dependencies in a worker thread,
# which costs a thread hop on every request.


async def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


async def get_unit_of_work(request: Request, platform: PlatformDep) -> AsyncIterator[UnitOfWork]:
    """The request's unit of work; the request scope owns its commit, routes never commit.

    Reads get a read transaction; writes queue for SQLite's single writer. When the route
    returns (its answer built, not yet sent) the work is committed and its after-commit
    callbacks (bus events) run; any exception rolls it back. A commit that fails therefore
    becomes the error answer (a clash: 400, the database gone: 503), never a 200 for work
    that was not stored. ``scope="function"`` is what runs this exit code before the response
    is sent (FastAPI's default, ``"request"``, runs it after the response has gone out).
    """
    async with platform.unit_of_work(write=request.method not in _READ_METHODS) as uow:
        yield uow
        await uow.commit()


UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work, scope="function")]


async def refuse_unstorable_url_text(request: Request) -> None:
    """Path and query values go to the database as text: NUL characters there are the client's
    mistake (PostgreSQL cannot store them), so answer 400 before any query runs."""
    # Every value of a repeated parameter (``?k=a&k=b``): ``values()`` gives only the last.
    pairs = request.query_params.multi_items()
    values = [request.scope["path"], *(text for pair in pairs for text in pair)]
    for value in values:
        problem = text_problem(value)
        if problem:
            raise BadRequestError(f"{problem} in the URL")


def bearer_token(request: Request) -> str:
    header = request.headers.get("x-authorization") or request.headers.get("authorization")
    if not header:
        raise AuthenticationError("Authentication failed")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("Authentication failed")
    return token.strip()


async def get_principal(request: Request, platform: PlatformDep, uow: UnitOfWorkDep) -> Principal:
    principal = await platform.accounts.principal(uow, bearer_token(request))
    request.state.user_id = principal.user_id  # for the request's log line (its id, no e-mail)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_principal_briefly(request: Request, platform: PlatformDep) -> Principal:
    """The caller, read in a transaction of its own that ends at once: for routes that wait
    (a two-way RPC) and must not hold a database connection meanwhile."""
    async with platform.unit_of_work(write=False) as uow:
        principal = await platform.accounts.principal(uow, bearer_token(request))
    request.state.user_id = principal.user_id
    return principal


BriefPrincipal = Annotated[Principal, Depends(get_principal_briefly)]


async def read_body(request: Request) -> bytes:
    """The raw body. ``BodyFirstMiddleware`` has already read it whole, within the size and
    time limits, before any dependency (and so any database connection) was taken."""
    return await request.body()


async def json_body(request: Request) -> Any:
    """The body as JSON (any content type); ``None`` when empty."""
    raw = await read_body(request)
    if not raw.strip():
        return None
    return parse_json(raw)


JsonBody = Annotated[Any, Depends(json_body)]


def validate_body(model: type[ModelT], data: Any) -> ModelT:
    """Validate parsed JSON against ``model``; a mismatch is a 400 naming the fields."""
    if data is None:
        raise BadRequestError("Request body is required")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        parts = [
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5]
        ]
        raise BadRequestError("Invalid request body: " + "; ".join(parts)) from None


# Models named in bodies; the app adds their schemas to the OpenAPI components.
BODY_MODELS: dict[str, type[BaseModel]] = {}
REF_TEMPLATE = "#/components/schemas/{model}"


def body_schema(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` documenting the JSON body a route validates itself."""
    BODY_MODELS[model.__name__] = model
    schema = {"$ref": REF_TEMPLATE.format(model=model.__name__)}
    return {
        "requestBody": {"required": required, "content": {"application/json": {"schema": schema}}}
    }


def parse_bool(value: str | None, default: bool = False) -> bool:
    """Query booleans as clients send them: ``true``, ``True``, ``false``, ``False``, ``1``..."""
    if value is None or value == "":
        return default
    lowered = value.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise BadRequestError("Boolean query parameters must be true or false")


def page_dependency(default_sort_order: str = "ASC") -> Callable[..., Awaitable[PageRequest]]:
    """The ThingsBoard paging query parameters as a dependency; ``default_sort_order`` applies
    when the client sends no ``sortOrder`` (the audit log lists newest first)."""

    async def page_request(
        page_size: Annotated[int, page_size_query()],
        page: Annotated[int, page_query()],
        text_search: Annotated[str | None, Query(alias="textSearch", max_length=255)] = None,
        sort_property: Annotated[str | None, Query(alias="sortProperty", max_length=64)] = None,
        sort_order: Annotated[str | None, Query(alias="sortOrder", max_length=8)] = None,
    ) -> PageRequest:
        order = sort_order or default_sort_order
        return PageRequest.build(page_size, page, text_search, sort_property, order)

    return page_request


PageDep = Annotated[PageRequest, Depends(page_dependency())]
