"""Activity poll benchmark: 300 mailboxes x 30 messages on a local Dovecot sandbox.

    .venv/bin/python bench/poll.py [--mailboxes 300] [--messages 30] [--workers 8]

Measures, on a fresh SQLite store:
  (a) balise's first poll (every message is new);
  (b) balise's incremental poll with no new mail, as the worker runs it (IMAP sessions kept
      from the previous run, so a quiet mailbox costs one EXAMINE per folder);
  (d) the same incremental poll as a one-shot ``balise poll`` (new sessions: TLS + login each);
  (c) the naive baseline, written here: sequential imapclient, for every mailbox: connect,
      STARTTLS, login, select INBOX and Sent, fetch the headers of every message, each time;
and prints the ratios against the targets: (c) / (b) >= 10 and (b) <= 15 ms per mailbox.
Mail is delivered through the server (LMTP), 80 % in INBOX and 20 % in Sent.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from balise.db import make_engine, upgrade  # noqa: E402
from balise.mail.connection import open_imap  # noqa: E402
from balise.secrets import new_key  # noqa: E402
from balise.services.access import SYSTEM  # noqa: E402
from balise.services.watched_mailboxes import WatchRequest, add_watched  # noqa: E402
from ingest.imap_reader import SessionPool  # noqa: E402
from ingest.poll import run_poll  # noqa: E402
from sandbox.harness import raw_message, running_sandbox, sandbox_account  # noqa: E402

SECRET_KEY = new_key()  # seals the benchmark accounts' passwords, for this run only


def account_for(sandbox, address: str, password: str):
    return sandbox_account(sandbox, address, SECRET_KEY, password=password)


def populate(sandbox, engine, n_boxes: int, n_messages: int) -> dict[str, str]:
    accounts = {f"bal{i:04d}@bench.test": f"pw-{i:04d}" for i in range(n_boxes)}
    sandbox.add_users(accounts)
    addresses = list(accounts)
    t0 = time.perf_counter()
    for k in range(n_messages):
        folder = "Sent" if k % 5 == 4 else None
        raw = raw_message(f"expediteur{k}@pharma.test", ["collegue@ehpad.test"], body=f"n{k}")
        for i in range(0, len(addresses), 100):  # 100 recipients per LMTP transaction
            sandbox.deliver(addresses[i : i + 100], raw, folder=folder)
    print(f"delivered {n_boxes * n_messages} messages in {time.perf_counter() - t0:.1f} s")
    for address, password in accounts.items():
        account = account_for(sandbox, address, password=password)
        add_watched(
            engine,
            SYSTEM,
            WatchRequest(
                address=address, department="38", imap_host=account.host,
                imap_port=account.port, secret=password, ca_bundle=account.ca_bundle,
            ),
            SECRET_KEY,
        )  # fmt: skip
    return accounts


def baseline(sandbox, accounts: dict[str, str]) -> tuple[float, int]:
    """Sequential imapclient, everything fetched every time."""
    t0 = time.perf_counter()
    seen = 0
    for address, password in accounts.items():
        client = open_imap(account_for(sandbox, address, password=password))
        for folder in ("INBOX", "Sent"):
            client.select_folder(folder, readonly=True)
            # imapclient 4.1 refuses "1:*" in fetch(): search first, as a naive script would.
            seen += len(client.fetch(client.search("ALL"), ["BODY.PEEK[HEADER]"]))
        client.logout()
    return time.perf_counter() - t0, seen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mailboxes", type=int, default=300)
    parser.add_argument("--messages", type=int, default=30)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    n = args.mailboxes
    with tempfile.TemporaryDirectory() as tmp, running_sandbox() as sandbox:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        accounts = populate(sandbox, engine, n, args.messages)

        sessions = SessionPool()

        def poll(pool=None):
            report = run_poll(
                engine, SYSTEM, workers=args.workers, secret_key=SECRET_KEY, sessions=pool
            )
            assert not report.failed, report.failed[:3]
            return report

        first = poll(sessions)  # as the worker runs it: sessions kept for the next run
        counted = sum(o.messages for o in first.outcomes)
        incremental = min((poll(sessions) for _ in range(3)), key=lambda r: r.seconds)
        assert sum(o.messages for o in incremental.outcomes) == 0
        sessions.close()
        one_shot = min((poll() for _ in range(2)), key=lambda r: r.seconds)
        base_s, base_seen = baseline(sandbox, accounts)

    inc_ms = 1000 * incremental.seconds / n
    ratio = base_s / incremental.seconds
    print(f"mailboxes={n} messages/mailbox={args.messages} workers={args.workers}")
    print(f"(a) first poll        {first.seconds:7.2f} s  ({counted} messages counted)")
    print(f"(b) incremental poll  {incremental.seconds:7.2f} s  = {inc_ms:.1f} ms per mailbox")
    print(f"(c) naive baseline    {base_s:7.2f} s  ({base_seen} headers fetched)")
    shot_ms = 1000 * one_shot.seconds / n
    print(
        f"(d) incremental, one-shot `balise poll` (new sessions): {one_shot.seconds:.2f} s"
        f" = {shot_ms:.1f} ms per mailbox, {base_s / one_shot.seconds:.1f} x faster than (c)"
    )
    print(f"(a) vs (c): {base_s / first.seconds:.1f} x faster")
    print(
        f"(b) vs (c): {ratio:.1f} x faster (target >= 10: {'OK' if ratio >= 10 else 'MISSED'}); "
        f"{inc_ms:.1f} ms per mailbox (target <= 15: {'OK' if inc_ms <= 15 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
