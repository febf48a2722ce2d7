"""Messages on the wire: versioned pydantic models, JSON, size-capped.

`decode` turns bytes into a model or raises :class:`WireError` with a reason short
enough for a log line; callers count and drop. (Signatures, replay protection and the
roster check arrive with the hardened protocol, issue 6.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.domain.negotiation import Move

MAX_PAYLOAD_BYTES = 64 * 1024
# The roster is its own retained message, published when it changes: ~140 B a home, so
# this cap holds some 30,000 homes; every other payload keeps MAX_PAYLOAD_BYTES.
MAX_ROSTER_BYTES = 4 * 1024 * 1024
VERSION: Literal[1] = 1

AgentId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
NodeId = Annotated[str, Field(pattern=r"^(02|03)[0-9a-f]{64}$")]
TradeId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
Kw = Annotated[float, Field(ge=-1e4, le=1e4, allow_inf_nan=False)]
CommunityKw = Annotated[float, Field(ge=-1e7, le=1e7, allow_inf_nan=False)]  # a community's sum


class _Wire(BaseModel):
    # No NaN or infinity anywhere: JSON's "NaN"/"Infinity"/"1e999" would pass a bare float.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    v: Literal[1] = VERSION


class Binding(_Wire):
    """An agent's Ed25519 key, vouched for by its Lightning node's signature (`signmessage`
    over `envelope.binding_statement`); published retained on `identity/{agent}`."""

    type: Literal["binding"] = "binding"
    community: AgentId
    agent_id: AgentId
    node_id: NodeId
    pubkey: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    zbase: Annotated[str, Field(min_length=100, max_length=110, pattern=r"^[a-z0-9]+$")]


class MoveMsg(_Wire):
    type: Literal["move"] = "move"
    kind: Literal["offer", "counter", "accept", "confirm", "reject"]
    trade_id: TradeId
    interval: Annotated[int, Field(ge=0)]
    sender: AgentId
    receiver: AgentId | Literal[""]
    round: Annotated[int, Field(ge=0, le=32)]
    energy_wh: Annotated[int, Field(ge=0, le=1_000_000)]
    price_msat_per_kwh: Annotated[int, Field(ge=0, le=10**10)]
    deadline_s: Annotated[float, Field(allow_inf_nan=False)]
    invoice: Annotated[str, Field(max_length=2048)] = ""
    node_id: NodeId
    sent_s: Annotated[float, Field(allow_inf_nan=False)]
    seq: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    sig: Annotated[str, Field(pattern=r"^([0-9a-f]{128})?$")] = ""  # Ed25519 over topic+body
    # The sender's key binding, carried on first contact (offers, a buyer's first reply) so
    # peers need no directory of every home: O(1) per trade.
    binding: Binding | None = None

    def unsigned(self) -> dict[str, object]:
        """The signed part: every field but the signature, as JSON-ready data."""
        return self.model_dump(mode="json", exclude={"sig"})

    def to_move(self) -> Move:
        return Move(self.kind, self.trade_id, self.interval, self.sender, self.receiver,
                    self.round, self.energy_wh, self.price_msat_per_kwh, self.deadline_s,
                    self.invoice)

    @classmethod
    def of(cls, move: Move, node_id: str, sent_s: float) -> MoveMsg:
        return cls(kind=move.kind, trade_id=move.trade_id, interval=move.interval,
                   sender=move.sender, receiver=move.receiver, round=move.round,
                   energy_wh=move.energy_wh, price_msat_per_kwh=move.price_msat_per_kwh,
                   deadline_s=move.deadline_s, invoice=move.invoice, node_id=node_id,
                   sent_s=sent_s)


class StateReport(_Wire):
    """What an agent tells the coordinator each interval."""

    type: Literal["state"] = "state"
    agent_id: AgentId
    node_id: NodeId
    interval: Annotated[int, Field(ge=0)]
    soc_pct: Annotated[float, Field(ge=0, le=100)]
    battery_wh: Annotated[float, Field(ge=0, le=1e6)]
    battery_max_w: Annotated[float, Field(ge=0, le=1e6)]
    forecast_mean_kw: Annotated[list[Kw], Field(min_length=1, max_length=672)]
    forecast_std_kw: Annotated[list[Annotated[float, Field(ge=0, le=1e4)]],
                               Field(min_length=1, max_length=672)]
    # Type parameters for the coordinator's game (optional; older agents omit them).
    risk_aversion_per_eur: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] = 0.0
    pv_kwp: Annotated[float, Field(ge=0, le=1e4, allow_inf_nan=False)] = 0.0


class RosterEntry(_Wire):
    agent_id: AgentId
    node_id: NodeId


class Roster(_Wire):
    """The homes the coordinator admits (each with its node id), retained on `roster` and
    signed like the signal; the signal carries only its digest, so the signal's size does
    not grow with the community."""

    type: Literal["roster"] = "roster"
    seq: Annotated[int, Field(ge=0)]
    digest: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    entries: list[RosterEntry]
    issued_s: float
    coordinator_key: Annotated[str, Field(pattern=r"^([0-9a-f]{64})?$")] = ""
    sig: Annotated[str, Field(pattern=r"^([0-9a-f]{128})?$")] = ""


def roster_digest(entries: Iterable[RosterEntry]) -> str:
    """sha256 over the sorted `agent_id:node_id` lines: the roster a signal refers to."""
    lines = sorted(f"{e.agent_id}:{e.node_id}\n" for e in entries)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


Unit = Annotated[list[Annotated[float, Field(ge=-100, le=100, allow_inf_nan=False)]],
                 Field(max_length=672)]


class Signal(_Wire):
    """The coordinator's signal for the horizon starting at `interval`. Its size depends on
    the horizon and the number of planning units (at most 64), never on the number of
    homes: the roster is its own message (`Roster`), named here by its digest."""

    type: Literal["meanfield"] = "meanfield"
    seq: Annotated[int, Field(ge=0)]
    interval: Annotated[int, Field(ge=0)]
    interval_s: Annotated[int, Field(ge=1)]
    price_msat_per_kwh: Annotated[list[Annotated[int, Field(ge=0)]],
                                  Field(min_length=1, max_length=672)]
    net_load_kw: Annotated[list[CommunityKw], Field(min_length=1, max_length=672)]
    net_load_std_kw: Annotated[list[Annotated[float, Field(ge=0)]],
                               Field(min_length=1, max_length=672)]
    agents: Annotated[int, Field(ge=0)]
    roster_digest: Annotated[str, Field(pattern=r"^([0-9a-f]{64})?$")] = ""
    residual: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    issued_s: float
    # The mean-field game's outcome (issue 5; defaults keep v0 signals valid).
    solver: Literal["v0", "mftg", "equilibrium"] = "v0"
    iterations: Annotated[int, Field(ge=0)] = 0
    exploitability_rel: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    equilibrium_net_load_kw: Annotated[list[CommunityKw], Field(max_length=672)] = []
    # The community plan (solver "equilibrium", coordinator/equilibrium.py): per planning
    # unit its battery power per kWh of capacity for each step (kW/kWh, + charge), and the
    # c-rate edges between the units (kW per kWh; K units have K-1 edges). A home runs its
    # unit's plan (agent/domain/follow.py).
    plan_power_per_kwh: Annotated[list[Unit], Field(max_length=64)] = []
    plan_crate_edges: Annotated[list[Annotated[float, Field(ge=0, le=1e3,
                                                            allow_inf_nan=False)]],
                                Field(max_length=63)] = []
    # Largest gain a unit could make by deviating from its plan, € per kWh of capacity.
    exploitability_eur_per_kwh: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    # What one kW more of a home's own peak adds to its share of the community's coincident
    # capacity charge, per kW of the rate (meanfield.home.capacity_share, from the reports'
    # forecasts): a home's own optimiser ([battery] control = "mpc") prices its peak at the
    # rate × this. 1 when unknown (an older coordinator): the home's own peak, in full.
    capacity_share: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 1.0
    # Ed25519 over the JSON of this signal with `sig` empty (agent.crypto.signal_sig).
    coordinator_key: Annotated[str, Field(pattern=r"^([0-9a-f]{64})?$")] = ""
    sig: Annotated[str, Field(pattern=r"^([0-9a-f]{128})?$")] = ""

    @property
    def has_plan(self) -> bool:
        """Whether the signal carries the community plan (no units: no home has a battery)."""
        return self.solver == "equilibrium" and (
            len(self.plan_crate_edges) == max(0, len(self.plan_power_per_kwh) - 1))


class Presence(_Wire):
    type: Literal["presence"] = "presence"
    agent_id: AgentId
    online: bool


class WireError(ValueError):
    """A payload that is not a valid message; `reason` fits in one log line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_W = TypeVar("_W", bound=_Wire)


def encode(message: _Wire) -> bytes:
    return message.model_dump_json().encode()


def decode(payload: bytes, model: type[_W], *, max_bytes: int = MAX_PAYLOAD_BYTES) -> _W:
    if len(payload) > max_bytes:
        raise WireError(f"oversize payload: {len(payload)} bytes > {max_bytes}")
    try:
        return model.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise WireError(f"invalid {model.__name__}: {where}: {first['msg']}"
                        f" ({exc.error_count()} problem(s))") from None
