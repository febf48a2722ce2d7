"""The Core Lightning methods one simulated node answers (shapes from doc/schemas/*.json)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from agent.crypto import lnsig
from lnsim import errors, methods_invoice, methods_pay, methods_route, methods_splice
from lnsim.errors import MethodError
from lnsim.graph import Channel
from lnsim.invoices import MIN_FINAL_CLTV_EXPIRY
from lnsim.methods_dev import DEV_METHODS
from lnsim.methods_splice import channel_id_of
from lnsim.network import Network, SimNode
from lnsim.params import Params
from lnsim.payments import BLOCKHEIGHT

VERSION = "v26.06-lnsim"
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


def _htlcs(net: Network, node: SimNode) -> dict[str, list[Json]]:
    """The HTLCs in flight on `node`'s channels (listpeerchannels.json `htlcs`), by scid."""
    out: dict[str, list[Json]] = {}
    for _, part in net.delivering.values():
        if part.status == "pending":
            for hop in part.hops:
                if node.id in (hop.sender, hop.receiver):
                    sending = hop.sender == node.id
                    out.setdefault(hop.scid, []).append({
                        "direction": "out" if sending else "in",
                        "id": part.created_index, "amount_msat": hop.amount_msat,
                        "expiry": BLOCKHEIGHT + 144, "payment_hash": part.payment_hash,
                        "state": ("SENT_ADD_ACK_REVOCATION" if sending
                                  else "RCVD_ADD_ACK_REVOCATION")})
    return out


def _channel_json(net: Network, node: SimNode, c: Channel,
                  htlcs: dict[str, list[Json]]) -> Json:
    peer = net.by_id[c.peer_of(node.id)]
    return {
        "peer_id": peer.id, "peer_connected": not peer.offline, "reestablished": True,
        "state": "CHANNELD_NORMAL", "opener": "local" if c.node_a == node.id else "remote",
        "features": ["option_static_remotekey", "option_anchors"], "private": False,
        "short_channel_id": c.scid, "direction": 0 if node.id < peer.id else 1,
        "channel_id": channel_id_of(c.scid), "funding_txid": _fake_hash("fund", c.scid),
        "funding_outnum": 0, "total_msat": c.capacity_msat, "to_us_msat": c.balance_msat[node.id],
        "our_reserve_msat": c.reserve_msat, "their_reserve_msat": c.reserve_msat,
        "spendable_msat": c.spendable_msat(node.id), "receivable_msat": c.receivable_msat(node.id),
        "fee_base_msat": c.policy[node.id].base_msat,
        "fee_proportional_millionths": c.policy[node.id].ppm,
        "in_flight_msat": c.in_flight_msat[node.id], "htlcs": htlcs.get(c.scid, []),
    }


async def listpeerchannels(net: Network, node: SimNode, p: Params) -> Json:
    peer_id, scid, channel_id = p.str_("id"), p.str_("short_channel_id"), p.str_("channel_id")
    if sum(x is not None for x in (peer_id, scid, channel_id)) > 1:
        raise MethodError(errors.INVALID_PARAMS,
                         "Cannot specify more than one of id, short_channel_id, channel_id")
    htlcs = _htlcs(net, node)
    out = [_channel_json(net, node, c, htlcs) for c in net.graph.channels_of(node.id)]
    out = [c for c in out if peer_id in (None, c["peer_id"]) and scid in (None, c[
        "short_channel_id"]) and channel_id in (None, c["channel_id"])]
    return {"channels": out}


async def listfunds(net: Network, node: SimNode, p: Params) -> Json:
    p.bool_("spent", False)
    txid = _fake_hash("utxo", node.id)
    outputs = [{"txid": txid, "output": 0, "amount_msat": node.wallet_msat,
                "scriptpubkey": "0014" + txid[:40], "status": "confirmed",
                "blockheight": BLOCKHEIGHT - 9, "reserved": False}]
    channels = [{
        "peer_id": c["peer_id"], "connected": c["peer_connected"], "state": c["state"],
        "channel_id": c["channel_id"], "short_channel_id": c["short_channel_id"],
        "our_amount_msat": c["to_us_msat"], "amount_msat": c["total_msat"],
        "funding_txid": c["funding_txid"], "funding_output": c["funding_outnum"],
    } for c in (await listpeerchannels(net, node, Params({}, ())))["channels"]]
    return {"outputs": outputs, "channels": channels}


async def notifications(net: Network, node: SimNode, p: Params) -> Json:
    p.bool_("enable", True)
    return {}


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


async def listconfigs(net: Network, node: SimNode, p: Params) -> Json:
    """What a node configured for peerwatt reports (listconfigs.json, v23.08+ shape)."""
    config = p.str_("config")
    src = f"lnsim/{node.name}/config"
    configs: Json = {
        "network": {"value_str": "regtest", "source": src},
        "alias": {"value_str": node.name[:32], "source": src},
        "rpc-file": {"value_str": "lightning-rpc", "source": "default"},
        "lightning-dir": {"value_str": f"lnsim/{node.name}", "source": "cmdline"},
        "cltv-final": {"value_int": MIN_FINAL_CLTV_EXPIRY, "source": "default"},
    }
    if net.options.remote_signer:  # VLS: lightningd talks to vlsd through this hsmd
        configs["subdaemon"] = {"values_str": ["hsmd:remote_hsmd_socket"], "sources": [src]}
    if "holdinvoice" not in net.options.disabled:
        configs["important-plugin"] = {"values_str": ["/usr/local/libexec/holdinvoice"],
                                       "sources": [src]}
    if config is not None:
        if config not in configs and config not in KNOWN_UNSET:
            raise MethodError(errors.INVALID_PARAMS, f"config: Unknown config option '{config}'")
        configs = {k: v for k, v in configs.items() if k == config}
    return {"configs": configs}


KNOWN_UNSET = frozenset({"subdaemon", "important-plugin", "plugin"})
_INVOICE_METHODS: dict[str, tuple[tuple[str, ...], Handler]] = {
    "invoice": (methods_invoice.INVOICE_PARAMS, methods_invoice.invoice),
    "listinvoices": (("label", "invstring", "payment_hash", "offer_id", "index", "start",
                      "limit"), methods_invoice.listinvoices),
    "waitinvoice": (("label",), methods_invoice.waitinvoice),
    "holdinvoice": (methods_invoice.HOLD_PARAMS, methods_invoice.holdinvoice),
    "holdinvoicesettle": (("payment_hash",), methods_invoice.holdinvoicesettle),
    "holdinvoicecancel": (("payment_hash",), methods_invoice.holdinvoicecancel),
    "holdinvoicelookup": (("payment_hash",), methods_invoice.holdinvoicelookup),
}
_PAY_METHODS: dict[str, tuple[tuple[str, ...], Handler]] = {
    "listsendpays": (("bolt11", "payment_hash", "status", "index", "start", "limit"),
                     methods_pay.listsendpays),
    "listpays": (("bolt11", "payment_hash", "status", "index", "start", "limit"),
                 methods_pay.listpays),
    "waitsendpay": (("payment_hash", "timeout", "partid", "groupid"), methods_pay.waitsendpay),
    "pay": (("bolt11", "amount_msat", "label", "riskfactor", "maxfeepercent", "retry_for",
             "maxdelay", "exemptfee", "localinvreqid", "exclude", "maxfee", "description",
             "partial_msat"), methods_pay.pay),
    "xpay": (("invstring", "amount_msat", "maxfee", "layers", "retry_for", "partial_msat",
              "maxdelay", "payer_note", "label", "localinvreqid", "dev_use_shadow"),
             methods_pay.xpay),
    "getroute": (("id", "amount_msat", "riskfactor", "cltv", "fromid", "fuzzpercent",
                  "exclude", "maxhops"), methods_route.getroute),
    "sendpay": (("route", "payment_hash", "label", "amount_msat", "bolt11", "payment_secret",
                 "partid", "localinvreqid", "groupid", "payment_metadata", "description"),
                methods_route.sendpay),
    "decode": (("string",), methods_pay.decode),
    "decodepay": (("bolt11", "description"), methods_pay.decodepay),
}
_SPLICE_METHODS: dict[str, tuple[tuple[str, ...], Handler]] = {
    "splicein": (("channel", "amount"), methods_splice.splicein),
    "spliceout": (("channel", "amount", "destination", "force_feerate"),
                  methods_splice.spliceout),
    "splice_init": (("channel_id", "relative_amount", "initialpsbt", "feerate_per_kw",
                     "force_feerate"), methods_splice.splice_init),
    "splice_update": (("channel_id", "psbt"), methods_splice.splice_update),
    "splice_signed": (("channel_id", "psbt", "sign_first"), methods_splice.splice_signed),
    "feerates": (("style",), methods_splice.feerates),
}
METHODS: dict[str, tuple[tuple[str, ...], Handler]] = {
    "getinfo": ((), getinfo),
    "listconfigs": (("config",), listconfigs),
    "listpeerchannels": (("id", "short_channel_id", "channel_id"), listpeerchannels),
    "listfunds": (("spent",), listfunds),
    "notifications": (("enable",), notifications),
    "signmessage": (("message",), signmessage),
    "checkmessage": (("message", "zbase", "pubkey"), checkmessage),
    **_INVOICE_METHODS, **_PAY_METHODS, **_SPLICE_METHODS, **DEV_METHODS,
}


async def dispatch(net: Network, node: SimNode, method: str, params: Any) -> Json:
    entry = METHODS.get(method)
    if entry is None or method in net.options.disabled:
        raise MethodError(errors.METHOD_NOT_FOUND, f"Unknown command '{method}'")
    names, handler = entry
    try:
        return await handler(net, node, Params(params, names))
    finally:
        net.flush()  # what the request changed is on disk before the reply goes out
