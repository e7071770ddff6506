"""TLS for the embedded cluster's API server: a private CA and a serving certificate for its loopback address.

kubectl (client-go) never sends a bearer token over plain HTTP, so the server speaks HTTPS like every real
API server; the kubeconfig carries the CA (``certificate-authority-data``). Keys stay in the sandbox
directory, readable by their owner only, and are made once per sandbox.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VALID_DAYS = 365


def pki_dir(root: Path) -> Path:
    return root / "pki"


def ensure(root: Path, address: str) -> bytes:
    """Make the CA and the serving certificate for ``address`` if missing; return the CA certificate (PEM)."""
    pki = pki_dir(root)
    pki.mkdir(parents=True, exist_ok=True)
    os.chmod(pki, 0o700)
    ca_cert_path, ca_key_path = pki / "ca.crt", pki / "ca.key"
    if not ca_cert_path.exists() or not ca_key_path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "drillbook-embedded-ca")])
        cert = _builder(name, name, key.public_key()) \
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True) \
            .sign(key, hashes.SHA256())
        _write(ca_key_path, _key_pem(key))
        _write(ca_cert_path, cert.public_bytes(serialization.Encoding.PEM))
    ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    server_key = ec.generate_private_key(ec.SECP256R1())
    hosts = sorted({address, "127.0.0.1"})
    cert = _builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]), ca_cert.subject,
                    server_key.public_key()) \
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    *(x509.IPAddress(ipaddress.ip_address(h)) for h in hosts)]),
                       critical=False) \
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False) \
        .sign(ca_key, hashes.SHA256())
    _write(pki / "apiserver.key", _key_pem(server_key))
    _write(pki / "apiserver.crt", cert.public_bytes(serialization.Encoding.PEM))
    return ca_cert_path.read_bytes()


def server_context(root: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki_dir(root) / "apiserver.crt", pki_dir(root) / "apiserver.key")
    return context


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key) \
        .serial_number(x509.random_serial_number()) \
        .not_valid_before(now - datetime.timedelta(minutes=5)) \
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
