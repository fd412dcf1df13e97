"""
Which proxies are trusted, and so which address a request comes from.

``DJANGO_TRUSTED_PROXIES`` lists the addresses (or networks) of the proxies in
front of the app, e.g. ``127.0.0.1,::1`` for nginx on the same host. Only a
connection from one of them may say who the client is (``X-Forwarded-For``)
or that the visitor used HTTPS (``X-Forwarded-Proto``); from anyone else those
headers are ignored, since anyone can send them.

``client_address`` is the one rule for the client's address, used by every
rate limit, the API's and the form's, and by the admin's login lockouts
(django-axes, through ``reliefmatch.middleware.client_ip``). Pure: no Django
settings are read here, so settings.py can check the list when it loads.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The widest network that may be trusted: anything wider is a mistake (a
#: wildcard such as 0.0.0.0/0 would let every client pick its own address).
WIDEST_PREFIX = {4: 8, 6: 16}


class ProxySettingError(ValueError):
    """DJANGO_TRUSTED_PROXIES holds something that cannot be a proxy's address."""


def parse_trusted_proxies(text: str) -> list[str]:
    """Return the trusted proxies' networks (comma-separated text) in canonical form.

    Raise ``ProxySettingError`` naming the entry for anything that is not an
    address or network, that has host bits set (``10.0.0.1/8``), or that is
    too wide to be a list of proxies (``*``, ``0.0.0.0/0``, ``::/0``, ``0.0.0.0``).
    """
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            network = ipaddress.ip_network(entry)
        except ValueError:
            raise ProxySettingError(
                f"DJANGO_TRUSTED_PROXIES: {entry!r} is not an IP address or network "
                "(write e.g. 127.0.0.1,::1 or 10.0.0.0/24)."
            ) from None
        if (
            network.prefixlen < WIDEST_PREFIX[network.version]
            or network.network_address.is_unspecified
        ):
            raise ProxySettingError(
                f"DJANGO_TRUSTED_PROXIES: {entry!r} matches far more than your proxies; "
                "it would let any client choose the address it is counted under. "
                "List only the proxies' own addresses."
            )
        networks.append(str(network))
    return networks


@functools.lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry) for entry in trusted)


def is_trusted(address: str | None, trusted: Iterable[str]) -> bool:
    """Return whether `address` is one of the trusted proxies."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(trusted)))


def client_address(
    remote_addr: str | None, forwarded_for: str | None, trusted: Iterable[str]
) -> str | None:
    """Return the client's address: REMOTE_ADDR, unless that is a trusted proxy.

    From a trusted proxy, X-Forwarded-For is read from the right: each proxy
    appends the address it was reached from, so the right-most entry that is
    not itself a trusted proxy is the client. Entries left of it were written
    by the client and are never believed. A malformed entry stops the walk at
    the last trusted hop, which is then counted as the client.
    """
    trusted = tuple(trusted)
    if not trusted or not forwarded_for or not is_trusted(remote_addr, trusted):
        return remote_addr
    last_hop = remote_addr
    for entry in reversed([part.strip() for part in forwarded_for.split(",")]):
        try:
            ipaddress.ip_address(entry)
        except ValueError:
            return last_hop
        if not is_trusted(entry, trusted):
            return entry
        last_hop = entry
    return last_hop  # every hop was a trusted proxy: the left-most is the client
