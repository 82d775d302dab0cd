"""The pure activity reader: a FETCH response reduced to date, size and counterpart domains."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from ingest.sources.mail_headers import domains, to_meta


def test_headers_reduce_to_distinct_domains_in_order():
    header = (
        b"From: =?utf-8?q?Dr_Z=C3=A9lie_Martin?= <Z.Martin@Pharma.Test>\r\n"
        b"To: EHPAD <accueil@ehpad-rose.test>,\r\n"
        b'\tautre@pharma.test, "Nom, avec virgule" <x@dac.test>\r\n'
        b"Cc: copie@ehpad-rose.test, groupe-sans-domaine\r\n"
        b"Subject: jamais lu\r\n\r\n"
    )
    fetched = {
        b"INTERNALDATE": datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=0))),
        b"RFC822.SIZE": 2048,
        b"FLAGS": (b"\\Seen",),
        b"BODY[HEADER.FIELDS (FROM TO CC)]": header,
    }
    meta = to_meta(7, fetched)
    assert meta.senders == ("pharma.test",)
    assert meta.recipients == ("ehpad-rose.test", "pharma.test", "dac.test")
    # 23:30 UTC on 1 March is already 2 March in Paris (UTC+1 in winter).
    assert (meta.uid, meta.size, meta.day, meta.skipped) == (7, 2048, date(2026, 3, 2), False)
    assert meta.at == datetime(2026, 3, 1, 23, 30)
    assert "jamais" not in repr(meta) and "martin" not in repr(meta).lower()


def test_drafts_and_deleted_are_skipped_and_odd_values_do_not_break():
    fetched = {
        b"INTERNALDATE": datetime(2026, 7, 1, 12, 0, tzinfo=UTC),
        b"FLAGS": (b"\\Draft",),
        b"BODY[HEADER.FIELDS (FROM TO CC)]": b"",
    }
    meta = to_meta(1, fetched)
    assert meta.skipped and meta.senders == () and meta.size == 0
    assert domains(["undisclosed-recipients:;", "<>", "=?bad?x?y?="]) == ()


def test_balise_test_messages_are_skipped_whatever_the_header_case():
    base = {
        b"INTERNALDATE": datetime(2026, 7, 1, 12, 0, tzinfo=UTC),
        b"RFC822.SIZE": 900,
        b"FLAGS": (b"\\Seen",),
    }
    key = b"BODY[HEADER.FIELDS (FROM TO CC X-BALISE-TEST-ID)]"
    probe = b"From: a@pharma.test\r\nx-balise-test-id: 0f3a\r\nTo: b@dac.test\r\n\r\n"
    meta = to_meta(3, base | {key: probe})
    assert (meta.skipped, meta.balise_test) == (True, True)
    assert "0f3a" not in repr(meta)  # the id is not kept either
    real = to_meta(4, base | {key: b"From: a@pharma.test\r\nTo: b@dac.test\r\n\r\n"})
    assert (real.skipped, real.balise_test, real.senders) == (False, False, ("pharma.test",))
