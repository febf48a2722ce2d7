"""SettlementNode on a Core Lightning node, through pyln-client's unix-socket RPC.

Every blocking call runs in a thread under a deadline, which its socket carries too
(agent/adapters/cln/rpc.py), so a node that never answers holds no thread. Errors are
translated here: unreachable or silent node -> NodeUnavailable; a spend-policy refusal
(the signer's) -> PolicyRefused; other refusals for good -> PaymentRefused; no route / fee
over the cap -> a retryable "failed" PaymentOutcome; expired or refused by the payee -> a
final one. Any error is first checked against `listsendpays`: a payment that completed or
is still in flight is reported as such (see agent/adapters/cln/errors.py and
docs/settlement.md).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from pathlib import Path
from typing import Any

from pyln.client import RpcError

from agent.adapters.cln import errors as errs
from agent.adapters.cln.rpc import DeadlineRpc
from agent.crypto import bolt11 as b11
from agent.ports import (
    DecodedInvoice,
    Invoice,
    InvoiceStatus,
    NodeUnavailable,
    PaymentOutcome,
    PaymentRefused,
    PolicyRefused,
)

_INVOICE_STATUSES: dict[str, InvoiceStatus] = {"unpaid": "unpaid", "paid": "paid",
                                               "expired": "expired"}


@functools.lru_cache(maxsize=512)
def decode_invoice(bolt11: str) -> DecodedInvoice:
    """Decode a BOLT11 string and check its signature; ValueError on anything else, and on
    an invoice a current Core Lightning refuses to pay: no payment secret (`s`), or a
    required feature bit it does not know (BOLT #11: "MUST NOT attempt a payment").

    ~0.33 ms of CPU (bench/bolt11.py); the negotiation, the payment and the reconciliation
    each decode a trade's invoice, so the answers for recent strings are kept (a pure
    function of the string: nothing to invalidate; errors are not kept)."""
    if not isinstance(bolt11, str) or not bolt11.strip():
        raise ValueError("invalid bolt11: empty")
    try:
        inv = b11.decode(bolt11)
    except ValueError as exc:
        raise ValueError(f"invalid bolt11: {exc}") from exc
    if inv.payment_secret is None:
        raise ValueError("invalid bolt11: no payment secret (s field); a current node "
                         "refuses to pay it")
    if unknown := inv.unknown_required_features():
        raise ValueError(f"invalid bolt11: unknown required feature bits {unknown}")
    return DecodedInvoice(payee=inv.payee, payment_hash=inv.payment_hash,
                          amount_msat=inv.amount_msat, expires_at=inv.expires_at)


def _check_preimage(payment_hash: str, preimage: str) -> None:
    """A payment is complete only with the preimage of its hash (the proof of payment)."""
    try:
        ok = hashlib.sha256(bytes.fromhex(preimage)).hexdigest() == payment_hash
    except ValueError:
        ok = False
    if not ok:
        raise PaymentRefused(f"payment {payment_hash}: node reported preimage {preimage!r} "
                             "that does not hash to it")


def _code(err: RpcError) -> int | None:
    return err.error.get("code") if isinstance(err.error, dict) else None


def _message(err: RpcError) -> str:
    return str(err.error.get("message", "")) if isinstance(err.error, dict) else str(err.error)


class ClnNode:
    """`SettlementNode` backed by one Core Lightning node's `lightning-rpc` socket."""

    def __init__(self, socket_path: str | Path, *, timeout_s: float = 10.0,
                 pay_timeout_s: float = 90.0) -> None:
        self._path = str(socket_path)
        self._rpcs: dict[float, DeadlineRpc] = {}
        self._timeout_s = timeout_s
        self._pay_timeout_s = pay_timeout_s
        self._has_xpay = True
        self._has_hold: bool | None = None
        self._node_id: str | None = None

    async def _call(self, method: str, payload: dict[str, Any],
                    timeout_s: float | None = None) -> dict[str, Any]:
        """One RPC; transport trouble becomes NodeUnavailable, RpcError with a code passes."""
        deadline = timeout_s or self._timeout_s
        rpc = self._rpcs.get(deadline)
        if rpc is None:
            rpc = self._rpcs[deadline] = DeadlineRpc(self._path, deadline)
        try:
            async with asyncio.timeout(deadline):
                result = await asyncio.to_thread(rpc.call, method, payload)
        except TimeoutError as exc:
            raise NodeUnavailable(f"{method} on {self._path}: no answer in time") from exc
        except OSError as exc:
            raise NodeUnavailable(f"{method} on {self._path}: {exc}") from exc
        except RpcError as exc:
            if _code(exc) is None:  # "Connection to RPC server lost."
                raise NodeUnavailable(f"{method} on {self._path}: {_message(exc)}") from exc
            raise
        except ValueError as exc:  # a reply pyln could not parse
            raise NodeUnavailable(f"{method} on {self._path}: bad reply: {exc}") from exc
        if not isinstance(result, dict):
            raise NodeUnavailable(f"{method} on {self._path}: reply is not an object")
        return result

    async def node_id(self) -> str:
        if self._node_id is None:
            self._node_id = str((await self._call("getinfo", {}))["id"])
        return self._node_id

    async def create_invoice(self, label: str, amount_msat: int, description: str,
                             expiry_s: int) -> Invoice:
        try:
            res = await self._call("invoice", {"amount_msat": amount_msat, "label": label,
                                               "description": description, "expiry": expiry_s})
        except RpcError as exc:
            if _code(exc) != errs.LABEL_ALREADY_EXISTS:
                raise PaymentRefused(f"invoice {label!r}: {_message(exc)}") from exc
            return await self._existing_invoice(label, amount_msat)
        return Invoice(label=label, bolt11=res["bolt11"], payment_hash=res["payment_hash"],
                       amount_msat=amount_msat, expires_at=int(res["expires_at"]))

    async def _existing_invoice(self, label: str, amount_msat: int) -> Invoice:
        found = (await self._call("listinvoices", {"label": label}))["invoices"]
        if not found:
            raise PaymentRefused(f"invoice {label!r}: label clash but no such invoice")
        inv = found[0]
        if inv.get("amount_msat") != amount_msat:
            raise PaymentRefused(f"invoice {label!r} exists for {inv.get('amount_msat')} msat, "
                                 f"not {amount_msat}")
        return Invoice(label=label, bolt11=inv["bolt11"], payment_hash=inv["payment_hash"],
                       amount_msat=amount_msat, expires_at=int(inv["expires_at"]))

    async def pay(self, bolt11: str, max_fee_msat: int) -> PaymentOutcome:
        """Pay `bolt11` (xpay, else pay) with at most `max_fee_msat` in fees.

        Whatever the node answers, a claim of failure is checked against `listsendpays`
        first: a payment that completed (or still has parts in flight) is never reported
        as failed, so the caller never retries one that went out."""
        try:
            payment_hash = decode_invoice(bolt11).payment_hash
        except ValueError as exc:
            raise PaymentRefused(str(exc)) from exc
        try:
            res = await self._send(bolt11, max_fee_msat)
        except NodeUnavailable:
            # The node may still be working on it: ask before claiming anything.
            known = await self.payment_status(payment_hash)
            if known is None:
                raise
            return known
        except RpcError as exc:
            return await self._outcome_of_error(payment_hash, exc)
        preimage = str(res["payment_preimage"])
        _check_preimage(payment_hash, preimage)
        return PaymentOutcome(status="complete", payment_hash=payment_hash, preimage=preimage,
                              amount_sent_msat=int(res["amount_sent_msat"]))

    async def _send(self, bolt11: str, max_fee_msat: int) -> dict[str, Any]:
        if self._has_xpay:
            try:
                return await self._call("xpay", {"invstring": bolt11, "maxfee": max_fee_msat},
                                        self._pay_timeout_s)
            except RpcError as exc:
                if _code(exc) != errs.METHOD_NOT_FOUND:
                    raise
                self._has_xpay = False
        return await self._call("pay", {"bolt11": bolt11, "maxfee": max_fee_msat},
                                self._pay_timeout_s)

    async def _outcome_of_error(self, payment_hash: str, exc: RpcError) -> PaymentOutcome:
        code, message = _code(exc), _message(exc)
        known = await self.payment_status(payment_hash)
        if known is not None and known.status != "failed":
            return known  # completed or still in flight, whatever the error said
        meaning = errs.meaning(code, message)
        if meaning == "policy":
            raise PolicyRefused(f"payment {payment_hash} refused by policy ({code}): {message}")
        if meaning == "in_progress":
            return PaymentOutcome(status="pending", payment_hash=payment_hash,
                                  error_code=code, message=message)
        if meaning in errs.RETRYABLE or meaning in ("expired", "destination"):
            return PaymentOutcome(status="failed", payment_hash=payment_hash, error_code=code,
                                  message=f"{meaning}: {message}",
                                  retryable=meaning in errs.RETRYABLE)
        # already_paid without a completed payment of ours, bad parameters, unknown codes
        raise PaymentRefused(f"payment {payment_hash} refused ({code}): {message}") from exc

    async def payment_status(self, payment_hash: str) -> PaymentOutcome | None:
        """What the node did with `payment_hash`: None if it never tried to pay it."""
        try:
            pays = (await self._call("listsendpays", {"payment_hash": payment_hash}))["payments"]
        except RpcError as exc:
            raise PaymentRefused(f"listsendpays {payment_hash}: {_message(exc)}") from exc
        if not pays:
            return None
        complete = [p for p in pays if p.get("status") == "complete"]
        if complete:
            preimage = complete[0].get("payment_preimage")
            if preimage is not None:
                _check_preimage(payment_hash, str(preimage))
            return PaymentOutcome(
                status="complete", payment_hash=payment_hash, preimage=preimage,
                amount_sent_msat=sum(int(p["amount_sent_msat"]) for p in complete))
        if any(p.get("status") == "pending" for p in pays):
            return PaymentOutcome(status="pending", payment_hash=payment_hash)
        return PaymentOutcome(status="failed", payment_hash=payment_hash,
                              message="every attempt failed")

    async def invoice_status(self, label: str) -> InvoiceStatus | None:
        try:
            found = (await self._call("listinvoices", {"label": label}))["invoices"]
        except RpcError as exc:
            raise PaymentRefused(f"listinvoices {label!r}: {_message(exc)}") from exc
        if not found:
            return None
        status = _INVOICE_STATUSES.get(str(found[0].get("status")))
        if status is None:
            raise PaymentRefused(f"invoice {label!r}: unexpected status {found[0]!r}")
        return status

    # --- hold invoices (the holdinvoice plugin, daywalker90/holdinvoice) ---------------

    async def has_hold_invoices(self) -> bool:
        """Whether the node runs the holdinvoice plugin: a lookup of an unknown hash is
        refused by the plugin, and is an unknown command (-32601) without it."""
        if self._has_hold is None:
            try:
                await self._call("holdinvoicelookup", {"payment_hash": "00" * 32})
                self._has_hold = True
            except RpcError as exc:
                self._has_hold = _code(exc) != errs.METHOD_NOT_FOUND
        return self._has_hold

    async def create_hold_invoice(self, label: str, amount_msat: int, description: str,
                                  expiry_s: int, cltv: int) -> Invoice:
        try:
            res = await self._call("holdinvoice", {
                "amount_msat": amount_msat, "label": label, "description": description,
                "expiry": expiry_s, "cltv": cltv})
        except RpcError as exc:
            if _code(exc) != errs.LABEL_ALREADY_EXISTS:
                raise PaymentRefused(f"holdinvoice {label!r}: {_message(exc)}") from exc
            return await self._existing_invoice(label, amount_msat)
        return Invoice(label=label, bolt11=res["bolt11"], payment_hash=res["payment_hash"],
                       amount_msat=amount_msat, expires_at=int(res["expires_at"]))

    async def hold_state(self, payment_hash: str) -> str | None:
        """OPEN, ACCEPTED, SETTLED or CANCELED; None if it is no hold invoice of ours."""
        try:
            res = await self._call("holdinvoicelookup", {"payment_hash": payment_hash})
        except RpcError as exc:
            if _code(exc) == errs.METHOD_NOT_FOUND:
                raise PaymentRefused("the node has no holdinvoice plugin") from exc
            return None
        return str(res["state"])

    async def settle_hold(self, payment_hash: str) -> None:
        await self._move_hold("holdinvoicesettle", payment_hash, "SETTLED")

    async def cancel_hold(self, payment_hash: str) -> None:
        await self._move_hold("holdinvoicecancel", payment_hash, "CANCELED")

    async def _move_hold(self, method: str, payment_hash: str, target: str) -> None:
        """Idempotent: a hold invoice already in `target` (an earlier run did it) is fine."""
        try:
            await self._call(method, {"payment_hash": payment_hash})
        except RpcError as exc:
            state = await self.hold_state(payment_hash)
            if state != target:
                raise PaymentRefused(f"{method} {payment_hash}: {_message(exc)} "
                                     f"(state {state})") from exc

    async def sign_message(self, message: str) -> str:
        """The node's `signmessage` signature of `message`, zbase32-encoded."""
        try:
            return str((await self._call("signmessage", {"message": message}))["zbase"])
        except RpcError as exc:
            raise PaymentRefused(f"signmessage refused: {_message(exc)}") from exc
