"""HTTPS through the pinned address: the TLS server name and the certificate check use the
URL's host name, while the connection goes to the address the guard checked."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from zhiku.testing.search_server import SearchServer
from zhiku.websearch.base import FetchFailed
from zhiku.websearch.fetch import PageFetcher
from zhiku.websearch.guard import UrlGuard


def _certificates(tmp: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for tea.example, written as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "zhiku test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tea.example")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("tea.example")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_pem, cert_pem, key_pem = tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return ca_pem, cert_pem, key_pem


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[tuple[SearchServer, ssl.SSLContext]]:
    ca, cert, key = _certificates(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    server = SearchServer()
    server._server.socket = server_ctx.wrap_socket(server._server.socket, server_side=True)
    client_ctx = ssl.create_default_context(cafile=str(ca))
    with server:
        yield server, client_ctx


def _fetcher(ctx: ssl.SSLContext) -> PageFetcher:
    table = {"tea.example": ["127.0.0.1"], "other.example": ["127.0.0.1"]}
    guard = UrlGuard(allow_networks=[str(ipaddress.ip_network("127.0.0.1/32"))], resolver=lambda h, p: table[h])
    return PageFetcher(guard, timeout_s=5, verify=ctx)


def test_https_to_the_pinned_address_verifies_the_host_name(tls: tuple[SearchServer, ssl.SSLContext]) -> None:
    server, ctx = tls
    page = _fetcher(ctx).fetch(f"https://tea.example:{server.port}/echo-host")
    assert f"You asked host tea.example:{server.port}" in page.text


def test_a_certificate_for_another_name_is_refused(tls: tuple[SearchServer, ssl.SSLContext]) -> None:
    server, ctx = tls
    with pytest.raises(FetchFailed, match="not valid for .other.example"):
        _fetcher(ctx).fetch(f"https://other.example:{server.port}/echo-host")
    with pytest.raises(FetchFailed, match="IP address mismatch"):  # nor is the bare address accepted for the name
        _fetcher(ctx).fetch(f"https://127.0.0.1:{server.port}/echo-host")
