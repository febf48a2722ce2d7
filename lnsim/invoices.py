"""One node's invoice book, with real BOLT11 strings from pyln-proto's codec."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import coincurve
from pyln.proto.invoice import Invoice as Bolt11

from lnsim import errors
from lnsim.errors import MethodError

CURRENCY = "bcrt"
MSAT_PER_BTC = 100_000_000_000
BOLT11_DEFAULT_EXPIRY_S = 3600  # BOLT #11: no `x` field means one hour


@dataclass(frozen=True, slots=True)
class DecodedBolt11:
    payee: str
    payment_hash: str
    amount_msat: int | None
    created_at: int
    expiry_s: int
    description: str | None

    @property
    def expires_at(self) -> int:
        return self.created_at + self.expiry_s


def encode_bolt11(
    key: coincurve.PrivateKey, payment_hash: bytes, amount_msat: int | None,
    description: str, expiry_s: int, created_at: int, *, deschashonly: bool = False,
) -> str:
    amount_btc = None if amount_msat is None else Decimal(amount_msat) / MSAT_PER_BTC
    tags: list[tuple[str, Any]] = [("h" if deschashonly else "d", description), ("x", expiry_s)]
    inv = Bolt11(paymenthash=payment_hash, amount=amount_btc, currency=CURRENCY, tags=tags,
                 date=created_at)
    return str(inv.encode(key.secret.hex()))


def decode_bolt11(bolt11: str) -> DecodedBolt11:
    """Decode and check the signature; ValueError on anything that is not a usable invoice."""
    try:
        inv = Bolt11.decode(bolt11.strip())
    except (ValueError, TypeError, IndexError, AssertionError) as exc:
        raise ValueError(f"invalid bolt11: {exc}") from exc
    if inv.currency != CURRENCY:
        raise ValueError(f"invalid bolt11: currency {inv.currency!r}, this network uses "
                         f"{CURRENCY!r}")
    if inv.paymenthash is None or len(inv.paymenthash) != 32:
        raise ValueError("invalid bolt11: no payment hash")
    amount_msat = None
    if inv.amount is not None:
        msat = Decimal(inv.amount) * MSAT_PER_BTC
        if msat != msat.to_integral_value() or msat <= 0:
            raise ValueError(f"invalid bolt11: amount {inv.amount} BTC is not whole msat")
        amount_msat = int(msat)
    tags = dict(inv.tags)
    expiry = tags.get("x", BOLT11_DEFAULT_EXPIRY_S)
    desc = tags.get("d")
    return DecodedBolt11(
        payee=inv.hexpubkey, payment_hash=inv.hexpaymenthash, amount_msat=amount_msat,
        created_at=int(inv.date), expiry_s=int(expiry),
        description=desc if isinstance(desc, str) else None,
    )


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
        hold_cltv: int | None = None,
    ) -> InvoiceRecord:
        if label in self._by_label:
            raise MethodError(errors.INVOICE_LABEL_ALREADY_EXISTS, "Duplicate label")
        preimage = bytes.fromhex(preimage_hex) if preimage_hex else secrets.token_bytes(32)
        payment_hash = hashlib.sha256(preimage).hexdigest()
        if payment_hash in self._by_hash:
            raise MethodError(errors.INVOICE_PREIMAGE_ALREADY_EXISTS, "preimage already used")
        created_at = int(self.now())
        bolt11 = encode_bolt11(self._key, bytes.fromhex(payment_hash), amount_msat,
                               description, expiry_s, created_at, deschashonly=deschashonly)
        rec = InvoiceRecord(
            label=label, bolt11=bolt11, payment_hash=payment_hash,
            payment_secret=secrets.token_hex(32), preimage=preimage.hex(),
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
