"""A small test PKI for the sandbox operator, made with the ``cryptography`` package.

It stands in for IGC-Santé: a CA, a server certificate (RSA, so that the ANS cipher list works)
with SAN localhost/127.0.0.1, client certificates whose CN is an applicative mailbox address, an
untrusted self-signed "rogue" server certificate, and a CRL (Dovecot requires one by default when
it checks client certificates). Files are PEM; keys are unencrypted because they only ever
protect throw-away sandboxes.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = timedelta(days=825)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Balise bac à sable"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _write_key(key: rsa.RSAPrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o640)


def _write_cert(cert: x509.Certificate, path: Path) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _builder(subject: str, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
    )


class TestPKI:
    """The PKI files of one sandbox, in ``directory`` (created on first use)."""

    __test__ = False  # not a pytest class

    def __init__(self, directory: Path):
        self.directory = directory
        self.ca_path = directory / "ca.crt"
        self.ca_key_path = directory / "ca.key"
        self.crl_path = directory / "ca.crl"
        self.ca_with_crl_path = directory / "ca-with-crl.pem"
        self.server_cert = directory / "server.crt"
        self.server_key = directory / "server.key"
        self.rogue_cert = directory / "rogue.crt"
        self.rogue_key = directory / "rogue.key"

    def ensure(self) -> None:
        """Create the CA, server, rogue certificates and the CRL unless they exist."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self.ca_path.exists():
            self._make_ca()
            self._make_server()
            self._make_rogue()
            self.write_crl([])

    def _make_ca(self) -> None:
        key = _key()
        cert = (
            _builder("Balise CA de test", _name("Balise CA de test"), key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        _write_key(key, self.ca_key_path)
        _write_cert(cert, self.ca_path)

    def _ca(self) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
        cert = x509.load_pem_x509_certificate(self.ca_path.read_bytes())
        key = serialization.load_pem_private_key(self.ca_key_path.read_bytes(), password=None)
        return cert, key  # type: ignore[return-value]

    def _leaf(self, cn: str, usage, san: list | None, crt: Path, key_path: Path) -> None:
        ca_cert, ca_key = self._ca()
        key = _key()
        builder = (
            _builder(cn, ca_cert.subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        _write_key(key, key_path)
        _write_cert(builder.sign(ca_key, hashes.SHA256()), crt)

    def _make_server(self) -> None:
        san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        self._leaf(
            "localhost", ExtendedKeyUsageOID.SERVER_AUTH, san, self.server_cert, self.server_key
        )

    def _make_rogue(self) -> None:
        key = _key()
        san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        cert = (
            _builder("localhost", _name("localhost"), key.public_key())
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_key(key, self.rogue_key)
        _write_cert(cert, self.rogue_cert)

    def client_cert_for(self, address: str) -> tuple[Path, Path]:
        """(certificate, key) paths of a client certificate whose CN is ``address``."""
        safe = address.replace("@", "_at_").replace("/", "_")
        crt, key = self.directory / f"client-{safe}.crt", self.directory / f"client-{safe}.key"
        if not crt.exists():
            self._leaf(address, ExtendedKeyUsageOID.CLIENT_AUTH, None, crt, key)
        return crt, key

    def write_crl(self, revoked: list[Path]) -> None:
        """(Re)write the CRL revoking the certificates at ``revoked``, and CA + CRL bundle."""
        ca_cert, ca_key = self._ca()
        now = datetime.now(UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca_cert.subject)
            .last_update(now - timedelta(minutes=5))
            .next_update(now + timedelta(days=30))
        )
        for path in revoked:
            serial = x509.load_pem_x509_certificate(path.read_bytes()).serial_number
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(now - timedelta(minutes=1))
                .build()
            )
        crl = builder.sign(ca_key, hashes.SHA256())
        self.crl_path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        self.ca_with_crl_path.write_bytes(self.ca_path.read_bytes() + self.crl_path.read_bytes())
