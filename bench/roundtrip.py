"""Round-trip benchmark (sandbox and operator-like servers): how fast ``balise bal test`` sees a message arrive.

    .venv/bin/python bench/roundtrip.py [--trips 50] [--baseline-trips 5] [--every 5]

Two local Dovecot sandboxes (started here, stopped at the end), one password mailbox sending to
itself over STARTTLS on each:
  « serveur avec IDLE, livraison immédiate » — the sandbox as the tests use it: the relay
      delivers before it answers SMTP, the server pushes through IDLE;
  « serveur sans IDLE, livraison différée de 1 s » — no IDLE capability at all, and a relay
      that accepts at once then delivers 1 s later (an operator's queue).
On each:
  (a) balise: ``run_round_trip`` (a look when SMTP accepts, re-check NOOP + UID SEARCH every
      0.5 s, IDLE where offered), ``--trips`` times;
  (b) reference, written here as common monitoring checks do it: submit with smtplib, then log
      in with imaplib and SEARCH for the token at once, and again every ``--every`` s,
      ``--baseline-trips`` times.
Measured: the wall time of the whole call (IMAP set-up, SMTP connect + STARTTLS + auth + submit,
until the message is seen) and the time from delivery (the relay's LMTP delivery done) to
detection; p50 and p95 of each.
Targets: on the IDLE server, p50 of (a) ≤ 0.5 s; on the server without IDLE, p95 of (a)'s
delivery-to-detection ≤ 1.2 s.
"""

from __future__ import annotations

import argparse
import imaplib
import shutil
import smtplib
import ssl
import sys
import tempfile
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from balise.mail.connection import MailAccount  # noqa: E402
from balise.mail.probe_message import TEST_ID_HEADER  # noqa: E402
from balise.mail.roundtrip import run_round_trip  # noqa: E402
from balise.secrets import new_key, seal  # noqa: E402
from sandbox.server import MailSandbox  # noqa: E402

CASES = {
    "serveur avec IDLE, livraison immédiate": {},
    "serveur sans IDLE, livraison différée de 1 s": {"idle": False, "relay_delay": 1.0},
}
ADDRESS = "bench@sandbox.test"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def balise_trips(sandbox: MailSandbox, password: str, trips: int) -> tuple[list, list, dict]:
    """(wall times, delivery-to-detection times, how each message was seen)."""
    key = new_key()
    imap = MailAccount(sandbox.host, sandbox.imap_port, ADDRESS, "starttls", "password",
                       seal(password, key), str(sandbox.ca_path), secret_key=key)  # fmt: skip
    smtp = MailAccount(sandbox.host, sandbox.submission_port, ADDRESS, "starttls", "password",
                       seal(password, key), str(sandbox.ca_path), secret_key=key)  # fmt: skip
    walls, lags, seen_by = [], [], {}
    for _ in range(trips):
        seen = {}

        def on_step(step, state, _s, seen=seen):
            if (step, state) == ("visible", "ok"):
                seen["at"] = time.perf_counter()

        started = time.perf_counter()
        result = run_round_trip(smtp, imap, timeout=30, on_step=on_step)
        walls.append(time.perf_counter() - started)
        if result.outcome != "passed":
            raise SystemExit(f"balise round trip failed: {result.outcome} {result.message}")
        lags.append(seen["at"] - sandbox.delivered_at[result.test_id])
        seen_by[result.seen_by] = seen_by.get(result.seen_by, 0) + 1
    return walls, lags, seen_by


def baseline_trip(sandbox: MailSandbox, password: str, every: float) -> tuple[float, float]:
    """Submit, then log in and search at once and every ``every`` seconds until the token
    shows; (wall time, delivery-to-detection). The token travels in the header the sandbox's
    relay clocks deliveries by; nothing else of Balise is used."""
    context = ssl.create_default_context(cafile=str(sandbox.ca_path))
    token = uuid.uuid4().hex
    message = EmailMessage()
    message["From"] = message["To"] = ADDRESS
    message["Subject"] = "Sonde de supervision"
    message[TEST_ID_HEADER] = token
    message.set_content("Sonde.")
    started = time.perf_counter()
    with smtplib.SMTP(sandbox.host, sandbox.submission_port, timeout=30) as smtp:
        smtp.starttls(context=context)
        smtp.login(ADDRESS, password)
        smtp.send_message(message)
    while True:
        with imaplib.IMAP4(sandbox.host, sandbox.imap_port, timeout=30) as imap:
            imap.starttls(context)
            imap.login(ADDRESS, password)
            imap.select("INBOX")
            _, found = imap.search(None, "HEADER", TEST_ID_HEADER, token)
            if found[0]:
                seen_at = time.perf_counter()
                for number in found[0].split():
                    imap.store(number, "+FLAGS", "\\Deleted")
                imap.expunge()
                return seen_at - started, seen_at - sandbox.delivered_at[token]
        time.sleep(every)


def run_case(variants: dict, args) -> dict:
    directory = Path(tempfile.mkdtemp(prefix="balise-bench-rt-"))
    sandbox = MailSandbox(directory, **variants).start()
    try:
        password = sandbox.add_user(ADDRESS)
        balise_trips(sandbox, password, 2)  # warm-up: first handshakes, imports
        walls, lags, seen_by = balise_trips(sandbox, password, args.trips)
        base = [baseline_trip(sandbox, password, args.every) for _ in range(args.baseline_trips)]
    finally:
        sandbox.stop()
        shutil.rmtree(directory, ignore_errors=True)
    return {"walls": walls, "lags": lags, "seen_by": seen_by,
            "base_walls": [b[0] for b in base], "base_lags": [b[1] for b in base]}  # fmt: skip


def _p(values: list[float]) -> str:
    return f"p50 {percentile(values, 50):.3f} s, p95 {percentile(values, 95):.3f} s"


def report(name: str, r: dict, every: float) -> None:
    print(f"== {name}")
    print(f"  balise ({len(r['walls'])} trips): whole call {_p(r['walls'])}; "
          f"delivery -> detection {_p(r['lags'])}; seen by {r['seen_by']}")  # fmt: skip
    print(f"  reference, IMAP searched at once then every {every:g} s "
          f"({len(r['base_walls'])} trips): whole call {_p(r['base_walls'])}; "
          f"delivery -> detection {_p(r['base_lags'])}")  # fmt: skip
    ratio = percentile(r["base_walls"], 50) / percentile(r["walls"], 50)
    print(f"  reference / balise, whole call p50: {ratio:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, default=50)
    parser.add_argument("--baseline-trips", type=int, default=5)
    parser.add_argument("--every", type=float, default=5.0, help="reference polling interval")
    args = parser.parse_args()
    results = {name: run_case(variants, args) for name, variants in CASES.items()}
    for name, r in results.items():
        report(name, r, args.every)
    idle, late = results.values()
    p50 = percentile(idle["walls"], 50)
    print(f"target p50 <= 0.5 s on the IDLE server: {'met' if p50 <= 0.5 else 'MISSED'} "
          f"({p50:.3f} s)")  # fmt: skip
    p95 = percentile(late["lags"], 95)
    print(f"target p95 delivery -> detection <= 1.2 s without IDLE: "
          f"{'met' if p95 <= 1.2 else 'MISSED'} ({p95:.3f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
