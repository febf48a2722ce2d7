"""`python -m lnsim` as a process: starts, serves, exits 0 on SIGTERM, cleans up."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pyln.client import LightningRpc

ROOT = Path(__file__).resolve().parents[2]


def test_main_serves_until_sigterm_then_exits_zero() -> None:
    directory = Path(tempfile.mkdtemp(prefix="lns", dir="/tmp"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lnsim", "--names", "x,y", "--dir", str(directory),
         "--topology", "mesh", "--channel-sat", "100000"],
        cwd=ROOT, env=env, stderr=subprocess.PIPE)
    try:
        nodes_json = directory / "nodes.json"
        deadline = time.monotonic() + 30
        while not nodes_json.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        nodes = json.loads(nodes_json.read_text())
        assert [n["name"] for n in nodes] == ["x", "y"]
        chans = LightningRpc(nodes[0]["rpc"]).listpeerchannels()["channels"]
        assert chans[0]["total_msat"] == 100_000_000
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert not Path(nodes[0]["rpc"]).exists()
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(directory, ignore_errors=True)


def test_main_rejects_a_too_long_socket_path() -> None:
    from lnsim import main

    assert main(["--nodes", "1", "--dir", "/tmp/" + "d" * 120]) == 2


def test_cli_options_become_node_options() -> None:
    from lnsim import main
    from lnsim.server import _parse, options_from

    opts = options_from(_parse(["--dir", "/tmp/x", "--local-signer", "--disable",
                                "xpay, holdinvoice", "--holdinvoice-cancel-before-invoice-"
                                "expiry", "60"]))
    assert opts.remote_signer is False
    assert opts.disabled == {"xpay", "holdinvoice", "holdinvoicesettle", "holdinvoicecancel",
                             "holdinvoicelookup"}
    assert opts.hold_cancel_before_expiry_s == 60
    assert opts.hold_at_soft_expiry == "settle"
    v3 = options_from(_parse(["--dir", "/tmp/x", "--holdinvoice-at-expiry", "cancel"]))
    assert v3.hold_at_soft_expiry == "cancel"
    default = options_from(_parse(["--dir", "/tmp/x"]))
    assert (default.remote_signer, default.disabled) == (True, frozenset())
    assert main(["--dir", "/tmp/x", "--disable", "xpay,nosuchmethod"]) == 2
