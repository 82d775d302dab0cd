"""End-to-end test of a BAL: submit by SMTP with the sender's own TLS and auth mode, then see the
message arrive by IMAP in the recipient's INBOX (passed) or Junk folder (a warning).

How: the recipient's folders are watched *before* the message leaves, one IMAP connection per
folder, each in IDLE (polling every ``poll_interval`` only where the server lacks IDLE), so the
arrival is seen as soon as the server announces it. The message is matched by its unique
``X-Balise-Test-Id`` header and only that message is deleted. Each step is timed (connect, auth,
submit, visible). A timeout or a refused step is an outcome, never an exception.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from balise.errors import MailError
from balise.mail.connection import MailAccount, MailStepError, open_imap, open_smtp
from balise.mail.probe_message import TEST_ID_HEADER, UseCase, build_message, use_case

log = logging.getLogger(__name__)

STEPS = ("connect", "auth", "submit", "visible")
# (step, state, seconds): state is "running", "ok" or "failed"; seconds is None while running.
StepCallback = Callable[[str, str, float | None], None]


@dataclass
class RoundTripResult:
    test_id: str
    sender: str
    recipient: str
    use_case: str
    started_at: datetime
    outcome: str = "failed"  # passed | junk | timeout | failed
    failed_step: str | None = None
    message: str = ""  # a French sentence
    steps: dict[str, float] = field(default_factory=dict)
    folder: str | None = None
    deleted: bool = False

    @property
    def total_s(self) -> float:
        return sum(self.steps.values())


class _Watch:
    """One recipient folder watched for the test message, on its own IMAP connection.

    :meth:`prepare` runs in the caller's thread, one folder after the other: two Dovecot
    processes creating the index of a brand-new mailbox at the same instant can deadlock on its
    lock file (seen here: "Resource deadlock avoided" panics). :meth:`run` then waits in IDLE.
    """

    def __init__(self, client: IMAPClient, folder: str, criteria: list, poll_interval: float,
                 prefer_idle: bool = True):  # fmt: skip
        self.client, self.folder, self.criteria = client, folder, criteria
        self.poll_interval = poll_interval
        self.idle = prefer_idle
        # Set by the sender once the server acknowledged the submission (see _wait_idle).
        self.nudge = threading.Event()
        self.uid: int | None = None
        self.error: Exception | None = None

    def prepare(self) -> None:
        self.client.select_folder(self.folder)
        self.idle = self.idle and self.client.has_capability("IDLE")
        if self.idle:
            self.client.idle()

    def run(self, found: queue.Queue, stop: threading.Event, deadline: float) -> None:
        try:
            if self._wait_idle(stop, deadline) if self.idle else self._poll(stop, deadline):
                found.put(self)
        except Exception as exc:  # reported by the main thread as an outcome
            self.error = exc
            found.put(self)

    def _search(self) -> bool:
        # NOOP first: SEARCH only sees the messages of the current view, and an EXISTS that
        # arrives with SEARCH's answer would be swallowed and never wake the IDLE again.
        self.client.noop()
        uids = self.client.search(self.criteria)
        if uids:
            self.uid = uids[0]
        return bool(uids)

    def _poll(self, stop: threading.Event, deadline: float) -> bool:
        """Where IDLE is missing: NOOP + SEARCH every ``poll_interval``."""
        while not stop.wait(self.poll_interval) and time.monotonic() < deadline:
            if self._search():
                return True
        return False

    def _wait_idle(self, stop: threading.Event, deadline: float) -> bool:
        """IDLE until an EXISTS announces a message that carries our test id. Dovecot batches
        its IDLE notifications for 0.5 s, so we also look once as soon as the submission is
        acknowledged: a local operator has often delivered by then."""
        while not stop.is_set() and time.monotonic() < deadline:
            # Short checks only so that a nudge or a stop is noticed quickly.
            responses = self.client.idle_check(timeout=0.02)
            nudged = self.nudge.is_set()
            if nudged or any(len(r) > 1 and r[1] == b"EXISTS" for r in responses):
                self.nudge.clear()
                self.client.idle_done()
                if self._search():
                    return True
                self.client.idle()
        self.client.idle_done()
        return False


_JUNK_NAMES = ("junk", "spam", "courrier indésirable", "indésirables")


def _junk_folder(client: IMAPClient) -> str | None:
    """The folder flagged \\Junk (RFC 6154), else one with a usual junk name."""
    folders = client.list_folders()
    for flags, _, name in folders:
        if any(f.lower() == b"\\junk" for f in flags):
            return name
    for _, _, name in folders:
        if name.lower() in _JUNK_NAMES:
            return name
    return None


def _open_watches(
    account: MailAccount, criteria: list, poll_interval: float, prefer_idle: bool
) -> list[_Watch]:
    """INBOX, and the Junk folder when the server names one (special-use \\Junk)."""
    watches: list[_Watch] = []
    try:
        first = open_imap(account)
        watches.append(_Watch(first, "INBOX", criteria, poll_interval, prefer_idle))
        junk = _junk_folder(first)
        watches[0].prepare()
        if junk:
            watches.append(_Watch(open_imap(account), junk, criteria, poll_interval, prefer_idle))
            watches[1].prepare()
    except BaseException:
        _close(watches)
        raise
    return watches


def _close(watches: list[_Watch]) -> None:
    for watch in watches:
        with contextlib.suppress(Exception):
            watch.client.logout()


def _notify(on_step: StepCallback | None, step: str, state: str, seconds: float | None) -> None:
    if on_step is not None:
        on_step(step, state, seconds)


def _submit(
    smtp_account: MailAccount, message, result: RoundTripResult, on_step: StepCallback | None
) -> bool:
    """Connect, authenticate and submit; record each step. False when a step failed."""
    timings: dict[str, float] = {}
    _notify(on_step, "connect", "running", None)
    try:
        smtp = open_smtp(smtp_account, timings)
    except MailStepError as exc:
        step = "connect" if exc.step in ("connect", "tls") else "auth"
        _record_connect(result, timings, on_step, failed=step)
        result.failed_step, result.message = step, str(exc)
        return False
    _record_connect(result, timings, on_step, failed=None)
    _notify(on_step, "submit", "running", None)
    started = time.perf_counter()
    try:
        refused = smtp.send_message(message)
        if refused:
            raise MailError(f"Destinataire refusé : {', '.join(refused)}.")
    except Exception as exc:  # any refusal is the outcome of this step
        result.steps["submit"] = time.perf_counter() - started
        _notify(on_step, "submit", "failed", result.steps["submit"])
        result.failed_step = "submit"
        result.message = f"Envoi refusé par le serveur SMTP : {_reason(exc)}"
        return False
    finally:
        with contextlib.suppress(Exception):
            smtp.quit()
    result.steps["submit"] = time.perf_counter() - started
    _notify(on_step, "submit", "ok", result.steps["submit"])
    return True


def _record_connect(result, timings, on_step, failed: str | None) -> None:
    result.steps["connect"] = timings.get("connect", 0.0) + timings.get("tls", 0.0)
    _notify(on_step, "connect", "failed" if failed == "connect" else "ok", result.steps["connect"])
    if failed == "connect":
        return
    _notify(on_step, "auth", "running", None)
    result.steps["auth"] = timings.get("auth", 0.0)
    _notify(on_step, "auth", "failed" if failed == "auth" else "ok", result.steps["auth"])


def _reason(exc: Exception) -> str:
    if hasattr(exc, "smtp_error"):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
        return f"{getattr(exc, 'smtp_code', '')} {text}".strip() + "."
    if hasattr(exc, "recipients"):
        return f"destinataire refusé ({', '.join(exc.recipients)})."
    return str(exc) if isinstance(exc, MailError) else type(exc).__name__ + "."


def run_round_trip(
    smtp_account: MailAccount,
    imap_account: MailAccount,
    recipient: str | None = None,
    case: UseCase | None = None,
    timeout: float = 30.0,
    with_xdm: bool = False,
    extra_headers: dict[str, str] | None = None,
    on_step: StepCallback | None = None,
    prefer_idle: bool = True,
    poll_interval: float = 1.0,
) -> RoundTripResult:
    """Send from ``smtp_account`` to ``recipient`` (default: the IMAP account itself) and wait
    for the message in the recipient's INBOX or Junk folder, at most ``timeout`` seconds."""
    case = case or use_case(None)
    recipient = recipient or imap_account.username
    test_id = uuid.uuid4().hex
    result = RoundTripResult(
        test_id, smtp_account.username, recipient, case.id, datetime.now(UTC).replace(tzinfo=None)
    )
    criteria = ["HEADER", TEST_ID_HEADER, test_id]
    try:
        watches = _open_watches(imap_account, criteria, poll_interval, prefer_idle)
    except (MailError, IMAPClientError, OSError) as exc:
        result.failed_step = "imap"
        result.message = f"Boîte destinataire inaccessible : {exc}".rstrip(".") + "."
        return result
    try:
        _run_watched(watches, smtp_account, recipient, case, test_id, timeout, with_xdm,
                     extra_headers, on_step, result)  # fmt: skip
    finally:
        _close(watches)
    log.info("round trip %s -> %s: %s %s", result.sender, recipient, result.outcome, result.steps)
    return result


def _run_watched(watches, smtp_account, recipient, case, test_id, timeout, with_xdm,
                 extra_headers, on_step, result) -> None:  # fmt: skip
    found: queue.Queue[_Watch] = queue.Queue()
    stop = threading.Event()
    # The watchers' own deadline is a safety net; the wait below (``timeout`` seconds from the
    # submission) decides, then stops them.
    deadline = time.monotonic() + timeout + 60
    threads = [
        threading.Thread(target=w.run, args=(found, stop, deadline), daemon=True) for w in watches
    ]
    for thread in threads:
        thread.start()
    message = build_message(
        smtp_account.username, recipient, test_id, case, with_xdm, extra_headers
    )
    try:
        if not _submit(smtp_account, message, result, on_step):
            return
        _notify(on_step, "visible", "running", None)
        sent_at = time.perf_counter()
        for watch in watches:
            watch.nudge.set()
        try:
            hit = found.get(timeout=timeout)
        except queue.Empty:
            hit = None
        result.steps["visible"] = time.perf_counter() - sent_at
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
    _conclude(result, hit, timeout, on_step)


def _conclude(result: RoundTripResult, hit: _Watch | None, timeout: float, on_step) -> None:
    if hit is None:
        result.outcome, result.failed_step = "timeout", "visible"
        result.message = f"Le message de test n'est pas arrivé dans les {timeout:g} s."
        _notify(on_step, "visible", "failed", result.steps["visible"])
        return
    if hit.error is not None:
        result.failed_step = "visible"
        result.message = f"La surveillance du dossier {hit.folder} a échoué : {hit.error}."
        _notify(on_step, "visible", "failed", result.steps["visible"])
        return
    result.folder = hit.folder
    result.outcome = "passed" if hit.folder == "INBOX" else "junk"
    result.message = (
        "Message reçu dans la boîte de réception."
        if result.outcome == "passed"
        else f"Message reçu, mais classé dans le dossier {hit.folder} (indésirables)."
    )
    _notify(on_step, "visible", "ok", result.steps["visible"])
    result.deleted = _delete(hit)


def _delete(watch: _Watch) -> bool:
    """Delete the matched test message only (UID EXPUNGE of that one UID)."""
    try:
        watch.client.delete_messages([watch.uid])
        watch.client.uid_expunge([watch.uid])
        return True
    except Exception as exc:  # the test itself succeeded; cleanup is best effort
        log.warning("could not delete test message in %s: %s", watch.folder, type(exc).__name__)
        return False
