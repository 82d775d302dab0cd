"""The directory's diff against the current versions, on a file big enough to be out of order:
what stays keeps its version, what changed gets a new one (first seen carried over), what is
new opens, what is gone closes; the first line of a repeated address wins. Both backends."""

from __future__ import annotations

import random

from sqlalchemy import select

from balise.models import Mailbox
from ingest import jobs
from tests.support.extracts import directory_line, write_directory

NAME_1 = "Extraction_Correspondance_MSSante_202610010312.txt"
NAME_2 = "Extraction_Correspondance_MSSante_202611010312.txt"
ALL = ("38",)


def _mailboxes(rng: random.Random, count: int, name: str = "bal") -> dict[str, dict]:
    """Addresses and what the file says of them (some fields empty)."""
    return {
        f"{name}{i:04d}@ehpad-{rng.randrange(50)}.mssante.fr": {
            "service": rng.choice(["", "Soins", "Accueil", "Direction"]),
            "dematerialisation": rng.choice(["", "O", "N"]),
        }
        for i in range(count)
    }


def _lines(boxes: dict[str, dict], rng: random.Random, repeats: list[str]) -> list[str]:
    """The file's lines in random order, then later lines repeating ``repeats`` (upper-cased,
    with another service: they must lose to the first line)."""
    order = list(boxes)
    rng.shuffle(order)
    lines = [directory_line("ORG", a, **boxes[a]) for a in order]
    return lines + [directory_line("ORG", a.upper(), service="Perdant") for a in repeats]


def _current(engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Mailbox.address, Mailbox.id, Mailbox.service, Mailbox.dematerialisation,
                Mailbox.first_seen, Mailbox.valid_from,
            ).where(Mailbox.valid_to.is_(None))
        ).all()  # fmt: skip
    return {r.address: tuple(r[1:]) for r in rows}


def test_a_shuffled_file_is_diffed_address_by_address(empty_db, tmp_path):
    rng = random.Random(13)
    before = _mailboxes(rng, 600)
    addresses = list(before)
    gone, changed = addresses[:25], addresses[40:100]
    after = {a: dict(v) for a, v in before.items() if a not in gone}
    for a in changed:  # a value becomes another, empty, or filled
        after[a]["service"] = {"": "Soins", "Soins": ""}.get(after[a]["service"], "Urgences")
    new = _mailboxes(rng, 30, "nouvelle")
    after |= new

    first_file = write_directory(tmp_path / NAME_1, _lines(before, rng, addresses[:5]))
    first = jobs.ingest(empty_db, "annuaire", str(first_file), ALL)
    after_first = _current(empty_db)
    second_file = write_directory(tmp_path / NAME_2, _lines(after, rng, addresses[95:110]))
    second = jobs.ingest(empty_db, "annuaire", str(second_file), ALL)
    now = _current(empty_db)

    assert (first.kept, first.duplicates) == (600, 5)
    assert (second.created, second.changed, second.removed) == (len(new), 60, 25)
    assert (second.kept, second.duplicates) == (len(after), 15)
    s1, s2 = first.snapshot_id, second.snapshot_id
    assert {a: (v[1] or "", v[2] or "") for a, v in now.items()} == {
        a: (v["service"], v["dematerialisation"]) for a, v in after.items()
    }
    for a, (id_, *_, first_seen, valid_from) in now.items():
        if a in new:
            assert (first_seen, valid_from) == (s2, s2)
        elif a in changed:
            assert (first_seen, valid_from) == (s1, s2) and id_ != after_first[a][0]
        else:
            assert (id_, first_seen, valid_from) == (after_first[a][0], s1, s1)
