"""Lightning node message signatures (Core Lightning `signmessage` / `checkmessage`).

The format all major implementations share (documented in the bLIP "General-purpose
Lightning signatures"): an ECDSA secp256k1 *recoverable* signature over
``sha256(sha256(b"Lightning Signed Message:" + message))``, encoded as 65 bytes —
``recid + 31``, then the 64-byte compact signature — and usually shown as zbase32.
Verification recovers the public key and compares it with the claimed node id, which is
what `checkmessage` does with a pubkey given. secp256k1 is coincurve's; zbase32 is
pyln-proto's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import coincurve
from pyln.proto import zbase32

PREFIX = b"Lightning Signed Message:"


def _digest(message: str) -> bytes:
    return hashlib.sha256(hashlib.sha256(PREFIX + message.encode()).digest()).digest()


@dataclass(frozen=True, slots=True)
class NodeSignature:
    signature: str  # 64-byte compact signature, hex
    recid: str      # recovery id, hex (one byte)
    zbase: str

    def as_json(self) -> dict[str, str]:
        return {"signature": self.signature, "recid": self.recid, "zbase": self.zbase}


def sign(secret: bytes, message: str) -> NodeSignature:
    raw = coincurve.PrivateKey(secret).sign_recoverable(_digest(message), hasher=None)
    compact, recid = raw[:64], raw[64]
    wire = bytes([recid + 31]) + compact
    return NodeSignature(compact.hex(), f"{recid:02x}", zbase32.encode(wire).decode())


def recover(message: str, zbase: str) -> str | None:
    """The node id (compressed pubkey hex) that signed `message`, or None if invalid."""
    try:
        wire = zbase32.decode(zbase)
    except Exception:  # pyln's zbase32 raises bare ValueError/KeyError/bitstring errors  # noqa: BLE001
        return None
    if len(wire) != 65 or not 31 <= wire[0] <= 34:
        return None
    raw = wire[1:] + bytes([wire[0] - 31])
    try:
        pub = coincurve.PublicKey.from_signature_and_message(raw, _digest(message), hasher=None)
    except (ValueError, TypeError):
        return None
    return pub.format(compressed=True).hex()


def verify(message: str, zbase: str, node_id: str) -> bool:
    return recover(message, zbase) == node_id
