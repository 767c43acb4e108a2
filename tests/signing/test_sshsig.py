"""SSHSIG signatures: crmctl and ssh-keygen accept each other's, and nothing else verifies."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from crmctl.errors import InputError
from crmctl.signing import (
    NAMESPACE_LOG,
    NAMESPACE_PACKAGE,
    SignatureError,
    SigningKey,
    allowed_signers_line,
    fingerprint,
    generate_key,
    signature_key,
    verify,
)

SSH_KEYGEN = shutil.which("ssh-keygen")
needs_ssh_keygen = pytest.mark.skipif(SSH_KEYGEN is None, reason="ssh-keygen is not installed")


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return generate_key(tmp_path / "keys" / "id_ed25519", "alice@example.com")


def test_generated_key_round_trips_through_its_files(key: SigningKey) -> None:
    assert key.path is not None
    assert key.path.stat().st_mode & 0o777 == 0o600
    loaded = SigningKey.load(key.path)
    assert loaded.public_key() == key.public_key() == key.path.with_suffix(".pub").read_text().strip()
    assert loaded.public_key().endswith(" alice@example.com")
    assert loaded.fingerprint() == fingerprint(key.public_key())


def test_generate_never_overwrites(key: SigningKey) -> None:
    assert key.path is not None
    with pytest.raises(InputError, match="never overwrites"):
        generate_key(key.path, "again")


def test_sign_and_verify(key: SigningKey) -> None:
    sig = key.sign(b"sha256:abc\n", NAMESPACE_PACKAGE)
    verify(sig, b"sha256:abc\n", NAMESPACE_PACKAGE, key.public_key())
    assert fingerprint(signature_key(sig)) == key.fingerprint()


@pytest.mark.parametrize(
    ("message", "namespace", "error"),
    [
        (b"sha256:abd\n", NAMESPACE_PACKAGE, "does not match"),
        (b"sha256:abc\n", NAMESPACE_LOG, "namespace"),
    ],
)
def test_other_message_or_namespace_fails(key: SigningKey, message: bytes, namespace: str, error: str) -> None:
    sig = key.sign(b"sha256:abc\n", NAMESPACE_PACKAGE)
    with pytest.raises(SignatureError, match=error):
        verify(sig, message, namespace, key.public_key())


def test_another_key_fails(key: SigningKey, tmp_path: Path) -> None:
    other = generate_key(tmp_path / "other", "mallory@example.com")
    sig = other.sign(b"m", NAMESPACE_PACKAGE)
    with pytest.raises(SignatureError, match="signed by"):
        verify(sig, b"m", NAMESPACE_PACKAGE, key.public_key())


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s.replace("BEGIN SSH SIGNATURE", "BEGIN PGP SIGNATURE"),
        lambda s: s.replace(s.splitlines()[2], "!!!!"),
        lambda s: "\n".join(s.splitlines()[:2] + s.splitlines()[-1:]),
    ],
)
def test_malformed_signatures_are_signature_errors(key: SigningKey, mangle: object) -> None:
    sig = key.sign(b"m", NAMESPACE_PACKAGE)
    with pytest.raises(SignatureError):
        verify(mangle(sig), b"m", NAMESPACE_PACKAGE, key.public_key())  # type: ignore[operator]


def test_only_ed25519_public_keys(key: SigningKey) -> None:
    with pytest.raises(InputError, match="ssh-ed25519"):
        fingerprint("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ")


@needs_ssh_keygen
def test_ssh_keygen_verifies_crmctl_signatures(key: SigningKey, tmp_path: Path) -> None:
    message = tmp_path / "digest"
    message.write_bytes(b"sha256:0123\n")
    (tmp_path / "sig").write_text(key.sign(message.read_bytes(), NAMESPACE_PACKAGE))
    (tmp_path / "allowed").write_text(allowed_signers_line("alice@example.com", key.public_key()) + "\n")
    args = [SSH_KEYGEN, "-Y", "verify", "-f", str(tmp_path / "allowed"), "-I", "alice@example.com"]
    args += ["-n", NAMESPACE_PACKAGE, "-s", str(tmp_path / "sig")]
    good = subprocess.run(args, input=message.read_bytes(), capture_output=True, check=False)
    assert good.returncode == 0, good.stderr
    bad = subprocess.run(args, input=b"sha256:0124\n", capture_output=True, check=False)
    assert bad.returncode != 0


@needs_ssh_keygen
def test_crmctl_verifies_ssh_keygen_signatures_and_loads_ssh_keys(tmp_path: Path) -> None:
    private = tmp_path / "id_ed25519"
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "bob@example.com", "-f", str(private)], check=True
    )
    (tmp_path / "m").write_bytes(b"hello")
    subprocess.run(
        [SSH_KEYGEN, "-Y", "sign", "-f", str(private), "-n", NAMESPACE_LOG, str(tmp_path / "m")],
        check=True,
        capture_output=True,
    )
    loaded = SigningKey.load(private)
    assert loaded.comment == "bob@example.com"
    verify((tmp_path / "m.sig").read_text(), b"hello", NAMESPACE_LOG, loaded.public_key())
    listed = subprocess.run([SSH_KEYGEN, "-lf", str(private)], capture_output=True, text=True, check=True).stdout
    assert loaded.fingerprint() in listed


@needs_ssh_keygen
def test_encrypted_ssh_key_needs_the_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    private = tmp_path / "id_ed25519"
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "s3cret", "-C", "c", "-f", str(private)], check=True)
    monkeypatch.delenv("CRMCTL_KEY_PASSPHRASE", raising=False)
    with pytest.raises(InputError, match="encrypted; set CRMCTL_KEY_PASSPHRASE"):
        SigningKey.load(private)
    monkeypatch.setenv("CRMCTL_KEY_PASSPHRASE", "s3cret")
    assert SigningKey.load(private).public_key().startswith("ssh-ed25519 ")


@pytest.mark.parametrize("kind", ["openssh", "pkcs8"])
def test_a_passphrase_set_for_another_key_does_not_lock_an_unencrypted_one(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CRMCTL_KEY_PASSPHRASE set (for some other, encrypted key) used to make an unencrypted key report "the key is
    encrypted": cryptography refuses a password for a key without one. ssh opens such a key; so does crmctl."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    private = tmp_path / "id_ed25519"
    encoding = Encoding.PEM
    layout = PrivateFormat.OpenSSH if kind == "openssh" else PrivateFormat.PKCS8
    private.write_bytes(Ed25519PrivateKey.generate().private_bytes(encoding, layout, NoEncryption()))
    private.chmod(0o600)
    monkeypatch.setenv("CRMCTL_KEY_PASSPHRASE", "for-another-key")
    assert SigningKey.load(private).public_key().startswith("ssh-ed25519 ")
    assert SigningKey.load(private, passphrase="explicit").public_key().startswith("ssh-ed25519 ")


def test_rsa_keys_are_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()
    )
    (tmp_path / "rsa").write_bytes(pem)
    (tmp_path / "rsa").chmod(0o600)
    with pytest.raises(InputError, match="only Ed25519"):
        SigningKey.load(tmp_path / "rsa")
