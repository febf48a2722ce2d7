"""The grid tariff of a market's settings, in msat (agent.domain.units.Tariff)."""

from __future__ import annotations

from agent.domain.units import Tariff, tariff_from_eur
from agent.settings import MarketSettings


def make_tariff(m: MarketSettings) -> Tariff:
    return tariff_from_eur(m.retail_eur_per_kwh, m.peak_retail_eur_per_kwh,
                           m.feed_in_eur_per_kwh, m.eur_per_btc)
