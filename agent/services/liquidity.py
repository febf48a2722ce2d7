"""Liquidity: keep the channels able to carry the horizon's payments and sales.

Every `every_s` it asks `need()` (the forecast's capacity need: HorizonNeed in
agent/services/liquidity_need.py), reads the channels and the wallet, logs the
channel utilisation and acts on `plan`: splices in or out, or a circular rebalance under
its fee budget (counted: amounts and fees in msat); an inbound shortfall is reported.
A splice moves at least `min_splice_msat`, and at least its on-chain fee (the node's
`feerates`) over `max_onchain_fee_share` (agent/domain/onchain.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from agent.domain import onchain
from agent.domain.liquidity import Action, Need, plan, utilisation
from agent.ports import LiquidityNode, NodeUnavailable, PaymentRefused
from agent.services.state import AgentState

log = structlog.get_logger("liquidity")


@dataclass(frozen=True, slots=True)
class LiquidityConfig:
    every_s: float                    # real seconds between looks at the channels
    margin: float = 0.2               # headroom over the need
    idle_factor: float = 3.0          # capacity beyond this many needs is idle
    min_splice_msat: int = 10_000_000
    rebalance_fee_ppm: int = 1_000
    max_onchain_fee_share: float = onchain.DEFAULT_MAX_FEE_SHARE  # a splice's fee / amount


class Liquidity:
    def __init__(self, node: LiquidityNode, state: AgentState, need: Callable[[], Need | None],
                 config: LiquidityConfig) -> None:
        self._node = node
        self._state = state
        self._need = need
        self._every_s = config.every_s
        self._margin = config.margin
        self._idle_factor = config.idle_factor
        self._min_splice_msat = config.min_splice_msat
        self._fee_ppm = config.rebalance_fee_ppm
        self._fee_share = config.max_onchain_fee_share

    async def run(self) -> None:
        while True:
            try:
                await self.step()
            except NodeUnavailable as exc:
                log.debug("node_unavailable", error=str(exc))
            self._state.heartbeats["liquidity"] = time.monotonic()
            await asyncio.sleep(self._every_s)

    async def step(self) -> list[Action]:
        need = self._need()
        if need is None:
            return []
        channels = await self._node.channels()
        wallet = await self._node.wallet_msat()
        fee_sat = await self._node.splice_fee_sat()
        min_splice = self._min_splice_msat if fee_sat is None else max(
            self._min_splice_msat, onchain.min_amount_msat(fee_sat, self._fee_share))
        share = utilisation(channels)
        self._state.counters["channel_utilisation_permille"] = round(1000 * share)
        log.info("channel_utilisation", channels=len(channels), utilisation=round(share, 3),
                 outbound_msat=sum(c.spendable_msat for c in channels),
                 inbound_msat=sum(c.receivable_msat for c in channels),
                 need_outbound_msat=need.outbound_msat, need_inbound_msat=need.inbound_msat,
                 splice_fee_sat=fee_sat, min_splice_msat=min_splice)
        actions = plan(channels, need, wallet_msat=wallet, margin=self._margin,
                       idle_factor=self._idle_factor, min_splice_msat=min_splice,
                       rebalance_fee_ppm=self._fee_ppm)
        for action in actions:
            await self._act(action)
        return actions

    async def _act(self, a: Action) -> None:
        c = self._state.counters
        if a.kind in ("splice_in", "splice_out"):
            delta = a.amount_msat if a.kind == "splice_in" else -a.amount_msat
            try:
                txid = await self._node.splice(a.scid, delta)
            except PaymentRefused as exc:  # the node or its signer said no: report, go on
                c["splices_refused"] += 1
                log.exception("splice_refused", scid=a.scid, amount_msat=delta, error=str(exc))
                return
            c["splices"] += 1
            c[f"{a.kind}_msat"] += a.amount_msat
            log.info("spliced", kind=a.kind, scid=a.scid, amount_msat=a.amount_msat, txid=txid,
                     reason=a.reason)
        elif a.kind == "rebalance":
            try:
                fee = await self._node.rebalance(a.scid, a.to_scid, a.amount_msat,
                                                 a.max_fee_msat)
            except PaymentRefused as exc:  # no circular route, over budget, failed: report
                c["rebalances_failed"] += 1
                log.warning("rebalance_failed", from_scid=a.scid, to_scid=a.to_scid,
                            amount_msat=a.amount_msat, error=str(exc))
                return
            c["rebalances"] += 1
            c["rebalance_fees_msat"] += fee
            log.info("rebalanced", from_scid=a.scid, to_scid=a.to_scid,
                     amount_msat=a.amount_msat, fee_msat=fee, max_fee_msat=a.max_fee_msat,
                     reason=a.reason)
        else:
            c["inbound_short"] += 1
            log.warning("inbound_short", scid=a.scid, missing_msat=a.amount_msat,
                        reason=a.reason)
