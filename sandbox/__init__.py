"""The sandbox operator and the throw-away servers of the tests, benchmarks and ``make run``.

Not the product: Balise's core (``balise``), ``ingest`` and ``dashboard`` never import it (an
import-linter contract checks it). It plugs itself into the ``balise`` host through entry
points: the ``balise sandbox`` commands (``sandbox.cli``) and the round-trip access to the BALs
provisioned on it (``sandbox.access``). Its dependencies (aiosmtpd) are in the ``dev`` extra.

- ``server``: ``MailSandbox``, a real Dovecot on loopback speaking every MSSanté auth mode, with
  ``dovecot_config`` (template and other operators' variants), ``tokens`` (Pro Santé Connect's
  part), ``relay`` (submission -> LMTP, optional delay), ``pki`` (IGC-Santé's part), ``ports``;
- ``operator``: the sandbox as a background service for ``make run``;
- ``activity``: the demo mailbox activity of ``make run``;
- ``harness``: a throw-away sandbox, accounts and placeholder messages for tests and benches;
- ``postgres``: a throw-away PostgreSQL server for tests and benches.
"""
