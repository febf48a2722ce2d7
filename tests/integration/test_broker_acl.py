"""The shipped mosquitto ACL (deploy/mosquitto/peerwatt.acl) with per-home credentials.

A home may publish only on topics that carry its own id: it can reply to another home's
inbox (inbox/B/A) but not speak for a third (inbox/B/C), not write B's inbox root, and
not publish the coordinator's signal. And the real protocol runs through it: two agents
and the coordinator, each logged in with its own credentials, trade and settle.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from community import start_community, wait_for
from paho.mqtt.enums import CallbackAPIVersion

from demo.procs import Fleet, free_port, wait_port

pytestmark = pytest.mark.integration

ACL = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "peerwatt.acl"
USERS = ("coordinator", "home-0", "home-1", "home-2")


class AclBroker:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        passwd = tmp / "passwd"
        passwd.write_text("")
        for user in USERS:
            subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, f"pw-{user}"],
                           check=True, capture_output=True)
        passwd.chmod(0o644)
        conf = tmp / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous false\n"
                        f"password_file {passwd}\nacl_file {ACL}\npersistence false\n"
                        "set_tcp_nodelay true\n")
        self.proc = subprocess.Popen(["mosquitto", "-c", str(conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, 10.0, self.proc)
        self.creds: dict[str, Path] = {}
        for user in USERS:
            f = tmp / f"{user}.secret"
            f.write_text(f"{user}:pw-{user}")
            f.chmod(0o600)
            self.creds[user] = f

    def client(self, user: str) -> tuple[paho.Client, list[paho.MQTTMessage]]:
        got: list[paho.MQTTMessage] = []
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"acl-{user}-{time.time_ns()}",
                        protocol=paho.MQTTv5)
        c.username_pw_set(user, f"pw-{user}")
        c.on_message = lambda _c, _u, m: got.append(m)
        c.user_data_set(set())  # mids of the subscriptions the broker has acknowledged
        c.on_subscribe = lambda _c, acked, mid, _codes, _props: acked.add(mid)
        c.connect("127.0.0.1", self.port)
        c.loop_start()
        return c, got

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def acl_broker() -> Iterator[AclBroker]:
    # mosquitto started as root drops to its own user before reading the password file,
    # so the files must be readable by others (pytest's tmp dirs are 0700).
    tmp = Path(tempfile.mkdtemp(prefix="pw-acl-", dir="/tmp"))
    tmp.chmod(0o755)
    b = AclBroker(tmp)
    yield b
    b.stop()
    shutil.rmtree(tmp, ignore_errors=True)


def test_a_home_cannot_speak_for_another(acl_broker: AclBroker) -> None:
    b_client, b_got = acl_broker.client("home-1")
    a_client, _ = acl_broker.client("home-0")
    try:
        mids = {b_client.subscribe(topic, qos=1)[1] for topic in (
            "peerwatt/v1/c/inbox/home-1/#", "peerwatt/v1/c/meanfield")}
        wait_for("the broker to take B's subscriptions",
                 lambda: mids <= b_client.user_data_get(), 10.0)
        for topic in ("peerwatt/v1/c/inbox/home-1/home-0",   # allowed: A replies to B
                      "peerwatt/v1/c/inbox/home-1/home-2",   # A pretending to be C
                      "peerwatt/v1/c/inbox/home-1",          # B's inbox root
                      "peerwatt/v1/c/meanfield"):            # the coordinator's signal
            a_client.publish(topic, topic.encode(), qos=1).wait_for_publish(5)
        # A marker on the allowed topic, sent last: the broker delivers A's messages in
        # order, so anything it let through arrives before the marker.
        a_client.publish("peerwatt/v1/c/inbox/home-1/home-0", b"marker",
                         qos=1).wait_for_publish(5)
        wait_for("the marker", lambda: any(m.payload == b"marker" for m in b_got), 10.0)
        assert [m.topic for m in b_got if m.payload != b"marker"] == [
            "peerwatt/v1/c/inbox/home-1/home-0"]
    finally:
        for c in (a_client, b_client):
            c.disconnect()
            c.loop_stop()


def test_agents_trade_through_the_acl_broker(acl_broker: AclBroker, fleet: Fleet) -> None:
    url = f"mqtt://127.0.0.1:{acl_broker.port}"
    c = start_community(fleet, url, "acl", homes=2, speed=900.0)
    c.start_coordinator(credentials_file=str(acl_broker.creds["coordinator"]))
    for name in c.homes:
        c.start_agent(name, broker={"credentials_file": str(acl_broker.creds[name])})
    c.wait_ready(list(c.homes))

    def alive() -> None:
        for h in c.homes.values():
            h.alive()

    def paid() -> Any:
        return c.homes["home-0"].query(
            "SELECT COUNT(*) FROM trades WHERE role='buyer' AND state='paid'")[0][0]

    wait_for("a trade settled through the ACL broker", lambda: paid() > 0, 40.0, alive)
    assert c.stop_agents() == {"agent-home-0": 0, "agent-home-1": 0}
    assert c.stopped_counters("home-0").get("bindings", 0) >= 1
