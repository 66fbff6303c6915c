"""ThingsBoard features GridLinks does not have yet: every request on their paths, whatever the
method, answers 404 with a message naming the feature.

Without this, ``GET /api/tenant/assets`` would match ``/api/tenant/{tenant_id}`` and answer a
puzzling 400 about a UUID. The paths are ThingsBoard's (CE and PE); the app routes them before
its own templated paths. A path template's ``{id}`` matches only a UUID-shaped segment and a
trailing ``*`` any continuation of the word (``/api/asset*``: asset, assets, assetProfile...),
so no GridLinks path is shadowed. All patterns are joined into one regular expression: one match
per request, not one per path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from gridlinks.errors import NotFoundError

_UUID_SEGMENT = "[0-9A-Fa-f-]{32,36}"


@dataclass(frozen=True)
class MissingFeature:
    """A ThingsBoard feature, the paths that belong to it and what to use instead, if anything."""

    name: str
    paths: tuple[str, ...]
    instead: str = ""

    @property
    def message(self) -> str:
        instead = f"; {self.instead}" if self.instead else ""
        return (
            f"{self.name} are not available in GridLinks yet{instead}. "
            "The endpoints GridLinks has are listed at /swagger-ui"
        )


def _owned(word: str) -> tuple[str, ...]:
    """ThingsBoard's usual paths of an entity kind: its own, the tenant's, the customer's and
    the user's listings (``/api/asset``, ``/api/tenant/assets``, ``/api/customer/{id}/assets``)."""
    return (
        f"/api/{word}*",
        f"/api/tenant/{word}*",
        f"/api/tenant/{{id}}/{word}*",
        f"/api/customer/{word}*",
        f"/api/customer/{{id}}/{word}*",
        f"/api/user/{word}*",
        f"/api/entityGroup/{{id}}/{word}*",
    )


MISSING_FEATURES = (
    MissingFeature("Assets", _owned("asset"), "GridLinks manages devices (/api/tenant/devices)"),
    MissingFeature(
        "Dashboards",
        _owned("dashboard"),
        "read device data from /api/plugins/telemetry/DEVICE/{deviceId}/values/timeseries",
    ),
    MissingFeature("Alarms", ("/api/alarm*", "/api/v2/alarm*")),
    MissingFeature(
        "Rule chains",
        ("/api/ruleChain*", "/api/ruleNode*"),
        "telemetry and attributes are stored as they arrive",
    ),
    MissingFeature(
        "Entity views",
        _owned("entityView"),
        "assign the device itself to a customer (/api/customer/{customerId}/device/{deviceId})",
    ),
    MissingFeature("Edges", _owned("edge")),
    MissingFeature(
        "OTA packages",
        ("/api/otaPackage*", "/api/v1/{token}/firmware", "/api/v1/{token}/software"),
    ),
    MissingFeature("Widgets", ("/api/widget*",)),
)


def _pattern(path: str) -> str:
    """A path template as a regular expression that also matches everything below it."""
    parts = re.split(r"(\{id\}|\{token\}|\*)", path)
    wildcards = {"{id}": _UUID_SEGMENT, "{token}": "[^/]+", "*": "[A-Za-z]*"}
    return "".join(wildcards.get(p) or re.escape(p) for p in parts) + "(?:/.*)?"


class MissingFeaturesRoute(BaseRoute):
    """Matches any method on the paths of ``features`` and answers 404 naming the feature."""

    def __init__(self, features: tuple[MissingFeature, ...] = MISSING_FEATURES) -> None:
        self.features = features
        alternatives = (
            f"(?P<f{index}>{'|'.join(_pattern(p) for p in feature.paths)})"
            for index, feature in enumerate(features)
        )
        self.regex = re.compile("|".join(alternatives))

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and self.regex.fullmatch(scope["path"]):
            return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: object) -> URLPath:
        raise NoMatchFound(name, path_params)  # nothing here is meant to be linked to

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.regex.fullmatch(scope["path"])
        assert found is not None and found.lastgroup is not None
        raise NotFoundError(self.features[int(found.lastgroup[1:])].message)
