"""The simulated nodes, their shared channel graph, and what changed since the last save."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import coincurve

from lnsim.graph import Channel, ChannelGraph, Hop
from lnsim.invoices import InvoiceBook, InvoiceRecord

LSP_NAME = "lsp"
DEFAULT_CHANNEL_SAT = 2_000_000
DEFAULT_WALLET_MSAT = 10_000_000_000  # each node's on-chain wallet (splice-in funds)
# The holdinvoice plugin's option of that name (default 1800 s): within this many seconds
# of the invoice's expiry it takes no new HTLCs and settles (v4) or cancels (v3) the ones
# it holds.
DEFAULT_HOLD_CANCEL_BEFORE_EXPIRY_S = 1800


def node_key(seed: int, name: str) -> coincurve.PrivateKey:
    return coincurve.PrivateKey(hashlib.sha256(f"peerwatt-lnsim/{seed}/{name}".encode()).digest())


@dataclass(slots=True)
class SendPay:
    """One payment part (one attempt of a pay/xpay command), as `listsendpays` shows it."""

    created_index: int
    payment_hash: str
    bolt11: str
    destination: str
    amount_msat: int
    amount_sent_msat: int
    created_at: int
    status: str = "pending"
    groupid: int = 1
    partid: int = 0
    label: str | None = None
    completed_at: int | None = None
    preimage: str | None = None
    updated_index: int | None = None
    hops: tuple[Hop, ...] = ()
    failure: dict[str, Any] | None = None  # the routing failure object, when failed
    failure_code: int | None = None  # 203 (destination) or 204 (along the route)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "created_index": self.created_index, "id": self.created_index,
            "payment_hash": self.payment_hash, "groupid": self.groupid, "partid": self.partid,
            "destination": self.destination, "amount_msat": self.amount_msat,
            "amount_sent_msat": self.amount_sent_msat, "created_at": self.created_at,
            "status": self.status,
        }
        if self.bolt11:
            out["bolt11"] = self.bolt11
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
class HtlcFault:
    """Injected: the next `count` HTLCs that reach `node` fail there with `failcode`."""

    count: int
    failcode: int
    failcodename: str


@dataclass(slots=True)
class XpayLie:
    """Injected: the next `count` xpay calls on this node report error `code` although the
    payment goes on: `mode` "after_complete" (it completed) or "while_pending"."""

    count: int
    code: int
    mode: str


@dataclass(slots=True)
class PendingSplice:
    """A splice_init ... splice_signed sequence under way on one channel."""

    scid: str
    node: str
    relative_msat: int
    token: str
    updated: bool = False


@dataclass(slots=True)
class SimNode:
    name: str
    key: coincurve.PrivateKey
    invoices: InvoiceBook
    sendpays: list[SendPay] = field(default_factory=list)
    fees_collected_msat: int = 0
    wallet_msat: int = DEFAULT_WALLET_MSAT
    offline: bool = False
    delay_s: float = 0.0
    htlc_fault: HtlcFault | None = None
    xpay_lie: XpayLie | None = None
    online: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        if not self.offline:
            self.online.set()

    @property
    def id(self) -> str:
        return str(self.key.public_key.format(compressed=True).hex())

    def next_groupid(self) -> int:
        return max((s.groupid for s in self.sendpays), default=0) + 1


class StateSink(Protocol):
    """Where changed records go (the SQLite state file); see `lnsim.store`."""

    def write(self, net: Network, channels: list[Channel], nodes: list[SimNode],
              invoices: list[tuple[SimNode, InvoiceRecord]],
              sendpays: list[tuple[SimNode, SendPay]]) -> None: ...


@dataclass(frozen=True, slots=True)
class NodeOptions:
    """What every simulated node reports about itself (listconfigs) and offers."""

    remote_signer: bool = True
    disabled: frozenset[str] = frozenset()  # method names answered with -32601
    hold_cancel_before_expiry_s: int = DEFAULT_HOLD_CANCEL_BEFORE_EXPIRY_S
    # What the plugin does with an ACCEPTED invoice at that margin: v4.0.0 (2025-03) settles
    # it ("soft expiry"), v3 canceled it. An OPEN one is canceled either way.
    hold_at_soft_expiry: Literal["settle", "cancel"] = "settle"
    feerate_perkw: int = 253  # what `feerates` reports (no chain): the 1 sat/vB floor


OfflineHook = Callable[[SimNode, bool], Awaitable[None]]


class Network:
    def __init__(self, clock: Callable[[], float] = time.time,
                 options: NodeOptions | None = None) -> None:
        self.graph = ChannelGraph()
        self.nodes: dict[str, SimNode] = {}
        self.by_id: dict[str, SimNode] = {}
        self.clock = clock
        self.options = options or NodeOptions()
        self.on_offline: OfflineHook | None = None
        self.sink: StateSink | None = None
        self.inflight: set[asyncio.Task[None]] = set()
        self.delivering: dict[int, tuple[SimNode, SendPay]] = {}  # parts with HTLCs locked
        self.updated_index = 0
        self.splices: dict[str, PendingSplice] = {}  # by channel_id; not kept across restarts
        self._dirty_channels: dict[str, Channel] = {}
        self._dirty_nodes: dict[str, SimNode] = {}
        self._dirty_invoices: dict[tuple[str, str], tuple[SimNode, InvoiceRecord]] = {}
        self._dirty_sendpays: dict[tuple[str, int], tuple[SimNode, SendPay]] = {}

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
        if offline:
            node.online.clear()
        else:
            node.online.set()
        if self.on_offline is not None:
            await self.on_offline(node, offline)

    def cancel_inflight(self) -> None:
        for task in self.inflight:
            task.cancel()

    def next_updated_index(self) -> int:
        self.updated_index += 1
        return self.updated_index

    # What changed: marked by the engine, written by `flush` in one transaction.
    def touch_route(self, hops: tuple[Hop, ...]) -> None:
        for hop in hops:
            self._dirty_channels[hop.scid] = self.graph.channels[hop.scid]

    def touch_channel(self, chan: Channel) -> None:
        self._dirty_channels[chan.scid] = chan

    def touch_node(self, node: SimNode) -> None:
        self._dirty_nodes[node.name] = node

    def touch_invoice(self, node: SimNode, rec: InvoiceRecord) -> None:
        self._dirty_invoices[(node.name, rec.label)] = (node, rec)

    def touch_sendpay(self, node: SimNode, pay: SendPay) -> None:
        self._dirty_sendpays[(node.name, pay.created_index)] = (node, pay)

    def flush(self) -> None:
        """Write every changed record to the state file (if any) before a reply goes out."""
        if self.sink is None or not (self._dirty_channels or self._dirty_nodes
                                     or self._dirty_invoices or self._dirty_sendpays):
            return
        self.sink.write(self, list(self._dirty_channels.values()),
                        list(self._dirty_nodes.values()), list(self._dirty_invoices.values()),
                        list(self._dirty_sendpays.values()))
        self._dirty_channels.clear()
        self._dirty_nodes.clear()
        self._dirty_invoices.clear()
        self._dirty_sendpays.clear()
