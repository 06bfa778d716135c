"""Which network addresses the URL fetcher may connect to (the guard against SSRF).

A corpus manifest is data, and its URLs are fetched by a machine that can often reach
cloud metadata (169.254.169.254), loopback services and a private network. Every
resolved address of every hop must be public unless the operator allows it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from assistant.errors import ConfigError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # NAT64 embeds an IPv4 address in the low 32 bits


def parse_networks(cidrs: Sequence[str]) -> list[IPNetwork]:
    """CIDR strings → networks; a bad one is a configuration error that names it."""
    if isinstance(cidrs, str):  # a lone "127.0.0.1/32" would iterate as characters
        cidrs = [cidrs]
    networks: list[IPNetwork] = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(str(cidr).strip(), strict=False))
        except ValueError as exc:
            raise ConfigError(f"allowed_networks: not a CIDR network: {cidr!r} ({exc})") from exc
    return networks


class AddressPolicy:
    """Refuses non-public addresses unless ``allow_private`` or inside ``allowed_networks``."""

    def __init__(
        self, *, allow_private: bool = False, allowed_networks: Sequence[str] = ()
    ) -> None:
        self.allow_private = allow_private
        self.networks = parse_networks(allowed_networks)

    def refusal(self, address: str) -> str | None:
        """Why ``address`` may not be contacted (e.g. "link-local"), or None when it may."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone ("%eth0")
        effective = _unmapped(ip)
        if self.allow_private or any(effective in net for net in self.networks):
            return None
        for candidate in _embedded(effective):
            reason = _kind(candidate)
            if reason is not None:
                return reason if candidate == effective else f"{reason} (embedded {candidate})"
        return None


def _unmapped(ip: IPAddress) -> IPAddress:
    """Judge an IPv4 address written as IPv6 as the IPv4 address it reaches.

    ``::ffff:127.0.0.1`` is 127.0.0.1 to the kernel; a NAT64 address (DNS64 networks hand
    these out for every IPv4-only site) reaches the IPv4 address in its low 32 bits.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def _embedded(ip: IPAddress) -> list[IPAddress]:
    """The address and any IPv4 address tunnelled inside it (6to4, Teredo)."""
    found: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.sixtofour is not None:
            found.append(ip.sixtofour)
        if ip.teredo is not None:
            found.extend(ip.teredo)
    return found


def _kind(ip: IPAddress) -> str | None:
    """The first category that makes ``ip`` non-public, most specific first."""
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("non-global", not ip.is_global),
    )
    return next((name for name, hit in checks if hit), None)
