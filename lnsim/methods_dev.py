"""`dev-lnsim-*`: fault injection for tests and benchmarks. STAND-IN ONLY: no Core Lightning
node has these methods; nothing in the agent may call them.

- dev-lnsim-set-offline {node, offline=true}: the node's socket refuses connections, the
  graph routes around it, and HTLCs already through it wait until it is back.
- dev-lnsim-delay-payments {delay_s, node?}: payments through the node take this long.
- dev-lnsim-fail-htlcs {node, count=1, failcode="WIRE_TEMPORARY_CHANNEL_FAILURE"}: the
  next `count` HTLCs that reach the node fail there (a forwarder: the payer retries
  without that channel; the destination with a PERM code: error 203).
- dev-lnsim-xpay-false-failure {count=1, code=209, mode="after_complete", node?}: the next
  `count` xpay calls on the node answer error `code` although the payment completed
  (after_complete) or is still in flight and completes later (while_pending).
- dev-lnsim-set-balance {short_channel_id, node, balance_msat}: put that much on the
  node's side of the channel (the peer gets the rest); refused while HTLCs are in flight.
"""

from __future__ import annotations

from typing import Any

from lnsim import errors
from lnsim.errors import MethodError
from lnsim.network import HtlcFault, Network, SimNode, XpayLie
from lnsim.params import Params

Json = dict[str, Any]
XPAY_LIE_MODES = ("after_complete", "while_pending")


def _target(net: Network, node: SimNode, p: Params, *, required: bool) -> SimNode:
    ref = p.str_("node", required=required)
    target = node if ref is None else net.find(ref)
    if target is None:
        raise MethodError(errors.INVALID_PARAMS, f"node: unknown node {ref!r}")
    return target


async def set_offline(net: Network, node: SimNode, p: Params) -> Json:
    target = _target(net, node, p, required=True)
    offline = p.bool_("offline", True)
    await net.set_offline(target, offline)
    return {"node": target.name, "id": target.id, "offline": offline}


async def delay_payments(net: Network, node: SimNode, p: Params) -> Json:
    delay = p.number("delay_s")
    if delay is None:
        raise MethodError(errors.INVALID_PARAMS, "delay_s: missing required parameter")
    target = _target(net, node, p, required=False)
    target.delay_s = float(delay)
    return {"node": target.name, "delay_s": target.delay_s}


async def fail_htlcs(net: Network, node: SimNode, p: Params) -> Json:
    target = _target(net, node, p, required=True)
    count = p.int_("count")
    name = p.label("failcode") if p.has("failcode") else "WIRE_TEMPORARY_CHANNEL_FAILURE"
    code = errors.FAILCODES.get(name)
    if code is None and name.isdigit():
        code = int(name)
    if code is None:
        raise MethodError(errors.INVALID_PARAMS, f"failcode: one of {sorted(errors.FAILCODES)} "
                          f"or a number, not {name!r}")
    target.htlc_fault = HtlcFault(1 if count is None else count, code,
                                  errors.failcode_name(code))
    return {"node": target.name, "count": target.htlc_fault.count, "failcode": code,
            "failcodename": target.htlc_fault.failcodename}


async def xpay_false_failure(net: Network, node: SimNode, p: Params) -> Json:
    target = _target(net, node, p, required=False)
    count = p.int_("count")
    code = p.int_("code", minimum=-32768)
    mode = p.str_("mode") or "after_complete"
    if mode not in XPAY_LIE_MODES:
        raise MethodError(errors.INVALID_PARAMS, f"mode: one of {XPAY_LIE_MODES}")
    target.xpay_lie = XpayLie(1 if count is None else count,
                              errors.PAY_UNSPECIFIED_ERROR if code is None else code, mode)
    return {"node": target.name, "count": target.xpay_lie.count, "code": target.xpay_lie.code,
            "mode": mode}


async def set_balance(net: Network, node: SimNode, p: Params) -> Json:
    scid = p.str_("short_channel_id", required=True) or ""
    target = _target(net, node, p, required=True)
    balance = p.msat("balance_msat", required=True) or 0
    chan = net.graph.channels.get(scid)
    if chan is None or target.id not in (chan.node_a, chan.node_b):
        raise MethodError(errors.INVALID_PARAMS, f"short_channel_id: {target.name} has no "
                          f"channel {scid}")
    if any(chan.in_flight_msat.values()):
        raise MethodError(errors.INVALID_PARAMS, f"{scid} has HTLCs in flight")
    if balance > chan.capacity_msat:
        raise MethodError(errors.INVALID_PARAMS, f"balance_msat: more than the capacity "
                          f"{chan.capacity_msat}")
    chan.balance_msat[target.id] = balance
    chan.balance_msat[chan.peer_of(target.id)] = chan.capacity_msat - balance
    net.touch_channel(chan)
    return {"short_channel_id": scid, "node": target.name, "balance_msat": balance}


DEV_METHODS = {
    "dev-lnsim-set-offline": (("node", "offline"), set_offline),
    "dev-lnsim-delay-payments": (("delay_s", "node"), delay_payments),
    "dev-lnsim-fail-htlcs": (("node", "count", "failcode"), fail_htlcs),
    "dev-lnsim-xpay-false-failure": (("count", "code", "mode", "node"), xpay_false_failure),
    "dev-lnsim-set-balance": (("short_channel_id", "node", "balance_msat"), set_balance),
}
