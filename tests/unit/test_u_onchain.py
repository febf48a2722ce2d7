"""The fee arithmetic behind "no trade goes on-chain" (agent/domain/onchain.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.domain import onchain
from agent.domain.units import MSAT_PER_BTC

KWH_MSAT = round(0.20 / 90_000 * MSAT_PER_BTC)  # the demo's 0.20 EUR/kWh at 90,000 EUR/BTC


def test_the_smallest_payment_is_141_vbytes() -> None:
    assert onchain.PAYMENT_VBYTES == 141
    assert onchain.fee_sat(1) == 141
    assert onchain.fee_sat(10) == 1410
    assert onchain.fee_sat(2.5) == 353


@pytest.mark.parametrize("feerate", [2, 10, 50])
def test_an_on_chain_payment_costs_more_than_a_whole_kwh_trade(feerate: float) -> None:
    assert KWH_MSAT == 222_222
    assert onchain.fee_sat(feerate) * 1000 > KWH_MSAT


def test_even_at_the_relay_floor_the_fee_is_most_of_a_kwh_trade() -> None:
    assert onchain.fee_share(KWH_MSAT, onchain.fee_sat(1)) == pytest.approx(0.6345, abs=1e-4)


def test_least_amount_worth_moving() -> None:
    assert onchain.min_amount_msat(141) == 14_100_000  # 1 %: 14,100 sat
    assert onchain.min_amount_msat(1410, 0.05) == 28_200_000
    with pytest.raises(ValueError, match="max_fee_share"):
        onchain.min_amount_msat(141, 0)


@given(st.integers(1, 10**6), st.floats(0.001, 1))
def test_at_the_least_amount_the_share_is_within_bounds(fee: int, share: float) -> None:
    amount = onchain.min_amount_msat(fee, share)
    assert onchain.fee_share(amount, fee) <= share
    assert onchain.fee_share(amount - 1000, fee) > share or amount == 1000
