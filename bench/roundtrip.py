"""Round-trip benchmark (issue 5): how fast ``balise bal test`` sees a message arrive.

    .venv/bin/python bench/roundtrip.py [--trips 50] [--baseline-trips 5]

On a local Dovecot sandbox (started here, stopped at the end), one password mailbox sending to
itself over STARTTLS:
  (a) balise: ``run_round_trip`` (IMAP IDLE on INBOX and Junk, one look when the submission is
      acknowledged), ``--trips`` times; wall time of the whole call (IMAP watch set-up, SMTP
      connect + STARTTLS + auth + submit, until the message is seen), p50 and p95;
  (b) baseline, written here as common monitoring checks do it: submit with smtplib, then every
      5 s log in with imaplib and SEARCH for the token, ``--baseline-trips`` times (each trip
      costs ≥ 5 s, hence fewer trips).
Targets: p50(a) ≤ 0.5 s and p50(b) / p50(a) ≥ 5.
"""

from __future__ import annotations

import argparse
import imaplib
import shutil
import smtplib
import ssl
import statistics
import sys
import tempfile
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from balise.mail.connection import MailAccount  # noqa: E402
from balise.mail.roundtrip import run_round_trip  # noqa: E402
from balise.mail.sandbox import MailSandbox  # noqa: E402
from balise.secrets import new_key, seal  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def balise_trips(sandbox: MailSandbox, address: str, password: str, trips: int) -> list[float]:
    key = new_key()
    imap = MailAccount(sandbox.host, sandbox.imap_port, address, "starttls", "password",
                       seal(password, key), str(sandbox.ca_path), secret_key=key)  # fmt: skip
    smtp = MailAccount(sandbox.host, sandbox.submission_port, address, "starttls", "password",
                       seal(password, key), str(sandbox.ca_path), secret_key=key)  # fmt: skip
    walls = []
    for _ in range(trips):
        started = time.perf_counter()
        result = run_round_trip(smtp, imap, timeout=30)
        walls.append(time.perf_counter() - started)
        if result.outcome != "passed":
            raise SystemExit(f"balise round trip failed: {result.outcome} {result.message}")
    return walls


def baseline_trip(sandbox: MailSandbox, address: str, password: str, every: float) -> float:
    """Submit, then log in and search every ``every`` seconds until the token shows."""
    context = ssl.create_default_context(cafile=str(sandbox.ca_path))
    token = uuid.uuid4().hex
    message = EmailMessage()
    message["From"] = message["To"] = address
    message["Subject"] = "Sonde de supervision"
    message["X-Check-Id"] = token
    message.set_content("Sonde.")
    started = time.perf_counter()
    with smtplib.SMTP(sandbox.host, sandbox.submission_port, timeout=30) as smtp:
        smtp.starttls(context=context)
        smtp.login(address, password)
        smtp.send_message(message)
    while True:
        time.sleep(every)
        with imaplib.IMAP4(sandbox.host, sandbox.imap_port, timeout=30) as imap:
            imap.starttls(context)
            imap.login(address, password)
            imap.select("INBOX")
            _, found = imap.search(None, "HEADER", "X-Check-Id", token)
            if found[0]:
                for number in found[0].split():
                    imap.store(number, "+FLAGS", "\\Deleted")
                imap.expunge()
                return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, default=50)
    parser.add_argument("--baseline-trips", type=int, default=5)
    parser.add_argument("--every", type=float, default=5.0, help="baseline polling interval")
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="balise-bench-rt-"))
    sandbox = MailSandbox(directory).start()
    try:
        address = "bench@sandbox.test"
        password = sandbox.add_user(address)
        balise_trips(sandbox, address, password, 2)  # warm-up: first handshakes, imports
        ours = balise_trips(sandbox, address, password, args.trips)
        base = [baseline_trip(sandbox, address, password, args.every)
                for _ in range(args.baseline_trips)]  # fmt: skip
    finally:
        sandbox.stop()
        shutil.rmtree(directory, ignore_errors=True)

    p50, p95 = percentile(ours, 50), percentile(ours, 95)
    b50, b95 = percentile(base, 50), percentile(base, 95)
    print(f"balise round trip ({len(ours)} trips): p50 {p50:.3f} s, p95 {p95:.3f} s, "
          f"mean {statistics.mean(ours):.3f} s, max {max(ours):.3f} s")  # fmt: skip
    print(f"baseline, IMAP polled every {args.every:g} s ({len(base)} trips): "
          f"p50 {b50:.3f} s, p95 {b95:.3f} s")  # fmt: skip
    print(f"target p50 <= 0.5 s: {'met' if p50 <= 0.5 else 'MISSED'} ({p50:.3f} s)")
    ratio = b50 / p50
    print(f"target >= 5x faster than the baseline: {'met' if ratio >= 5 else 'MISSED'} "
          f"({ratio:.1f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
