"""`peerwatt doctor`: is this gateway ready to run the agent? One line per check.

Each check gives PASS, WARN or FAIL, a short detail and, unless it passed, a hint. The
checks talk to the real things the agent needs: the config file (and its secret files),
the Modbus device (one read), the broker (a connection), the Lightning node (`getinfo`),
its signer (`listconfigs`: VLS is a remote hsmd), the clock's synchronisation and the
state directory's disk. The exit code is 1 if any check failed, else 0.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import os
import queue
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agent.config_files import broker_problems, file_problems
from agent.logging import configure
from agent.settings import DEFAULT_AGENT_CONFIG, AgentSettings, ConfigError, load

Status = Literal["PASS", "WARN", "FAIL"]
CHECKS = ("config", "device", "broker", "node", "signer", "clock", "disk")
MIN_FREE_BYTES = 50 * 2**20
LOW_FREE_BYTES = 500 * 2**20
TIME_ERROR = 5  # adjtimex(2): the clock is not synchronised


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str
    hint: str = ""

    def render(self) -> str:
        line = f"{self.status:<4}  {self.name:<7} {self.detail}"
        return line + (f"\n      hint: {self.hint}" if self.hint and self.status != "PASS" else "")


CONFIG_HINTS = {
    "missing": "no config file there: copy examples/agent.toml to it (or pass --config FILE)",
    "unreadable": "the file itself cannot be read as a TOML config: see the reason above",
    "keys": "fix the keys named above; examples/agent.toml lists every key",
    "files": "every file the config names must exist and be readable by this user; "
             "secret files mode 0600 (or systemd credentials)",
}


def check_config(path: Path) -> tuple[Check, AgentSettings | None]:
    """FAIL for a file `peerwatt run` would refuse (exit 78). Settings whose only fault is
    a named file are still returned, so the other checks run."""
    try:
        settings = load(path, AgentSettings)
    except ConfigError as exc:
        return Check("config", "FAIL", f"{path}: " + "; ".join(exc.problems),
                     CONFIG_HINTS[exc.kind]), None
    problems = file_problems(settings)
    if problems:
        return Check("config", "FAIL", f"{path}: " + "; ".join(problems),
                     CONFIG_HINTS["files"]), settings
    return Check("config", "PASS", f"{path} (agent {settings.agent_id})"), settings


def check_device(s: AgentSettings, timeout_s: float = 10.0) -> Check:
    from firmware_bridge.factory import open_device

    d = s.device
    where = d.serial_port if d.transport == "rtu" else f"{d.host}:{d.port}"

    async def read() -> int:
        device = open_device(d, now_s=time.time, max_charge_w=s.battery.max_charge_w,
                             max_discharge_w=s.battery.max_discharge_w)
        try:
            async with asyncio.timeout(timeout_s):
                return len(await device.read())
        finally:
            await device.close()

    try:
        n = asyncio.run(read())
    except TimeoutError:
        return Check("device", "FAIL", f"{where}: no answer within {timeout_s:g} s",
                     "is the device powered and on this address/unit id?")
    except Exception as exc:  # noqa: BLE001 - a diagnosis tool reports any failure
        return Check("device", "FAIL", f"{where}: {exc}",
                     "`peerwatt devices scan` finds the unit id and profile; for RS-485 "
                     "check the user is in the dialout group")
    return Check("device", "PASS", f"{where} unit {d.unit}: {n} values ({d.profile})")


def check_broker(s: AgentSettings, timeout_s: float = 10.0) -> Check:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    b = s.broker
    problems = broker_problems(b)  # each names its key and path
    if problems:
        return Check("broker", "FAIL", f"{b.url}: " + "; ".join(problems),
                     "fix the files named above (the config check names them too)")
    v5 = b.v5
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"peerwatt-doctor-{os.getpid()}",
                         protocol=paho.MQTTv5 if v5 else paho.MQTTv311)
    result: list[str] = []
    client.on_connect = lambda _c, _u, _f, reason, _p: result.append(str(reason))
    try:
        creds = b.credentials()
        if creds is not None:
            client.username_pw_set(creds[0], creds[1].get_secret_value())
        if b.url.startswith("mqtts"):
            client.tls_set_context(ssl.create_default_context(
                cafile=str(b.tls_ca_file) if b.tls_ca_file else None))
        client.connect(b.host, b.port, keepalive=10)
        deadline = time.monotonic() + timeout_s
        while not result and time.monotonic() < deadline:
            client.loop(timeout=0.2)
        client.disconnect()
    except (OSError, ConfigError, ValueError) as exc:
        return Check("broker", "FAIL", f"{b.url}: {exc}",
                     "is mosquitto running and reachable from here (firewall, TLS CA)?")
    if not result:
        return Check("broker", "FAIL", f"{b.url}: no CONNACK within {timeout_s:g} s",
                     "the port answers but does not speak MQTT")
    if result[0] != "Success":
        return Check("broker", "FAIL", f"{b.url}: refused: {result[0]}",
                     "check credentials_file (user:password) and the broker's ACL")
    return Check("broker", "PASS", f"{b.url} (MQTT {b.protocol})")


def _rpc(s: AgentSettings, method: str, timeout_s: float = 10.0) -> Any:
    """One pyln-client call under a deadline (pyln has none): in a daemon thread."""
    from pyln.client import LightningRpc

    result: queue.Queue[tuple[bool, Any]] = queue.Queue()

    def call() -> None:
        try:
            result.put((True, LightningRpc(str(s.lightning.rpc_socket)).call(method)))
        except Exception as exc:  # noqa: BLE001 - handed to the caller
            result.put((False, exc))

    threading.Thread(target=call, name=f"doctor-{method}", daemon=True).start()
    try:
        ok, value = result.get(timeout=timeout_s)
    except queue.Empty:
        raise TimeoutError(f"{method}: no answer within {timeout_s:g} s") from None
    if not ok:
        raise value
    return value


def check_node(s: AgentSettings) -> Check:
    sock = s.lightning.rpc_socket
    try:
        info = _rpc(s, "getinfo")
    except (OSError, ValueError) as exc:
        return Check("node", "FAIL", f"{sock}: {exc}",
                     "is lightningd running, and is this user in the group owning its "
                     "lightning-rpc socket?")
    except Exception as exc:  # noqa: BLE001 - pyln's RpcError and anything else it raises
        return Check("node", "FAIL", f"{sock}: getinfo: {exc}", "see lightningd's log")
    peers = info.get("num_active_channels", "?")
    return Check("node", "PASS", f"{info.get('id', '?')[:16]}… {info.get('network', '?')} "
                 f"({info.get('alias', '')}, {peers} active channels)")


def signer_values(listconfigs: dict[str, Any]) -> list[str]:
    """The `subdaemon` values of a listconfigs answer, in the v23.08+ shape
    (`configs.subdaemon.values_str`) or the older flat one (`subdaemon`: str or list)."""
    configs = listconfigs.get("configs")
    if isinstance(configs, dict):
        entry = configs.get("subdaemon", {})
        values = entry.get("values_str", []) if isinstance(entry, dict) else []
    else:
        flat = listconfigs.get("subdaemon", [])
        values = [flat] if isinstance(flat, str) else flat
    return [str(v) for v in values]


def check_signer(s: AgentSettings) -> Check:
    try:
        answer = _rpc(s, "listconfigs")
    except Exception as exc:  # noqa: BLE001 - reported, never raised
        return Check("signer", "FAIL", f"listconfigs: {exc}", "the node check above says why")
    remote = [v for v in signer_values(answer) if v.startswith("hsmd:")]
    if remote:
        return Check("signer", "PASS", f"remote signer: subdaemon={remote[0]} (VLS)")
    return Check("signer", "WARN", "the node signs with a local hsmd: its keys are on this "
                 "gateway", "run VLS: lightningd subdaemon=hsmd:remote_hsmd_socket with vlsd "
                 "(docs/operations.md)")


def _ntp_synchronized() -> tuple[bool | None, str]:
    if shutil.which("timedatectl"):
        proc = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
                              capture_output=True, text=True, timeout=10, check=False)
        if proc.returncode == 0 and proc.stdout.strip() in ("yes", "no"):
            return proc.stdout.strip() == "yes", "timedatectl"
    if shutil.which("chronyc"):
        proc = subprocess.run(["chronyc", "tracking"], capture_output=True, text=True,
                              timeout=10, check=False)
        if proc.returncode == 0 and "Leap status" in proc.stdout:
            return "Leap status     : Normal" in proc.stdout, "chronyc"
    buf = ctypes.create_string_buffer(512)  # struct timex, modes = 0: read only
    state = ctypes.CDLL(None, use_errno=True).adjtimex(buf)
    if state < 0:
        return None, "adjtimex"
    return state != TIME_ERROR, "adjtimex"


def check_clock() -> Check:
    synced, how = _ntp_synchronized()
    if synced is None:
        return Check("clock", "WARN", "synchronisation unknown",
                     "install systemd-timesyncd or chrony")
    if not synced:
        return Check("clock", "FAIL", f"not synchronised ({how})",
                     "invoices expire and market intervals close by the clock: enable "
                     "systemd-timesyncd (timedatectl set-ntp true) or chrony")
    return Check("clock", "PASS", f"synchronised ({how})")


def check_disk(state_dir: Path) -> Check:
    probe = state_dir if state_dir.exists() else state_dir.parent
    if not probe.exists():
        return Check("disk", "WARN", f"{state_dir} and its parent are missing",
                     "systemd creates it (StateDirectory=peerwatt) at the first start")
    usage = shutil.disk_usage(probe)
    free = f"{usage.free / 2**20:.0f} MiB free of {usage.total / 2**20:.0f} MiB at {probe}"
    if state_dir.exists() and not os.access(state_dir, os.W_OK):
        return Check("disk", "FAIL", f"{state_dir} is not writable by this user ({free})",
                     "run doctor as the service user: sudo -u peerwatt peerwatt doctor")
    if usage.free < MIN_FREE_BYTES:
        return Check("disk", "FAIL", free, "the journal needs room: free space on this disk")
    if usage.free < LOW_FREE_BYTES:
        return Check("disk", "WARN", free, "less than 500 MiB left for the journal and logs")
    return Check("disk", "PASS", free)


def run_checks(config: Path, skip: set[str]) -> list[Check]:
    checks: list[Check] = []
    cfg, settings = check_config(config)
    checks.append(cfg)
    if settings is None:
        return checks
    plan: list[tuple[str, Callable[[], Check]]] = [
        ("device", lambda: check_device(settings)), ("broker", lambda: check_broker(settings)),
        ("node", lambda: check_node(settings)), ("signer", lambda: check_signer(settings)),
        ("clock", check_clock), ("disk", lambda: check_disk(settings.paths.state_dir))]
    for name, run in plan:
        if name in skip:
            continue
        if name == "signer" and any(c.name == "node" and c.status == "FAIL" for c in checks):
            checks.append(Check("signer", "FAIL", "not checked: no node",
                                "fix the node check first"))
            continue
        checks.append(run())
    return checks


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="peerwatt doctor", description=__doc__.split("\n")[0])
    ap.add_argument("--config", type=Path, default=DEFAULT_AGENT_CONFIG)
    ap.add_argument("--skip", action="append", default=[], choices=CHECKS[1:],
                    help="leave a check out (repeatable)")
    args = ap.parse_args(argv)
    configure("critical", json=False)  # the checks' own lines say what went wrong
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL + 1)
    checks = run_checks(args.config, set(args.skip))
    for c in checks:
        print(c.render(), flush=True)
    failed = sum(c.status == "FAIL" for c in checks)
    warned = sum(c.status == "WARN" for c in checks)
    print(f"{len(checks)} checks: {failed} failed, {warned} warnings")
    return 1 if failed else 0
