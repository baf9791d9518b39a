"""The SSRF guard: which URLs a result page may have, and which address to connect to.

A URL passes when its scheme is http or https and *every* address its host resolves
to is public (a host answering one public and one private address is refused: the
connection could go to either). Refused unless ``allow_private`` (or a network in
``allow_networks``): loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7),
shared (100.64/10), link-local, multicast, reserved and unspecified addresses, with
IPv4 hidden inside IPv6 (``::ffff:127.0.0.1``, 6to4, Teredo) unwrapped first. Cloud
metadata endpoints are refused always. Hosts written as legacy IPv4 numbers
(``2130706433``, ``0177.0.0.1``, ``0x7f.1``, ``127.1``) are read the way C's
``inet_aton`` reads them, so they cannot slip past as "names".

The guard returns the address it checked; the fetcher connects to exactly that
address (sending the original Host and TLS server name), so a DNS answer that
changes between the check and the connection (DNS rebinding) cannot redirect it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from zhiku.websearch.base import FetchRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog", "metadata", "instance-data",
                            "instance-data.ec2.internal", "metadata.azure.com"})
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "169.254.169.253", "100.100.100.200", "fd00:ec2::254", "fd00:ec2::23"))
DEFAULT_PORTS = {"http": 80, "https": 443}
# not public, though Python's ipaddress calls them global: deprecated site-local (RFC 3879, routed as
# private where still configured), documentation (RFC 9637) and SRv6 segment identifiers (RFC 9602)
NON_PUBLIC_V6 = (
    (ipaddress.IPv6Network("fec0::/10"), "site-local (deprecated private)"),
    (ipaddress.IPv6Network("3fff::/20"), "documentation"),
    (ipaddress.IPv6Network("5f00::/16"), "segment-routing"),
)


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchRefused(f"the host '{host}' does not resolve ({exc})", host=host) from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address of a host written as an inet_aton IPv4 number (1 to 4 parts, each decimal,
    0-prefixed octal or 0x hex), else None."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = []
    for part in parts:
        p = part.lower()
        try:
            if p.startswith("0x"):
                values.append(int(p[2:] or "0", 16))
            elif len(p) > 1 and p.startswith("0"):
                values.append(int(p[1:], 8))
            elif p.isdigit():
                values.append(int(p))
            else:
                return None
        except ValueError:
            return None
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = last
    for i, v in enumerate(head):
        number += v << (8 * (3 - i))
    return ipaddress.IPv4Address(number)


def literal_address(host: str) -> IPAddress | None:
    """The address when the host is written as one (IPv6 without brackets), else None."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return legacy_ipv4(host)


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    packed = ip.packed
    if packed[:12] == bytes(12) and int(ip) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(packed[12:])
    if ip in ipaddress.ip_network("64:ff9b::/96"):  # NAT64
        return ipaddress.IPv4Address(packed[12:])
    return None


def address_problem(ip: IPAddress, allow_private: bool = False,
                    allow_networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network] = ()) -> str | None:
    """Why a page may not be fetched from this address; None when it may."""
    inner = _embedded_ipv4(ip)
    if inner is not None:
        why = address_problem(inner, allow_private, allow_networks)
        return f"{why} (inside the IPv6 address {ip})" if why else None
    if ip in METADATA_ADDRESSES:
        return f"{ip} is a cloud metadata address"
    if allow_private or any(ip in net for net in allow_networks if net.version == ip.version):
        return None
    for test, what in (("is_unspecified", "unspecified"), ("is_loopback", "loopback"),
                       ("is_link_local", "link-local"), ("is_multicast", "multicast"),
                       ("is_private", "private"), ("is_reserved", "reserved")):
        if getattr(ip, test):
            return f"{ip} is a {what} address"
    for net, what in NON_PUBLIC_V6:
        if ip in net:
            return f"{ip} is a {what} address"
    if not ip.is_global:
        return f"{ip} is not a public address"
    return None


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``address``) and what to ask for."""

    url: str
    scheme: str
    host: str  # as written in the URL, lower-cased, brackets removed
    port: int
    address: IPAddress
    path: str  # path and query, never empty

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def connect_url(self) -> str:
        ip = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        return f"{self.scheme}://{ip}:{self.port}{self.path}"

    @property
    def is_name(self) -> bool:
        return literal_address(self.host) is None


class UrlGuard:
    def __init__(self, allow_private: bool = False, allow_networks: Iterable[str] = (),
                 resolver: Resolver | None = None) -> None:
        self.allow_private = allow_private
        self.allow_networks = [ipaddress.ip_network(n, strict=False) for n in allow_networks]
        self.resolver = resolver or system_resolver

    def check(self, url: str) -> Target:
        """The target of the URL, or ``FetchRefused`` saying why it may not be fetched."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError as exc:
            raise FetchRefused(f"not a valid URL: {url!r} ({exc})", url=url) from None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise FetchRefused(f"only http and https pages are fetched, not '{scheme or 'no scheme'}:'", url=url)
        host = (parts.hostname or "").rstrip(".").lower()
        if not host:
            raise FetchRefused(f"the URL has no host: {url!r}", url=url)
        if host in METADATA_HOSTS or host.endswith(".metadata.google.internal"):
            raise FetchRefused(f"'{host}' is a cloud metadata host", url=url, host=host)
        port = port or DEFAULT_PORTS[scheme]
        literal = literal_address(host)
        if literal is not None:
            addresses: list[IPAddress] = [literal]
            host = str(literal)  # 2130706433 → 127.0.0.1
        else:
            try:
                host.encode("idna")
            except UnicodeError:
                raise FetchRefused(f"'{host}' is not a valid host name", url=url) from None
            addresses = []
            for a in self.resolver(host, port):
                try:
                    addresses.append(ipaddress.ip_address(a.split("%", 1)[0]))
                except ValueError:
                    raise FetchRefused(f"'{host}' resolved to something that is not an address: {a!r}",
                                       url=url) from None
            if not addresses:
                raise FetchRefused(f"the host '{host}' does not resolve", url=url, host=host)
        for ip in addresses:
            why = address_problem(ip, self.allow_private, self.allow_networks)
            if why:
                shown = why if literal is not None else f"{host} → {why}"
                raise FetchRefused(f"refused to fetch {url}: {shown}", url=url, host=host, address=str(ip))
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return Target(url=url, scheme=scheme, host=host, port=port, address=addresses[0], path=path)
