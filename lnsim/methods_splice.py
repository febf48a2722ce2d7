"""Splicing: `splicein` / `spliceout` (current nodes) and `splice_init` / `splice_update` /
`splice_signed` (older ones), after doc/schemas/{splicein,spliceout,splice_*}.json and the
errors of lightningd/channel_control.c; and `feerates`, in lightningd's shape
(lightningd/chaintopology.c) at one fixed rate, `NodeOptions.feerate_perkw`.

`splicein`/`spliceout` name the channel as lightningd's splice script does: a channel_id,
a peer id (`ID` or `ID:?`) or `*:?`; a short_channel_id is refused as lightningd refuses it
(-32602 "Splice script compile failed": the script reads it as an amount).

Stand-in limits: the capacity changes when the splice is signed (no confirmation wait), the
short_channel_id stays the same (a real splice gets a new one on confirmation), and the
PSBTs and transactions are opaque tokens, not valid PSBTs or transactions.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from lnsim import errors
from lnsim.errors import MethodError
from lnsim.graph import Channel, InsufficientBalanceError
from lnsim.network import Network, PendingSplice, SimNode
from lnsim.params import Params

Json = dict[str, Any]
PSBT_PREFIX = "lnsim-psbt:"  # not a PSBT: an opaque token the stand-in hands out and checks


def channel_id_of(scid: str) -> str:
    return hashlib.sha256(f"channel/{scid}".encode()).hexdigest()


def _find_channel(net: Network, node: SimNode, ref: str) -> Channel:
    """A channel of `node` by short_channel_id, channel_id, or peer id (if only one)."""
    mine = net.graph.channels_of(node.id)
    found = [c for c in mine if ref in (c.scid, channel_id_of(c.scid))]
    if not found:
        found = [c for c in mine if c.peer_of(node.id) == ref]
        if len(found) > 1:
            raise MethodError(errors.INVALID_PARAMS, f"channel: peer {ref} has "
                              f"{len(found)} channels; name one by short_channel_id")
    if not found:
        raise MethodError(errors.SPLICE_UNKNOWN_CHANNEL, f"Unknown channel {ref}")
    chan = found[0]
    if net.by_id[chan.peer_of(node.id)].offline:
        raise MethodError(errors.SPLICE_WRONG_OWNER, "Channel is disconnected")
    if channel_id_of(chan.scid) in net.splices:
        raise MethodError(errors.SPLICE_BUSY_ERROR,
                          "Currently waiting on previous splice command to finish.")
    return chan


def _sats(p: Params, name: str) -> int:
    value = p.label(name)  # a string ("100000", "100000sat") or an integer
    text = value[:-3] if value.endswith("sat") else value
    if not text.isdigit() or int(text) <= 0:
        raise MethodError(errors.INVALID_PARAMS, f"{name}: should be a positive number of "
                          f"satoshis: invalid token '{value}'")
    return int(text) * 1000


def _apply(net: Network, node: SimNode, chan: Channel, delta_msat: int) -> Json:
    if delta_msat > node.wallet_msat:
        raise MethodError(errors.FUND_CANNOT_AFFORD, f"Could not afford {delta_msat // 1000}sat "
                          f"using all {node.wallet_msat // 1000}sat of the wallet")
    try:
        net.graph.splice(chan.scid, node.id, delta_msat)
    except InsufficientBalanceError as exc:
        raise MethodError(errors.SPLICE_FUNDING_LOW, str(exc)) from exc
    node.wallet_msat -= delta_msat
    net.touch_channel(chan)
    net.touch_node(node)
    txid = secrets.token_hex(32)
    return {"psbt": PSBT_PREFIX + txid, "tx": "02000000" + txid, "txid": txid}


_SCID = re.compile(r"[0-9]+x[0-9]+x[0-9]+")


def _script_channel(net: Network, node: SimNode, p: Params) -> Channel:
    ref = p.str_("channel", required=True) or ""
    if _SCID.fullmatch(ref):
        raise MethodError(errors.INVALID_PARAMS, "Splice script compile failed",
                          {"compiler_error": ["Failed to parse sat amount"]})
    if ref == "*:?":
        mine = net.graph.channels_of(node.id)
        if len(mine) != 1:
            raise MethodError(errors.INVALID_PARAMS, f"channel: '*:?' matches {len(mine)} "
                              "channels; name one by channel_id")
        ref = mine[0].scid
    return _find_channel(net, node, ref.removesuffix(":?"))


async def splicein(net: Network, node: SimNode, p: Params) -> Json:
    chan = _script_channel(net, node, p)
    return _apply(net, node, chan, _sats(p, "amount"))


async def spliceout(net: Network, node: SimNode, p: Params) -> Json:
    chan = _script_channel(net, node, p)
    amount = _sats(p, "amount")
    destination = p.str_("destination") or "wallet"
    p.bool_("force_feerate", False)
    if destination != "wallet":
        raise MethodError(errors.INVALID_PARAMS, "destination: lnsim splices out to the "
                          "wallet only")
    return _apply(net, node, chan, -amount)


async def splice_init(net: Network, node: SimNode, p: Params) -> Json:
    channel_id = p.str_("channel_id", required=True) or ""
    chan = _find_channel(net, node, channel_id)
    relative = p.int_("relative_amount", required=True, minimum=-(2**62)) or 0
    p.str_("initialpsbt")
    p.int_("feerate_per_kw")
    p.bool_("force_feerate", False)
    if relative == 0:
        raise MethodError(errors.INVALID_PARAMS, "relative_amount: must not be zero")
    token = PSBT_PREFIX + secrets.token_hex(16)
    net.splices[channel_id_of(chan.scid)] = PendingSplice(chan.scid, node.name,
                                                          relative * 1000, token)
    return {"psbt": token}


def _pending(net: Network, node: SimNode, p: Params) -> tuple[str, PendingSplice]:
    channel_id = p.str_("channel_id", required=True) or ""
    psbt = p.str_("psbt", required=True) or ""
    chan_ids = [channel_id_of(c.scid) for c in net.graph.channels_of(node.id)]
    pending = net.splices.get(channel_id)
    if channel_id not in chan_ids:
        raise MethodError(errors.SPLICE_UNKNOWN_CHANNEL, f"Unknown channel {channel_id}")
    if pending is None or pending.node != node.name:
        raise MethodError(errors.SPLICE_STATE_ERROR, "Can't splice_update/splice_signed "
                          "without a splice_init first")
    if psbt != pending.token:
        raise MethodError(errors.INVALID_PARAMS, "psbt: not the PSBT of this splice")
    return channel_id, pending


async def splice_update(net: Network, node: SimNode, p: Params) -> Json:
    _, pending = _pending(net, node, p)
    pending.updated = True
    return {"psbt": pending.token, "commitments_secured": True, "signatures_secured": True}


async def splice_signed(net: Network, node: SimNode, p: Params) -> Json:
    channel_id, pending = _pending(net, node, p)
    p.bool_("sign_first", False)
    if not pending.updated:
        raise MethodError(errors.SPLICE_STATE_ERROR, "splice_update must secure the "
                          "commitments before splice_signed")
    del net.splices[channel_id]
    result = _apply(net, node, net.graph.channels[pending.scid], pending.relative_msat)
    return {**result, "outnum": 0}


# lightningd's weights for its on-chain estimates (chaintopology.c, json_feerates)
_ESTIMATE_WEIGHTS = {"opening_channel_satoshis": 702, "mutual_close_satoshis": 673,
                     "unilateral_close_satoshis": 1112,
                     "unilateral_close_nonanchor_satoshis": 598,
                     "htlc_timeout_satoshis": 663, "htlc_success_satoshis": 703}
FEERATE_FLOOR_PERKW = 253


async def feerates(net: Network, node: SimNode, p: Params) -> Json:
    style = p.str_("style", required=True)
    if style not in ("perkw", "perkb"):
        raise MethodError(errors.INVALID_PARAMS, f"style: should be 'perkw' or 'perkb': "
                          f"invalid token '{style}'")
    rate = net.options.feerate_perkw
    scale = 4 if style == "perkb" else 1
    rates: Json = dict.fromkeys(("opening", "mutual_close", "unilateral_close",
                                 "unilateral_anchor_close", "penalty", "splice"), rate * scale)
    rates.update(min_acceptable=max(FEERATE_FLOOR_PERKW, rate // 2) * scale,
                 max_acceptable=rate * 10 * scale, floor=FEERATE_FLOOR_PERKW * scale,
                 estimates=[{"blockcount": n, "feerate": rate * scale,
                             "smoothed_feerate": rate * scale} for n in (2, 6, 12, 100)])
    return {style: rates, "onchain_fee_estimates": {
        name: rate * weight // 1000 for name, weight in _ESTIMATE_WEIGHTS.items()}}
