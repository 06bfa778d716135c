"""Who the client is: the TCP peer, or what a *configured* reverse proxy says it forwarded.

Forwarded headers are believed only when the TCP peer is inside ``trusted_proxies``
(``ASSISTANT_TRUSTED_PROXIES``, empty by default). Then the chosen header is read from
the right (the hop nearest to us) and every trusted proxy is skipped: the first address
that is not a trusted proxy is the client. A client cannot forge its identity by sending
the header itself, because a proxy appends the peer it saw to whatever the client sent.

uvicorn's own proxy-header handling (which by default believes any loopback peer) is
switched off by ``uvicorn_options``, so this module is the one place that decides.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any, Literal

from starlette.requests import HTTPConnection

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
ProxyHeader = Literal["x-forwarded-for", "forwarded"]

_FOR = re.compile(r'(?i)(?:^|;)\s*for\s*=\s*("[^"]*"|[^;,\s]+)')


def uvicorn_options() -> dict[str, Any]:
    """Options every uvicorn server of this app must run with (``assistant serve``, tests).

    uvicorn rewrites the client address from X-Forwarded-For when the peer is in
    ``forwarded_allow_ips`` (default: loopback), before the app can tell who sent it.
    """
    return {"proxy_headers": False, "forwarded_allow_ips": ""}


def _parse_ip(raw: str) -> IPAddress | None:
    value = raw.strip().strip('"')
    if value.startswith("["):  # "[2001:db8::1]:4711"
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:  # "192.0.2.1:8080"
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None  # "unknown", obfuscated identifiers, garbage


class TrustedProxies:
    """Resolves the client address of a request given the trusted proxy networks."""

    def __init__(self, networks: Iterable[str], header: ProxyHeader = "x-forwarded-for") -> None:
        self.networks: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in networks
        )
        self.header = header

    def trusted(self, ip: IPAddress | None) -> bool:
        return ip is not None and any(ip in net for net in self.networks)

    def _hops(self, conn: HTTPConnection) -> list[str]:
        values = conn.headers.getlist(self.header)
        if self.header == "x-forwarded-for":
            return [h for v in values for h in v.split(",")]
        return [m.group(1) for v in values for part in v.split(",") for m in _FOR.finditer(part)]

    def client_address(self, conn: HTTPConnection) -> str:
        """The client's address as a string ("unknown" when the server has no peer)."""
        peer = conn.client.host if conn.client else None
        if peer is None:
            return "unknown"
        peer_ip = _parse_ip(peer)
        if not self.networks or not self.trusted(peer_ip):
            return peer
        client = peer_ip
        for raw in reversed(self._hops(conn)):
            ip = _parse_ip(raw)
            if ip is None:
                break  # a hop we cannot read: stop at the last trusted one we could
            client = ip
            if not self.trusted(ip):
                break
        return str(client)
