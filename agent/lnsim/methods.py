"""The Core Lightning methods one simulated node answers (shapes from doc/schemas/*.json)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from agent.crypto import lnsig
from agent.lnsim import errors
from agent.lnsim.errors import MethodError
from agent.lnsim.graph import Channel
from agent.lnsim.invoices import DecodedBolt11, decode_bolt11
from agent.lnsim.network import Network, SimNode
from agent.lnsim.params import Params

VERSION = "v26.06-lnsim"
BLOCKHEIGHT = 110
DEFAULT_INVOICE_EXPIRY_S = 604_800  # invoice.json: one week
Handler = Callable[[Network, SimNode, Params], Awaitable[dict[str, Any]]]
Json = dict[str, Any]


def _fake_hash(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


async def getinfo(net: Network, node: SimNode, p: Params) -> Json:
    chans = net.graph.channels_of(node.id)
    return {
        "id": node.id, "alias": node.name[:32], "color": node.id[2:8],
        "num_peers": len({c.peer_of(node.id) for c in chans}), "num_pending_channels": 0,
        "num_active_channels": len(chans), "num_inactive_channels": 0, "address": [],
        "binding": [{"type": "local socket", "socket": "lightning-rpc"}],
        "version": VERSION, "blockheight": BLOCKHEIGHT, "network": "regtest",
        "fees_collected_msat": node.fees_collected_msat,
        "lightning-dir": f"lnsim/{node.name}/regtest",
        "our_features": {"init": "08a0000a8a5961", "node": "88a0000a8a5961", "channel": "",
                         "invoice": "02000002024100"},
    }


def _channel_json(net: Network, node: SimNode, c: Channel) -> Json:
    peer = net.by_id[c.peer_of(node.id)]
    return {
        "peer_id": peer.id, "peer_connected": not peer.offline, "reestablished": True,
        "state": "CHANNELD_NORMAL", "opener": "local" if c.node_a == node.id else "remote",
        "features": ["option_static_remotekey", "option_anchors"], "private": False,
        "short_channel_id": c.scid, "direction": 0 if node.id < peer.id else 1,
        "channel_id": _fake_hash("channel", c.scid), "funding_txid": _fake_hash("fund", c.scid),
        "funding_outnum": 0, "total_msat": c.capacity_msat, "to_us_msat": c.balance_msat[node.id],
        "our_reserve_msat": c.reserve_msat, "their_reserve_msat": c.reserve_msat,
        "spendable_msat": c.spendable_msat(node.id), "receivable_msat": c.receivable_msat(node.id),
        "fee_base_msat": c.policy[node.id].base_msat,
        "fee_proportional_millionths": c.policy[node.id].ppm,
        "in_flight_msat": c.in_flight_msat[node.id], "htlcs": [],
    }


async def listpeerchannels(net: Network, node: SimNode, p: Params) -> Json:
    peer_id, scid, channel_id = p.str_("id"), p.str_("short_channel_id"), p.str_("channel_id")
    if sum(x is not None for x in (peer_id, scid, channel_id)) > 1:
        raise MethodError(errors.INVALID_PARAMS,
                         "Cannot specify more than one of id, short_channel_id, channel_id")
    out = [_channel_json(net, node, c) for c in net.graph.channels_of(node.id)]
    out = [c for c in out if peer_id in (None, c["peer_id"]) and scid in (None, c[
        "short_channel_id"]) and channel_id in (None, c["channel_id"])]
    return {"channels": out}


async def listfunds(net: Network, node: SimNode, p: Params) -> Json:
    p.bool_("spent", False)
    txid = _fake_hash("utxo", node.id)
    outputs = [{"txid": txid, "output": 0, "amount_msat": 10_000_000_000,
                "scriptpubkey": "0014" + txid[:40], "status": "confirmed",
                "blockheight": BLOCKHEIGHT - 9, "reserved": False}]
    channels = [{
        "peer_id": c["peer_id"], "connected": c["peer_connected"], "state": c["state"],
        "channel_id": c["channel_id"], "short_channel_id": c["short_channel_id"],
        "our_amount_msat": c["to_us_msat"], "amount_msat": c["total_msat"],
        "funding_txid": c["funding_txid"], "funding_output": c["funding_outnum"],
    } for c in (await listpeerchannels(net, node, Params({}, ())))["channels"]]
    return {"outputs": outputs, "channels": channels}


async def invoice(net: Network, node: SimNode, p: Params) -> Json:
    amount = p.msat("amount_msat", required=True, allow_any=True)
    label = p.label("label")
    description = p.str_("description", required=True) or ""
    expiry = p.int_("expiry") or DEFAULT_INVOICE_EXPIRY_S
    preimage = p.str_("preimage")
    if amount == 0:
        raise MethodError(errors.INVALID_PARAMS, "amount_msat: should be positive or 'any'")
    if preimage is not None and (len(preimage) != 64 or not _is_hex(preimage)):
        raise MethodError(errors.INVALID_PARAMS, "preimage: should be 64 hex digits")
    rec = node.invoices.create(label, amount, description, expiry, preimage,
                               deschashonly=p.bool_("deschashonly", False))
    return {"bolt11": rec.bolt11, "payment_hash": rec.payment_hash,
            "payment_secret": rec.payment_secret, "expires_at": rec.expires_at,
            "created_index": rec.created_index}


def _is_hex(s: str) -> bool:
    try:
        bytes.fromhex(s)
    except ValueError:
        return False
    return True


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


async def listsendpays(net: Network, node: SimNode, p: Params) -> Json:
    bolt11, payment_hash, status = p.str_("bolt11"), p.str_("payment_hash"), p.str_("status")
    if bolt11 is not None and payment_hash is not None:
        raise MethodError(errors.INVALID_PARAMS, "Can only specify one of {bolt11} or "
                         "{payment_hash}")
    if status not in (None, "pending", "complete", "failed"):
        raise MethodError(errors.INVALID_PARAMS, f"status: unknown status {status!r}")
    if bolt11 is not None:
        payment_hash = _decode(bolt11, "bolt11").payment_hash
    pays = [s.to_json() for s in node.sendpays
            if payment_hash in (None, s.payment_hash) and status in (None, s.status)]
    return {"payments": pays}


def _decode(bolt11: str, name: str) -> DecodedBolt11:
    try:
        return decode_bolt11(bolt11)
    except ValueError as exc:
        raise MethodError(errors.INVALID_PARAMS, f"{name}: {exc}") from exc


def _amount(inv: DecodedBolt11, amount_msat: int | None) -> int:
    if inv.amount_msat is not None and amount_msat is not None:
        raise MethodError(errors.INVALID_PARAMS, "amount_msat parameter unnecessary")
    if inv.amount_msat is None and amount_msat is None:
        raise MethodError(errors.INVALID_PARAMS, "amount_msat parameter required")
    return inv.amount_msat if inv.amount_msat is not None else int(amount_msat or 0)


async def pay(net: Network, node: SimNode, p: Params) -> Json:
    bolt11 = p.str_("bolt11", required=True) or ""
    inv = _decode(bolt11, "bolt11")
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
    avoid = [x for x in p.list_("exclude") if isinstance(x, str)]
    sent = await net.send(node, inv, bolt11, amount, maxfee, xpay=False, avoid=avoid,
                          fee_code=errors.PAY_ROUTE_TOO_EXPENSIVE, label=p.str_("label"))
    return {"destination": sent.destination, "payment_hash": sent.payment_hash,
            "created_at": sent.created_at, "parts": 1, "amount_msat": sent.amount_msat,
            "amount_sent_msat": sent.amount_sent_msat, "payment_preimage": sent.preimage,
            "status": "complete"}


async def xpay(net: Network, node: SimNode, p: Params) -> Json:
    bolt11 = p.str_("invstring", required=True) or ""
    inv = _decode(bolt11, "invstring")
    amount = _amount(inv, p.msat("amount_msat"))
    if p.has("partial_msat"):
        raise MethodError(errors.INVALID_PARAMS, "partial_msat: not supported by lnsim")
    maxfee = p.msat("maxfee")
    if maxfee is None:  # xpay.json default: 5000msat, or 1% (whatever is greater)
        maxfee = max(5000, amount // 100)
    # xpay.json lists no 206: a route over budget is one it could not find (205).
    sent = await net.send(node, inv, bolt11, amount, maxfee, xpay=True,
                          fee_code=errors.PAY_ROUTE_NOT_FOUND, label=p.str_("label"))
    return {"payment_preimage": sent.preimage, "failed_parts": 0, "successful_parts": 1,
            "amount_msat": sent.amount_msat, "amount_sent_msat": sent.amount_sent_msat}


async def notifications(net: Network, node: SimNode, p: Params) -> Json:
    p.bool_("enable", True)
    return {}


async def dev_set_offline(net: Network, node: SimNode, p: Params) -> Json:
    ref = p.str_("node", required=True) or ""
    target = net.find(ref)
    if target is None:
        raise MethodError(errors.INVALID_PARAMS, f"node: unknown node {ref!r}")
    offline = p.bool_("offline", True)
    await net.set_offline(target, offline)
    return {"node": target.name, "id": target.id, "offline": offline}


async def dev_delay_payments(net: Network, node: SimNode, p: Params) -> Json:
    delay = p.number("delay_s")
    if delay is None:
        raise MethodError(errors.INVALID_PARAMS, "delay_s: missing required parameter")
    ref = p.str_("node")
    target = node if ref is None else net.find(ref)
    if target is None:
        raise MethodError(errors.INVALID_PARAMS, f"node: unknown node {ref!r}")
    target.delay_s = float(delay)
    return {"node": target.name, "delay_s": target.delay_s}


async def signmessage(net: Network, node: SimNode, p: Params) -> Json:
    message = p.str_("message", required=True) or ""
    if len(message) >= 65536:
        raise MethodError(errors.INVALID_PARAMS, "message: must be less than 65536 characters")
    return lnsig.sign(node.key.secret, message).as_json()


async def checkmessage(net: Network, node: SimNode, p: Params) -> Json:
    message = p.str_("message", required=True) or ""
    zbase = p.str_("zbase", required=True) or ""
    pubkey = p.str_("pubkey")
    recovered = lnsig.recover(message, zbase)
    if pubkey is not None:
        return {"pubkey": pubkey, "verified": recovered == pubkey}
    # Without a pubkey, CLN only vouches for keys it knows (listnodes): here, the graph's.
    if recovered is None or recovered not in net.by_id:
        raise MethodError(errors.LIGHTNINGD, "pubkey not found in the graph")
    return {"pubkey": recovered, "verified": True}


METHODS: dict[str, tuple[tuple[str, ...], Handler]] = {
    "getinfo": ((), getinfo),
    "listpeerchannels": (("id", "short_channel_id", "channel_id"), listpeerchannels),
    "listfunds": (("spent",), listfunds),
    "invoice": (("amount_msat", "label", "description", "expiry", "fallbacks", "preimage",
                 "exposeprivatechannels", "cltv", "deschashonly"), invoice),
    "listinvoices": (("label", "invstring", "payment_hash", "offer_id", "index", "start",
                      "limit"), listinvoices),
    "waitinvoice": (("label",), waitinvoice),
    "listsendpays": (("bolt11", "payment_hash", "status", "index", "start", "limit"),
                     listsendpays),
    "pay": (("bolt11", "amount_msat", "label", "riskfactor", "maxfeepercent", "retry_for",
             "maxdelay", "exemptfee", "localinvreqid", "exclude", "maxfee", "description",
             "partial_msat"), pay),
    "xpay": (("invstring", "amount_msat", "maxfee", "layers", "retry_for", "partial_msat",
              "maxdelay", "payer_note", "label", "localinvreqid", "dev_use_shadow"), xpay),
    "notifications": (("enable",), notifications),
    "signmessage": (("message",), signmessage),
    "checkmessage": (("message", "zbase", "pubkey"), checkmessage),
    "dev-lnsim-set-offline": (("node", "offline"), dev_set_offline),
    "dev-lnsim-delay-payments": (("delay_s", "node"), dev_delay_payments),
}


async def dispatch(net: Network, node: SimNode, method: str, params: Any) -> Json:
    entry = METHODS.get(method)
    if entry is None:
        raise MethodError(errors.METHOD_NOT_FOUND, f"Unknown command '{method}'")
    names, handler = entry
    return await handler(net, node, Params(params, names))
