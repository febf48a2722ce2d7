"""The agents' message signatures: an Ed25519 key per home, bound once to its Lightning node.

Every move on the wire is signed over its topic and its body, so a message replayed onto
another topic, or changed in any field, fails verification. The key is bound to the
home's node id by a node signature (`signmessage`) over a fixed binding statement, which
any peer checks offline (`lnsig.verify`) — the node's own key never signs each message.
Replays are refused by sequence number: strictly new per sender within a window, and
every move also carries a deadline after which it is void anyway.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)


def binding_statement(community: str, agent_id: str, pubkey_hex: str) -> str:
    return f"peerwatt-binding:v1:{community}:{agent_id}:{pubkey_hex}"


def canonical(topic: str, body: dict[str, Any]) -> bytes:
    """The signed bytes: the topic, a newline, the body as sorted compact JSON."""
    return topic.encode() + b"\n" + json.dumps(body, sort_keys=True, separators=(",", ":"),
                                               allow_nan=False).encode()


class Identity:
    """This home's signing key, kept in a 0600 file under the state dir."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.pubkey_hex = raw.hex()
        self._last_seq = 0

    @classmethod
    def load_or_create(cls, path: Path) -> Identity:
        if path.exists():
            return cls(Ed25519PrivateKey.from_private_bytes(path.read_bytes()))
        key = Ed25519PrivateKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))
        return cls(key)

    def next_seq(self) -> int:
        """Strictly increasing across restarts: wall-clock milliseconds, bumped if equal."""
        self._last_seq = max(self._last_seq + 1, int(time.time() * 1000))
        return self._last_seq

    def sign(self, topic: str, body: dict[str, Any]) -> str:
        return self._key.sign(canonical(topic, body)).hex()


@lru_cache(maxsize=4096)
def _public_key(pubkey_hex: str) -> Ed25519PublicKey:
    """A peer's key, parsed once (a pure function of the hex; bad hex raises each time)."""
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(pubkey_hex))


def verify(pubkey_hex: str, topic: str, body: dict[str, Any], sig_hex: str) -> bool:
    try:
        _public_key(pubkey_hex).verify(bytes.fromhex(sig_hex), canonical(topic, body))
    except (ValueError, InvalidSignature):
        return False
    return True


class ReplayGuard:
    """Accepts each (sender, seq) once; remembers the last `window` per sender and refuses
    anything older than the oldest it still remembers."""

    def __init__(self, window: int = 1024) -> None:
        self._window = window
        self._seen: dict[str, tuple[set[int], deque[int]]] = {}

    def fresh(self, sender: str, seq: int) -> bool:
        seen, order = self._seen.setdefault(sender, (set(), deque()))
        if seq in seen or (len(order) >= self._window and seq < order[0]):
            return False
        seen.add(seq)
        order.append(seq)
        if len(order) > self._window:
            seen.discard(order.popleft())
        return True
