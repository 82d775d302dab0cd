"""Password hashes for Dovecot passwd-files: a file holds ``{SHA512-CRYPT}$6$...``, never the
password. The hash is made by Dovecot's own ``doveadm pw`` (the password on its standard input,
asked twice, never on the command line where ``ps`` would show it), so Dovecot reads exactly
what it wrote; Python's ``crypt`` module is deprecated and gone in 3.13."""

from __future__ import annotations

import subprocess
from pathlib import Path

SCHEME = "SHA512-CRYPT"


def sha512_crypt(password: str, config: Path | None = None) -> str:
    """``{SHA512-CRYPT}$6$<salt>$<hash>`` for ``password``; RuntimeError if doveadm fails."""
    options = ["-c", str(config)] if config else []
    done = subprocess.run(
        ["doveadm", *options, "pw", "-s", SCHEME],
        input=f"{password}\n{password}\n", capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or f"doveadm pw a échoué ({done.returncode})")
    hashed = done.stdout.strip()
    if not hashed.startswith(f"{{{SCHEME}}}$6$"):
        raise RuntimeError(f"doveadm pw a rendu une empreinte inattendue ({hashed[:16]}…)")
    return hashed
