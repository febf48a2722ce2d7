"""The payment engine: route, attempt, lock HTLCs, deliver (or hold), settle or fail.

One `send` is one pay/xpay command: attempts (parts, same groupid) are routed with the
payer's gossip view, so a remote hop may lack liquidity (WIRE_TEMPORARY_CHANNEL_FAILURE)
and the payer retries without that channel, as Core Lightning's payers do. Once its HTLCs
are locked, a part is delivered by a task of its own that outlives the command: it waits
out injected delays and offline nodes, holds at a hold invoice until settle or cancel, and
is resumed from the state file after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import structlog

from lnsim import errors
from lnsim.errors import MethodError
from lnsim.graph import Route
from lnsim.invoices import DecodedBolt11, InvoiceRecord
from lnsim.network import Network, SendPay, SimNode

BLOCKHEIGHT = 110
MAX_ATTEMPTS = 10
TEMPORARY_CHANNEL_FAILURE = errors.FAILCODES["WIRE_TEMPORARY_CHANNEL_FAILURE"]
_log = structlog.get_logger("lnsim.payments")


@dataclass(frozen=True, slots=True)
class PayRequest:
    payer: SimNode
    inv: DecodedBolt11
    bolt11: str
    amount_msat: int
    max_fee_msat: int
    xpay: bool
    avoid: tuple[str, ...] = ()
    label: str | None = None
    return_when_locked: bool = False  # injected "xpay returned while parts are pending"
    as_pay: bool = False  # `pay` handed to xpay (xpay-handle-pay): a paid invoice succeeds


def failure_object(route: Route, index: int, failcode: int) -> dict[str, object]:
    """The routing failure object (waitsendpay.json) for a failure at node `index`."""
    hop = route.hops[min(index, len(route.hops) - 1)]
    node = route.hops[index - 1].receiver if index > 0 else route.hops[0].sender
    return {"erring_index": index, "erring_node": node, "erring_channel": hop.scid,
            "erring_direction": 0 if hop.sender < hop.receiver else 1,
            "failcode": failcode, "failcodename": errors.failcode_name(failcode)}


def fault_on(net: Network, route: Route) -> tuple[int, int] | None:
    """(erring_index, failcode) of the first hop this attempt fails at, or None."""
    short = net.graph.first_short_hop(route)
    for index, hop in enumerate(route.hops):
        if index == short:  # node `index` cannot forward: too little on its side
            return index, TEMPORARY_CHANNEL_FAILURE
        fault = net.by_id[hop.receiver].htlc_fault
        if fault is not None and fault.count > 0:
            fault.count -= 1
            return index + 1, fault.failcode
    return None


NO_USABLE_PATHS = "We could not find a usable set of paths."


def _routing_error(net: Network, req: PayRequest, dest: SimNode, attempts: int,
                   why: str) -> MethodError:
    if req.xpay and attempts > 0:
        return MethodError(errors.PAY_UNSPECIFIED_ERROR,
                           f"Failed after {attempts} attempts. Then routing failed: {why}")
    if not req.xpay:
        offline = net.offline_ids()
        spendable = sum(c.spendable_msat(req.payer.id) for c in net.graph.channels_of(
            req.payer.id) if c.peer_of(req.payer.id) not in offline)
        if attempts == 0 and spendable < req.amount_msat:  # libplugin-pay's pre-flight check
            return MethodError(errors.PAY_INSUFFICIENT_FUNDS, "Insufficient funds to perform "
                               f"the payment: spendable={spendable}msat < payment="
                               f"{req.amount_msat}msat")
        return MethodError(errors.PAY_ROUTE_NOT_FOUND,
                           f"Ran out of routes to try after {attempts} attempts: {why}")
    # xpay before any attempt: askrene's explain_failure (plugins/askrene/child), prefixed
    # "Failed: " by xpay, code 205: the source's channels, then the destination's, by total
    # capacity, then by the capacity of those not disabled (peer offline)
    offline = net.offline_ids()
    for node, name in ((req.payer, "source"), (dest, "destination")):
        why_not = _capacity_problem(net, node, name, req.amount_msat, offline)
        if why_not:
            return MethodError(errors.PAY_ROUTE_NOT_FOUND, f"Failed: {NO_USABLE_PATHS} {why_not}")
    return MethodError(errors.PAY_ROUTE_NOT_FOUND, f"Failed: {NO_USABLE_PATHS} {why}")


def _capacity_problem(net: Network, node: SimNode, name: str, amount_msat: int,
                      offline: set[str]) -> str:
    chans = net.graph.channels_of(node.id)
    total = sum(c.capacity_msat for c in chans)
    if total < amount_msat:
        return f"Total {name} capacity is only {total}msat (in {len(chans)} channels)."
    enabled = [c for c in chans if c.peer_of(node.id) not in offline and node.id not in offline]
    usable = sum(c.capacity_msat for c in enabled)
    if usable >= amount_msat:
        return ""
    if not enabled:
        return f"All {len(chans)} channels to the {name} are disabled."
    return (f"{len(chans) - len(enabled)} of {len(chans)} channels to {name} are disabled, "
            f"leaving capacity only {usable}msat of {total}msat.")


def _check_first(net: Network, req: PayRequest) -> tuple[SendPay | None, SimNode]:
    earlier = [p for p in req.payer.sendpays if p.payment_hash == req.inv.payment_hash]
    done = next((p for p in earlier if p.status == "complete"), None)
    if done is not None:
        if req.xpay and not req.as_pay:
            raise MethodError(errors.PAY_INVOICE_ALREADY_PAID,
                              "Already paid this invoice successfully")
        return done, req.payer
    pending = next((p for p in earlier if p.status == "pending"), None)
    if pending is not None:
        raise MethodError(errors.PAY_IN_PROGRESS, f"Payment with groupid={pending.groupid} "
                          "still in progress, cannot retry before that completes.")
    now = net.clock()
    if now >= req.inv.expires_at:
        if req.xpay:  # plugins/xpay/xpay.c
            raise MethodError(errors.PAY_INVOICE_EXPIRED, "Invoice expired "
                              f"{int(now) - req.inv.expires_at} seconds ago")
        raise MethodError(errors.PAY_INVOICE_EXPIRED, "Invoice expired",
                          {"now": int(now), "expiry": req.inv.expires_at})
    dest = net.by_id.get(req.inv.payee)
    if dest is None:
        raise MethodError(errors.PAY_ROUTE_NOT_FOUND, f"Unknown destination {req.inv.payee}")
    return None, dest


async def send(net: Network, req: PayRequest) -> SendPay:
    """Pay `req.inv`; the completed part, or MethodError with Core Lightning's code."""
    done, dest = _check_first(net, req)
    if done is not None:
        return done
    # xpay: a random 63-bit group id and parts numbered from 1 (so a bare `waitsendpay`,
    # which waits for part 0, finds nothing: 208); pay: the next group id, part 0 first
    groupid = secrets.randbelow(2**63) if req.xpay else req.payer.next_groupid()
    exclude: set[tuple[str, str]] = set()
    attempts, why = 0, f"no path to {dest.id} for {req.amount_msat}msat"
    while attempts < MAX_ATTEMPTS:
        route = net.graph.find_route(req.payer.id, dest.id, req.amount_msat,
                                     avoid=net.offline_ids() | set(req.avoid),
                                     exclude=exclude, gossip_view=True)
        if route is None:
            raise _routing_error(net, req, dest, attempts, why)
        if route.fee_msat > req.max_fee_msat:
            if req.xpay and attempts > 0:
                raise _routing_error(net, req, dest, attempts, "fee budget exceeded")
            if req.xpay:
                raise MethodError(errors.PAY_ROUTE_TOO_EXPENSIVE,
                                  "Failed: Could not find route without excessive cost")
            raise MethodError(errors.PAY_ROUTE_TOO_EXPENSIVE, f"Fee exceeds our fee budget: "
                              f"{route.fee_msat}msat > {req.max_fee_msat}msat",
                              {"fee_msat": route.fee_msat, "maxfee_msat": req.max_fee_msat})
        part = _new_part(net, req, dest, route, groupid, attempts + 1 if req.xpay else attempts)
        attempts += 1
        fault = fault_on(net, route)
        if fault is not None:
            index, failcode = fault
            fail_part(net, req.payer, part, failure_object(route, index, failcode),
                       final=index == len(route.hops))
            if index == len(route.hops) and failcode & errors.PERM:
                raise _destination_error(part)
            erring = route.hops[min(index, len(route.hops) - 1)]
            exclude.add((erring.scid, erring.sender))
            why = f"{part.failure and part.failure['failcodename']} at {erring.scid}"
            continue
        net.graph.lock(route)
        net.touch_route(route.hops)
        net.flush()  # the HTLCs are out: on disk before anything else happens
        start_delivery(net, req.payer, dest, part)
        if req.return_when_locked:
            return part
        await asyncio.shield(part.done.wait())
        if part.status == "complete":
            return part
        if part.status == "pending":
            raise MethodError(errors.LIGHTNINGD, "lnsim: the delivery task crashed (see log)")
        raise _destination_error(part)
    raise _routing_error(net, req, dest, attempts, why)


def _new_part(net: Network, req: PayRequest, dest: SimNode, route: Route, groupid: int,
              partid: int) -> SendPay:
    part = SendPay(
        created_index=len(req.payer.sendpays) + 1, payment_hash=req.inv.payment_hash,
        bolt11=req.bolt11, destination=dest.id, amount_msat=req.amount_msat,
        amount_sent_msat=route.amount_sent_msat, created_at=int(net.clock()), groupid=groupid,
        partid=partid, label=req.label, hops=route.hops,
    )
    req.payer.sendpays.append(part)
    net.touch_sendpay(req.payer, part)
    return part


def fail_part(net: Network, payer: SimNode, part: SendPay, failure: dict[str, object], *,
               final: bool) -> None:
    part.status = "failed"
    part.failure = failure
    part.failure_code = (errors.PAY_DESTINATION_PERM_FAIL if final
                         else errors.PAY_TRY_OTHER_ROUTE)
    part.updated_index = net.next_updated_index()
    part.completed_at = int(net.clock())
    part.done.set()
    net.touch_sendpay(payer, part)


def _destination_error(part: SendPay) -> MethodError:
    name = part.failure["failcodename"] if part.failure else "unknown failure"
    return MethodError(errors.PAY_DESTINATION_PERM_FAIL,
                       f"Destination said it doesn't know invoice: {name}", part.failure)


def start_delivery(net: Network, payer: SimNode, dest: SimNode, part: SendPay) -> None:
    task = asyncio.create_task(_deliver(net, payer, dest, part),
                               name=f"lnsim-pay-{part.payment_hash[:12]}-{part.partid}")
    net.inflight.add(task)
    net.delivering[id(part)] = (payer, part)

    def finished(done: asyncio.Task[None]) -> None:
        net.inflight.discard(done)
        net.delivering.pop(id(part), None)
        if not done.cancelled() and done.exception() is not None:
            _log.error("lnsim_delivery_crashed", payment_hash=part.payment_hash,
                       exc_info=done.exception())
            part.done.set()  # wake the caller; the part stays pending (a bug, not a fault)

    task.add_done_callback(finished)


def resume_pending(net: Network) -> int:
    """After a restart: deliver every part that was in flight (its HTLCs are still locked)."""
    resumed = 0
    for payer in net.nodes.values():
        for part in payer.sendpays:
            if part.status == "pending" and part.hops:
                start_delivery(net, payer, net.by_id[part.destination], part)
                resumed += 1
    return resumed


async def _wait_online(net: Network, ids: Iterable[str]) -> None:
    for node_id in ids:
        await net.by_id[node_id].online.wait()


async def _deliver(net: Network, payer: SimNode, dest: SimNode, part: SendPay) -> None:
    route = Route(part.hops)
    ids = [route.hops[0].sender] + [h.receiver for h in route.hops]
    delay = max(net.by_id[i].delay_s for i in ids)
    if delay > 0:
        await asyncio.sleep(delay)
    await _wait_online(net, ids)  # a stuck HTLC waits for its peers to come back
    rec = dest.invoices.by_hash(part.payment_hash)
    accepted = rec is not None and dest.invoices.can_accept(part.payment_hash, part.amount_msat)
    if accepted and rec is not None and rec.is_hold:
        accepted = await _hold(net, dest, rec) and rec.pay_index is None  # one HTLC set
    if not accepted:
        net.graph.fail(route)
        net.touch_route(route.hops)
        fail_part(net, payer, part, failure_object(
            route, len(route.hops), errors.INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS), final=True)
        net.flush()
        return
    net.graph.settle(route)
    net.touch_route(route.hops)
    for inbound, outbound in zip(route.hops, route.hops[1:], strict=False):
        forwarder = net.by_id[inbound.receiver]
        forwarder.fees_collected_msat += inbound.amount_msat - outbound.amount_msat
        net.touch_node(forwarder)
    paid = dest.invoices.mark_paid(part.payment_hash, part.amount_msat)
    net.touch_invoice(dest, paid)
    part.status = "complete"
    part.preimage = paid.preimage
    part.updated_index = net.next_updated_index()
    part.completed_at = int(net.clock())
    net.touch_sendpay(payer, part)
    net.flush()
    part.done.set()


async def _hold(net: Network, dest: SimNode, rec: InvoiceRecord) -> bool:
    """Hold the HTLC until the invoice is settled (True) or canceled (False)."""
    deadline = rec.expires_at - net.options.hold_cancel_before_expiry_s
    if net.clock() >= deadline and rec.hold_state == "OPEN":
        return False  # the plugin takes no new HTLCs this close to expiry
    if rec.hold_state == "OPEN":
        rec.hold_state = "ACCEPTED"
        rec.hold_htlc_expiry = BLOCKHEIGHT + (rec.hold_cltv or 0)
        net.touch_invoice(dest, rec)
        net.flush()
    if rec.hold_state == "ACCEPTED":
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, deadline - net.clock())):
                await rec.decided.wait()
        if rec.hold_state == "ACCEPTED":  # soft expiry: the plugin settles (v4) or cancels
            set_hold_state(net, dest, rec, "SETTLED" if net.options.hold_at_soft_expiry
                           == "settle" else "CANCELED")
    return rec.hold_state == "SETTLED"


def set_hold_state(net: Network, dest: SimNode, rec: InvoiceRecord, state: str) -> None:
    rec.hold_state = state
    rec.hold_htlc_expiry = None
    rec.decided.set()
    net.touch_invoice(dest, rec)
