"""Money and energy units. Money is integer millisatoshi; energy is integer Wh on the wire."""

from __future__ import annotations

from dataclasses import dataclass

MSAT_PER_BTC = 100_000_000_000


@dataclass(frozen=True, slots=True)
class Tariff:
    """Grid prices in msat/kWh: what a home pays to import and gets to export."""

    retail_msat_per_kwh: int
    peak_retail_msat_per_kwh: int
    feed_in_msat_per_kwh: int
    peak_hours: tuple[int, int] = (17, 21)

    def retail_at(self, t_s: float) -> int:
        hour = int(t_s // 3600) % 24
        lo, hi = self.peak_hours
        return self.peak_retail_msat_per_kwh if lo <= hour < hi else self.retail_msat_per_kwh


def eur_to_msat(eur: float, eur_per_btc: float) -> int:
    return round(eur * MSAT_PER_BTC / eur_per_btc)


def msat_to_eur(msat: int, eur_per_btc: float) -> float:
    return msat * eur_per_btc / MSAT_PER_BTC


def amount_msat(energy_wh: int, price_msat_per_kwh: int) -> int:
    """Price of `energy_wh` at `price_msat_per_kwh`, rounded half up to a whole msat."""
    if energy_wh < 0 or price_msat_per_kwh < 0:
        raise ValueError("energy and price must be non-negative")
    return (energy_wh * price_msat_per_kwh + 500) // 1000


def tariff_from_eur(
    retail: float, peak_retail: float, feed_in: float, eur_per_btc: float
) -> Tariff:
    return Tariff(
        retail_msat_per_kwh=eur_to_msat(retail, eur_per_btc),
        peak_retail_msat_per_kwh=eur_to_msat(peak_retail, eur_per_btc),
        feed_in_msat_per_kwh=eur_to_msat(feed_in, eur_per_btc),
    )
