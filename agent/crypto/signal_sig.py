"""Ed25519 signatures on the coordinator's signal and roster.

The signed bytes are the signal's JSON with `sig` empty and `coordinator_key` set, so a
receiver re-encodes what it got with `sig` cleared and verifies against the key it trusts
(pinned in its config; the key in the message only says which one was used).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from agent.wire import Roster, Signal, encode

_Signed = TypeVar("_Signed", Signal, Roster)


def public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw).hex()


def sign_signal(signal: _Signed, key: Ed25519PrivateKey) -> _Signed:
    unsigned = signal.model_copy(update={"coordinator_key": public_hex(key), "sig": ""})
    return unsigned.model_copy(update={"sig": key.sign(encode(unsigned)).hex()})


def verify_signal(signal: Signal | Roster, trusted_key_hex: str) -> bool:
    """True when `signal` carries a valid signature by `trusted_key_hex`."""
    if not signal.sig or signal.coordinator_key != trusted_key_hex:
        return False
    unsigned = signal.model_copy(update={"sig": ""})
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(trusted_key_hex)).verify(
            bytes.fromhex(signal.sig), encode(unsigned))
    except (InvalidSignature, ValueError):
        return False
    return True


def load_or_create_key(path: Path | None) -> Ed25519PrivateKey:
    """The coordinator's key: read from `path` (raw 32-byte seed, hex), created there with
    mode 0600 when missing; a fresh in-memory key when `path` is None."""
    if path is None:
        return Ed25519PrivateKey.generate()
    if path.exists():
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(path.read_text().strip()))
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(seed.hex() + "\n")
    return key
