"""One node's invoice book, with BOLT11 strings as lightningd writes them (agent.crypto.bolt11):
payment secret, features (var_onion_optin, payment_secret, basic_mpp), `c`, `x`, `d`/`h`."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import coincurve

from agent.crypto import bolt11
from agent.crypto.bolt11 import Bolt11 as DecodedBolt11
from lnsim import errors
from lnsim.errors import MethodError

CURRENCY = "bcrt"
MIN_FINAL_CLTV_EXPIRY = 10  # lightningd's `cltv-final` off mainnet (options.c testnet_config)

__all__ = ["CURRENCY", "DecodedBolt11", "InvoiceBook", "InvoiceRecord", "decode_bolt11"]


def decode_bolt11(text: str) -> DecodedBolt11:
    """Decode and check the signature as lightningd's bolt11_decode does: ValueError with
    its wording on anything that is not a usable invoice on this network."""
    try:
        inv = bolt11.decode(text)
    except ValueError as exc:
        raise ValueError(str(exc)) from exc
    if inv.currency != CURRENCY:
        raise ValueError(f"Invoice is for a different chain ({inv.currency!r}, this network "
                         f"uses {CURRENCY!r})")
    if inv.payment_secret is None:
        raise ValueError("Missing required payment secret (s field)")
    return inv


@dataclass(slots=True)
class InvoiceRecord:
    label: str
    bolt11: str
    payment_hash: str
    payment_secret: str
    preimage: str
    amount_msat: int | None
    description: str
    expires_at: int
    created_index: int
    pay_index: int | None = None
    amount_received_msat: int | None = None
    paid_at: int | None = None
    updated_index: int | None = None
    hold_cltv: int | None = None  # set: a hold invoice (the holdinvoice plugin's)
    hold_state: str = "OPEN"  # OPEN, ACCEPTED, SETTLED, CANCELED
    hold_htlc_expiry: int | None = None
    paid: asyncio.Event = field(default_factory=asyncio.Event)
    decided: asyncio.Event = field(default_factory=asyncio.Event)  # hold: settle or cancel

    @property
    def is_hold(self) -> bool:
        return self.hold_cltv is not None

    def status(self, now: float) -> str:
        if self.pay_index is not None:
            return "paid"
        return "expired" if now >= self.expires_at else "unpaid"

    def to_json(self, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {
            "label": self.label, "bolt11": self.bolt11, "payment_hash": self.payment_hash,
            "status": self.status(now), "description": self.description,
            "expires_at": self.expires_at, "created_index": self.created_index,
        }
        if self.amount_msat is not None:
            out["amount_msat"] = self.amount_msat
        if self.pay_index is not None:
            out.update(pay_index=self.pay_index, amount_received_msat=self.amount_received_msat,
                       paid_at=self.paid_at, payment_preimage=self.preimage,
                       updated_index=self.updated_index)
        return out


class InvoiceBook:
    def __init__(self, key: coincurve.PrivateKey, clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self._clock = clock
        self._by_label: dict[str, InvoiceRecord] = {}
        self._by_hash: dict[str, InvoiceRecord] = {}
        self._pay_index = 0
        self._updated_index = 0

    def now(self) -> float:
        return self._clock()

    def create(
        self, label: str, amount_msat: int | None, description: str, expiry_s: int,
        preimage_hex: str | None = None, *, deschashonly: bool = False,
        cltv: int | None = None, hold_cltv: int | None = None,
    ) -> InvoiceRecord:
        if label in self._by_label:
            raise MethodError(errors.INVOICE_LABEL_ALREADY_EXISTS, f"Duplicate label '{label}'")
        preimage = bytes.fromhex(preimage_hex) if preimage_hex else secrets.token_bytes(32)
        payment_hash = hashlib.sha256(preimage).hexdigest()
        if payment_hash in self._by_hash:
            raise MethodError(errors.INVOICE_PREIMAGE_ALREADY_EXISTS, "preimage already used")
        created_at = int(self.now())
        payment_secret = secrets.token_bytes(32)
        text = bolt11.encode(
            self._key, currency=CURRENCY, amount_msat=amount_msat, timestamp=created_at,
            payment_hash=bytes.fromhex(payment_hash), payment_secret=payment_secret,
            description=description, deschashonly=deschashonly, expiry_s=expiry_s,
            min_final_cltv_expiry=hold_cltv or cltv or MIN_FINAL_CLTV_EXPIRY)
        rec = InvoiceRecord(
            label=label, bolt11=text, payment_hash=payment_hash,
            payment_secret=payment_secret.hex(), preimage=preimage.hex(),
            amount_msat=amount_msat, description=description,
            expires_at=created_at + expiry_s, created_index=len(self._by_label) + 1,
            hold_cltv=hold_cltv,
        )
        self.restore(rec)
        return rec

    def restore(self, rec: InvoiceRecord) -> None:
        """Add a record as it is (a new one, or one read back from the state file)."""
        self._by_label[rec.label] = rec
        self._by_hash[rec.payment_hash] = rec
        if rec.pay_index is not None:
            rec.paid.set()
            self._pay_index = max(self._pay_index, rec.pay_index)
        self._updated_index = max(self._updated_index, rec.updated_index or 0)
        if rec.hold_state in ("SETTLED", "CANCELED"):
            rec.decided.set()

    def by_label(self, label: str) -> InvoiceRecord | None:
        return self._by_label.get(label)

    def by_hash(self, payment_hash: str) -> InvoiceRecord | None:
        return self._by_hash.get(payment_hash)

    def all(self) -> list[InvoiceRecord]:
        return list(self._by_label.values())

    def can_accept(self, payment_hash: str, amount_msat: int) -> bool:
        """Would this node fulfil an HTLC for `payment_hash` carrying `amount_msat`?"""
        rec = self._by_hash.get(payment_hash)
        if rec is None or rec.status(self.now()) != "unpaid" or rec.hold_state == "CANCELED":
            return False
        return rec.amount_msat is None or amount_msat >= rec.amount_msat

    def mark_paid(self, payment_hash: str, amount_msat: int) -> InvoiceRecord:
        rec = self._by_hash[payment_hash]
        self._pay_index += 1
        self._updated_index += 1
        rec.pay_index = self._pay_index
        rec.updated_index = self._updated_index
        rec.amount_received_msat = amount_msat
        rec.paid_at = int(self.now())
        rec.paid.set()
        return rec

    async def wait(self, rec: InvoiceRecord) -> InvoiceRecord:
        """Until `rec` is paid (returned) or expires (MethodError 903)."""
        while rec.status(self.now()) == "unpaid":
            remaining = rec.expires_at - self.now()
            try:
                async with asyncio.timeout(max(0.0, remaining) + 0.01):
                    await rec.paid.wait()
            except TimeoutError:
                continue
        if rec.status(self.now()) == "expired":
            raise MethodError(errors.INVOICE_EXPIRED_DURING_WAIT, "invoice expired")
        return rec
