"""A server that offers IDLE and never pushes: a TLS front for a sandbox's IMAP that passes every
byte except the untagged EXISTS/RECENT the server sends while the client is in IDLE.

Some operators' servers push every 60 s, or not at all, although they announce IDLE; Dovecot
always pushes at once (inotify), so the test puts this filter in front of it. Clients connect
with implicit TLS (the sandbox's own server certificate, so the test CA trusts it); the proxy
talks plain IMAP to Dovecot on loopback, which Dovecot treats as secured.

    with SilentIdleProxy(sandbox) as proxy:   # proxy.host, proxy.port; proxy.dropped: pushes eaten
        ...
"""

from __future__ import annotations

import asyncio
import re
import ssl
import threading

from sandbox.server import MailSandbox

_IDLE = re.compile(rb"^\S+ IDLE\r?\n$", re.IGNORECASE)
_PUSH = re.compile(rb"^\* \d+ (EXISTS|RECENT)\r?\n$", re.IGNORECASE)


class SilentIdleProxy:
    host = "127.0.0.1"

    def __init__(self, sandbox: MailSandbox):
        self.sandbox = sandbox
        self.port = 0
        self.dropped = 0  # pushes swallowed: proves the server did push and nobody heard it
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None

    def __enter__(self) -> SilentIdleProxy:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.sandbox.pki.server_cert, self.sandbox.pki.server_key)
        self._thread.start()
        start = asyncio.start_server(self._serve, self.host, 0, ssl=context, limit=2**20)
        self._server = asyncio.run_coroutine_threadsafe(start, self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *_exc) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    async def _serve(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter):
        server_in, server_out = await asyncio.open_connection(
            self.sandbox.host, self.sandbox.imap_port, limit=2**20
        )
        idling = [False]
        await asyncio.gather(
            self._pump(client_in, server_out, idling, upstream=True),
            self._pump(server_in, client_out, idling, upstream=False),
            return_exceptions=True,
        )

    async def _pump(self, source, sink, idling: list[bool], upstream: bool) -> None:
        try:
            while line := await source.readline():
                if upstream and _IDLE.match(line):
                    idling[0] = True
                elif upstream and line.strip().upper() == b"DONE":
                    idling[0] = False
                elif not upstream and idling[0] and _PUSH.match(line):
                    self.dropped += 1
                    continue
                sink.write(line)
                await sink.drain()
        finally:
            sink.close()
