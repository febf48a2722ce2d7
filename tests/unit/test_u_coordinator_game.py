"""The coordinator's game: types from reports, prices, the signed signal, robustness."""

from __future__ import annotations

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.adapters.mqtt import MqttTransport
from agent.clock import WallClock
from agent.crypto.signal_sig import load_or_create_key, public_hex, sign_signal, verify_signal
from agent.domain.units import Tariff
from agent.ports import InboundMessage
from agent.settings import CoordinatorSettings, MarketSettings
from agent.wire import Signal, StateReport, decode, encode
from bench.robustness import honest_reports, lie, shifts
from coordinator.game import GameConfig, Report, solve_reports, types_of
from coordinator.service import Coordinator

NODE = "02" + "11" * 32
TARIFF = Tariff(300_000, 400_000, 80_000)


def reports(n: int, steps: int = 24) -> list[Report]:
    return honest_reports(n, steps, seed=5)


@pytest.mark.parametrize(("n", "min_size", "max_types", "want"), [
    (1, 5, 16, 1), (10, 5, 16, 2), (10, 20, 16, 1), (100, 5, 16, 16), (100, 20, 16, 5),
    (7, 1, 3, 3),
])
def test_types_split_the_population(n: int, min_size: int, max_types: int, want: int) -> None:
    cfg = GameConfig(min_type_size=min_size, max_types=max_types)
    types = types_of(reports(n), cfg)
    assert len(types) == want
    assert sum(t.count for t in types) == n
    for t in types:
        assert t.soc0.sum() == pytest.approx(1.0)


def test_prices_stay_in_the_tariff_band() -> None:
    retail = np.where(np.arange(24) % 24 >= 17, 0.4, 0.3)
    out = solve_reports(reports(30), retail, 0.08, GameConfig(dt_h=1.0))
    assert np.all(out.price >= 0.08 - 1e-12)
    assert np.all(out.price <= retail + 1e-12)
    assert out.net_load_kw.shape == (24,)
    assert out.solution.residual <= GameConfig().solver.tol


@pytest.mark.parametrize("attack", ["inflate", "deflate", "oscillate", "collude"])
def test_lies_replace_the_asked_fraction(attack: str) -> None:
    clean = reports(40)
    attacked = lie(clean, 0.25, attack)
    changed = sum(not np.array_equal(a.mean_kw, c.mean_kw) for a, c in zip(attacked, clean,
                                                                         strict=True))
    assert changed == 10


def test_robust_estimates_move_the_price_less_than_the_mean() -> None:
    rows = shifts(n=40, steps=24, fractions=(0.1,), attacks=("inflate", "deflate"),
                  cfg=GameConfig(dt_h=1.0))
    for row in rows:
        assert row.price_shift_rel_robust < row.price_shift_rel_mean


# --- signing ------------------------------------------------------------------------------


def signal() -> Signal:
    return Signal(seq=1, interval=5, interval_s=900, price_msat_per_kwh=[1, 2],
                  net_load_kw=[0.0, 1.0], net_load_std_kw=[0.0, 0.5], agents=0,
                  residual=0.0, issued_s=1.0)


def test_signature_round_trips_and_binds_every_field() -> None:
    key = Ed25519PrivateKey.generate()
    signed = sign_signal(signal(), key)
    assert verify_signal(signed, public_hex(key))
    assert verify_signal(decode(encode(signed), Signal), public_hex(key))
    tampered = signed.model_copy(update={"price_msat_per_kwh": [1, 3]})
    assert not verify_signal(tampered, public_hex(key))
    other = Ed25519PrivateKey.generate()
    assert not verify_signal(signed, public_hex(other))
    assert not verify_signal(signal(), public_hex(key))  # unsigned


def test_key_file_is_created_private_and_reused(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "keys" / "coordinator.key"  # type: ignore[operator]
    first = load_or_create_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert public_hex(load_or_create_key(path)) == public_hex(first)
    assert public_hex(load_or_create_key(None)) != public_hex(first)


# --- the service's compute ----------------------------------------------------------------


def coordinator(solver: str, key: Ed25519PrivateKey | None = None) -> Coordinator:
    s = CoordinatorSettings(market=MarketSettings(community="test", horizon_steps=96),
                            solver=solver)  # type: ignore[arg-type]
    return Coordinator(s, MqttTransport(s.broker, "coordinator-test"), WallClock(), TARIFF,
                       key=key)


def deliver(c: Coordinator, agent: str, first: int, mean: list[float], soc: float) -> None:
    r = StateReport(agent_id=agent, node_id=NODE, interval=first, soc_pct=soc,
                    battery_wh=10_000.0, battery_max_w=5_000.0, forecast_mean_kw=mean,
                    forecast_std_kw=[0.3] * len(mean), risk_aversion_per_eur=0.5)
    c.on_report(InboundMessage(f"peerwatt/v1/test/state/{agent}", encode(r)))


def test_mftg_signal_carries_the_solution_and_is_signed() -> None:
    key = Ed25519PrivateKey.generate()
    c = coordinator("mftg", key)
    first = 19_000 * 96
    for i in range(10):
        mean = list(np.sin(np.arange(96) / 10.0 + i) * 2.0)
        deliver(c, f"home-{i}", first, mean, 10.0 * i)
    s = c.compute(first)
    assert s is not None
    assert s.solver == "mftg"
    assert s.iterations >= 1
    assert s.residual <= GameConfig().solver.tol
    assert 0 <= s.exploitability_rel < 0.01
    assert len(s.equilibrium_net_load_kw) == 96
    assert c.roster is not None
    assert [r.agent_id for r in c.roster.entries] == [f"home-{i}" for i in range(10)]
    for i, p in enumerate(s.price_msat_per_kwh):
        assert TARIFF.feed_in_msat_per_kwh <= p <= TARIFF.retail_at((first + i) * 900)
    assert verify_signal(decode(encode(s), Signal), public_hex(key))
    # Batteries flatten the community's net load.
    assert np.std(s.equilibrium_net_load_kw) < np.std(s.net_load_kw)


def test_v0_solver_is_still_available() -> None:
    c = coordinator("v0")
    deliver(c, "a", 100, [1.0] * 96, 50.0)
    s = c.compute(100)
    assert s is not None
    assert s.solver == "v0"
    assert s.iterations == 0
    assert s.sig == ""


def test_bench_command_is_wired(capsys: pytest.CaptureFixture[str]) -> None:
    from peerwatt.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["coordinator", "bench", "--help"])
    assert exc.value.code == 0
    assert "--json" in capsys.readouterr().out
