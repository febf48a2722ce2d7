"""The shared channel graph: balances per side, fee policies, cheapest-fee routing.

Pure: no asyncio, no I/O. Money is integer msat. A route is found backwards from the
destination (as a real sender computes onion amounts): the "distance" of a node is the
amount that must reach it, so Dijkstra minimises what the payer sends.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

DEFAULT_FEE_BASE_MSAT = 1000  # Core Lightning's default fee-base
DEFAULT_FEE_PPM = 10  # Core Lightning's default fee-per-satoshi (ppm)
RESERVE_PERMILLE = 10  # each side keeps 1% of capacity as channel reserve


@dataclass(frozen=True, slots=True)
class FeePolicy:
    base_msat: int = DEFAULT_FEE_BASE_MSAT
    ppm: int = DEFAULT_FEE_PPM

    def fee_msat(self, forwarded_msat: int) -> int:
        return self.base_msat + forwarded_msat * self.ppm // 1_000_000


@dataclass(slots=True)
class Channel:
    scid: str
    node_a: str
    node_b: str
    capacity_msat: int
    balance_msat: dict[str, int]
    policy: dict[str, FeePolicy]  # policy of the *sending* side of each direction
    in_flight_msat: dict[str, int] = field(default_factory=dict)

    @property
    def reserve_msat(self) -> int:
        return self.capacity_msat * RESERVE_PERMILLE // 1000

    def peer_of(self, node: str) -> str:
        return self.node_b if node == self.node_a else self.node_a

    def spendable_msat(self, node: str) -> int:
        return max(0, self.balance_msat[node] - self.reserve_msat)

    def receivable_msat(self, node: str) -> int:
        return self.spendable_msat(self.peer_of(node))


@dataclass(frozen=True, slots=True)
class Hop:
    """One HTLC: `sender` hands `amount_msat` to `receiver` over channel `scid`."""

    scid: str
    sender: str
    receiver: str
    amount_msat: int


@dataclass(frozen=True, slots=True)
class Route:
    hops: tuple[Hop, ...]

    @property
    def amount_sent_msat(self) -> int:
        return self.hops[0].amount_msat

    @property
    def amount_delivered_msat(self) -> int:
        return self.hops[-1].amount_msat

    @property
    def fee_msat(self) -> int:
        return self.amount_sent_msat - self.amount_delivered_msat


class InsufficientBalanceError(Exception):
    """A hop's sender no longer has the liquidity the route was planned with."""


class ChannelGraph:
    def __init__(self) -> None:
        self.channels: dict[str, Channel] = {}
        self._by_node: dict[str, list[Channel]] = {}

    def add_channel(
        self, node_a: str, node_b: str, capacity_msat: int, *, a_share_msat: int | None = None,
        policy_a: FeePolicy | None = None, policy_b: FeePolicy | None = None,
        scid: str | None = None,
    ) -> Channel:
        if capacity_msat <= 0:
            raise ValueError(f"capacity_msat must be positive, got {capacity_msat}")
        a_msat = capacity_msat // 2 if a_share_msat is None else a_share_msat
        if not 0 <= a_msat <= capacity_msat:
            raise ValueError(f"a_share_msat {a_msat} outside 0..{capacity_msat}")
        if node_a == node_b:
            raise ValueError(f"a channel needs two different nodes, got {node_a!r} twice")
        scid = scid or f"{103 + len(self.channels)}x1x0"
        if scid in self.channels:
            raise ValueError(f"duplicate short_channel_id {scid}")
        chan = Channel(
            scid=scid, node_a=node_a, node_b=node_b, capacity_msat=capacity_msat,
            balance_msat={node_a: a_msat, node_b: capacity_msat - a_msat},
            policy={node_a: policy_a or FeePolicy(), node_b: policy_b or FeePolicy()},
            in_flight_msat={node_a: 0, node_b: 0},
        )
        self.channels[scid] = chan
        self._by_node.setdefault(node_a, []).append(chan)
        self._by_node.setdefault(node_b, []).append(chan)
        return chan

    def channels_of(self, node: str) -> list[Channel]:
        return list(self._by_node.get(node, []))

    def find_route(
        self, source: str, destination: str, amount_msat: int, *, avoid: Iterable[str] = (),
        exclude: Iterable[tuple[str, str]] = (), gossip_view: bool = False,
    ) -> Route | None:
        """Cheapest route by total fee that every hop can afford, or None.

        `exclude` holds (scid, sending node) directions not to use. With `gossip_view`
        the source sees what a real sender sees: its own channels' balances, but of remote
        channels only their capacity, so a route may fail at a hop (`first_short_hop`).
        """
        if amount_msat <= 0 or source == destination:
            return None
        blocked = set(avoid)
        excluded = set(exclude)
        if destination in blocked or source in blocked:
            return None
        # need[n]: what must arrive at n over its incoming channel (at the source: what it
        # sends). Fees only grow with the amount, so Dijkstra on `need` is exact.
        need: dict[str, int] = {destination: amount_msat}
        next_hop: dict[str, tuple[Channel, str]] = {}
        queue: list[tuple[int, str]] = [(amount_msat, destination)]
        done: set[str] = set()
        while queue:
            carried, node = heapq.heappop(queue)
            if node in done:
                continue
            done.add(node)
            if node == source:
                break
            for chan in self._by_node.get(node, []):
                prev = chan.peer_of(node)
                if prev in done or prev in blocked or (chan.scid, prev) in excluded:
                    continue
                if gossip_view and source not in (prev, node):
                    usable = chan.capacity_msat - 2 * chan.reserve_msat
                else:
                    usable = chan.spendable_msat(prev)
                if usable < carried:
                    continue
                fee = 0 if prev == source else chan.policy[prev].fee_msat(carried)
                cost = carried + fee
                if cost < need.get(prev, cost + 1):
                    need[prev] = cost
                    next_hop[prev] = (chan, node)
                    heapq.heappush(queue, (cost, prev))
        if source not in next_hop:
            return None
        hops: list[Hop] = []
        node = source
        while node != destination:
            chan, nxt = next_hop[node]
            carried = amount_msat if nxt == destination else need[nxt]
            hops.append(Hop(chan.scid, node, nxt, carried))
            node = nxt
        return Route(tuple(hops))

    def first_short_hop(self, route: Route) -> int | None:
        """Index of the first hop whose sender cannot afford its HTLC now, or None."""
        for i, hop in enumerate(route.hops):
            if self.channels[hop.scid].spendable_msat(hop.sender) < hop.amount_msat:
                return i
        return None

    def splice(self, scid: str, node: str, delta_msat: int) -> Channel:
        """Grow (delta > 0, from `node`'s wallet) or shrink (delta < 0, from `node`'s side)
        the channel; `node` must keep at least the new reserve."""
        chan = self.channels[scid]
        new_capacity = chan.capacity_msat + delta_msat
        new_balance = chan.balance_msat[node] + delta_msat
        if new_capacity <= 0 or new_balance < new_capacity * RESERVE_PERMILLE // 1000:
            raise InsufficientBalanceError(
                f"{node} cannot splice {delta_msat} msat on {scid}: its side holds "
                f"{chan.balance_msat[node]} msat of {chan.capacity_msat}")
        chan.capacity_msat = new_capacity
        chan.balance_msat[node] = new_balance
        return chan

    def lock(self, route: Route) -> None:
        """Add the route's HTLCs: each sender's balance moves into flight, or nothing does."""
        for hop in route.hops:
            if self.channels[hop.scid].spendable_msat(hop.sender) < hop.amount_msat:
                raise InsufficientBalanceError(f"{hop.sender} cannot send {hop.amount_msat} msat "
                                          f"over {hop.scid}")
        for hop in route.hops:
            chan = self.channels[hop.scid]
            chan.balance_msat[hop.sender] -= hop.amount_msat
            chan.in_flight_msat[hop.sender] += hop.amount_msat

    def settle(self, route: Route) -> None:
        """Fulfil the HTLCs: the amounts land on each receiver's side."""
        for hop in route.hops:
            chan = self.channels[hop.scid]
            chan.in_flight_msat[hop.sender] -= hop.amount_msat
            chan.balance_msat[hop.receiver] += hop.amount_msat

    def fail(self, route: Route) -> None:
        """Fail the HTLCs: the amounts go back to each sender."""
        for hop in route.hops:
            chan = self.channels[hop.scid]
            chan.in_flight_msat[hop.sender] -= hop.amount_msat
            chan.balance_msat[hop.sender] += hop.amount_msat
