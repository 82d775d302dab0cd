"""End-to-end test of a BAL: submit by SMTP with the sender's own TLS and auth mode, then see the
message arrive by IMAP in the recipient's INBOX (passed) or Junk folder (a warning).

How: the recipient's folders (INBOX and the Junk folder, ``balise.mail.folders``) are watched
*before* the message leaves, one IMAP connection per folder. The wait never trusts the server's
push alone: servers push late (a check every 60 s) or not at all, and an operator's queue can
deliver seconds after SMTP accepted the message. So each watcher
  - looks once as soon as the submission is accepted,
  - then re-checks (NOOP + UID SEARCH on the test id) every ``check_every`` seconds,
  - and, where the server offers IDLE, also looks at once when IDLE announces a new message.
A server without IDLE is watched the same way, minus the push. The result says which of the
three saw the message (``seen_by``). The message is matched by its unique ``X-Balise-Test-Id``
header and only that message is deleted. Each step is timed (connect, auth, submit, visible).
A timeout or a refused step is an outcome, never an exception.
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
from datetime import datetime

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from balise.clock import utc_now
from balise.errors import MailError
from balise.formatting import fr_seconds
from balise.mail.connection import MailAccount, MailStepError, open_imap, open_smtp
from balise.mail.folders import special_folder
from balise.mail.probe_message import TEST_ID_HEADER, UseCase, build_message, use_case
from balise.referentials.lifecycles import RoundTripOutcome

log = logging.getLogger(__name__)

STEPS = ("connect", "auth", "submit", "visible")
# What users read for each step and each failed step (RoundTripResult.failed_step): the codes
# stay in the store, the audit lines and the JSON output (``--json``), for scripts.
STEP_LABELS = {
    "connect": "Connexion",
    "auth": "Authentification",
    "submit": "Envoi",
    "visible": "Réception",
    "imap": "Connexion IMAP",
}
# (step, state, seconds): state is "running", "ok" or "failed"; seconds is None while running.
StepCallback = Callable[[str, str, float | None], None]
# How the test message was seen (RoundTripResult.seen_by), in French for the pages.
SEEN_BY = {
    "submit": "vérification dès l'envoi accepté",
    "check": "vérification périodique",
    "push": "annonce IDLE du serveur",
}
CHECK_EVERY = (
    0.5  # seconds between two re-checks: at least one a second, so a late push costs little
)
_TICK = 0.02  # longest wait between two looks at the nudge / the clock (IDLE blocks that long)


@dataclass
class RoundTripResult:
    test_id: str
    sender: str
    recipient: str
    use_case: str
    started_at: datetime
    outcome: RoundTripOutcome = RoundTripOutcome.FAILED
    failed_step: str | None = None
    message: str = ""  # a French sentence
    steps: dict[str, float] = field(default_factory=dict)
    folder: str | None = None
    seen_by: str | None = None  # a key of SEEN_BY
    deleted: bool = False

    @property
    def total_s(self) -> float:
        return sum(self.steps.values())


class _Watch:
    """One recipient folder watched for the test message, on its own IMAP connection.

    :meth:`prepare` runs in the caller's thread, one folder after the other: two Dovecot
    processes creating the index of a brand-new mailbox at the same instant can deadlock on its
    lock file (seen here: "Resource deadlock avoided" panics). :meth:`run` then waits.
    """

    def __init__(self, client: IMAPClient, folder: str, criteria: list, check_every: float,
                 prefer_idle: bool = True):  # fmt: skip
        self.client, self.folder, self.criteria = client, folder, criteria
        self.check_every = check_every
        self.idle = prefer_idle
        # Set by the sender once the server accepted the submission: look now, then re-check.
        self.nudge = threading.Event()
        self.uids: list[int] = []
        self.seen_by: str | None = None
        self.error: Exception | None = None
        self._idling = False

    def prepare(self) -> None:
        self.client.select_folder(self.folder)
        self.idle = self.idle and self.client.has_capability("IDLE")
        self._enter_idle()

    def _enter_idle(self) -> None:
        if self.idle and not self._idling:
            self.client.idle()
            self._idling = True

    def _leave_idle(self) -> None:
        if self._idling:
            self._idling = False
            self.client.idle_done()

    def run(self, found: queue.Queue, stop: threading.Event, deadline: float) -> None:
        try:
            if self._wait(stop, deadline):
                found.put(self)
        except Exception as exc:  # reported by the main thread as an outcome
            self.error = exc
            found.put(self)

    def _wait(self, stop: threading.Event, deadline: float) -> bool:
        """Look when nudged, when IDLE announces a message, and every ``check_every`` once the
        message has left; True once the test message is there."""
        next_check: float | None = None  # no re-check before the submission is accepted
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                reason = self._next_reason(next_check)
                if reason is None:
                    continue
                if self._search():
                    self.seen_by = reason
                    return True
                next_check = time.monotonic() + self.check_every
            return False
        finally:
            with contextlib.suppress(IMAPClientError, OSError):
                self._leave_idle()

    def _next_reason(self, next_check: float | None) -> str | None:
        """Wait at most a tick; say why to look now ("submit", "check", "push") or None."""
        if self.nudge.is_set():
            self.nudge.clear()
            return "submit"
        now = time.monotonic()
        if next_check is not None and now >= next_check:
            return "check"
        wait = _TICK if next_check is None else min(_TICK, next_check - now)
        if not self.idle:
            self.nudge.wait(wait)
            return None
        responses = self.client.idle_check(timeout=wait)
        return "push" if any(len(r) > 1 and r[1] == b"EXISTS" for r in responses) else None

    def _search(self) -> bool:
        """NOOP + UID SEARCH for the test id (leaving IDLE for the time of the two commands)."""
        self._leave_idle()
        # NOOP first: SEARCH only sees the messages of the current view.
        self.client.noop()
        self.uids = list(self.client.search(self.criteria))
        if not self.uids:
            self._enter_idle()
        return bool(self.uids)


def _open_watches(
    account: MailAccount, criteria: list, check_every: float, prefer_idle: bool
) -> list[_Watch]:
    """INBOX, and the Junk folder (``balise.mail.folders``: flagged, else by its usual name)."""
    watches: list[_Watch] = []
    try:
        first = open_imap(account)
        watches.append(_Watch(first, "INBOX", criteria, check_every, prefer_idle))
        junk = special_folder(first.list_folders(), "junk")
        watches[0].prepare()
        if junk:
            watches.append(_Watch(open_imap(account), junk, criteria, check_every, prefer_idle))
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
    check_every: float = CHECK_EVERY,
) -> RoundTripResult:
    """Send from ``smtp_account`` to ``recipient`` (default: the IMAP account itself) and wait
    for the message in the recipient's INBOX or Junk folder, at most ``timeout`` seconds."""
    case = case or use_case(None)
    recipient = recipient or imap_account.email
    test_id = uuid.uuid4().hex
    result = RoundTripResult(test_id, smtp_account.email, recipient, case.id, utc_now())
    criteria = ["HEADER", TEST_ID_HEADER, test_id]
    try:
        watches = _open_watches(imap_account, criteria, check_every, prefer_idle)
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
    message = build_message(smtp_account.email, recipient, test_id, case, with_xdm, extra_headers)
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
        result.outcome, result.failed_step = RoundTripOutcome.TIMEOUT, "visible"
        result.message = (
            f"Le message de test n'est pas arrivé dans les {fr_seconds(timeout, None)}."
        )
        _notify(on_step, "visible", "failed", result.steps["visible"])
        return
    if hit.error is not None:
        result.failed_step = "visible"
        result.message = f"La surveillance du dossier {hit.folder} a échoué : {hit.error}."
        _notify(on_step, "visible", "failed", result.steps["visible"])
        return
    result.folder, result.seen_by = hit.folder, hit.seen_by
    inbox = hit.folder == "INBOX"
    result.outcome = RoundTripOutcome.PASSED if inbox else RoundTripOutcome.JUNK
    result.message = (
        "Message reçu dans la boîte de réception."
        if inbox
        else f"Message reçu, mais classé dans le dossier {hit.folder} (indésirables)."
    )
    _notify(on_step, "visible", "ok", result.steps["visible"])
    result.deleted = _delete(hit)


def _delete(watch: _Watch) -> bool:
    """Delete the matched test message only (UID EXPUNGE of its UID, or UIDs if the operator
    delivered it twice)."""
    try:
        watch.client.delete_messages(watch.uids)
        watch.client.uid_expunge(watch.uids)
        return True
    except Exception as exc:  # the test itself succeeded; cleanup is best effort
        log.warning("could not delete test message in %s: %s", watch.folder, type(exc).__name__)
        return False
