"""The SSRF guard's decisions: which addresses and URLs a result page may have."""

from __future__ import annotations

import ipaddress

import pytest

from zhiku.websearch.base import FetchRefused
from zhiku.websearch.guard import UrlGuard, address_problem, legacy_ipv4


def resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return table[host]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


BLOCKED = [
    "127.0.0.1", "127.255.255.254", "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255", "192.168.1.1",
    "169.254.169.254", "169.254.0.1", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "240.0.0.1",
    "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "fd00:ec2::254",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "2002:7f00:1::", "64:ff9b::a00:1", "::127.0.0.1",
    # deprecated site-local (issue 20: fec0::1 passed), documentation and segment-routing ranges Python calls global
    "fec0::1", "fec0:0:0:0:0:0:0:1", "feff:ffff::1", "3fff::1", "5f00::1",
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "2606:4700:4700::1111",
          "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", BLOCKED)
def test_private_and_special_addresses_refused(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


def test_allow_private_never_opens_cloud_metadata() -> None:
    assert address_problem(ipaddress.ip_address("10.0.0.1"), allow_private=True) is None
    assert address_problem(ipaddress.ip_address("::1"), allow_private=True) is None
    for meta in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "::ffff:169.254.169.254"):
        assert "metadata" in (address_problem(ipaddress.ip_address(meta), allow_private=True) or "")
    guard = UrlGuard(allow_private=True)
    with pytest.raises(FetchRefused, match="metadata"):
        guard.check("http://metadata.google.internal/computeMetadata/v1/")


def test_allowed_networks_open_only_themselves() -> None:
    nets = [ipaddress.ip_network("10.1.0.0/16")]
    assert address_problem(ipaddress.ip_address("10.1.2.3"), allow_networks=nets) is None
    assert address_problem(ipaddress.ip_address("10.2.0.1"), allow_networks=nets) is not None


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://2130706433/", "http://0177.0.0.1/", "http://0x7f.0.0.1/", "http://0x7f000001/",
    "http://127.1/", "http://017700000001/", "http://[::1]:8080/", "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/", "http://[0:0:0:0:0:ffff:a00:1]/", "http://10.0.0.1/", "http://192.168.0.10/admin",
    "http://172.16.5.4/", "http://169.254.169.254/latest/meta-data/", "http://0/", "http://[fc00::1]/",
    "https://[fd00:ec2::254]/", "http://0251.0376.0251.0376/",  # 169.254.169.254 in octal
    "http://[fec0::1]/", "http://[FEC0:0:0::1]:8080/", "http://[fec0::ffff:127.0.0.1]/",
])
def test_literal_spellings_of_private_addresses_refused(url: str) -> None:
    guard = UrlGuard(resolver=resolver({}))  # a literal must never reach the resolver (KeyError if it did)
    with pytest.raises(FetchRefused) as info:
        guard.check(url)
    assert "refused" in info.value.message or "metadata" in info.value.message


def test_legacy_ipv4_reads_like_inet_aton() -> None:
    assert str(legacy_ipv4("2130706433")) == "127.0.0.1"
    assert str(legacy_ipv4("0177.0.0.1")) == "127.0.0.1"
    assert str(legacy_ipv4("127.1")) == "127.0.0.1"
    assert str(legacy_ipv4("0x7f.1.0x1")) == "127.1.0.1"
    assert legacy_ipv4("example.com") is None and legacy_ipv4("1.2.3.4.5") is None and legacy_ipv4("256.1.1.1") is None
    assert legacy_ipv4("08.1.1.1") is None  # 8 is not an octal digit


def test_names_resolving_to_private_addresses_refused() -> None:
    guard = UrlGuard(resolver=resolver({
        "intranet.example": ["10.0.0.7"], "rebind.example": ["93.184.216.34", "127.0.0.1"],
        "v6.example": ["::1"], "public.example": ["93.184.216.34"], "mapped.example": ["::ffff:192.168.1.1"],
    }))
    with pytest.raises(FetchRefused, match="10.0.0.7 is a private address"):
        guard.check("http://intranet.example/")
    with pytest.raises(FetchRefused, match="127.0.0.1"):  # one bad answer of several is enough
        guard.check("https://rebind.example/")
    with pytest.raises(FetchRefused, match="loopback"):
        guard.check("http://v6.example/")
    with pytest.raises(FetchRefused, match="192.168.1.1"):
        guard.check("http://mapped.example/")
    target = guard.check("https://Public.Example./a/b?q=1")
    assert (target.host, target.port, str(target.address), target.path) == ("public.example", 443, "93.184.216.34",
                                                                            "/a/b?q=1")
    assert target.connect_url == "https://93.184.216.34:443/a/b?q=1" and target.host_header == "public.example"


def test_each_check_resolves_once_and_pins_that_answer() -> None:
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    target = UrlGuard(resolver=rebinding).check("http://rebind.example:8080/")
    assert calls == ["rebind.example"] and str(target.address) == "93.184.216.34"
    assert target.connect_url == "http://93.184.216.34:8080/" and target.host_header == "rebind.example:8080"


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://example.com/",
                                 "javascript:alert(1)", "//example.com/", "http:///nohost", "http://[::1/"])
def test_only_http_urls_with_a_host(url: str) -> None:
    with pytest.raises(FetchRefused):
        UrlGuard(resolver=resolver({})).check(url)


def test_names_that_do_not_resolve_are_refused() -> None:
    with pytest.raises(FetchRefused, match="does not resolve"):
        UrlGuard(resolver=resolver({"nothing.example": []})).check("http://nothing.example/")
    with pytest.raises(FetchRefused, match="does not resolve"):
        UrlGuard().check("http://no-such-host.invalid/")
