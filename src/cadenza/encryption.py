"""Encrypting values kept at rest: one symmetric key, read from a key file.

Cadenza encrypts the values people mark secret (datastore entries set with
``--encrypt``; ``$secret`` values of an execution's input, task parameters and
task results, and every stored text that holds one) with Fernet
(AES-128-CBC with an HMAC-SHA256 tag, from the ``cryptography`` package). The
key lives in a file outside the store — never in it, so a copied database
file does not carry the means to read its secrets. Where the key file is:

1. the ``key_file`` a caller passes (``--key-file`` on the command line);
2. else the ``CADENZA_KEY_FILE`` environment variable.

``cadenza keys create FILE`` writes a new key (readable by its owner only).
An encrypted value is a text: ``"fernet:" + token``, so it is told apart from
a plain value and survives JSON.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cadenza.model.errors import EncryptionKeyError, Undecryptable

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

#: The environment variable naming the key file.
KEY_FILE_VARIABLE = "CADENZA_KEY_FILE"

#: What every encrypted value starts with.
ENCRYPTED_PREFIX = "fernet:"


def _fernet(key: bytes) -> Fernet:
    """A Fernet of ``key``.

    ``cryptography`` is imported here, on the first key used, not with this module:
    its bindings take milliseconds to load, and most processes (a ``cadenza run``
    or ``cadenza worker`` without a key file) never read or write a secret.
    """
    from cryptography.fernet import Fernet

    return Fernet(key)


def is_encrypted(value: object) -> bool:
    """Whether ``value`` is a text this module encrypted."""
    return isinstance(value, str) and value.startswith(ENCRYPTED_PREFIX)


@dataclass(frozen=True)
class SecretKey:
    """A Fernet key: encrypts texts and decrypts what it encrypted."""

    key: bytes
    #: Where the key came from, for error messages (never the key itself).
    origin: str = "a key given in code"

    def __post_init__(self) -> None:
        try:
            _fernet(self.key)
        except (ValueError, TypeError) as exc:
            raise EncryptionKeyError(
                f"The key from {self.origin} is not a Fernet key "
                "(32 url-safe base64-encoded bytes); make one with `cadenza keys create FILE`.",
                origin=self.origin,
            ) from exc

    @classmethod
    def generate(cls) -> SecretKey:
        """A new random key."""
        from cryptography.fernet import Fernet  # see _fernet

        return cls(Fernet.generate_key(), origin="a new key")

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> SecretKey:
        """The key kept in the file at ``path``."""
        where = Path(path)
        try:
            text = where.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise EncryptionKeyError(
                f"Cannot read the key file {where}: {exc}", origin=str(where)
            ) from exc
        return cls(text.encode("ascii"), origin=f"the key file {where}")

    def encrypt(self, plain: str) -> str:
        """``plain`` encrypted, as ``"fernet:" + token``."""
        token = _fernet(self.key).encrypt(plain.encode("utf-8"))
        return ENCRYPTED_PREFIX + token.decode("ascii")

    def decrypt(self, value: str) -> str:
        """The plain text of a value :meth:`encrypt` made."""
        if not is_encrypted(value):
            raise Undecryptable("The value is not an encrypted value (it has no 'fernet:' prefix).")
        from cryptography.fernet import InvalidToken  # see _fernet

        try:
            plain = _fernet(self.key).decrypt(value[len(ENCRYPTED_PREFIX) :].encode("ascii"))
        except (InvalidToken, ValueError) as exc:
            raise Undecryptable(
                f"The value cannot be decrypted with the key from {self.origin}: "
                "it was encrypted with another key, or it was changed.",
                origin=self.origin,
            ) from exc
        return plain.decode("utf-8")


def write_key_file(path: str | os.PathLike[str]) -> SecretKey:
    """Create a new key in a new file at ``path``, readable by its owner only.

    Refuses to overwrite an existing file: a lost key makes every value it
    encrypted unreadable.
    """
    where = Path(path)
    key = SecretKey.generate()
    try:
        fd = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise EncryptionKeyError(
            f"The key file {where} exists already; a new key would make what the old one "
            "encrypted unreadable. Choose another path.",
            origin=str(where),
        ) from exc
    except OSError as exc:
        raise EncryptionKeyError(f"Cannot create the key file {where}: {exc}") from exc
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key.key.decode("ascii") + "\n")
    return SecretKey(key.key, origin=f"the key file {where}")


def configured_key(key_file: str | os.PathLike[str] | None = None) -> SecretKey | None:
    """The key named by ``key_file`` or ``CADENZA_KEY_FILE``; None when neither is set."""
    path = key_file or os.environ.get(KEY_FILE_VARIABLE)
    return SecretKey.from_file(path) if path else None
