"""WebAuthn relying parties: the id (a registrable domain, never an IP address: browsers refuse those) and the
origins whose pages may use passkeys of it. An environment names its own in its settings (its builder's
application); the console's is derived from `SUMP_PUBLIC_URL`."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from sump.kit.schemas import omit_null

LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
LAST_LABEL = r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"  # a letter first: never an IPv4 address
DOMAIN = rf"(?:{LABEL}\.)*{LAST_LABEL}"
PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
RP_ID_PATTERN = rf"^{DOMAIN}$"
# https anywhere; http only on localhost (browsers treat it as a secure context there).
ORIGIN_PATTERN = rf"^(?:https://{DOMAIN}|http://(?:{LABEL}\.)*localhost)(?::{PORT})?/?$"
MAX_ORIGINS = 20


@dataclass(frozen=True)
class RelyingParty:
    id: str
    name: str
    origins: tuple[str, ...]


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _rp_id(value: str) -> str:
    return value.lower()  # the pattern allows a domain name only (no IP address: browsers refuse those)


def _origin(value: str) -> str:
    """As a browser writes it in client data: lower case, no path, no default port."""
    origin = value.lower().rstrip("/")  # the pattern allows scheme://host[:port] only
    for default in ("https://", ":443"), ("http://", ":80"):
        if origin.startswith(default[0]) and origin.endswith(default[1]):
            origin = origin.removesuffix(default[1])
    return origin


RpId = Annotated[str, Field(min_length=1, max_length=253, pattern=RP_ID_PATTERN), AfterValidator(_rp_id)]
Origin = Annotated[str, Field(min_length=1, max_length=300, pattern=ORIGIN_PATTERN), AfterValidator(_origin)]
Origins = Annotated[list[Origin], Field(max_length=MAX_ORIGINS)]
# In a partial update: left out, it keeps its value; the document shows no null (a validator refuses one).
OriginsChange = Annotated[list[Origin] | None, Field(max_length=MAX_ORIGINS, json_schema_extra=omit_null)]


def origins_outside(rp_id: str, origins: list[str]) -> list[str]:
    """The origins whose host is neither the relying-party id nor under it (a browser refuses them)."""
    outside = []
    for origin in origins:
        host = urlsplit(origin).hostname or ""
        if host != rp_id and not host.endswith("." + rp_id):
            outside.append(origin)
    return outside


def of_public_url(public_url: str, name: str) -> RelyingParty | str:
    """The console's relying party from `SUMP_PUBLIC_URL` (its host, its origin), or why there is none."""
    parts = urlsplit(public_url)
    host = (parts.hostname or "").lower()
    if not host or is_ip(host):
        return (
            f"Passkeys need SUMP_PUBLIC_URL to name a domain, not an IP address ({host or public_url}): browsers "
            "refuse IP addresses as relying-party ids. Serve the console under a name such as localhost or "
            "sump.example.com."
        )
    origin = f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
    return RelyingParty(host, name, (origin,))
