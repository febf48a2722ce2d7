"""Receiving: invoice, listinvoices, waitinvoice, and the holdinvoice plugin's four methods.

`invoice` and friends follow doc/schemas/{invoice,listinvoices,waitinvoice}.json. The hold
methods follow daywalker90/holdinvoice (v3): `holdinvoice` takes `invoice`'s parameters plus
a required `cltv` and answers as `invoice` does; settle/cancel/lookup take `payment_hash`
and answer `{"state": ...}` with OPEN / ACCEPTED / SETTLED / CANCELED; a wrong state or an
unknown hash is error -32602 with the plugin's wording. A payment to a hold invoice stays
pending at the payer until the invoice is settled or canceled (or the plugin's
auto-cancel fires `holdinvoice-cancel-before-invoice-expiry` seconds before expiry).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from lnsim import errors
from lnsim.errors import MethodError
from lnsim.invoices import InvoiceRecord
from lnsim.network import Network, SimNode
from lnsim.params import Params
from lnsim.payments import set_hold_state

Json = dict[str, Any]
DEFAULT_INVOICE_EXPIRY_S = 604_800  # invoice.json: one week
INVOICE_PARAMS = ("amount_msat", "label", "description", "expiry", "fallbacks", "preimage",
                  "exposeprivatechannels", "cltv", "deschashonly")
HOLD_PARAMS = ("amount_msat", "label", "description", "expiry", "fallbacks", "preimage",
               "cltv", "deschashonly")
HOLD_LOOKUP_WAIT_S = 20.0  # holdinvoicelookup waits this long for settle/cancel to finish
_TRANSITIONS = {"OPEN": {"ACCEPTED", "CANCELED"}, "ACCEPTED": {"SETTLED", "CANCELED"}}


def _is_hex(s: str) -> bool:
    try:
        bytes.fromhex(s)
    except ValueError:
        return False
    return True


def _create(net: Network, node: SimNode, p: Params, hold_cltv: int | None,
            cltv: int | None = None) -> Json:
    amount = p.msat("amount_msat", required=True, allow_any=True)
    label = p.label("label")
    description = p.str_("description", required=True) or ""
    expiry = p.int_("expiry") or DEFAULT_INVOICE_EXPIRY_S
    preimage = p.str_("preimage")
    if amount == 0:
        raise MethodError(errors.INVALID_PARAMS,
                          "amount_msat: should be positive msat or 'any': invalid token '0'")
    if preimage is not None and (len(preimage) != 64 or not _is_hex(preimage)):
        raise MethodError(errors.INVALID_PARAMS, "preimage: should be 64 hex digits")
    rec = node.invoices.create(label, amount, description, expiry, preimage,
                               deschashonly=p.bool_("deschashonly", False), cltv=cltv,
                               hold_cltv=hold_cltv)
    net.touch_invoice(node, rec)
    out: Json = {"bolt11": rec.bolt11, "payment_hash": rec.payment_hash,
                 "payment_secret": rec.payment_secret, "expires_at": rec.expires_at,
                 "created_index": rec.created_index}
    inbound = sum(c.receivable_msat(node.id) for c in net.graph.channels_of(node.id))
    if amount is not None and amount > inbound:  # lightningd/invoice.c's warnings
        out["warning_capacity"] = "Insufficient incoming channel capacity to pay invoice"
    return out


async def invoice(net: Network, node: SimNode, p: Params) -> Json:
    return _create(net, node, p, None, p.int_("cltv"))


async def listinvoices(net: Network, node: SimNode, p: Params) -> Json:
    label = p.label("label") if p.has("label") else None
    invstring, payment_hash = p.str_("invstring"), p.str_("payment_hash")
    if sum(x is not None for x in (label, invstring, payment_hash, p.str_("offer_id"))) > 1:
        raise MethodError(errors.INVALID_PARAMS, "Can only specify one of {label}, {invstring}, "
                         "{payment_hash} or {offer_id}")
    now = net.clock()
    recs = [r for r in node.invoices.all() if label in (None, r.label)
            and invstring in (None, r.bolt11) and payment_hash in (None, r.payment_hash)]
    return {"invoices": [r.to_json(now) for r in recs]}


async def waitinvoice(net: Network, node: SimNode, p: Params) -> Json:
    rec = node.invoices.by_label(p.label("label"))
    if rec is None:
        raise MethodError(errors.LIGHTNINGD, "Label not found")
    return (await node.invoices.wait(rec)).to_json(net.clock())


async def holdinvoice(net: Network, node: SimNode, p: Params) -> Json:
    cltv = p.int_("cltv", required=True)
    return _create(net, node, p, cltv)


def _hold_record(node: SimNode, p: Params) -> InvoiceRecord:
    payment_hash = p.str_("payment_hash", required=True) or ""
    if len(payment_hash) != 64 or not _is_hex(payment_hash):
        raise MethodError(errors.INVALID_PARAMS, f"payment_hash: should be a 32 byte hex "
                          f"value: invalid token '{payment_hash}'")
    rec = node.invoices.by_hash(payment_hash)
    if rec is None or not rec.is_hold:
        raise MethodError(errors.INVALID_PARAMS, f"payment_hash '{payment_hash}' not found")
    return rec


def _expire_if_due(net: Network, node: SimNode, rec: InvoiceRecord) -> None:
    if rec.hold_state == "OPEN" and rec.status(net.clock()) == "expired":
        set_hold_state(net, node, rec, "CANCELED")


def _move(net: Network, node: SimNode, p: Params, state: str) -> Json:
    rec = _hold_record(node, p)
    _expire_if_due(net, node, rec)
    if state not in _TRANSITIONS.get(rec.hold_state, set()):
        raise MethodError(errors.INVALID_PARAMS,
                          f"Holdinvoice is in wrong state: '{rec.hold_state}'")
    set_hold_state(net, node, rec, state)
    return {"state": state}


async def holdinvoicesettle(net: Network, node: SimNode, p: Params) -> Json:
    return _move(net, node, p, "SETTLED")


async def holdinvoicecancel(net: Network, node: SimNode, p: Params) -> Json:
    return _move(net, node, p, "CANCELED")


async def holdinvoicelookup(net: Network, node: SimNode, p: Params) -> Json:
    rec = _hold_record(node, p)
    _expire_if_due(net, node, rec)
    if rec.hold_state == "SETTLED":  # as the plugin: wait until the invoice shows paid
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(HOLD_LOOKUP_WAIT_S):
                await rec.paid.wait()
    out: Json = {"state": rec.hold_state}
    if rec.hold_state == "ACCEPTED" and rec.hold_htlc_expiry is not None:
        out["htlc_expiry"] = rec.hold_htlc_expiry
    return out
