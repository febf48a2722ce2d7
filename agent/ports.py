"""The small interfaces the services see. Each has one real adapter (see agent/adapters).

Errors: every port raises a transient error (retry inside the task, with backoff) or a
permanent one (stop the task or refuse the action for good). Adapters translate their
library's exceptions into these at the boundary.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from agent.domain.liquidity import ChannelState
from firmware_bridge.measurement import Measurement

FloatArray = npt.NDArray[np.float32]


class TransientError(Exception):
    """Worth retrying after a pause: a timeout, a dropped connection, a busy peer."""


class PermanentError(Exception):
    """Retrying cannot help: bad configuration, a policy refusal, a corrupt file."""


# --- devices -------------------------------------------------------------------------


class DeviceReader(Protocol):
    async def read(self) -> Mapping[str, Measurement]: ...


class BatteryControl(Protocol):
    @property
    def controls_grid(self) -> bool:
        """The device can hold a grid exchange target itself (`set_grid_power`)."""
        ...

    async def set_battery_power(self, power_w: float) -> float:
        """Ask for a charge (+) or discharge (-) power; return what the device accepted."""
        ...

    async def set_grid_power(self, power_w: float) -> float:
        """Ask the device to hold the grid exchange at `power_w` (+ import) with its battery
        (0 is self-consumption); return the target it accepted."""
        ...


# --- messaging -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboundMessage:
    topic: str
    payload: bytes


class Transport(Protocol):
    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False,
        expiry_s: int | None = None,
    ) -> None: ...

    async def subscribe(self, topic: str, *, qos: int = 1) -> None: ...

    async def unsubscribe(self, topic: str) -> None: ...

    def messages(self) -> AsyncIterator[InboundMessage]: ...


# --- Lightning -----------------------------------------------------------------------


class NodeUnavailable(TransientError):
    """The node's RPC socket is missing, refused the connection or timed out."""


class PaymentRefused(PermanentError):
    """The node (or its signer) refused for good: policy, unknown invoice, expired."""


class PolicyRefused(PaymentRefused):
    """A spend policy said no: the agent's own, or the node's external signer (VLS).
    Never retried; alert."""


@dataclass(frozen=True, slots=True)
class Invoice:
    label: str
    bolt11: str
    payment_hash: str
    amount_msat: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class DecodedInvoice:
    payee: str
    payment_hash: str
    amount_msat: int | None
    expires_at: int


PaymentStatus = Literal["complete", "pending", "failed"]


@dataclass(frozen=True, slots=True)
class PaymentOutcome:
    status: PaymentStatus
    payment_hash: str
    preimage: str | None = None
    amount_sent_msat: int | None = None
    error_code: int | None = None
    message: str = ""
    retryable: bool = True  # failed: worth another try with the same bolt11 (route, fee)


InvoiceStatus = Literal["unpaid", "paid", "expired"]


class SettlementNode(Protocol):
    async def node_id(self) -> str: ...

    async def create_invoice(
        self, label: str, amount_msat: int, description: str, expiry_s: int
    ) -> Invoice: ...

    async def pay(self, bolt11: str, max_fee_msat: int) -> PaymentOutcome: ...

    async def payment_status(self, payment_hash: str) -> PaymentOutcome | None: ...

    async def invoice_status(self, label: str) -> InvoiceStatus | None: ...


class HoldInvoiceNode(Protocol):
    """A node with hold invoices (the holdinvoice plugin): paid HTLCs wait for settle."""

    async def has_hold_invoices(self) -> bool: ...

    async def create_hold_invoice(self, label: str, amount_msat: int, description: str,
                                  expiry_s: int, cltv: int) -> Invoice: ...

    async def hold_state(self, payment_hash: str) -> str | None: ...

    async def settle_hold(self, payment_hash: str) -> None: ...

    async def cancel_hold(self, payment_hash: str) -> None: ...


class LiquidityNode(Protocol):
    """The node's channels, on-chain wallet and splices (agent/adapters/cln/channels.py)."""

    async def channels(self) -> list[ChannelState]: ...

    async def wallet_msat(self) -> int: ...

    async def splice(self, scid: str, delta_msat: int) -> str: ...

    async def splice_fee_sat(self) -> int | None: ...

    async def rebalance(self, from_scid: str, to_scid: str, amount_msat: int,
                        max_fee_msat: int) -> int: ...


class MessageSigner(Protocol):
    async def sign_message(self, message: str) -> str:
        """The node's signature (zbase32) over `message`, as Core Lightning's `signmessage`."""
        ...


# --- models --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Forecast:
    """Net load (load - PV, kW, + is import) for the next steps: mean and standard deviation."""

    mean_kw: FloatArray
    std_kw: FloatArray


class Forecaster(Protocol):
    horizon: int

    def forecast(self, history_kw: FloatArray, t_s: float) -> Forecast: ...

    def observe(self, interval_start_s: float, actual_kw: float) -> None:
        """The measured mean net load of a completed interval (for online calibration)."""


@dataclass(frozen=True, slots=True)
class Decision:
    battery_power_w: float  # + charge, - discharge; before safety clamping
    price_position: float   # 0 = at the home's reservation price, 1 = at the far end of the band


class Policy(Protocol):
    def decide(self, observation: FloatArray) -> Decision: ...
