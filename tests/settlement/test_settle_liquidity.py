"""Liquidity: the pure planner on numbers, and the service splicing a stand-in channel."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lnsim_harness import Lnsim, start_lnsim

from agent.adapters.cln.channels import ClnChannels
from agent.adapters.cln.node import ClnNode
from agent.daemon import Agent
from agent.domain.liquidity import Action, ChannelState, Need, need_from_forecast, plan
from agent.ports import PaymentRefused
from agent.services.liquidity import Liquidity, LiquidityConfig
from agent.services.liquidity_need import horizon_prices
from agent.services.state import AgentState
from agent.settings import AgentSettings
from lnsim.network import NodeOptions

M = 1_000_000_000  # 1 000 000 sat in msat


def test_need_from_forecast_by_hand() -> None:
    # Step 0 imports 1.0 ± 0.5 kW, step 1 exports 2.0 ± 0.5 kW; 15-min steps.
    need = need_from_forecast([1.0, -2.0], [0.5, 0.5], 900, [100_000, 200_000])
    # buy: 1.5 kW × 0.25 h × 100 000 msat/kWh; sell: 2.5 kW × 0.25 h × 200 000 msat/kWh
    assert need == Need(37_500, 125_000, 37_500, 125_000)
    assert need_from_forecast([1.0], [0.5], 900, [100_000], z=0.0).outbound_msat == 25_000
    with pytest.raises(ValueError, match="same steps"):
        need_from_forecast([1.0], [], 900, [1])


def _ch(scid: str, out: int, inbound: int) -> ChannelState:
    return ChannelState(scid, "peer-" + scid, out + inbound, out, inbound)


@pytest.mark.parametrize(("channels", "need", "wallet", "expected"), [
    pytest.param([_ch("a", M, M)], Need(M, M // 2, M // 10, M // 10), 10 * M,
                 [Action("splice_in", "a", M // 5, reason="outbound 1000000000 < needed "
                         "1200000000 msat")], id="outbound-short"),
    pytest.param([_ch("a", M, M)], Need(M, 0, 0, 0), 50_000_999,
                 [Action("splice_in", "a", 50_000_000, reason="outbound 1000000000 < needed "
                         "1200000000 msat")], id="wallet-caps"),
    pytest.param([_ch("a", M, M)], Need(M, 0, 0, 0), 9_999_999, [], id="wallet-too-small"),
    pytest.param([_ch("a", 4 * M, M)], Need(M // 2, 0, 0, 0), 0,
                 [Action("splice_out", "a", 4 * M - 3 * 600_000_000, reason="outbound "
                         "4000000000 idle beyond 3.0x the needed 600000000 msat")], id="idle"),
    pytest.param([_ch("a", M // 2, M), _ch("b", M // 2, M)], Need(M // 2, 0, 3 * M // 4, 0),
                 0, [Action("rebalance", "a", M // 4, to_scid="b", max_fee_msat=250_000,
                            reason="no channel carries the largest payment alone")],
                 id="rebalance"),
    pytest.param([_ch("a", M, M // 10)], Need(M // 2, M, 0, 0), 0,
                 [Action("inbound_short", "a", 1_200_000_000 - M // 10,
                         reason="inbound 100000000 < needed 1200000000 msat")],
                 id="inbound-short"),
    pytest.param([_ch("a", M, M)], Need(M // 2, M // 2, M // 4, M // 4), 10 * M, [],
                 id="enough"),
    pytest.param([], Need(M, M, M, M), 10 * M, [], id="no-channels"),
])
def test_plan(channels: list[ChannelState], need: Need, wallet: int,
              expected: list[Action]) -> None:
    assert plan(channels, need, wallet_msat=wallet) == expected


@pytest.mark.parametrize("old_node", [False, True], ids=["splicein", "splice_init"])
async def test_service_splices_in_when_the_forecast_needs_more(tmp_path: Path,
                                                                old_node: bool) -> None:
    disabled = frozenset({"splicein", "spliceout"} if old_node else ())
    ln = start_lnsim(["alice", "bob"], options=NodeOptions(disabled=disabled))
    try:
        chans = ClnChannels(ClnNode(ln.path("alice")))
        before = await chans.channels()
        wallet = await chans.wallet_msat()
        spendable = before[0].spendable_msat
        state = AgentState("alice")
        want = Need(spendable + 100 * M // 1000, 0, 0, 0)  # 100 000 sat more than we have
        service = Liquidity(chans, state, lambda: want, LiquidityConfig(every_s=60))
        actions = await service.step()
        assert [a.kind for a in actions] == ["splice_in"]
        after = await chans.channels()
        grown = after[0].capacity_msat - before[0].capacity_msat
        assert grown == actions[0].amount_msat >= 100 * M // 1000
        assert await chans.wallet_msat() == wallet - grown
        assert state.counters["splice_in_msat"] == grown
        assert state.counters["splices"] == 1
        assert 0 < state.counters["channel_utilisation_permille"] < 1000
        assert await service.step() == []  # enough now
    finally:
        ln.stop()
        shutil.rmtree(ln.dir, ignore_errors=True)


async def test_service_splices_idle_funds_out(ln: Lnsim) -> None:
    chans = ClnChannels(ClnNode(ln.path("alice")))
    before = (await chans.channels())[0]
    state = AgentState("alice")
    service = Liquidity(chans, state, lambda: Need(1_000_000, 0, 0, 0), LiquidityConfig(every_s=60))
    actions = await service.step()
    assert [a.kind for a in actions] == ["splice_out"]
    after = (await chans.channels())[0]
    assert before.capacity_msat - after.capacity_msat == actions[0].amount_msat
    assert state.counters["splice_out_msat"] == actions[0].amount_msat


def test_horizon_prices_follow_the_signal_then_the_tariff() -> None:
    assert horizon_prices(10, [5, 6, 7], 11, 4, 99) == [6, 7, 99, 99]
    assert horizon_prices(None, [], 11, 2, 99) == [99, 99]
    assert horizon_prices(20, [5, 6], 11, 2, 99) == [99, 99]  # a signal for later only


async def test_daemon_wires_liquidity_to_its_forecast(ln: Lnsim, tmp_path: Path) -> None:
    settings = AgentSettings.model_validate({
        "agent_id": "alice", "lightning": {"rpc_socket": ln.path("alice")},
        "paths": {"state_dir": str(tmp_path)}, "liquidity": {"enabled": True, "z": 2.0}})
    agent = Agent(settings)
    try:
        need = agent.liquidity_need()
        assert need is not None
        assert need.outbound_msat >= 0
        assert need.inbound_msat >= 0
        assert need.outbound_msat + need.inbound_msat > 0  # 24 h of a home's net load
        await agent.liquidity.step()
        assert "channel_utilisation_permille" in agent.state.counters
    finally:
        agent.journal.close()


async def test_circular_rebalance_moves_outbound_and_reports_its_fee(tmp_path: Path) -> None:
    ln = start_lnsim(["alice", "bob", "carol"], topology="mesh")
    try:
        chans = ClnChannels(ClnNode(ln.path("alice")))
        by_peer = {c.peer_id: c.scid for c in await chans.channels()}
        to_bob, to_carol = by_peer[ln.id("bob")], by_peer[ln.id("carol")]
        for scid in (to_bob, to_carol):  # 600 000 sat on our side of each channel
            ln.rpc("alice").call("dev-lnsim-set-balance", {
                "short_channel_id": scid, "node": "alice", "balance_msat": 600 * M // 1000})
        before = {c.scid: c.spendable_msat for c in await chans.channels()}
        state = AgentState("alice")
        # One payment of 1 000 000 sat: no channel carries it alone, both together do.
        service = Liquidity(chans, state, lambda: Need(M // 2, 0, M, 0),
                            LiquidityConfig(every_s=60))
        actions = await service.step()
        assert [a.kind for a in actions] == ["rebalance"]
        a = actions[0]
        after = {c.scid: c.spendable_msat for c in await chans.channels()}
        fee = state.counters["rebalance_fees_msat"]
        assert state.counters["rebalances"] == 1
        assert 0 < fee <= a.max_fee_msat
        assert after[a.to_scid] - before[a.to_scid] == a.amount_msat
        assert before[a.scid] - after[a.scid] == a.amount_msat + fee
        assert max(after.values()) >= M  # the largest payment fits one channel now
        assert await service.step() == []
        with pytest.raises(PaymentRefused, match="over the budget"):
            await chans.rebalance(to_bob, to_carol, 1_000_000, max_fee_msat=0)
    finally:
        ln.stop()
        shutil.rmtree(ln.dir, ignore_errors=True)


async def test_no_splice_whose_fee_is_over_its_share() -> None:
    """A splice moves at least fee / max_onchain_fee_share: at the regtest nodes' splice
    rate (7,505 sat per 1000 WU, tests/realnode) 100,000 sat is not worth a splice (7.5 %);
    at 5 % share it still is not; with the share at 10 % it is."""
    ln = start_lnsim(["alice", "bob"], options=NodeOptions(feerate_perkw=7505))
    try:
        chans = ClnChannels(ClnNode(ln.path("alice")))
        assert await chans.splice_fee_sat() == 7505
        spendable = (await chans.channels())[0].spendable_msat
        want = Need(spendable + 100 * M // 1000, 0, 0, 0)
        for share, kinds in ((0.01, []), (0.05, []), (0.10, ["splice_in"])):
            state = AgentState("alice")
            service = Liquidity(chans, state, lambda: want, LiquidityConfig(
                every_s=60, margin=0.0, max_onchain_fee_share=share))
            assert [a.kind for a in await service.step()] == kinds
    finally:
        ln.stop()
        shutil.rmtree(ln.dir, ignore_errors=True)
