"""The simulated nodes, their shared channel graph, and the payment engine."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import coincurve

from agent.lnsim import errors
from agent.lnsim.errors import MethodError
from agent.lnsim.graph import ChannelGraph, Route
from agent.lnsim.invoices import DecodedBolt11, InvoiceBook

LSP_NAME = "lsp"
DEFAULT_CHANNEL_SAT = 2_000_000


def node_key(seed: int, name: str) -> coincurve.PrivateKey:
    return coincurve.PrivateKey(hashlib.sha256(f"peerwatt-lnsim/{seed}/{name}".encode()).digest())


@dataclass(slots=True)
class SendPay:
    created_index: int
    payment_hash: str
    bolt11: str
    destination: str
    amount_msat: int
    amount_sent_msat: int
    created_at: int
    status: str = "pending"
    groupid: int = 1
    label: str | None = None
    completed_at: int | None = None
    preimage: str | None = None
    updated_index: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "created_index": self.created_index, "id": self.created_index,
            "payment_hash": self.payment_hash, "groupid": self.groupid, "partid": 0,
            "destination": self.destination, "amount_msat": self.amount_msat,
            "amount_sent_msat": self.amount_sent_msat, "created_at": self.created_at,
            "status": self.status, "bolt11": self.bolt11,
        }
        if self.label is not None:
            out["label"] = self.label
        if self.updated_index is not None:
            out["updated_index"] = self.updated_index
        if self.completed_at is not None:
            out["completed_at"] = self.completed_at
        if self.preimage is not None:
            out["payment_preimage"] = self.preimage
        return out


@dataclass(slots=True)
class SimNode:
    name: str
    key: coincurve.PrivateKey
    invoices: InvoiceBook
    sendpays: list[SendPay] = field(default_factory=list)
    fees_collected_msat: int = 0
    offline: bool = False
    delay_s: float = 0.0

    @property
    def id(self) -> str:
        return str(self.key.public_key.format(compressed=True).hex())


OfflineHook = Callable[[SimNode, bool], Awaitable[None]]


class Network:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.graph = ChannelGraph()
        self.nodes: dict[str, SimNode] = {}
        self.by_id: dict[str, SimNode] = {}
        self.clock = clock
        self.on_offline: OfflineHook | None = None
        self._inflight: set[asyncio.Task[SendPay]] = set()
        self._updated_index = 0

    def add_node(self, name: str, seed: int) -> SimNode:
        if name in self.nodes:
            raise ValueError(f"duplicate node name {name!r}")
        key = node_key(seed, name)
        node = SimNode(name=name, key=key, invoices=InvoiceBook(key, self.clock))
        self.nodes[name] = node
        self.by_id[node.id] = node
        return node

    def find(self, ref: str) -> SimNode | None:
        return self.nodes.get(ref) or self.by_id.get(ref)

    def offline_ids(self) -> set[str]:
        return {n.id for n in self.nodes.values() if n.offline}

    async def set_offline(self, node: SimNode, offline: bool) -> None:
        node.offline = offline
        if self.on_offline is not None:
            await self.on_offline(node, offline)

    def cancel_inflight(self) -> None:
        for task in self._inflight:
            task.cancel()

    async def send(
        self, payer: SimNode, inv: DecodedBolt11, bolt11: str, amount_msat: int,
        max_fee_msat: int, *, xpay: bool, fee_code: int, avoid: Iterable[str] = (),
        label: str | None = None,
    ) -> SendPay:
        """Pay `inv` from `payer`; return the completed SendPay or raise MethodError."""
        earlier = [p for p in payer.sendpays if p.payment_hash == inv.payment_hash]
        done = next((p for p in earlier if p.status == "complete"), None)
        if done is not None:
            if xpay:
                raise MethodError(errors.PAY_INVOICE_ALREADY_PAID, "Already paid this invoice")
            return done
        if any(p.status == "pending" for p in earlier):
            raise MethodError(errors.PAY_IN_PROGRESS, "Payment already in progress for "
                             f"{inv.payment_hash}")
        now = self.clock()
        if now >= inv.expires_at:
            raise MethodError(errors.PAY_INVOICE_EXPIRED, "Invoice expired",
                             {"now": int(now), "expiry": inv.expires_at})
        dest = self.by_id.get(inv.payee)
        if dest is None:
            raise MethodError(errors.PAY_ROUTE_NOT_FOUND, f"Unknown destination {inv.payee}")
        route = self.graph.find_route(payer.id, dest.id, amount_msat,
                                      avoid=self.offline_ids() | set(avoid))
        if route is None:
            raise MethodError(errors.PAY_ROUTE_NOT_FOUND,
                             f"Could not find a route to {dest.id} for {amount_msat}msat")
        if route.fee_msat > max_fee_msat:
            raise MethodError(fee_code, f"Fee exceeds our fee budget: {route.fee_msat}msat > "
                             f"{max_fee_msat}msat", {"fee_msat": route.fee_msat,
                                                    "maxfee_msat": max_fee_msat})
        record = SendPay(
            created_index=len(payer.sendpays) + 1, payment_hash=inv.payment_hash, bolt11=bolt11,
            destination=dest.id, amount_msat=amount_msat,
            amount_sent_msat=route.amount_sent_msat, created_at=int(now), label=label,
        )
        payer.sendpays.append(record)
        self.graph.lock(route)
        task = asyncio.create_task(self._deliver(dest, route, record),
                                   name=f"lnsim-pay-{inv.payment_hash[:12]}")
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return await asyncio.shield(task)

    def _route_delay_s(self, route: Route) -> float:
        ids = {route.hops[0].sender} | {h.receiver for h in route.hops}
        return max(self.by_id[i].delay_s for i in ids)

    async def _deliver(self, dest: SimNode, route: Route, record: SendPay) -> SendPay:
        delay = self._route_delay_s(route)
        if delay > 0:
            await asyncio.sleep(delay)
        self._updated_index += 1
        record.updated_index = self._updated_index
        record.completed_at = int(self.clock())
        if not dest.invoices.can_accept(record.payment_hash, record.amount_msat):
            self.graph.fail(route)
            record.status = "failed"
            raise MethodError(errors.PAY_DESTINATION_PERM_FAIL, "Destination refused the "
                             "payment: WIRE_INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS", {
                                 "erring_index": len(route.hops), "erring_node": dest.id,
                                 "erring_channel": route.hops[-1].scid,
                                 "failcode": errors.INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS,
                                 "failcodename": "WIRE_INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS"})
        self.graph.settle(route)
        for inbound, outbound in zip(route.hops, route.hops[1:], strict=False):
            self.by_id[inbound.receiver].fees_collected_msat += (
                inbound.amount_msat - outbound.amount_msat)
        paid = dest.invoices.mark_paid(record.payment_hash, record.amount_msat)
        record.status = "complete"
        record.preimage = paid.preimage
        return record
