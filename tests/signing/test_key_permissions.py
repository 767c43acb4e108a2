"""A private key its owner lets group or others read is refused, exactly where ssh and `ssh-keygen -Y sign` refuse.

OpenSSH's rule (sshkey_perm_ok): a key file owned by the current user with any group or other permission bit is
"UNPROTECTED" and ignored; a key owned by someone else is not checked. crmctl signs the registry's log with such a
key, so it refuses the same keys, as root too (root owns its own keys).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from crmctl.cli.main import run
from crmctl.errors import InputError
from crmctl.signing import SigningKey, generate_key

SSH_KEYGEN = shutil.which("ssh-keygen")
MODES = [0o600, 0o400, 0o700, 0o640, 0o604, 0o644, 0o660, 0o620, 0o602, 0o666, 0o777]
TOO_OPEN = {mode for mode in MODES if mode & 0o077}


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return generate_key(tmp_path / "keys" / "id_ed25519", "alice@example.com").path or Path()


@pytest.mark.parametrize("mode", MODES, ids=lambda m: f"{m:04o}")
def test_a_key_readable_by_group_or_others_is_refused(key_path: Path, mode: int) -> None:
    key_path.chmod(mode)
    if mode in TOO_OPEN:
        with pytest.raises(InputError) as refused:
            SigningKey.load(key_path)
        assert f"permissions {mode:04o} are too open" in refused.value.message
        assert refused.value.hint == f"chmod 600 {key_path}"
    else:
        assert SigningKey.load(key_path).public_key().startswith("ssh-ed25519 ")


@pytest.mark.skipif(SSH_KEYGEN is None, reason="ssh-keygen is not installed")
@pytest.mark.parametrize("mode", MODES, ids=lambda m: f"{m:04o}")
def test_crmctl_and_ssh_keygen_refuse_the_same_keys(key_path: Path, tmp_path: Path, mode: int) -> None:
    assert SSH_KEYGEN is not None
    key_path.chmod(mode)
    message = tmp_path / "message"
    message.write_bytes(b"sha256:0\n")
    signed = subprocess.run(
        [SSH_KEYGEN, "-Y", "sign", "-f", str(key_path), "-n", "crmctl-package", str(message)],
        capture_output=True,
        check=False,
    )
    try:
        SigningKey.load(key_path)
        loaded = True
    except InputError:
        loaded = False
    assert loaded == (signed.returncode == 0), signed.stderr


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root can give a file away")
def test_a_key_owned_by_another_user_is_not_checked(key_path: Path) -> None:
    """ssh checks only the caller's own keys (a secret mounted into a job by another user is that user's choice)."""
    key_path.chmod(0o644)
    os.chown(key_path, 4242, 4242)
    assert SigningKey.load(key_path).public_key().startswith("ssh-ed25519 ")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root owns what it creates")
def test_as_an_ordinary_user_the_own_key_is_checked(key_path: Path) -> None:
    assert key_path.stat().st_uid == os.getuid()
    key_path.chmod(0o644)
    with pytest.raises(InputError, match="too open"):
        SigningKey.load(key_path)


def test_the_cli_refuses_to_sign_with_an_unprotected_key(
    key_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRMCTL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CRMCTL_STATE_DIR", str(tmp_path / "state"))
    registry = str(tmp_path / "reg")
    key_path.chmod(0o644)
    code = run(["registry", "init", registry, "--key", str(key_path), "--identity", "alice@example.com"])
    err = capsys.readouterr().err
    assert code == 2 and "are too open" in err and "chmod 600" in err
    assert not Path(registry).exists()
    assert run(["keys", "show", str(key_path)]) == 2


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_or_a_directory_in_the_keys_place_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(InputError, match="not a regular file"):
        SigningKey.load(fifo)
    with pytest.raises(InputError, match="cannot read signing key"):
        SigningKey.load(tmp_path)
    with pytest.raises(InputError, match="cannot read signing key"):
        SigningKey.load(tmp_path / "missing")
