"""Repeated addresses of a first directory import: the hash that makes candidates, the finder
that never misses a repeat, and the SQL that keeps exactly the first line of each address,
whatever candidates it is given."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest
from sqlalchemy import select

from balise.models import Mailbox
from ingest import jobs
from ingest.load import directory, repeats
from ingest.load.repeats import RepeatFinder, string_hashes
from tests.support.extracts import directory_line, write_directory

NAME = "Extraction_Correspondance_MSSante_202610010312.txt"
ACCEPT = jobs.Policy(accept_drop=True)  # the second file drops some addresses


def test_equal_strings_hash_alike_wherever_they_sit_and_different_ones_apart():
    words = ["accueil@ehpad.fr", "", "élodie@x.fr", "a", "accueil@ehpad.fr", "😀@x.fr", ""]
    whole = string_hashes(pa.array(words))
    sliced = string_hashes(pa.array(["zz", *words])[1:])  # an offset into shared buffers
    large = string_hashes(pa.array(words, pa.large_string()))
    assert whole.tolist() == sliced.tolist() == large.tolist()
    assert whole[0] == whole[4] and whole[1] == whole[6] == 0
    rng = random.Random(3)
    many = list({"".join(rng.choices("abc.@é", k=rng.randrange(1, 12))) for _ in range(20_000)})
    assert len(set(string_hashes(pa.array(many)).tolist())) == len(many)
    assert string_hashes(pa.array([], pa.string())).tolist() == []


def _batches(keys: list[str], size: int) -> list[pa.RecordBatch]:
    ids = np.arange(1, len(keys) + 1)
    return [
        pa.RecordBatch.from_arrays(
            [pa.array(ids[at : at + size]), pa.array(keys[at : at + size])], ["id", "address"]
        )
        for at in range(0, len(keys), size)
    ]


def test_the_finder_names_every_row_whose_key_another_row_has():
    rng = random.Random(8)
    keys = [f"bal{rng.randrange(3000)}@x.fr" for _ in range(5000)]  # repeats within and across
    finder = RepeatFinder("address")
    for batch in _batches(keys, 700):
        finder.see(batch)
    shared = {k for k in keys if keys.count(k) > 1}
    assert finder.rows == 5000
    assert finder.candidates == [i + 1 for i, k in enumerate(keys) if k in shared]


def _lengths(values: pa.Array) -> np.ndarray:
    return np.array([len(v) for v in values.to_pylist()], dtype=np.uint64)


def test_any_candidates_keep_exactly_the_first_line_of_each_address(
    empty_db, tmp_path, monkeypatch
):
    """Hashes that collide all the time (the length of the address) make many candidates that
    repeat nothing: SQL still deletes only the later lines of the repeated addresses, a few
    candidates per statement; in a first import and in a diff against it (the stage)."""
    monkeypatch.setattr(repeats, "string_hashes", _lengths)
    monkeypatch.setattr(directory, "_IDS_PER_STATEMENT", 7)
    for seed, name in ((4, NAME), (5, NAME.replace("2026", "2027"))):
        rng = random.Random(seed)
        addresses = [f"bal{rng.randrange(150)}@ehpad.mssante.fr" for _ in range(300)]
        lines = [directory_line("ORG", a.upper() if i % 2 else a, service=f"S{i}")
                 for i, a in enumerate(addresses)]  # fmt: skip
        extract = write_directory(tmp_path / name, lines)
        report = jobs.ingest(empty_db, "annuaire", str(extract), None, policy=ACCEPT)
        first_service: dict[str, str] = {}
        for i, a in enumerate(addresses):
            first_service.setdefault(a, f"S{i}")
        with empty_db.connect() as conn:
            rows = conn.execute(
                select(Mailbox.address, Mailbox.service).where(Mailbox.valid_to.is_(None))
            ).all()
        assert dict(rows) == first_service and len(rows) == len(first_service)
        assert (report.kept, report.duplicates) == (len(first_service), 300 - len(first_service))


@pytest.mark.parametrize("size", [1, 2, 50])
def test_batch_boundaries_do_not_hide_a_repeat(size):
    keys = ["a@x.fr", "b@x.fr", "a@x.fr", "c@x.fr", "b@x.fr"]
    finder = RepeatFinder("address")
    for batch in _batches(keys, size):
        finder.see(batch)
    assert finder.candidates == [1, 2, 3, 5]
