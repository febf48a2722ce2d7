"""Wire models: lossless round trips, and `decode` turns every bad payload into WireError."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.domain.negotiation import Move
from agent.wire import (
    MAX_PAYLOAD_BYTES,
    MoveMsg,
    Presence,
    Roster,
    RosterEntry,
    Signal,
    StateReport,
    WireError,
    decode,
    encode,
    roster_digest,
)

NODE = "02" + "ab" * 32
TRADE = "0123456789abcdef" * 2

MOVE = MoveMsg(kind="counter", trade_id=TRADE, interval=1_900_000, sender="home-1",
               receiver="home-2", round=2, energy_wh=750, price_msat_per_kwh=270_000,
               deadline_s=1.71e9, invoice="lnbcrt1xyz", node_id=NODE, sent_s=1.71e9 - 3.5)
REPORT = StateReport(agent_id="home-1", node_id=NODE, interval=7, soc_pct=55.5,
                     battery_wh=10_000.0, battery_max_w=5_000.0,
                     forecast_mean_kw=[0.5, -1.25, 3.0], forecast_std_kw=[0.1, 0.2, 0.0])
SIGNAL = Signal(seq=3, interval=8, interval_s=900, price_msat_per_kwh=[100_000, 250_000],
                net_load_kw=[1.5, -2.0], net_load_std_kw=[0.3, 0.4], agents=2,
                roster_digest="ab" * 32, residual=0.0, issued_s=1.71e9,
                solver="equilibrium", plan_power_per_kwh=[[0.1, -0.2], [0.0, 0.3]],
                plan_crate_edges=[0.45])
PRESENCE = Presence(agent_id="home-1", online=False)
ENTRY = RosterEntry(agent_id="home-9", node_id=NODE)
ROSTER = Roster(seq=1, digest=roster_digest([ENTRY]), entries=[ENTRY], issued_s=1.71e9)
ALL = [MOVE, REPORT, SIGNAL, PRESENCE, ENTRY, ROSTER]


@pytest.mark.parametrize("message", ALL, ids=lambda m: type(m).__name__)
def test_round_trip(message: Any) -> None:
    payload = encode(message)
    assert isinstance(payload, bytes)
    assert decode(payload, type(message)) == message
    assert json.loads(payload)["v"] == 1


def test_move_round_trip_through_domain() -> None:
    move = MOVE.to_move()
    assert isinstance(move, Move)
    assert MoveMsg.of(move, NODE, MOVE.sent_s) == MOVE


def as_json(message: Any, **changes: Any) -> bytes:
    doc = json.loads(encode(message))
    doc.update(changes)
    return json.dumps(doc).encode()


def with_raw(message: Any, key: str, raw: str) -> bytes:
    """Replace one field's JSON text verbatim (for NaN/Infinity, which json.dumps would
    otherwise write only for floats)."""
    doc = json.loads(encode(message))
    doc[key] = "@@"
    return json.dumps(doc).replace('"@@"', raw).encode()


def with_list_raw(message: Any, key: str, raw: str) -> bytes:
    doc = json.loads(encode(message))
    doc[key] = [1.0, "@@"]
    return json.dumps(doc).replace('"@@"', raw).encode()


BAD: list[Any] = [
    pytest.param(b"not json at all", MoveMsg, "Invalid JSON", id="not-json"),
    pytest.param(b"", Presence, "Invalid JSON", id="empty"),
    pytest.param(b"\xff\xfe\xfd", Presence, "Invalid JSON", id="not-utf8"),
    pytest.param(b"[1, 2]", Presence, "object", id="array"),
    pytest.param(b'"presence"', Presence, "object", id="string"),
    pytest.param(encode(PRESENCE), MoveMsg, "type", id="wrong-type-presence-as-move"),
    pytest.param(encode(REPORT), Signal, "type", id="wrong-type-report-as-signal"),
    pytest.param(as_json(PRESENCE, online="maybe"), Presence, "online", id="field-type"),
    pytest.param(as_json(PRESENCE, extra=1), Presence, "extra", id="extra-field"),
    pytest.param(as_json(MOVE, signature="00"), MoveMsg, "signature", id="extra-field-move"),
    pytest.param(as_json(PRESENCE, v=2), Presence, "v:", id="version-2"),
    pytest.param(as_json(PRESENCE, v="1"), Presence, "v:", id="version-string"),
    pytest.param(as_json(MOVE, node_id="04" + "ab" * 32), MoveMsg, "node_id", id="node-id-prefix"),
    pytest.param(as_json(MOVE, node_id="02" + "AB" * 32), MoveMsg, "node_id", id="node-id-upper"),
    pytest.param(as_json(MOVE, node_id=NODE[:-2]), MoveMsg, "node_id", id="node-id-short"),
    pytest.param(as_json(REPORT, node_id=""), StateReport, "node_id", id="node-id-empty"),
    pytest.param(as_json(MOVE, trade_id=TRADE[:-1]), MoveMsg, "trade_id", id="trade-id-short"),
    pytest.param(as_json(MOVE, trade_id=TRADE.upper()), MoveMsg, "trade_id", id="trade-id-upper"),
    pytest.param(as_json(MOVE, trade_id="../" + TRADE[3:]), MoveMsg, "trade_id",
                 id="trade-id-path"),
    pytest.param(as_json(MOVE, sender="Home 1"), MoveMsg, "sender", id="bad-agent-id"),
    pytest.param(as_json(MOVE, kind="steal"), MoveMsg, "kind", id="bad-kind"),
    pytest.param(as_json(MOVE, energy_wh=-1), MoveMsg, "energy_wh", id="negative-energy"),
    pytest.param(with_raw(MOVE, "deadline_s", "NaN"), MoveMsg, "deadline_s", id="nan-deadline"),
    pytest.param(with_raw(MOVE, "sent_s", "Infinity"), MoveMsg, "sent_s", id="inf-sent"),
    pytest.param(with_raw(MOVE, "sent_s", "1e999"), MoveMsg, "sent_s", id="overflow-sent"),
    pytest.param(with_raw(REPORT, "soc_pct", "NaN"), StateReport, "soc_pct", id="nan-soc"),
    pytest.param(with_list_raw(REPORT, "forecast_mean_kw", "NaN"), StateReport,
                 "forecast_mean_kw", id="nan-forecast"),
    pytest.param(with_list_raw(REPORT, "forecast_std_kw", "Infinity"), StateReport,
                 "forecast_std_kw", id="inf-forecast-std"),
    pytest.param(with_raw(SIGNAL, "issued_s", "NaN"), Signal, "issued_s", id="nan-issued"),
    pytest.param(with_raw(SIGNAL, "issued_s", "-Infinity"), Signal, "issued_s",
                 id="inf-issued"),
    pytest.param(with_list_raw(SIGNAL, "net_load_std_kw", "Infinity"), Signal,
                 "net_load_std_kw", id="inf-signal-std"),
    pytest.param(with_list_raw(SIGNAL, "net_load_kw", "NaN"), Signal, "net_load_kw",
                 id="nan-signal-load"),
    pytest.param(with_raw(SIGNAL, "residual", "NaN"), Signal, "residual", id="nan-residual"),
    pytest.param(as_json(REPORT, forecast_mean_kw=[]), StateReport, "forecast_mean_kw",
                 id="empty-forecast"),
    pytest.param(as_json(REPORT, forecast_mean_kw=[0.0] * 673), StateReport,
                 "forecast_mean_kw", id="long-forecast"),
    pytest.param(as_json(SIGNAL, price_msat_per_kwh=[-1]), Signal, "price_msat_per_kwh",
                 id="negative-price"),
    pytest.param(as_json(SIGNAL, capacity_share=1.5), Signal, "capacity_share",
                 id="share-above-one"),
    pytest.param(with_raw(SIGNAL, "capacity_share", "NaN"), Signal, "capacity_share",
                 id="nan-share"),
]


@pytest.mark.parametrize(("payload", "model", "reason"), BAD)
def test_decode_rejects_with_reason(payload: bytes, model: Any, reason: str) -> None:
    with pytest.raises(WireError) as info:
        decode(payload, model)
    err = info.value
    assert err.reason == str(err)
    assert reason in err.reason
    assert f"invalid {model.__name__}" in err.reason
    assert "\n" not in err.reason
    assert len(err.reason) < 500


def test_oversize_payload_is_refused_before_parsing() -> None:
    big = as_json(REPORT, forecast_mean_kw=[1.0] * 600)
    padded = big[:-1] + b" " * (MAX_PAYLOAD_BYTES - len(big) + 1) + b"}"
    assert len(padded) == MAX_PAYLOAD_BYTES + 1
    with pytest.raises(WireError, match="oversize payload: 65537 bytes > 65536"):
        decode(padded, StateReport)
    # Exactly at the cap is still parsed.
    at_cap = big[:-1] + b" " * (MAX_PAYLOAD_BYTES - len(big)) + b"}"
    assert decode(at_cap, StateReport).forecast_mean_kw == [1.0] * 600


def test_the_largest_legal_report_fits_the_cap() -> None:
    """A 672-step report with long floats must not be refused as oversize."""
    x = -1234.5678901234567
    report = REPORT.model_copy(update={"forecast_mean_kw": [x] * 672,
                                       "forecast_std_kw": [-x] * 672})
    payload = encode(report)
    assert len(payload) <= MAX_PAYLOAD_BYTES
    assert decode(payload, StateReport) == report


MODELS = [MoveMsg, StateReport, Signal, Presence, RosterEntry, Roster]


@settings(max_examples=2_500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=st.binary(max_size=2_048), model=st.sampled_from(MODELS))
def test_arbitrary_bytes_raise_only_wire_error(payload: bytes, model: Any) -> None:
    with contextlib.suppress(WireError):
        decode(payload, model)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=20,
)


@settings(max_examples=2_000, deadline=None)
@given(doc=st.data(), model=st.sampled_from(ALL))
def test_mutated_valid_messages_raise_only_wire_error(doc: st.DataObject, model: Any) -> None:
    """Valid messages with one field replaced by any JSON value (NaN included): either a
    valid message with only finite floats comes out, or WireError."""
    fields = json.loads(encode(model))
    key = doc.draw(st.sampled_from(sorted(fields)))
    fields[key] = doc.draw(json_values)
    payload = json.dumps(fields).encode()  # allow_nan: writes NaN / Infinity verbatim
    try:
        decoded = decode(payload, type(model))
    except WireError:
        return
    assert decode(encode(decoded), type(model)) == decoded
    assert "NaN" not in encode(decoded).decode()
    assert "Infinity" not in encode(decoded).decode()
