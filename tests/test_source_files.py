"""Where extract bytes come from: local files, zips (sound, truncated, ambiguous, corrupt while
streaming) and https downloads from a real local TLS server signed by a test CA."""

from __future__ import annotations

import hashlib
import struct
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest

from balise.errors import ConfigurationError, SourceError
from ingest.sources.annuaire import read_extract
from ingest.sources.download import DownloadLimits, head_generated_at
from ingest.sources.files import LocalSource, fetch_source, open_rows
from tests.support.https import HttpsServer, Reply
from tests.support.zips import corrupt_middle, deflated, make_zip, raw_zip, zip_bomb

ANS_NAME = "Extraction_Correspondance_MSSante_202611250312.txt"
EXTRACT = (
    "Type de BAL|Adresse BAL|Type identifiant structure|Identification Structure|"
    "Code postal|Département\n"
    "ORG|accueil@ehpad-lilas.mssante.fr|1|1010000024|01000|01\n"
    "PER|dr.martin@medecin.mssante.fr|||38000|\n"
).encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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


def distinct_lines(count: int) -> bytes:
    """Directory-like lines that compress about as well as a real extract (7 to 1), not the
    thousand to one of a repeated line, which the archive checks take for a bomb."""
    return b"".join(
        f"PER|p{i}.n{i * 7919 % 100003}@medecin.mssante.fr|||01000|01\n".encode()
        for i in range(count)
    )


def test_zip_member_is_streamed_not_extracted_in_memory(tmp_path):
    data = distinct_lines(250_000)
    make_zip(tmp_path / "big.zip", {ANS_NAME: data})
    source = fetch_source(str(tmp_path / "big.zip"), tmp_path)
    tracemalloc.start()
    try:
        with open_rows(source) as fh:
            total = sum(len(chunk) for chunk in fh)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == len(data) > 12_000_000
    assert peak < len(data) / 2  # a few 1 MB buffers, not the 12 MB member


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


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_member_corrupt_mid_stream_raises_a_source_error(tmp_path, method):
    # Distinct lines so the compressed data has no long repeats to hide the damage in.
    lines = EXTRACT + distinct_lines(60_000)
    path = tmp_path / "corrupt.zip"
    make_zip(path, {ANS_NAME: lines}, method)
    corrupt_middle(path, ANS_NAME)
    source = fetch_source(str(path), tmp_path)  # the directory is intact: accepted here
    with pytest.raises(SourceError) as err, open_rows(source) as fh:
        for _row in read_extract(fh):
            pass
    assert (
        str(err.value)
        == f"L'archive ZIP est corrompue : la lecture de {ANS_NAME} s'est interrompue."
    )


# --- archive bounds: checked before inflating, and again while inflating ----------------------


def test_zip_bomb_is_refused_before_inflating(tmp_path):
    (tmp_path / "bomb.zip").write_bytes(zip_bomb(ANS_NAME, 1024))  # 1 GiB of zeros in 1 MB
    with pytest.raises(SourceError) as err:
        fetch_source(str(tmp_path / "bomb.zip"), tmp_path)
    assert str(err.value) == (
        f"L'archive ZIP est refusée : {ANS_NAME} se décompresse 1\u202f011 fois (au plus 100 "
        "fois pour un extrait ; c'est la marque d'une « bombe » de décompression)."
    )
    source = LocalSource(tmp_path / "bomb.zip", ANS_NAME, "")  # open_rows checks it too
    with pytest.raises(SourceError, match="bombe"), open_rows(source):
        pass


def test_member_declared_bigger_than_the_cap_is_refused(tmp_path):
    make_zip(tmp_path / "big.zip", {ANS_NAME: distinct_lines(60_000)})  # 2.7 MiB inflated
    with pytest.raises(SourceError) as err:
        fetch_source(str(tmp_path / "big.zip"), tmp_path, limits=DownloadLimits.of(600, 2))
    assert str(err.value) == (
        f"L'archive ZIP est refusée : {ANS_NAME} ferait 3 Mo une fois décompressé "
        "(au plus 2 Mo, réglage BALISE_MAX_DOWNLOAD_MB)."
    )


@pytest.mark.parametrize("declared_share", [0.5, 2.0])
def test_member_whose_size_lies_is_stopped_while_inflating(tmp_path, declared_share):
    """Declared smaller than it is: inflating stops at the declared size (and the CRC fails);
    declared bigger: the data ends early. Both are corruption, never a partial import."""
    data = EXTRACT + distinct_lines(20_000)
    declared = int(len(data) * declared_share)
    path = tmp_path / "liar.zip"
    path.write_bytes(raw_zip(ANS_NAME, deflated(data), zlib.crc32(data), declared))
    source = fetch_source(str(path), tmp_path)  # sizes and ratio look sound: accepted here
    received = bytearray()
    with pytest.raises(SourceError) as err, open_rows(source) as fh:
        while chunk := fh.read(65536):
            received += chunk
    assert str(err.value) == (
        f"L'archive ZIP est corrompue : la lecture de {ANS_NAME} s'est interrompue."
    )
    assert len(received) <= min(declared, len(data))


def test_member_data_past_the_end_of_the_archive_is_refused(tmp_path):
    data = distinct_lines(1000)
    archive = raw_zip(ANS_NAME, deflated(data), zlib.crc32(data), len(data))
    central = archive.index(b"PK\x01\x02")
    patched = bytearray(archive)  # the central directory claims ten times the compressed bytes
    patched[central + 20 : central + 24] = struct.pack("<I", len(deflated(data)) * 10)
    (tmp_path / "short.zip").write_bytes(bytes(patched))
    with pytest.raises(SourceError) as err:
        fetch_source(str(tmp_path / "short.zip"), tmp_path)
    assert str(err.value) == "L'archive ZIP est tronquée ou illisible."


def test_archive_with_a_huge_directory_is_refused_before_reading_it(tmp_path):
    members = {f"vide/{i}.pdf": b"" for i in range(1001)} | {ANS_NAME: EXTRACT}
    make_zip(tmp_path / "many.zip", members)
    with pytest.raises(SourceError) as err:
        fetch_source(str(tmp_path / "many.zip"), tmp_path)
    assert str(err.value) == (
        "L'archive ZIP est refusée : son répertoire est démesuré (1\u202f002 entrées ou plus, "
        "1000 au plus)."
    )


def test_encrypted_member_is_refused(tmp_path):
    path = tmp_path / "locked.zip"
    path.write_bytes(raw_zip(ANS_NAME, deflated(EXTRACT), zlib.crc32(EXTRACT), len(EXTRACT), 1))
    with pytest.raises(SourceError) as err:
        fetch_source(str(path), tmp_path)
    assert str(err.value) == (
        f"L'archive ZIP est chiffrée : {ANS_NAME} ne peut pas être lu sans mot de passe."
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


# --- https against a real local TLS server (tests/support/https.py) ----------------------------


def _serve_ans_zip(server: HttpsServer, tmp_path: Path) -> bytes:
    zip_bytes = make_zip(tmp_path / "served.zip", {ANS_NAME: EXTRACT})
    disposition = 'attachment; filename="Extraction_Correspondance_MSSante_202611250312.zip"'
    server.files["/extraction/Extraction_Correspondance_MSSante"] = Reply(
        zip_bytes, {"Content-Type": "application/zip", "Content-Disposition": disposition}
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
    https_server.files["/data/etalab-cs1100502-stock-20260504-0400.csv"] = Reply(b"finess;etalab")
    url = https_server.url("/data/etalab-cs1100502-stock-20260504-0400.csv")
    source = fetch_source(url, tmp_path, ca_bundle=https_server.ca_bundle)
    assert source.file_name == "etalab-cs1100502-stock-20260504-0400.csv"


def test_https_server_error_is_reported_in_french(https_server, tmp_path):
    with pytest.raises(SourceError) as err:
        fetch_source(https_server.url("/absent"), tmp_path, ca_bundle=https_server.ca_bundle)
    assert str(err.value) == "Le serveur 127.0.0.1 a refusé le téléchargement (code HTTP 404)."


def test_https_redirect_to_plain_http_is_refused(https_server, tmp_path):
    https_server.files["/moved"] = Reply(
        status=302, headers={"Location": "http://127.0.0.1:9/x.zip"}
    )
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
