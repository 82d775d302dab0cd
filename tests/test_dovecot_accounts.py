"""The two passwd-file layouts of the ``dovecot`` backend, on real files (Dovecot itself reads
them in tests/test_provisioning.py): same accounts through either, and names that would escape
the directory or break a line are refused before anything is written."""

from __future__ import annotations

import pytest

from balise.mail.dovecot_accounts import PasswdDirectory, PasswdFile, passwd_files

HASH = "{SHA512-CRYPT}$6$sel$empreinte"


def test_one_file_and_one_file_per_account_hold_the_same_accounts(tmp_path):
    (tmp_path / "users").write_text("# comptes\n")
    (tmp_path / "users.d").mkdir()
    single, per_account = passwd_files(tmp_path / "users"), passwd_files(tmp_path / "users.d/%u")
    assert isinstance(single, PasswdFile) and isinstance(per_account, PasswdDirectory)
    for files in (single, per_account):
        files.add({"Jeanne@Ehpad.mssante.fr": HASH, "soins@ehpad.mssante.fr": HASH})
        assert files.users() == {"jeanne@ehpad.mssante.fr", "soins@ehpad.mssante.fr"}
        files.remove(["JEANNE@ehpad.mssante.fr"])
        assert files.users() == {"soins@ehpad.mssante.fr"}
    assert (tmp_path / "users").read_text() == f"# comptes\nsoins@ehpad.mssante.fr:{HASH}::::::\n"
    account = tmp_path / "users.d" / "soins@ehpad.mssante.fr"
    assert account.read_text() == f"soins@ehpad.mssante.fr:{HASH}::::::\n"
    assert account.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("address", ["../x@y.fr", "a:b@y.fr", "a@y.fr\nroot", ".cache@y.fr", "x"])
def test_a_name_that_escapes_or_breaks_the_file_is_refused_before_writing(tmp_path, address):
    (tmp_path / "users").write_text("")
    for files in (PasswdFile(tmp_path / "users"), PasswdDirectory(tmp_path)):
        with pytest.raises(ValueError, match="adresse impossible"):
            files.add({"ok@y.fr": HASH, address: HASH})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["users"]
    assert (tmp_path / "users").read_text() == ""


def test_percent_u_only_as_the_file_name(tmp_path):
    with pytest.raises(ValueError, match="« %u » ne peut être que le nom du fichier"):
        passwd_files(tmp_path / "%u" / "users")
