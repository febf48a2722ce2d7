"""Explicit routes: `getroute` and `sendpay` (doc/schemas/{getroute,sendpay}.json), what a
circular rebalance uses: getroute from a peer back to ourselves, our own first hop
prepended, sendpay to our own invoice, then waitsendpay.

sendpay answers "pending" at once; a failure on the way shows in waitsendpay (204 along the
route, 203 at the destination), as on a real node. A hop paid too little for its fee fails
there with WIRE_FEE_INSUFFICIENT.
"""

from __future__ import annotations

from typing import Any

from lnsim import errors
from lnsim.errors import MethodError
from lnsim.graph import Hop, Route
from lnsim.network import Network, SendPay, SimNode
from lnsim.params import Params
from lnsim.payments import fail_part, failure_object, fault_on, start_delivery

Json = dict[str, Any]
FEE_INSUFFICIENT = 0x100C  # BOLT #4: UPDATE|12
HOP_DELAY = 6  # cltv blocks per hop reported by getroute (CLN's default cltv-delta is 34)
FINAL_CLTV = 9  # getroute.json: default cltv


def _direction(sender: str, receiver: str) -> int:
    return 0 if sender < receiver else 1


def _excluded(net: Network, items: list[Any]) -> tuple[set[str], set[tuple[str, str]]]:
    """getroute's `exclude`: node ids and "scid/direction" channel directions."""
    nodes: set[str] = set()
    chans: set[tuple[str, str]] = set()
    for item in items:
        if not isinstance(item, str):
            raise MethodError(errors.INVALID_PARAMS, f"exclude: not a string: {item!r}")
        scid, slash, direction = item.partition("/")
        chan = net.graph.channels.get(scid) if slash else None
        if chan is not None and direction in ("0", "1"):
            lesser, greater = sorted((chan.node_a, chan.node_b))
            chans.add((scid, lesser if direction == "0" else greater))
        elif item in net.by_id:
            nodes.add(item)
        else:
            raise MethodError(errors.INVALID_PARAMS, f"exclude: {item!r} is neither a node "
                              "id nor short_channel_id/direction")
    return nodes, chans


async def getroute(net: Network, node: SimNode, p: Params) -> Json:
    dest = p.str_("id", required=True) or ""
    amount = p.msat("amount_msat", required=True) or 0
    p.int_("riskfactor", required=True)
    cltv = p.int_("cltv") or FINAL_CLTV
    source = p.str_("fromid") or node.id
    p.int_("fuzzpercent")
    maxhops = p.int_("maxhops") or 20
    avoid, exclude = _excluded(net, p.list_("exclude"))
    if dest not in net.by_id or source not in net.by_id:
        raise MethodError(errors.PAY_ROUTE_NOT_FOUND, "Could not find a route: unknown node")
    route = net.graph.find_route(source, dest, amount, avoid=avoid | net.offline_ids(),
                                 exclude=exclude, gossip_view=True)
    if route is None or len(route.hops) > maxhops:
        raise MethodError(errors.PAY_ROUTE_NOT_FOUND, "Could not find a route")
    n = len(route.hops)
    return {"route": [{"id": h.receiver, "channel": h.scid,
                       "direction": _direction(h.sender, h.receiver), "amount_msat": h.amount_msat,
                       "delay": cltv + HOP_DELAY * (n - 1 - i), "style": "tlv"}
                      for i, h in enumerate(route.hops)]}


def _route_param(net: Network, node: SimNode, hops: list[Any]) -> Route:
    if not hops:
        raise MethodError(errors.INVALID_PARAMS, "route: Empty route")
    out: list[Hop] = []
    sender = node.id
    for i, hop in enumerate(hops):
        if not isinstance(hop, dict):
            raise MethodError(errors.INVALID_PARAMS, f"route[{i}]: should be an object")
        receiver, scid, amount = hop.get("id"), hop.get("channel"), hop.get("amount_msat")
        chan = net.graph.channels.get(scid) if isinstance(scid, str) else None
        if (chan is None or {sender, receiver} != {chan.node_a, chan.node_b}
                or not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0):
            raise MethodError(errors.INVALID_PARAMS, f"route[{i}]: no channel {scid!r} from "
                              f"{sender} to {receiver!r} carrying a positive amount_msat")
        out.append(Hop(str(scid), sender, str(receiver), amount))
        sender = str(receiver)
    return Route(tuple(out))


def _fee_short(net: Network, route: Route) -> int | None:
    """erring_index of the first forwarder paid less than its fee, or None."""
    for i, (inbound, outbound) in enumerate(zip(route.hops, route.hops[1:], strict=False)):
        policy = net.graph.channels[outbound.scid].policy[outbound.sender]
        if inbound.amount_msat < outbound.amount_msat + policy.fee_msat(outbound.amount_msat):
            return i + 1
    return None


async def sendpay(net: Network, node: SimNode, p: Params) -> Json:
    route = _route_param(net, node, p.list_("route"))
    payment_hash = p.str_("payment_hash", required=True) or ""
    partid, groupid = p.int_("partid") or 0, p.int_("groupid")
    bolt11, label = p.str_("bolt11"), p.str_("label")
    amount = p.msat("amount_msat") or route.amount_delivered_msat
    p.str_("payment_secret")
    earlier = [s for s in node.sendpays if s.payment_hash == payment_hash]
    done = next((s for s in earlier if s.status == "complete"), None)
    if done is not None:  # lightningd: the earlier success stands
        return done.to_json()
    if any(s.status == "pending" for s in earlier):
        raise MethodError(errors.PAY_IN_PROGRESS, "Payment with this hash still in progress")
    first = net.graph.channels[route.hops[0].scid]
    if first.spendable_msat(node.id) < route.amount_sent_msat:
        raise MethodError(errors.PAY_TRY_OTHER_ROUTE, "WIRE_TEMPORARY_CHANNEL_FAILURE: "
                          "Capacity exceeded", failure_object(
                              route, 0, errors.FAILCODES["WIRE_TEMPORARY_CHANNEL_FAILURE"]))
    dest = net.by_id[route.hops[-1].receiver]
    part = SendPay(
        created_index=len(node.sendpays) + 1, payment_hash=payment_hash,
        bolt11=bolt11 or "", destination=dest.id, amount_msat=amount,
        amount_sent_msat=route.amount_sent_msat, created_at=int(net.clock()),
        groupid=node.next_groupid() if groupid is None else groupid, partid=partid,
        label=label, hops=route.hops)
    node.sendpays.append(part)
    net.touch_sendpay(node, part)
    short = _fee_short(net, route)
    fault = (short, FEE_INSUFFICIENT) if short is not None else fault_on(net, route)
    if fault is not None:
        fail_part(net, node, part, failure_object(route, fault[0], fault[1]),
                  final=fault[0] == len(route.hops))
    else:
        net.graph.lock(route)
        net.touch_route(route.hops)
        net.flush()
        start_delivery(net, node, dest, part)
    out = part.to_json()
    out.update(status="pending", message="Monitor status with listpays or waitsendpay")
    out.pop("completed_at", None)
    return out
