"""The only writer of ingested data: one snapshot per ingest, in the caller's one transaction.

Directory ingest (``directory``): stage the rows (Arrow batches from the reader, written by ADBC
into a scratch SQLite file, see ``ingest.staging``), keep the first line of each address, then
diff set-wise against the current mailbox versions: close removed and changed versions, open
created and changed ones, link new versions to FINESS (``finess_links``), freeze the adoption
figures of the snapshot (``adoption``). FINESS ingest (``finess``): replace the establishments of
the selected departments (and what a FiNESS+ flow adds: ``finess_plus``), relink current
mailboxes, refresh the latest figures. Every statement is plain SQL that runs the same on SQLite
and PostgreSQL.

The modules, one job each:

- ``snapshots``: the snapshot record (open, find, close), what a load reports (``LoadResult``,
  ``RejectLog``) and what it closes per department (``Drop``, for ``ingest.gate``);
- ``directory``: the directory's rows as mailbox versions, diffed against the current ones;
- ``finess``: the establishments of the selected departments replaced by the file's;
- ``finess_plus``: legal entities, inactive establishments and groupings of a FiNESS+ flow;
- ``points``: where the establishments lie, when the file gives it apart (the etalab CSV);
- ``finess_links``: which FINESS number a mailbox's structure id matches (bulk and SQL);
- ``adoption``: the adoption figures frozen at a snapshot;
- ``bulk``: what a bulk load does around its inserts (indexes, planner statistics).

This package imports nothing itself, so that ``ingest.gate`` (which only needs ``Drop``) does
not pull Arrow in.
"""
