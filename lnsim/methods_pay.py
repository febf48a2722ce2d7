"""Paying and looking at payments: pay, xpay, listsendpays, listpays, waitsendpay, decode.

Shapes and codes from doc/schemas/{pay,xpay,listsendpays,listpays,waitsendpay,decode}.json
and, where the schema lists fewer codes than the node returns, from plugins/xpay/xpay.c and
plugins/askrene (205 "Failed: ..." from the router, 206 over the fee budget; 209 once an
attempt has failed), as lightningd v26.06 answered them (tests/realnode, docs/lnsim.md).
As there, `pay` is handed to xpay (`xpay-handle-pay`, on by default) unless the node has
no xpay; then it is the old pay plugin (215 when the channels cannot carry it, 205 ...).
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import coincurve

from lnsim import errors
from lnsim.errors import MethodError
from lnsim.invoices import DecodedBolt11, decode_bolt11
from lnsim.network import Network, SendPay, SimNode
from lnsim.params import Params
from lnsim.payments import PayRequest, send

Json = dict[str, Any]


def decode_param(bolt11: str, name: str) -> DecodedBolt11:
    try:
        return decode_bolt11(bolt11)
    except ValueError as exc:
        raise MethodError(errors.INVALID_PARAMS, f"{name}: {exc}") from exc


def _decode_for_xpay(bolt11: str) -> DecodedBolt11:
    try:
        return decode_bolt11(bolt11)
    except ValueError as exc:
        raise MethodError(errors.INVALID_PARAMS, f"Invalid bolt11 invoice: {exc}") from exc


def _amount(inv: DecodedBolt11, amount_msat: int | None, *, xpay: bool = False) -> int:
    if inv.amount_msat is not None and amount_msat is not None:
        raise MethodError(errors.INVALID_PARAMS, "amount_msat unnecessary" if xpay
                          else "amount_msat parameter unnecessary")
    if inv.amount_msat is None and amount_msat is None:
        raise MethodError(errors.INVALID_PARAMS, "amount_msat required" if xpay
                          else "amount_msat parameter required")
    return inv.amount_msat if inv.amount_msat is not None else int(amount_msat or 0)


async def pay(net: Network, node: SimNode, p: Params) -> Json:
    if "xpay" not in net.options.disabled:
        return await _pay_by_xpay(net, node, p)
    bolt11 = p.str_("bolt11", required=True) or ""
    inv = decode_param(bolt11, "bolt11")
    amount = _amount(inv, p.msat("amount_msat"))
    if p.has("partial_msat"):
        raise MethodError(errors.INVALID_PARAMS, "partial_msat: not supported by lnsim")
    maxfee = p.msat("maxfee")
    percent, exempt = p.number("maxfeepercent"), p.msat("exemptfee")
    if maxfee is not None and (percent is not None or exempt is not None):
        raise MethodError(errors.INVALID_PARAMS, "maxfee: Cannot be specified with "
                         "maxfeepercent or exemptfee")
    if maxfee is None:  # pay.json defaults: maxfeepercent 0.5, exemptfee 5000msat
        budget = int(Decimal(amount) * (percent if percent is not None else Decimal("0.5")) / 100)
        maxfee = max(budget, exempt if exempt is not None else 5000)
    avoid = tuple(x for x in p.list_("exclude") if isinstance(x, str))
    sent = await send(net, PayRequest(node, inv, bolt11, amount, maxfee, xpay=False,
                                      avoid=avoid, label=p.str_("label")))
    return {"destination": sent.destination, "payment_hash": sent.payment_hash,
            "created_at": sent.created_at, "parts": 1, "amount_msat": sent.amount_msat,
            "amount_sent_msat": sent.amount_sent_msat, "payment_preimage": sent.preimage,
            "status": "complete"}


async def _pay_by_xpay(net: Network, node: SimNode, p: Params) -> Json:
    """`pay` as xpay takes it over: xpay's routing and errors, pay's answer; an invoice
    paid before answers complete at once; `exclude`, `riskfactor` and the like are
    ignored, as xpay does ("Unknown arg ..., xpay will ignore it")."""
    bolt11 = p.str_("bolt11", required=True) or ""
    inv = _decode_for_xpay(bolt11)
    amount = _amount(inv, p.msat("amount_msat"), xpay=True)
    maxfee = p.msat("maxfee")
    percent, exempt = p.number("maxfeepercent"), p.msat("exemptfee")
    if maxfee is None:  # xpay's calc_maxfee: pay's defaults, maxfeepercent 0.5, exemptfee 5000
        budget = int(Decimal(amount) * (percent if percent is not None else Decimal("0.5")) / 100)
        maxfee = max(budget, exempt if exempt is not None else 5000)
    p.list_("exclude")
    sent = await send(net, PayRequest(node, inv, bolt11, amount, maxfee, xpay=True,
                                      label=p.str_("label"), as_pay=True))
    return {"payment_preimage": sent.preimage, "amount_msat": sent.amount_msat,
            "amount_sent_msat": sent.amount_sent_msat, "parts": 1,
            "destination": sent.destination, "payment_hash": sent.payment_hash,
            "status": "complete", "created_at": float(net.clock())}


async def xpay(net: Network, node: SimNode, p: Params) -> Json:
    bolt11 = p.str_("invstring", required=True) or ""
    inv = _decode_for_xpay(bolt11)
    amount = _amount(inv, p.msat("amount_msat"), xpay=True)
    if p.has("partial_msat"):
        raise MethodError(errors.INVALID_PARAMS, "partial_msat: not supported by lnsim")
    maxfee = p.msat("maxfee")
    if maxfee is None:  # xpay.json default: 5000msat, or 1% (whatever is greater)
        maxfee = max(5000, amount // 100)
    lie = node.xpay_lie if node.xpay_lie is not None and node.xpay_lie.count > 0 else None
    if lie is not None:
        lie.count -= 1
    req = PayRequest(node, inv, bolt11, amount, maxfee, xpay=True, label=p.str_("label"),
                     return_when_locked=lie is not None and lie.mode == "while_pending")
    sent = await send(net, req)
    if lie is not None:  # injected: the node says it failed, whatever happened
        raise MethodError(lie.code, "Failed after 1 attempts. (lnsim: injected report of "
                          f"failure, payment {sent.status})")
    return {"payment_preimage": sent.preimage, "failed_parts": _failed_parts(node, sent),
            "successful_parts": 1, "amount_msat": sent.amount_msat,
            "amount_sent_msat": sent.amount_sent_msat}


def _failed_parts(node: SimNode, sent: SendPay) -> int:
    return sum(1 for s in node.sendpays
               if s.groupid == sent.groupid and s.payment_hash == sent.payment_hash
               and s.status == "failed")


def _hash_filter(p: Params) -> tuple[str | None, str | None]:
    bolt11, payment_hash, status = p.str_("bolt11"), p.str_("payment_hash"), p.str_("status")
    if bolt11 is not None and payment_hash is not None:
        raise MethodError(errors.INVALID_PARAMS, "Can only specify one of {bolt11} or "
                         "{payment_hash}")
    if status not in (None, "pending", "complete", "failed"):
        raise MethodError(errors.INVALID_PARAMS, f"status: unknown status {status!r}")
    if bolt11 is not None:
        payment_hash = decode_param(bolt11, "bolt11").payment_hash
    return payment_hash, status


async def listsendpays(net: Network, node: SimNode, p: Params) -> Json:
    payment_hash, status = _hash_filter(p)
    pays = [s.to_json() for s in node.sendpays
            if payment_hash in (None, s.payment_hash) and status in (None, s.status)]
    return {"payments": pays}


async def listpays(net: Network, node: SimNode, p: Params) -> Json:
    """One entry per payment (hash and groupid), its parts summed (listpays.json)."""
    payment_hash, status = _hash_filter(p)
    groups: dict[tuple[str, int], list[SendPay]] = {}
    for s in node.sendpays:
        if payment_hash in (None, s.payment_hash):
            groups.setdefault((s.payment_hash, s.groupid), []).append(s)
    out = [entry for parts in groups.values()
           if status in (None, (entry := _pay_entry(parts))["status"])]
    out.sort(key=lambda e: (e["created_at"], e["created_index"]))
    return {"pays": out}


def _pay_entry(parts: list[SendPay]) -> Json:
    first = parts[0]
    done = [s for s in parts if s.status == "complete"]
    state = ("complete" if done else
             "pending" if any(s.status == "pending" for s in parts) else "failed")
    entry: Json = {"payment_hash": first.payment_hash, "status": state,
                   "destination": first.destination, "created_at": first.created_at,
                   "created_index": first.created_index}
    if first.bolt11:
        entry["bolt11"] = first.bolt11
    if first.label is not None:
        entry["label"] = first.label
    last = max((s.updated_index or 0 for s in parts), default=0)
    if last:
        entry["updated_index"] = last
    if state == "complete":
        entry.update(amount_msat=sum(s.amount_msat for s in done),
                     amount_sent_msat=sum(s.amount_sent_msat for s in done),
                     preimage=done[0].preimage,
                     completed_at=max(s.completed_at or 0 for s in done))
        if len(done) > 1:  # plugins/xpay/listpays.c: only for more than one part
            entry["number_of_parts"] = len(done)
    elif state == "failed":
        entry["amount_sent_msat"] = parts[-1].amount_sent_msat
    return entry


async def waitsendpay(net: Network, node: SimNode, p: Params) -> Json:
    payment_hash = p.str_("payment_hash", required=True) or ""
    timeout = p.int_("timeout")
    partid, groupid = p.int_("partid") or 0, p.int_("groupid")
    mine = [s for s in node.sendpays if s.payment_hash == payment_hash]
    if groupid is None:  # lightningd: the latest group of this hash (the highest id)
        groupid = max((s.groupid for s in mine), default=0)
    # partid defaults to 0, so xpay's parts (numbered from 1) are not waited for: 208
    parts = [s for s in mine if s.partid == partid and s.groupid == groupid]
    if not parts:
        raise MethodError(errors.PAY_NO_SUCH_PAYMENT,
                          f"Never attempted payment part {partid} for '{payment_hash}'")
    part = next((s for s in parts if s.status == "complete"), parts[-1])
    if part.status == "pending":
        try:
            async with asyncio.timeout(timeout):
                await part.done.wait()
        except TimeoutError as exc:
            raise MethodError(errors.PAY_IN_PROGRESS,
                              "Timed out while waiting") from exc
    if part.status == "complete":
        return part.to_json()
    code = part.failure_code or errors.PAY_TRY_OTHER_ROUTE
    return _raise_failed(code, part)


def _raise_failed(code: int, part: SendPay) -> Json:
    name = part.failure["failcodename"] if part.failure else "unknown"
    raise MethodError(code, f"failed: {name}", part.failure)


def decoded_json(inv: DecodedBolt11) -> Json:
    """decode.json's bolt11 fields, in common/bolt11_json.c's order."""
    out: Json = {"currency": inv.currency, "created_at": inv.timestamp, "expiry": inv.expiry_s,
                 "payee": inv.payee}
    if inv.amount_msat is not None:
        out["amount_msat"] = inv.amount_msat
    if inv.description is not None:
        out["description"] = inv.description
    if inv.description_hash is not None:
        out["description_hash"] = inv.description_hash
    out["min_final_cltv_expiry"] = inv.min_final_cltv_expiry
    if inv.payment_secret is not None:
        out["payment_secret"] = inv.payment_secret
    if inv.features:
        out["features"] = _features_hex(inv.features)
    out.update(payment_hash=inv.payment_hash, signature=_signature_der_hex(inv.signature))
    return out


def _features_hex(features: int) -> str:
    return features.to_bytes(-(-features.bit_length() // 8), "big").hex()


def _signature_der_hex(signature: bytes) -> str:
    """The invoice's signature, DER-encoded as decode.json shows it."""
    sig = coincurve.ecdsa.recoverable_convert(coincurve.ecdsa.deserialize_recoverable(signature))
    return bytes(coincurve.ecdsa.cdata_to_der(sig)).hex()


async def decode(net: Network, node: SimNode, p: Params) -> Json:
    string = p.str_("string", required=True) or ""
    try:
        inv = decode_bolt11(string)
    except ValueError as exc:  # command_fail_badparam's wording (plugins/offers.c)
        raise MethodError(errors.INVALID_PARAMS,
                          f"string: {exc}: invalid token '{json.dumps(string)}'") from exc
    return {"type": "bolt11 invoice", **decoded_json(inv), "valid": True}


async def decodepay(net: Network, node: SimNode, p: Params) -> Json:
    bolt11 = p.str_("bolt11", required=True) or ""
    return decoded_json(decode_param(bolt11, "bolt11"))
