"""Where extract bytes come from: local files, zips (sound, truncated, ambiguous, corrupt while
streaming) and https downloads from a real local TLS server signed by a test CA."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import ipaddress
import ssl
import threading
import tracemalloc
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from balise.errors import ConfigurationError, SourceError
from ingest.sources.annuaire import read_extract
from ingest.sources.files import LocalSource, fetch_source, head_generated_at, open_rows

ANS_NAME = "Extraction_Correspondance_MSSante_202611250312.txt"
EXTRACT = (
    "Type de BAL|Adresse BAL|Type identifiant structure|Identification Structure|"
    "Code postal|Département\n"
    "ORG|accueil@ehpad-lilas.mssante.fr|1|1010000024|01000|01\n"
    "PER|dr.martin@medecin.mssante.fr|||38000|\n"
).encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path.read_bytes()


def read_stream(source: LocalSource) -> bytes:
    with open_rows(source) as fh:
        return b"".join(fh)


# --- local files and zips -----------------------------------------------------------------------


def test_local_text_file_is_used_in_place(tmp_path):
    path = tmp_path / ANS_NAME
    path.write_bytes(EXTRACT)
    source = fetch_source(str(path), tmp_path / "work")
    assert source == LocalSource(path=path, file_name=ANS_NAME, sha256=sha256(EXTRACT))
    assert read_stream(source) == EXTRACT


def test_missing_file_is_refused(tmp_path):
    missing = tmp_path / "absent.txt"
    with pytest.raises(SourceError) as err:
        fetch_source(str(missing), tmp_path)
    assert str(err.value) == f"Fichier introuvable : {missing}"


def test_zip_names_its_member_and_hashes_the_archive(tmp_path):
    zip_bytes = make_zip(tmp_path / "extraction.zip", {ANS_NAME: EXTRACT})
    source = fetch_source(str(tmp_path / "extraction.zip"), tmp_path)
    assert (source.file_name, source.sha256) == (ANS_NAME, sha256(zip_bytes))
    with open_rows(source) as fh:
        rows = list(read_extract(fh))
    assert [r.address for r in rows] == [
        "accueil@ehpad-lilas.mssante.fr",
        "dr.martin@medecin.mssante.fr",
    ]


def test_zip_is_recognised_by_content_whatever_its_name(tmp_path):
    make_zip(tmp_path / "telechargement", {ANS_NAME: EXTRACT})
    source = fetch_source(str(tmp_path / "telechargement"), tmp_path)
    assert source.file_name == ANS_NAME
    assert read_stream(source) == EXTRACT


def test_zip_folders_and_macos_entries_do_not_count(tmp_path):
    members = {f"export/{ANS_NAME}": EXTRACT, f"__MACOSX/export/._{ANS_NAME}": b"\x00\x05"}
    make_zip(tmp_path / "a.zip", members)
    source = fetch_source(str(tmp_path / "a.zip"), tmp_path)
    assert source.file_name == ANS_NAME
    assert read_stream(source) == EXTRACT


def test_zip_member_is_streamed_not_extracted_in_memory(tmp_path):
    line = b"PER|dr.martin@medecin.mssante.fr|||38000|38\n"
    size = 12_000_000
    make_zip(tmp_path / "big.zip", {ANS_NAME: line * (size // len(line))})
    source = fetch_source(str(tmp_path / "big.zip"), tmp_path)
    tracemalloc.start()
    try:
        with open_rows(source) as fh:
            total = sum(len(chunk) for chunk in fh)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == size // len(line) * len(line)
    assert peak < size / 2  # a few 1 MB buffers (3.3 MB measured), not the 12 MB member


def test_truncated_zip_is_refused(tmp_path):
    data = make_zip(tmp_path / "full.zip", {ANS_NAME: EXTRACT * 200})
    (tmp_path / "cut.zip").write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError) as err:
        fetch_source(str(tmp_path / "cut.zip"), tmp_path)
    assert str(err.value) == "L'archive ZIP est tronquée ou illisible."


def test_zip_with_two_data_files_is_refused(tmp_path):
    make_zip(tmp_path / "two.zip", {"a.txt": EXTRACT, "b.csv": EXTRACT, "lisez-moi.pdf": b"%PDF"})
    with pytest.raises(SourceError) as err:
        fetch_source(str(tmp_path / "two.zip"), tmp_path)
    assert str(err.value) == (
        "L'archive ZIP contient plusieurs fichiers de données (a.txt, b.csv) : un seul est attendu."
    )


def test_empty_zip_is_refused(tmp_path):
    make_zip(tmp_path / "empty.zip", {})
    with pytest.raises(SourceError) as err:
        fetch_source(str(tmp_path / "empty.zip"), tmp_path)
    assert str(err.value) == "L'archive ZIP est vide."


def test_zip_without_data_file_is_refused(tmp_path):
    make_zip(tmp_path / "doc.zip", {"notice.pdf": b"%PDF-1.4"})
    with pytest.raises(SourceError) as err:
        fetch_source(str(tmp_path / "doc.zip"), tmp_path)
    assert str(err.value) == "L'archive ZIP ne contient aucun fichier .txt, .csv ou .json."


def _corrupt_middle(path: Path, member: str) -> None:
    """Overwrite bytes in the middle of a member's data, leaving the directory intact."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    middle = start + info.compress_size // 2
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_member_corrupt_mid_stream_raises_a_source_error(tmp_path, method):
    # Distinct lines so the compressed data has no long repeats to hide the damage in.
    lines = EXTRACT + b"".join(
        f"PER|p{i}.n{i * 7919 % 100003}@medecin.mssante.fr|||01000|01\n".encode()
        for i in range(60_000)
    )
    path = tmp_path / "corrupt.zip"
    make_zip(path, {ANS_NAME: lines}, method)
    _corrupt_middle(path, ANS_NAME)
    source = fetch_source(str(path), tmp_path)  # the directory is intact: accepted here
    with pytest.raises(SourceError) as err, open_rows(source) as fh:
        for _row in read_extract(fh):
            pass
    assert (
        str(err.value)
        == f"L'archive ZIP est corrompue : la lecture de {ANS_NAME} s'est interrompue."
    )


def test_plain_http_is_refused(tmp_path):
    with pytest.raises(SourceError) as err:
        fetch_source("http://127.0.0.1:9/extrait.zip", tmp_path)
    assert str(err.value) == (
        "Adresse refusée : http://127.0.0.1:9/extrait.zip n'est pas chiffrée ; "
        "utilisez une adresse https://."
    )


def test_other_schemes_are_refused(tmp_path):
    with pytest.raises(SourceError) as err:
        fetch_source("ftp://127.0.0.1/extrait.zip", tmp_path)
    assert str(err.value) == (
        "Adresse non prise en charge : ftp://127.0.0.1/extrait.zip "
        "(seules les adresses https:// sont acceptées)."
    )


# --- https against a real local TLS server --------------------------------------------------------


@dataclass
class HttpsServer:
    port: int
    ca_bundle: str
    files: dict[str, tuple[bytes, dict[str, str]]]  # path -> (body, extra headers)
    requests: list[tuple[str, str]]

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"


def _make_pki(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for 127.0.0.1/localhost signed by it."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Balise test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca_cert.public_bytes(pem))
    paths[1].write_bytes(cert.public_bytes(pem))
    paths[2].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


@pytest.fixture
def https_server(tmp_path, monkeypatch) -> Iterator[HttpsServer]:
    """A real TLS server on 127.0.0.1 whose certificate only the test CA vouches for."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    ca, cert, key = _make_pki(tmp_path)
    state = HttpsServer(port=0, ca_bundle=str(ca), files={}, requests=[])

    class Handler(http.server.BaseHTTPRequestHandler):
        def _respond(self, with_body: bool) -> None:
            state.requests.append((self.command, self.path))
            if self.path not in state.files:
                self.send_error(404)
                return
            body, headers = state.files[self.path]
            self.send_response(int(headers.get("Status", 200)))
            for name, value in headers.items():
                if name != "Status":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                self.wfile.write(body)

        def do_GET(self):
            self._respond(True)

        def do_HEAD(self):
            self._respond(False)

        def log_message(self, *args):  # keep pytest output clean
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state.port = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _serve_ans_zip(server: HttpsServer, tmp_path: Path) -> bytes:
    zip_bytes = make_zip(tmp_path / "served.zip", {ANS_NAME: EXTRACT})
    disposition = 'attachment; filename="Extraction_Correspondance_MSSante_202611250312.zip"'
    server.files["/extraction/Extraction_Correspondance_MSSante"] = (
        zip_bytes,
        {"Content-Type": "application/zip", "Content-Disposition": disposition},
    )
    return zip_bytes


def test_https_download_with_the_ca_bundle(https_server, tmp_path):
    zip_bytes = _serve_ans_zip(https_server, tmp_path)
    url = https_server.url("/extraction/Extraction_Correspondance_MSSante")
    source = fetch_source(url, tmp_path / "work", ca_bundle=https_server.ca_bundle)
    assert source.path == tmp_path / "work" / "Extraction_Correspondance_MSSante_202611250312.zip"
    assert source.path.read_bytes() == zip_bytes
    assert (source.file_name, source.sha256) == (ANS_NAME, sha256(zip_bytes))
    assert read_stream(source) == EXTRACT
    assert not list((tmp_path / "work").glob("*.part"))


def test_https_without_the_ca_bundle_is_refused(https_server, tmp_path):
    _serve_ans_zip(https_server, tmp_path)
    url = https_server.url("/extraction/Extraction_Correspondance_MSSante")
    with pytest.raises(SourceError) as err:
        fetch_source(url, tmp_path / "work")
    assert str(err.value) == (
        "Le certificat du serveur 127.0.0.1 n'est pas reconnu : indiquez l'autorité de "
        "certification qui l'a émis (option --ca-bundle ; pour l'ANS, l'AC racine IGC-Santé)."
    )
    assert https_server.requests == []  # refused during the handshake: nothing was asked
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())


def test_https_name_from_the_url_when_no_content_disposition(https_server, tmp_path):
    https_server.files["/data/etalab-cs1100502-stock-20260504-0400.csv"] = (b"finess;etalab", {})
    url = https_server.url("/data/etalab-cs1100502-stock-20260504-0400.csv")
    source = fetch_source(url, tmp_path, ca_bundle=https_server.ca_bundle)
    assert source.file_name == "etalab-cs1100502-stock-20260504-0400.csv"


def test_https_server_error_is_reported_in_french(https_server, tmp_path):
    with pytest.raises(SourceError) as err:
        fetch_source(https_server.url("/absent"), tmp_path, ca_bundle=https_server.ca_bundle)
    assert str(err.value) == "Le serveur 127.0.0.1 a refusé le téléchargement (code HTTP 404)."


def test_https_redirect_to_plain_http_is_refused(https_server, tmp_path):
    https_server.files["/moved"] = (b"", {"Status": "302", "Location": "http://127.0.0.1:9/x.zip"})
    with pytest.raises(SourceError) as err:
        fetch_source(https_server.url("/moved"), tmp_path, ca_bundle=https_server.ca_bundle)
    assert str(err.value) == (
        "Adresse refusée : http://127.0.0.1:9/x.zip n'est pas chiffrée ; "
        "utilisez une adresse https://."
    )


def test_head_request_gives_the_announced_file_name(https_server, tmp_path):
    _serve_ans_zip(https_server, tmp_path)
    url = https_server.url("/extraction/Extraction_Correspondance_MSSante")
    name = head_generated_at(url, https_server.ca_bundle)
    assert name == "Extraction_Correspondance_MSSante_202611250312.zip"
    assert https_server.requests == [("HEAD", "/extraction/Extraction_Correspondance_MSSante")]


def test_unreadable_ca_bundle_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigurationError) as err:
        fetch_source("https://127.0.0.1:9/x.zip", tmp_path, ca_bundle=str(tmp_path / "nope.pem"))
    assert (
        str(err.value)
        == f"Fichier d'autorités de certification illisible : {tmp_path / 'nope.pem'}"
    )


def test_unreachable_server_is_reported_in_french(tmp_path):
    from tests.support.ports import free_port

    url = f"https://127.0.0.1:{free_port()}/x.zip"
    with pytest.raises(SourceError) as err:
        fetch_source(url, tmp_path)
    assert str(err.value) == "Le serveur 127.0.0.1 est injoignable."
