"""The key file and the values it encrypts."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cadenza.encryption import SecretKey, configured_key, is_encrypted, write_key_file
from cadenza.model.errors import EncryptionKeyError, Undecryptable


def test_a_value_round_trips_and_is_not_stored_in_clear(tmp_path: Path) -> None:
    key = write_key_file(tmp_path / "key")
    sealed = key.encrypt("hunter2 ✓")
    assert is_encrypted(sealed) and "hunter2" not in sealed
    assert SecretKey.from_file(tmp_path / "key").decrypt(sealed) == "hunter2 ✓"


def test_the_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    write_key_file(tmp_path / "key")
    assert stat.S_IMODE((tmp_path / "key").stat().st_mode) == 0o600
    with pytest.raises(EncryptionKeyError, match="exists already"):
        write_key_file(tmp_path / "key")


def test_another_key_or_a_changed_value_is_refused_by_name(tmp_path: Path) -> None:
    sealed = write_key_file(tmp_path / "a").encrypt("x")
    other = write_key_file(tmp_path / "b")
    with pytest.raises(Undecryptable, match="key file"):
        other.decrypt(sealed)
    with pytest.raises(Undecryptable):
        SecretKey.from_file(tmp_path / "a").decrypt(sealed[:-4] + "AAAA")
    with pytest.raises(Undecryptable, match="no 'fernet:' prefix"):
        other.decrypt("plain")


def test_a_broken_or_missing_key_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bad").write_text("not a key")
    with pytest.raises(EncryptionKeyError, match="not a Fernet key") as err:
        SecretKey.from_file(tmp_path / "bad")
    assert err.value.code == "secret.key_invalid"
    with pytest.raises(EncryptionKeyError, match="Cannot read"):
        SecretKey.from_file(tmp_path / "missing")
    monkeypatch.delenv("CADENZA_KEY_FILE", raising=False)
    assert configured_key() is None
    write_key_file(tmp_path / "k")
    monkeypatch.setenv("CADENZA_KEY_FILE", str(tmp_path / "k"))
    assert configured_key() is not None
