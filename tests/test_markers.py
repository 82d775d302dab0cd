"""Every test that starts a real server carries its marker, whether its file remembered it or
not (tests/conftest.py adds it from the fixtures used): ``-m "not mail"`` leaves out every test
that needs Dovecot, and keeps the others."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _collected(*args: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {line.split("::")[1].split("[")[0] for line in out.stdout.splitlines() if "::" in line}


def test_not_mail_leaves_out_every_dovecot_test():
    kept = _collected("-m", "not mail", "tests/test_provisioning.py")
    # Started by the command itself (fixture sandbox_operator_dir), no marker written in the file.
    assert "test_cli_sandbox_provision_test_and_stop" not in kept
    assert "test_self_hosted_passwd_file_dovecot" not in kept
    assert "test_dovecot_backend_account_works_for_an_independent_client" not in kept
    assert "test_request_backend_writes_the_operator_batch_and_keeps_requested" in kept


def test_mail_selects_them():
    selected = _collected("-m", "mail", "tests/test_provisioning.py")
    assert "test_cli_sandbox_provision_test_and_stop" in selected
    assert "test_refusals_name_the_field" not in selected
