"""deploy/cln: the shipped Core Lightning, VLS and watchtower configuration agrees with
itself and keeps the settings that matter (remote signer, permissive mode off, ...)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from lnsim.network import NodeOptions
from lnsim.topology import build_network

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "cln"


def conf_lines(path: Path) -> list[tuple[str, str]]:
    """`key=value` lines of a lightningd config or env file, comments dropped."""
    out = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            out.append((key.strip(), value.strip()) if sep else (line, ""))
    return out


def one(pairs: list[tuple[str, str]], key: str) -> str:
    values = [v for k, v in pairs if k == key]
    assert len(values) == 1, f"{key}: {values}"
    return values[0]


def unit(path: Path) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for key, value in conf_lines(path):
        keys.setdefault(key, []).append(value)
    return keys


def test_lightningd_signs_through_vls_with_hold_invoices_and_a_watchtower() -> None:
    conf = conf_lines(DEPLOY / "lightningd.conf")
    assert one(conf, "subdaemon") == "hsmd:remote_hsmd_socket"
    assert one(conf, "important-plugin").endswith("/holdinvoice")
    assert one(conf, "plugin").endswith("/watchtower-client")
    assert int(one(conf, "watchtower-port")) > 0
    assert one(conf, "rpc-file-mode") == "0660"
    # peerwatt's hold invoices expire at a 15-minute deadline: the plugin's margin is below
    assert int(one(conf, "holdinvoice-cancel-before-invoice-expiry")) < 900


def test_vls_environment_matches_the_node_and_the_signer() -> None:
    conf = conf_lines(DEPLOY / "lightningd.conf")
    env = conf_lines(DEPLOY / "lightningd.env")
    signer = tomllib.loads((DEPLOY / "vlsd2.toml").read_text())
    port = int(one(env, "VLS_PORT"))
    assert one(env, "VLS_NETWORK") == one(conf, "network") == signer["network"]
    assert one(env, "VLS_BIND") == "127.0.0.1"
    assert signer["connect"] == f"http://127.0.0.1:{port}"
    assert one(env, "BITCOIND_RPC_URL").startswith("http://")
    assert one(env, "BITCOIND_RPC_URL").endswith(":" + one(conf, "bitcoin-rpcport"))


def test_signer_is_strict_and_has_an_allowlist() -> None:
    env = conf_lines(DEPLOY / "vlsd.env")
    assert ("VLS_PERMISSIVE", "1") not in env
    assert one(env, "VLS_PERMISSIVE") == "0"
    allowlist = Path(one(env, "REMOTE_SIGNER_ALLOWLIST"))
    signer = tomllib.loads((DEPLOY / "vlsd2.toml").read_text())
    assert allowlist.parent == Path(signer["datadir"])
    assert (DEPLOY / "ALLOWLIST").exists()
    assert not any(k.startswith("VLS_ONCHAIN_VALIDATION_DISABLE") for k, _ in env)


def test_units_run_each_daemon_with_its_files_as_its_own_user() -> None:
    node, vls = unit(DEPLOY / "lightningd.service"), unit(DEPLOY / "vlsd.service")
    assert node["EnvironmentFile"] == ["/etc/lightning/vls.env"]
    assert "--conf=/etc/lightning/config" in node["ExecStart"][0]
    assert vls["EnvironmentFile"] == ["/etc/vls/vlsd.env"]
    assert "--config=/etc/vls/vlsd2.toml" in vls["ExecStart"][0]
    assert node["User"] == ["lightning"]
    assert vls["User"] == ["vls"]
    assert vls["StateDirectoryMode"] == ["0700"]
    for keys in (node, vls):
        assert keys["NoNewPrivileges"] == ["yes"]
        assert keys["ProtectSystem"] == ["strict"]


def test_lnsim_reports_the_shipped_signer_line() -> None:
    """lnsim's listconfigs (what `peerwatt doctor` reads) says what this config sets."""
    import asyncio

    from lnsim.methods import listconfigs
    from lnsim.params import Params

    shipped = one(conf_lines(DEPLOY / "lightningd.conf"), "subdaemon")
    for remote, expected in ((True, [shipped]), (False, None)):
        net = build_network(["a"], options=NodeOptions(remote_signer=remote))
        got = asyncio.run(listconfigs(net, net.nodes["a"], Params({}, ("config",))))
        assert got["configs"].get("subdaemon", {}).get("values_str") == expected
