"""The HTTPS side of a download: the server's certificate checked (the system's trust store,
plus a given CA bundle; TLS 1.2 minimum; never unverified), redirects followed to https only, the
whole exchange cut at a deadline (:class:`Deadline`), and each network failure told as a French
sentence (:class:`SourceError`). ``ingest.sources.download`` receives the body.
"""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from contextlib import suppress
from functools import partial

from balise.errors import ConfigurationError, SourceError
from balise.formatting import fr_seconds

log = logging.getLogger(__name__)

# Longest wait for any one network operation; the whole download has its own deadline.
TIMEOUT_S = 60.0

MSG_PLAIN_HTTP = "Adresse refusée : {url} n'est pas chiffrée ; utilisez une adresse https://."
MSG_CA_MISSING = "Fichier d'autorités de certification illisible : {path}"
MSG_CERT = (
    "Le certificat du serveur {host} n'est pas reconnu : indiquez l'autorité de certification "
    "qui l'a émis (option --ca-bundle ; pour l'ANS, l'AC racine IGC-Santé)."
)
MSG_TLS = "La connexion sécurisée avec {host} a échoué (TLS 1.2 minimum)."
MSG_STATUS = "Le serveur {host} a refusé le téléchargement (code HTTP {status})."
MSG_UNREACHABLE = "Le serveur {host} est injoignable."
MSG_TIMEOUT = "Le serveur {host} n'a pas répondu à temps."
MSG_LATE = (
    "Le téléchargement depuis {host} a dépassé le délai de {seconds} (option --timeout) : "
    "abandonné, rien n'est importé."
)
MSG_CUT = "Le téléchargement depuis {host} s'est interrompu ; rien n'est importé."

HEADERS = {"User-Agent": "balise (ingest MSSante/FINESS)"}


class Deadline:
    """A wall-clock limit for a whole exchange. When it passes, the sockets opened for it are
    shut down: that wakes a read blocked on a server that trickles bytes or says nothing (a
    per-read timeout alone lets one byte every few seconds go on for ever)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._watched: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()
        with self._lock:
            for sock in self._watched:
                sock.close()
            self._watched.clear()

    def watch(self, sock: socket.socket) -> None:
        """Watch ``sock`` through a duplicate of its descriptor: TLS wrapping detaches the
        original object, the duplicate stays ours (and open) until the deadline is left."""
        with self._lock:
            self._watched.append(sock.dup())
            if self.expired:
                self._shutdown()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._shutdown()

    def _shutdown(self) -> None:
        for sock in self._watched:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _WatchedConnection(http.client.HTTPSConnection):
    """An HTTPS connection whose socket a :class:`Deadline` can cut, from the TCP connect on
    (so a handshake or headers sent a byte at a time are cut too)."""

    def __init__(self, *args, deadline: Deadline, **kwargs):
        super().__init__(*args, **kwargs)
        plain = self._create_connection  # http.client's hook for making the TCP socket

        def create_connection(*a, **k) -> socket.socket:
            sock = plain(*a, **k)
            deadline.watch(sock)
            return sock

        self._create_connection = create_connection


class _DeadlineHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, context: ssl.SSLContext, deadline: Deadline):
        super().__init__(context=context)
        self._tls = context
        self._deadline = deadline

    def https_open(self, req):
        connection = partial(_WatchedConnection, deadline=self._deadline)
        return self.do_open(connection, req, context=self._tls)


class _HttpsOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but never from https to plain http."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urllib.parse.urlsplit(newurl).scheme.lower() != "https":
            raise SourceError(MSG_PLAIN_HTTP.format(url=newurl))
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """The system's trust store, plus ``ca_bundle`` when given: one setting serves the ANS
    server (IGC-Santé, in no public store) and the data.gouv.fr mirror (a public authority)."""
    context = ssl.create_default_context()
    if ca_bundle:
        try:
            context.load_verify_locations(cafile=ca_bundle)
        except (OSError, ssl.SSLError):
            raise ConfigurationError(MSG_CA_MISSING.format(path=ca_bundle)) from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def host_of(url: str) -> str:
    return urllib.parse.urlsplit(url).hostname or url


def open_request(request: urllib.request.Request, ca_bundle: str | None, deadline: Deadline):
    """Open ``request`` with certificate checks, cut at ``deadline``; network failures become
    French SourceErrors. A conditional request the server answers ``304 Not Modified`` (after
    any redirect) gives None."""
    host = host_of(request.full_url)
    opener = urllib.request.build_opener(
        _DeadlineHTTPSHandler(tls_context(ca_bundle), deadline), _HttpsOnlyRedirects
    )
    try:
        return opener.open(request, timeout=min(TIMEOUT_S, deadline.seconds))
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 304 and _is_conditional(request):
            return None
        raise SourceError(MSG_STATUS.format(host=host, status=exc.code)) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise SourceError(network_failure(request.full_url, exc, deadline)) from None


def network_failure(url: str, exc: Exception, deadline: Deadline) -> str:
    """The French sentence for a failed exchange with the server of ``url``."""
    log.warning("download of %s failed: %r", url, exc)
    host = host_of(url)
    if deadline.expired:
        return MSG_LATE.format(host=host, seconds=fr_seconds(deadline.seconds, None))
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ssl.SSLCertVerificationError):
        return MSG_CERT.format(host=host)
    if isinstance(reason, ssl.SSLError):
        return MSG_TLS.format(host=host)
    if isinstance(reason, TimeoutError):
        return MSG_TIMEOUT.format(host=host)
    if isinstance(exc, urllib.error.URLError):  # no connection was made
        return MSG_UNREACHABLE.format(host=host)
    return MSG_CUT.format(host=host)


def _is_conditional(request: urllib.request.Request) -> bool:
    return any(request.has_header(h) for h in ("If-none-match", "If-modified-since"))
