"""No traceback, ever, from input: a bad file gets a French message and loses nothing.
Property-based tests (hypothesis) feed random bytes and mutations of the demo files (cut, lines
duplicated, dropped or shuffled, bytes flipped or spliced in, re-encoded, separators swapped,
zipped whole, cut or corrupted) to both readers, on their Arrow block paths and their line paths, and to the whole ``balise ingest`` command. The only
outcomes allowed: rows, or a SourceError / ``Erreur : …`` with the store unchanged.

Examples per run: 300 per reader (600), 40 per store backend for the command (80). Plus the
bounds on what a reader holds before refusing (the first line, a line without end)."""

from __future__ import annotations

import io
import random
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from balise.cli import cli
from balise.errors import SourceError
from ingest.demo import write_demo
from ingest.sources import annuaire, finess
from ingest.sources.annuaire import DIRECTORY_HEADER, read_extract_chunks
from ingest.sources.files import fetch_source, open_rows
from ingest.sources.finess import read_finess_chunks
from ingest.sources.rows import DirectoryRow, EstablishmentRow, ReadStats, Rejected, flatten
from tests.support.spy import spy
from tests.support.store_dump import rows_by_table
from tests.support.zips import corrupt_middle, make_zip

READER_EXAMPLES = 300
COMMAND_EXAMPLES = 40

# --- seeds: samples of the demo files ----------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    kind: str  # "annuaire" | "finess"
    name: str  # the file name, as the command sees it
    data: bytes


@cache
def seeds() -> dict[str, Seed]:
    """Samples of the demo files (made once per process): 500 directory lines and 400 FINESS
    establishments (over 64 KB each, so a block is halved around a bad line) and the FiNESS+
    JSON."""
    import tempfile

    out = Path(tempfile.mkdtemp(prefix="balise-fuzz-seeds-"))
    files = write_demo(out, scale=0.3)
    directory = _lines(files.annuaire[-1].read_bytes())[:501]
    establishments = _lines(files.finess.read_bytes())
    establishments = establishments[:401] + establishments[-20:]  # and geolocalisation lines
    return {
        "annuaire": Seed("annuaire", files.annuaire[-1].name, b"".join(directory)),
        "finess": Seed("finess", files.finess.name, b"".join(establishments)),
        "finess_json": Seed("finess", files.finess_json.name, files.finess_json.read_bytes()),
    }


# --- mutations ---------------------------------------------------------------------------------

ENCODINGS = ["cp1252", "latin-1", "utf-16", "utf-32", "utf-8-sig", "ascii"]
where = st.integers(min_value=0, max_value=1 << 20)
mutation = st.one_of(
    st.tuples(st.just("cut"), where),
    st.tuples(st.just("duplicate"), where, st.integers(1, 400)),
    st.tuples(st.just("drop"), where, st.integers(1, 50)),
    st.tuples(st.just("shuffle"), st.integers(0, 2**32), st.booleans()),
    st.tuples(st.just("flip"), where, st.integers(0, 255)),
    st.tuples(st.just("splice"), where, st.binary(max_size=64)),
    st.tuples(st.just("reencode"), st.sampled_from(ENCODINGS)),
    st.tuples(st.just("separators"), st.sampled_from([b"|;", b";|", b"\n\r", b"\n\x00", b',"'])),
    st.tuples(st.just("blank"), where),
)
WRAPS = [None, None, None, None, "zip", "zip stored", "zip cut", "zip corrupt", "zip two"]
LATE = 3 << 20  # "zip corrupt late": past the first blocks, when the writer is already staging


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True) or [b""]


def mutate(data: bytes, op: tuple) -> bytes:
    """One mutation; positions are taken modulo the length, so any integer will do."""
    name, *args = op
    lines = _lines(data)
    at = args[0] % (len(data) + 1) if args and isinstance(args[0], int) else 0
    if name == "cut":
        return data[:at]
    if name in ("duplicate", "drop"):
        first = args[0] % len(lines)
        middle = lines[first : first + args[1]] if name == "duplicate" else []
        rest = lines[first:] if name == "duplicate" else lines[first + args[1] :]
        return b"".join(lines[:first] + middle + rest)
    if name == "shuffle":
        body = lines if args[1] else lines[1:]  # with or without the header
        random.Random(args[0]).shuffle(body)
        return b"".join(body if args[1] else lines[:1] + body)
    if name == "flip":
        return data[:at] + bytes([args[1]]) + data[at + 1 :]
    if name == "splice":
        return data[:at] + args[1] + data[at:]
    if name == "reencode":
        return data.decode("utf-8", "replace").encode(args[0], "replace")
    if name == "separators":
        return data.replace(args[0][:1], args[0][1:])
    return data[:at] + b"\n\n\r\n" + data[at:]  # "blank"


def wrap(data: bytes, name: str, how: str | None, directory: Path) -> Path:
    """The bytes as the file the command is given: plain, or in a zip (sound or damaged)."""
    path = directory / name
    if how is None:
        path.write_bytes(data)
        return path
    path = directory / f"{name}.zip"
    if how == "zip corrupt late":
        data = data * (LATE // max(len(data), 1) + 1)
    members = {name: data} | ({"autre.csv": data[:100]} if how == "zip two" else {})
    method = zipfile.ZIP_STORED if how == "zip stored" else zipfile.ZIP_DEFLATED
    archive = make_zip(path, members, method)
    if how == "zip cut":
        path.write_bytes(archive[: len(archive) * 3 // 4])
    if how in ("zip corrupt", "zip corrupt late") and data:
        corrupt_middle(path, name, 0.5 if how == "zip corrupt" else 0.9)
    return path


def random_cells(seed: Seed) -> st.SearchStrategy[bytes]:
    """Lines of the right number of fields holding any text: clean blocks for Arrow's path, with
    values no real file has."""
    first_data_line = _lines(seed.data)[1] if len(_lines(seed.data)) > 1 else b""
    separator = ";" if seed.kind == "finess" else "|"
    width = first_data_line.count(separator.encode()) + 1
    cell = st.one_of(st.text(max_size=12), st.sampled_from(["01", "2A", "974", "ORG", "PER"]))
    lead = ["structureet"] if separator == ";" else []
    line = st.lists(cell, min_size=width - len(lead), max_size=width - len(lead)).map(
        lambda cells: separator.join(lead + cells)
    )
    return st.lists(line, max_size=40).map(lambda lines: "\n".join(lines).encode("utf-8"))


@st.composite
def inputs(draw, kinds: tuple[str, ...], wraps=WRAPS) -> tuple[Seed, bytes, str | None]:
    """A seed's kind and file name with: random bytes, random bytes or random cells after the
    seed's first line, or the seed mutated up to four times; and how it is wrapped."""
    seed = seeds()[draw(st.sampled_from(kinds))]
    shapes = ["mutated", "mutated", "mutated", "random", "after header", "random cells"]
    shape = draw(st.sampled_from(shapes))
    if shape == "random":
        data = draw(st.binary(max_size=4096))
    elif shape == "after header":
        data = _lines(seed.data)[0] + draw(st.binary(max_size=4096))
    elif shape == "random cells":
        data = _lines(seed.data)[0] + draw(random_cells(seed))
    else:
        data = seed.data
        for op in draw(st.lists(mutation, max_size=4)):
            data = mutate(data, op)
    return seed, data, draw(st.sampled_from(wraps))


SCOPES = st.sampled_from([None, ("01",), ("38", "69", "2A"), ("974",), ()])
FUZZ = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


# --- the readers -------------------------------------------------------------------------------

READERS = {"annuaire": read_extract_chunks, "finess": read_finess_chunks}
ROW_TYPES = {"annuaire": DirectoryRow, "finess": EstablishmentRow}


def read_all(kind: str, fh, departments) -> list:
    """Every row the reader gives, block path and line path alike (flattened from chunks)."""
    stats = ReadStats()
    rows = list(flatten(READERS[kind](fh, departments, stats), ROW_TYPES[kind]))
    assert stats.lines >= sum(1 for r in rows if isinstance(r, Rejected))
    return rows


def _reader_property(tmp_path: Path, case: tuple, departments) -> None:
    seed, data, how = case
    path = wrap(data, seed.name, how, tmp_path)
    try:
        source = fetch_source(str(path), tmp_path / "work")
        with open_rows(source) as fh:
            rows = read_all(seed.kind, fh, departments)
    except SourceError as exc:
        assert str(exc) and str(exc)[0].isupper()  # a French sentence, not an empty shrug
        event(f"refused: {str(exc)[:30]}")
        return
    row_type = ROW_TYPES[seed.kind]
    event(f"read: {'some' if any(isinstance(r, row_type) for r in rows) else 'no'} rows")
    assert all(isinstance(r, row_type | Rejected) for r in rows)
    if departments is not None:
        assert {r.department for r in rows if isinstance(r, row_type)} <= set(departments)


@settings(max_examples=READER_EXAMPLES, **FUZZ)
@given(case=inputs(("annuaire",)), departments=SCOPES)
def test_directory_reader_gives_rows_or_a_source_error(tmp_path_factory, case, departments):
    _reader_property(tmp_path_factory.mktemp("annuaire"), case, departments)


@settings(max_examples=READER_EXAMPLES, **FUZZ)
@given(case=inputs(("finess", "finess_json")), departments=SCOPES)
def test_finess_reader_gives_rows_or_a_source_error(tmp_path_factory, case, departments):
    _reader_property(tmp_path_factory.mktemp("finess"), case, departments)


@pytest.mark.parametrize("kind", ["annuaire", "finess"])
def test_the_seeds_are_read_by_the_arrow_block_path(monkeypatch, kind):
    """The fuzzing starts from files the fast path takes: a mutation then sends some blocks to
    the line reader, and the halving leaves the rest to Arrow."""
    parsed = spy(monkeypatch, annuaire if kind == "annuaire" else finess, "parse_block")
    if kind == "finess":  # a cp1252 FINESS file is cut as bytes, its columns transcoded after
        as_bytes = spy(monkeypatch, finess, "parse_block_as")
    rows = read_all(kind, io.BytesIO(seeds()[kind].data), None)
    parsed += as_bytes if kind == "finess" else []
    assert any(table is not None and table.num_rows > 50 for table in parsed)
    assert sum(isinstance(r, ROW_TYPES[kind]) for r in rows) > 200


# --- the whole command --------------------------------------------------------------------------

COMMAND_OPTIONS = st.sampled_from([["--all"], ["--region", "84"], ["--departments", "38,01"]])


@settings(
    max_examples=COMMAND_EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # one store for all examples, compared each time
    ],
)
@given(
    case=inputs(("annuaire", "finess", "finess_json"), [*WRAPS, "zip corrupt late"]),
    options=COMMAND_OPTIONS,
)
def test_ingest_command_imports_or_says_erreur_and_changes_nothing(
    empty_db, tmp_path_factory, monkeypatch, case, options
):
    seed, data, how = case
    database_url = empty_db.url.render_as_string(hide_password=False)
    directory = tmp_path_factory.mktemp("command")
    scratch = directory / "scratch"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))  # where downloads and stages go
    path = wrap(data, seed.name, how, directory)
    engine = empty_db
    if database_url not in _STORE_STATES:  # the store as the previous example left it
        _STORE_STATES[database_url] = rows_by_table(engine)
    args = ["--database-url", database_url, "ingest", seed.kind, str(path), *options]
    result = CliRunner().invoke(cli, args)
    if result.exit_code == 0:
        assert result.output.startswith(("Annuaire MSSanté « ", "FINESS « ")), result.output
        event("imported" if "déjà importé" not in result.output else "already imported")
        del _STORE_STATES[database_url]
    else:
        assert (result.exit_code, type(result.exception)) == (1, SystemExit), result.exc_info
        assert result.output.startswith("Erreur : ") and result.output.count("\n") == 1
        assert rows_by_table(engine) == _STORE_STATES[database_url]
        event(f"refused: {result.output[9:45]}")
    assert list(scratch.iterdir()) == []  # no balise-ingest-* or balise-stage-* left


_STORE_STATES: dict[str, dict] = {}


# --- bounds: what a reader holds before it refuses ------------------------------------------------


def test_directory_first_line_is_read_16_kb_far_at_most():
    huge = io.BytesIO(b"Type de BAL|" + b"x" * (4 << 20) + b"\n")
    with pytest.raises(SourceError) as err:
        read_extract_chunks(huge)
    assert str(err.value) == (
        "La première ligne dépasse 16 Ko : ce n'est pas l'en-tête d'un extrait de l'annuaire "
        "MSSanté."
    )
    assert huge.tell() <= (16 << 10) + 1


def test_finess_first_line_is_read_64_kb_far_at_most():
    huge = io.BytesIO(b"finess;etalab;" + b"9" * (4 << 20) + b"\n")
    with pytest.raises(SourceError) as err:
        read_finess_chunks(huge)
    assert str(err.value) == "La première ligne dépasse 64 Ko : ce n'est pas un fichier FINESS."
    assert huge.tell() <= (64 << 10) + 1


def test_a_finess_json_document_on_one_long_line_is_still_read():
    seed = seeds()["finess_json"].data
    import json

    one_line = json.dumps(json.loads(seed) | {"padding": "x" * (100 << 10)}).encode()
    rows = read_all("finess", io.BytesIO(one_line), None)
    assert len(one_line) > 64 << 10 and any(isinstance(r, EstablishmentRow) for r in rows)


@pytest.mark.parametrize("kind", ["annuaire", "finess"])
def test_a_line_without_end_is_refused_past_one_mb(kind):
    head = _lines(seeds()[kind].data)[:3]
    endless = io.BytesIO(b"".join(head) + b"y" * (3 << 20))
    with pytest.raises(SourceError) as err:
        read_all(kind, endless, None)
    assert str(err.value) == (
        "Le fichier contient une ligne de plus de 1 Mo : ce n'est pas un fichier de données "
        "attendu."
    )


def test_an_empty_selection_reads_nothing_in_scope():
    """``()`` (no department) is a scope like any other for the readers: all out of scope."""
    for kind in ("annuaire", "finess"):
        stats = ReadStats()
        chunks = READERS[kind](io.BytesIO(seeds()[kind].data), (), stats)
        rows = list(flatten(chunks, ROW_TYPES[kind]))
        assert stats.out_of_scope > 0
        assert all(isinstance(r, Rejected) for r in rows)


def test_empty_departments_option_is_a_french_selection_error(tmp_path):
    header = "|".join(DIRECTORY_HEADER) + "\n"
    (tmp_path / "a.txt").write_text(header, encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'b.db'}"
    for value in (",", " , ,"):
        result = CliRunner().invoke(
            cli, ["--database-url", db, "ingest", "annuaire", str(tmp_path / "a.txt"),
                  "--departments", value],
        )  # fmt: skip
        assert (result.exit_code, result.output) == (
            1,
            f"Erreur : Aucun département dans « {value} » : indiquez des codes séparés par des "
            "virgules (ex. 01,38), ou --region, ou --all.\n",
        )


@pytest.mark.parametrize("kind", ["annuaire", "finess"])
def test_a_nul_byte_never_reaches_the_store(kind):
    """Found by the property test on PostgreSQL (« text fields cannot contain NUL »): a NUL byte
    in a field reads as U+FFFD (as the bytes cp1252 leaves undefined in FINESS), whichever path
    reads the block; in an address or a number it makes the line invalid."""
    data = seeds()[kind].data
    cut = data.index(b"\n", len(data) // 2) + 1
    bad = data[:cut] + data[cut:].replace(b"(FICTIF)", b"(FIC\x00TIF)", 1)  # a free-text field
    rows = read_all(kind, io.BytesIO(bad), None)
    texts = [v for r in rows if not isinstance(r, Rejected) for v in r]
    assert not any(isinstance(v, str) and "\x00" in v for v in texts)
    assert len(rows) == len(read_all(kind, io.BytesIO(data), None))
