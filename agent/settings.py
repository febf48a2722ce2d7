"""Agent and coordinator configuration: one TOML file, validated by pydantic.

A bad file never starts a daemon: :func:`load` raises :class:`ConfigError` whose lines
name each offending key, the value found and what is allowed. The rules between keys
(a SoC window with min below max, caps that nest, an interval that divides the day) are
part of the models; the files a config names are checked by `agent.config_files`.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

_M = TypeVar("_M", bound=BaseModel)

DEFAULT_AGENT_CONFIG = Path("/etc/peerwatt/agent.toml")
DEFAULT_COORDINATOR_CONFIG = Path("/etc/peerwatt/coordinator.toml")

Port = Annotated[int, Field(ge=1, le=65535)]
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"  # agent, coordinator and community ids
Name = Annotated[str, Field(pattern=NAME_PATTERN)]


DAY_S = 86_400
RULES = "config_rules"  # the error type of the rules between sections (AgentSettings)


class _Section(BaseModel):
    # No inf or nan anywhere: every number in a config is a finite quantity.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _at_least(value: float, info: ValidationInfo, *others: str) -> None:
    """The rule "this key is not below the first of `others` that is valid" (keys defined
    earlier in the section: one that failed its own check is not in `info.data`)."""
    for other in others:
        below = info.data.get(other)
        if below is not None:
            if value < below:
                raise ValueError(f"must be at least {other} ({below})")
            return


class DeviceSettings(_Section):
    name: Name = "home"
    transport: Literal["tcp", "rtu"] = "tcp"
    host: str = "127.0.0.1"
    port: Port = 502
    serial_port: str = "/dev/ttyUSB0"  # transport = "rtu": the RS-485 adapter
    baudrate: Annotated[int, Field(ge=1200, le=921600)] = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    unit: Annotated[int, Field(ge=0, le=247)] = 1
    profile: str = "peerwatt-sim-home"  # built-in name, a .toml path, or "sunspec"
    read_only: bool = False  # never write to the device, whatever its profile says
    timeout_s: Annotated[float, Field(gt=0, le=30)] = 1.0
    poll_s: Annotated[float, Field(gt=0, le=3600)] = 1.0
    max_age_s: Annotated[float, Field(gt=0)] = 60.0
    dry_run: bool = False


class BrokerSettings(_Section):
    url: str = Field(default="mqtt://127.0.0.1:1883", pattern=r"^mqtts?://[^/:]+(:\d+)?/?$")
    tls_ca_file: Path | None = None
    credentials_file: Path | None = None
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    protocol: Literal["5", "3.1.1"] = "5"  # 3.1.1 only for brokers without MQTT 5

    @property
    def v5(self) -> bool:
        return self.protocol == "5"

    @field_validator("url")
    @classmethod
    def _port_in_range(cls, url: str) -> str:
        rest = url.split("://", 1)[1].rstrip("/")
        if ":" in rest and not 1 <= int(rest.split(":")[1]) <= 65535:
            raise ValueError("port must be within 1..65535")
        return url

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1].rstrip("/").split(":")[0]

    @property
    def port(self) -> int:
        rest = self.url.split("://", 1)[1].rstrip("/")
        default = 8883 if self.url.startswith("mqtts") else 1883
        return int(rest.split(":")[1]) if ":" in rest else default

    def credentials(self) -> tuple[str, SecretStr] | None:
        """`user:password` from the credentials file: a systemd credential (relative path)
        or a 0600 file (agent/secret_files.py); ConfigError if it may not be used."""
        if self.credentials_file is None:
            return None
        from agent.secret_files import read_secret

        text = read_secret(self.credentials_file)
        user, sep, password = text.partition(":")
        if not sep or not user:
            raise ConfigError(self.credentials_file, ["credentials file must hold one line "
                                                      "user:password"])
        return user, SecretStr(password)


class LightningSettings(_Section):
    rpc_socket: Path = Path("/var/lib/lightningd/regtest/lightning-rpc")
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    max_fee_msat: Annotated[int, Field(ge=0)] = 5_000


class MarketSettings(_Section):
    community: Name = "default"
    interval_s: Annotated[int, Field(ge=1, le=3600)] = 900
    horizon_steps: Annotated[int, Field(ge=1, le=672)] = 96
    max_rounds: Annotated[int, Field(ge=1, le=10)] = 3
    gate_margin: Annotated[float, Field(gt=0, lt=0.9)] = 0.2
    retail_eur_per_kwh: Annotated[float, Field(gt=0, le=5)] = 0.30
    peak_retail_eur_per_kwh: Annotated[float, Field(gt=0, le=5)] = 0.40
    feed_in_eur_per_kwh: Annotated[float, Field(ge=0, le=5)] = 0.08
    eur_per_btc: Annotated[float, Field(gt=0)] = 90_000.0
    # The capacity charge on the home's peak import (€/kW/year, each day's peak pro rata),
    # and the guard that keeps the home no worse off than alone (agent/services/rational.py).
    capacity_eur_per_kw_year: Annotated[float, Field(ge=0, le=1000)] = 0.0
    rational_guard: bool = True
    # The coordinator's Ed25519 public key (hex). When set, agents accept only signals it
    # signed; when unset they accept any well-formed signal (not for production).
    coordinator_key: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None

    @field_validator("interval_s")
    @classmethod
    def _divides_the_day(cls, interval_s: int) -> int:
        if DAY_S % interval_s:
            raise ValueError(f"must divide the day ({DAY_S} s) into whole intervals, "
                             "e.g. 300, 900, 1800 or 3600")
        return interval_s

    @field_validator("feed_in_eur_per_kwh")
    @classmethod
    def _below_retail(cls, feed_in: float, info: ValidationInfo) -> float:
        retail = info.data.get("retail_eur_per_kwh", math.inf)
        peak = info.data.get("peak_retail_eur_per_kwh", math.inf)
        if feed_in >= min(retail, peak):
            raise ValueError(f"must be below retail_eur_per_kwh ({retail}) and "
                             f"peak_retail_eur_per_kwh ({peak})")
        return feed_in


class LimitsSettings(_Section):
    max_trade_msat: Annotated[int, Field(ge=0)] = 2_000_000
    max_interval_msat: Annotated[int, Field(ge=0)] = 5_000_000
    max_day_msat: Annotated[int, Field(ge=0)] = 100_000_000
    # Highest routing-fee cap the policy accepts ([lightning] max_fee_msat must not pass
    # it, or every payment is refused); unset: [lightning] max_fee_msat is the cap.
    max_fee_msat: Annotated[int, Field(ge=0)] | None = None
    # Paid or promised to one seller for energy not yet delivered.
    max_exposure_msat: Annotated[int, Field(ge=0)] = 10_000_000
    # A counterparty that failed to pay or deliver this often within the window is refused
    # for default_for_s after its last failure.
    default_after_failures: Annotated[int, Field(ge=1)] = 3
    default_window_s: Annotated[float, Field(gt=0)] = 86_400.0
    default_for_s: Annotated[float, Field(ge=0)] = 21_600.0
    # Refuse to pay while no coordinator roster is known (off: trade on the roster when
    # there is one, as before).
    require_roster: bool = False

    @field_validator("max_interval_msat")
    @classmethod
    def _interval_holds_a_trade(cls, cap: int, info: ValidationInfo) -> int:
        _at_least(cap, info, "max_trade_msat")
        return cap

    @field_validator("max_day_msat")
    @classmethod
    def _day_holds_an_interval(cls, cap: int, info: ValidationInfo) -> int:
        _at_least(cap, info, "max_interval_msat", "max_trade_msat")
        return cap


class SettlementSettings(_Section):
    """Payment tied to metered delivery (docs/settlement.md, "Shortfall rule")."""

    # "auto": sell with hold invoices when the node has the holdinvoice plugin, settled once
    # the meter shows the delivery; "off": ordinary invoices, paid on agreement.
    hold_invoices: Literal["auto", "off"] = "off"
    hold_cltv: Annotated[int, Field(ge=18, le=2016)] = 144
    # The plugin's holdinvoice-cancel-before-invoice-expiry (it cancels that long before).
    hold_cancel_before_expiry_s: Annotated[int, Field(ge=0)] = 1_800
    meter_margin_s: Annotated[float, Field(ge=0)] = 60.0  # wait for the meter after delivery
    # Below this share delivered a hold invoice is cancelled; above, settled with a credit.
    min_delivery_share: Annotated[float, Field(ge=0, le=1)] = 0.5
    # Judge each sale after delivery and net shortfall credits into the next invoice to the
    # same buyer (buyers accept an invoice below the agreed amount).
    net_shortfall: bool = False


class LiquiditySettings(_Section):
    """Channel liquidity for the forecast horizon (docs/settlement.md, "Liquidity")."""

    enabled: bool = False  # splices move on-chain funds: opt in
    every_intervals: Annotated[int, Field(ge=1, le=96)] = 4
    z: Annotated[float, Field(ge=0, le=5)] = 1.0  # forecast std devs of headroom
    margin: Annotated[float, Field(ge=0, le=10)] = 0.2
    idle_factor: Annotated[float, Field(ge=1)] = 3.0
    min_splice_sat: Annotated[int, Field(ge=1)] = 10_000
    # A splice moves at least its on-chain fee / this share (docs/settlement.md, fee arithmetic)
    max_onchain_fee_share: Annotated[float, Field(gt=0, le=1)] = 0.01
    rebalance_fee_ppm: Annotated[int, Field(ge=0, le=100_000)] = 1_000


class BatterySettings(_Section):
    capacity_wh: Annotated[float, Field(ge=0)] = 10_000.0
    max_charge_w: Annotated[float, Field(ge=0)] = 5_000.0
    max_discharge_w: Annotated[float, Field(ge=0)] = 5_000.0
    min_soc_pct: Annotated[float, Field(ge=0, le=100)] = 5.0
    max_soc_pct: Annotated[float, Field(ge=0, le=100)] = 100.0
    efficiency: Annotated[float, Field(gt=0, le=1)] = 0.9   # round trip
    # Where the set-points come from when a signal covers the interval: "mpc" (the
    # default, issue 16), the home's own hourly LP on its forecast and the signal's prices
    # (agent/services/home_plan.py; HiGHS); "plan", the coordinator's plan for the home's
    # planning unit.
    control: Literal["plan", "mpc"] = "mpc"
    wear_eur_per_kwh: Annotated[float, Field(ge=0, le=1)] = 0.002   # the "mpc" plan's

    @field_validator("control")   # a default is not validated: HiGHS is a core dependency
    @classmethod
    def _solver_installed(cls, control: str) -> str:
        import importlib.util

        if control == "mpc" and importlib.util.find_spec("highspy") is None:
            raise ValueError('needs the HiGHS solver, which is not installed: pip install '
                             '"peerwatt[mpc]", or set control = "plan"')
        return control

    @field_validator("max_soc_pct")
    @classmethod
    def _window_not_empty(cls, top: float, info: ValidationInfo) -> float:
        bottom = info.data.get("min_soc_pct")
        if bottom is not None and top <= bottom:
            raise ValueError(f"must be above min_soc_pct ({bottom}), or the battery can "
                             "never charge or discharge")
        return top


class ModelSettings(_Section):
    forecast: Path | None = None
    policy: Path | None = None
    timezone: str = "UTC"  # IANA zone of the home: the forecaster's calendar is local time
    # The household's risk attitude (mean–variance weight per €), a policy input (issue 9).
    risk_aversion_per_eur: Annotated[float, Field(ge=0, le=5)] = 0.0

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # "Europe" is a directory
            raise ValueError(f"unknown IANA time zone {v!r}") from None
        return v


class PathSettings(_Section):
    state_dir: Path = Path("/var/lib/peerwatt")


class MetricsSettings(_Section):
    """A Prometheus endpoint (`/metrics`); off by default, on the loopback only by default."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: Port = 9464


class HomeAssistantSettings(_Section):
    """Home Assistant MQTT discovery on the agent's broker; off by default."""

    enabled: bool = False
    discovery_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")] = "homeassistant"
    publish_s: Annotated[float, Field(ge=1, le=3600)] = 10.0  # state updates (real seconds)


class ClockSettings(_Section):
    """`wall` in production; `sim` runs an accelerated clock shared by a simulated fleet."""

    mode: Literal["wall", "sim"] = "wall"
    epoch_real_s: float = 0.0
    start_sim_s: float = 0.0
    speed: Annotated[float, Field(gt=0, le=100_000)] = 1.0


class AgentSettings(_Section):
    agent_id: Name
    device: DeviceSettings = DeviceSettings()
    broker: BrokerSettings = BrokerSettings()
    lightning: LightningSettings = LightningSettings()
    market: MarketSettings = MarketSettings()
    limits: LimitsSettings = LimitsSettings()
    settlement: SettlementSettings = SettlementSettings()
    liquidity: LiquiditySettings = LiquiditySettings()
    battery: BatterySettings = BatterySettings()
    models: ModelSettings = ModelSettings()
    paths: PathSettings = PathSettings()
    clock: ClockSettings = ClockSettings()
    metrics: MetricsSettings = MetricsSettings()
    homeassistant: HomeAssistantSettings = HomeAssistantSettings()

    @model_validator(mode="after")
    def _sections_agree(self) -> AgentSettings:
        """Rules between sections; all broken ones reported together (one line each)."""
        lines = []
        cap = self.limits.max_fee_msat
        if cap is not None and self.lightning.max_fee_msat > cap:
            lines.append(f"lightning.max_fee_msat: value {self.lightning.max_fee_msat} is not "
                         f"allowed: must be at most limits.max_fee_msat ({cap}), or every "
                         "payment is refused")
        poll_s = self.device.poll_s * self.clock.speed  # in the agent's clock's seconds
        if self.device.max_age_s <= poll_s:
            lines.append(f"device.max_age_s: value {self.device.max_age_s} is not allowed: "
                         f"must be above device.poll_s ({self.device.poll_s}"
                         + (f" x clock.speed {self.clock.speed:g} = {poll_s:g} s"
                            if self.clock.speed != 1 else " s")
                         + "), or a decision can find every reading too old")
        if lines:
            raise PydanticCustomError(RULES, "rules between sections broken", {"lines": lines})
        return self


class CoordinatorSettings(_Section):
    coordinator_id: Name = "coordinator"
    broker: BrokerSettings = BrokerSettings()
    market: MarketSettings = MarketSettings()
    clock: ClockSettings = ClockSettings()
    signal_expiry_intervals: Annotated[int, Field(ge=1, le=96)] = 4
    price_slope: Annotated[float, Field(ge=0)] = 1.0  # solver = "v0" only
    # "equilibrium": the community plan (coordinator/equilibrium.py, HiGHS LP), the same
    # solve the fleet simulator makes: prices and each planning unit's battery plan.
    # "mftg": the mean-field-type game (prices only); "v0": the first one-pass price.
    solver: Literal["equilibrium", "mftg", "v0"] = "equilibrium"
    # Equilibrium only: the capacity charge the plan prices the community's peak import
    # with (€ per kW and year, charged on each day's peak pro rata; 0: none), and the plan's
    # margin against the forecasts' spread (plan for mean + z × spread).
    capacity_eur_per_kw_year: Annotated[float, Field(ge=0, le=1000)] = 0.0
    quantile_z: Annotated[float, Field(ge=0, le=3)] = 0.5
    soc_points: Annotated[int, Field(ge=5, le=401)] = 51
    max_types: Annotated[int, Field(ge=1, le=64)] = 16
    min_type_size: Annotated[int, Field(ge=1)] = 20
    trim: Annotated[float, Field(ge=0, le=0.5)] = 0.25
    price_scale_kw_per_home: Annotated[float, Field(gt=0)] = 1.0
    key_file: Path | None = None  # Ed25519 seed (hex); created when missing; None = ephemeral
    # Run as one of several coordinators of the community (a shared-subscription group):
    # reports are shared out by the broker, forwarded between coordinators so each has them
    # all, and the live coordinator with the lowest id publishes. All must share key_file.
    group: bool = False


# What a ConfigError is about: the file itself (missing, unreadable, not TOML), its keys,
# or the files its keys name (`agent.config_files`). `peerwatt doctor` words its hint by it.
ConfigErrorKind = Literal["missing", "unreadable", "keys", "files"]


def one_line(text: str) -> str:
    """`text` with control characters (a newline in a key or a path) written as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class ConfigError(Exception):
    """A config file that cannot run; `problems` holds one human line per fault."""

    def __init__(self, path: Path, problems: list[str], kind: ConfigErrorKind = "keys") -> None:
        self.path = path
        self.problems = [one_line(p) for p in problems]
        self.kind = kind
        super().__init__(f"{path}: " + "; ".join(self.problems))


def _known_keys(model: type[BaseModel], section: tuple[Any, ...]) -> str:
    """The keys allowed in the section at `section` (a loc path without its last key)."""
    for name in section:
        field = model.model_fields.get(str(name))
        if field is None or not (isinstance(field.annotation, type)
                                 and issubclass(field.annotation, BaseModel)):
            return "see examples/"
        model = field.annotation
    return "allowed: " + ", ".join(model.model_fields)


def _describe(error: Any, model: type[BaseModel]) -> list[str]:
    loc = ".".join(str(p) for p in error["loc"]) or "(top level)"
    kind = error["type"]
    value = error.get("input")
    if kind == RULES:
        return list(error["ctx"]["lines"])
    if kind == "extra_forbidden":
        return [f"{loc}: unknown key (value {value!r}); "
                f"{_known_keys(model, tuple(error['loc'][:-1]))}"]
    if kind == "missing":
        return [f"{loc}: required key is missing"]
    return [f"{loc}: value {value!r} is not allowed: {error['msg'].removeprefix('Value error, ')}"]


def load(path: Path, model: type[_M]) -> _M:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, ["file not found"], "missing") from None
    except PermissionError:
        raise ConfigError(path, ["file not readable (permission denied)"], "unreadable") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, [f"not UTF-8 text: {exc.reason} at byte {exc.start}"],
                          "unreadable") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"], "unreadable") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise ConfigError(path, [f"file not readable: {getattr(exc, 'strerror', None) or exc}"],
                          "unreadable") from None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(path, [line for e in exc.errors() for line in _describe(e, model)]
                          ) from None
