"""The mosquitto ACL `peerwatt coordinator acl` writes (coordinator/acl.py; the shipped
deploy/mosquitto/peerwatt.acl is one) with per-home credentials.

A home may publish only on topics of its own community that carry its own id: it can
reply to another home's inbox (inbox/B/A) but not speak for a third (inbox/B/C), not
write B's inbox root, not publish the coordinator's signal, and nothing in another
community; the coordinator is no home; mosquitto starts without a warning. And the real
protocol runs through it: two agents and the coordinator, each logged in with its own
credentials, trade and settle.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from community import start_community, wait_for
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from coordinator.acl import render
from demo.procs import Fleet, free_port, wait_port

pytestmark = pytest.mark.integration

COMMUNITY = "acl"
HOMES = ("home-0", "home-1", "home-2")
# A second community on the same broker (its ACL appended): nobody above is a member.
OTHER, OTHER_COORDINATOR, OTHER_HOME = "other", "coordinator-other", "home-9"
USERS = ("coordinator", *HOMES, "homeassistant", OTHER_COORDINATOR, OTHER_HOME)
P, Q = f"peerwatt/v1/{COMMUNITY}", f"peerwatt/v1/{OTHER}"
NOT_AUTHORIZED = 135  # MQTT 5 PUBACK reason code: mosquitto's ACL refused the publish


class AclBroker:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        passwd = tmp / "passwd"
        passwd.write_text("")
        for user in USERS:
            subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, f"pw-{user}"],
                           check=True, capture_output=True)
        passwd.chmod(0o644)
        acl = tmp / "peerwatt.acl"
        acl.write_text(render(COMMUNITY, HOMES)
                       + render(OTHER, [OTHER_HOME], [OTHER_COORDINATOR], None))
        acl.chmod(0o644)
        conf = tmp / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous false\n"
                        f"password_file {passwd}\nacl_file {acl}\npersistence false\n"
                        "set_tcp_nodelay true\nlog_dest stderr\n")
        self.log = tmp / "mosquitto.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(["mosquitto", "-c", str(conf)],
                                         stdout=out, stderr=subprocess.STDOUT)
        wait_port(self.port, 10.0, self.proc)
        # mosquitto reads the ACL before it listens, and says "running" once it listens.
        wait_for("mosquitto's 'running' line", lambda: " running" in self.log.read_text(), 10.0)
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

    def publish_reason(self, user: str, topic: str) -> int:
        """The PUBACK reason code mosquitto gives `user` for a QoS 1 publish on `topic`."""
        acked = threading.Event()
        reasons: list[int] = []

        def on_publish(_c: Any, _u: Any, _mid: int, reason: ReasonCode, _p: Any) -> None:
            reasons.append(reason.value)
            acked.set()

        c, _ = self.client(user)
        c.on_publish = on_publish
        try:
            c.publish(topic, b"probe", qos=1).wait_for_publish(10)
            assert acked.wait(10), f"no PUBACK for {user} on {topic}"
            return reasons[0]
        finally:
            c.disconnect()
            c.loop_stop()

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


def test_mosquitto_starts_without_warnings(acl_broker: AclBroker) -> None:
    """The shipped ACL had five `pattern` lines without %u or %c (each a start warning)."""
    log = acl_broker.log.read_text()
    assert "mosquitto version" in log, log
    assert [line for line in log.splitlines() if "arning" in line] == [], log


@pytest.mark.parametrize(("user", "topic"), [
    # A home into another community's topics, as itself (the community level was `+`).
    ("home-0", f"{Q}/inbox/{OTHER_HOME}/home-0"),
    ("home-0", f"{Q}/state/home-0"),
    ("home-0", f"{Q}/offers/7/home-0"),
    ("home-0", f"{Q}/identity/home-0"),
    # The coordinator is no home: the home patterns covered its username too.
    ("coordinator", f"{P}/inbox/home-2/coordinator"),
    ("coordinator", f"{P}/offers/7/coordinator"),
    ("coordinator", f"{P}/state/coordinator"),
    ("coordinator", f"{Q}/meanfield"),
    ("homeassistant", f"{P}/inbox/home-2/homeassistant"),
    ("homeassistant", f"{P}/meanfield"),
    (OTHER_HOME, f"{P}/inbox/home-1/{OTHER_HOME}"),
    (OTHER_COORDINATOR, f"{P}/meanfield"),
])
def test_publish_outside_ones_own_rules_is_refused(acl_broker: AclBroker, user: str,
                                                   topic: str) -> None:
    assert acl_broker.publish_reason(user, topic) == NOT_AUTHORIZED


@pytest.mark.parametrize(("user", "topic"), [
    ("home-0", f"{P}/inbox/home-1/home-0"), ("home-0", f"{P}/offers/7/home-0"),
    ("home-0", f"{P}/state/home-0"), ("coordinator", f"{P}/meanfield"),
    ("coordinator", f"{P}/coordinators/reports/coordinator"),
    (OTHER_HOME, f"{Q}/state/{OTHER_HOME}"), (OTHER_COORDINATOR, f"{Q}/meanfield"),
    ("homeassistant", "homeassistant/status"),
])
def test_publish_within_ones_own_rules_is_accepted(acl_broker: AclBroker, user: str,
                                                   topic: str) -> None:
    """The refusals above are the ACL's, not the probe's: the same probe gets through."""
    assert acl_broker.publish_reason(user, topic) != NOT_AUTHORIZED


def test_a_home_reads_only_its_own_community(acl_broker: AclBroker) -> None:
    """Retained signals of both communities; a home of the other community subscribed to
    every community's signal gets its own only (mosquitto sends the retained messages of
    one SUBSCRIBE before it handles the next, so the sentinel's arrival ends the wait)."""
    for user, topic in (("coordinator", f"{P}/meanfield"), (OTHER_COORDINATOR, f"{Q}/meanfield"),
                        (OTHER_HOME, f"{Q}/identity/{OTHER_HOME}")):
        c, _ = acl_broker.client(user)
        c.publish(topic, topic.encode(), qos=1, retain=True).wait_for_publish(10)
        c.disconnect()
        c.loop_stop()
    reader, got = acl_broker.client(OTHER_HOME)
    try:
        reader.subscribe("peerwatt/v1/+/meanfield", qos=1)
        reader.subscribe(f"{Q}/identity/{OTHER_HOME}", qos=1)
        wait_for("the sentinel", lambda: any("identity" in m.topic for m in got), 10.0)
        assert sorted(m.topic for m in got) == [f"{Q}/identity/{OTHER_HOME}", f"{Q}/meanfield"]
    finally:
        reader.disconnect()
        reader.loop_stop()


def test_a_home_cannot_speak_for_another(acl_broker: AclBroker) -> None:
    b_client, b_got = acl_broker.client("home-1")
    a_client, _ = acl_broker.client("home-0")
    try:
        mids = {b_client.subscribe(topic, qos=1)[1] for topic in (
            f"{P}/inbox/home-1/#", f"{P}/meanfield")}
        wait_for("the broker to take B's subscriptions",
                 lambda: mids <= b_client.user_data_get(), 10.0)
        for topic in (f"{P}/inbox/home-1/home-0",   # allowed: A replies to B
                      f"{P}/inbox/home-1/home-2",   # A pretending to be C
                      f"{P}/inbox/home-1",          # B's inbox root
                      f"{P}/meanfield"):            # the coordinator's signal
            a_client.publish(topic, topic.encode(), qos=1).wait_for_publish(5)
        # A marker on the allowed topic, sent last: the broker delivers A's messages in
        # order, so anything it let through arrives before the marker.
        a_client.publish(f"{P}/inbox/home-1/home-0", b"marker",
                         qos=1).wait_for_publish(5)
        wait_for("the marker", lambda: any(m.payload == b"marker" for m in b_got), 10.0)
        assert [m.topic for m in b_got if m.payload != b"marker"] == [
            f"{P}/inbox/home-1/home-0"]
    finally:
        for c in (a_client, b_client):
            c.disconnect()
            c.loop_stop()


def test_agents_trade_through_the_acl_broker(acl_broker: AclBroker, fleet: Fleet) -> None:
    url = f"mqtt://127.0.0.1:{acl_broker.port}"
    c = start_community(fleet, url, COMMUNITY, homes=2, speed=900.0)
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
