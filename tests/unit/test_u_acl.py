"""`peerwatt coordinator acl`: the per-user mosquitto ACL (run against a real mosquitto in
tests/integration/test_broker_acl.py). Here: the shipped example is current, every line
names one community and no `pattern` line is left, and bad names are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from coordinator.acl import main, render

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "peerwatt.acl"


def test_shipped_acl_is_what_the_command_writes() -> None:
    text = SHIPPED.read_text()
    command = text.splitlines()[1].removeprefix("# Written by: peerwatt coordinator acl ")
    args = command.split()
    assert args[:2] == ["--community", "default"], command
    assert text == render("default", args[2:])


def test_every_topic_is_bound_to_the_community() -> None:
    text = render("north", ["home-1", "home-2"], ["coord-a", "coord-b"])
    rules = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert not [r for r in rules if r.startswith("pattern")]
    topics = [r.split()[2] for r in rules if r.startswith("topic")]
    assert topics, text
    for t in topics:
        assert t.startswith(("peerwatt/v1/north/", "homeassistant/")), t
    users = [r.split()[1] for r in rules if r.startswith("user")]
    assert users == ["coord-a", "coord-b", "home-1", "home-2", "homeassistant"]


def test_no_home_rules_for_the_coordinator() -> None:
    text = render("north", ["home-1"])
    block = text.split("user coordinator\n", 1)[1].split("\n\n", 1)[0]
    assert "inbox" not in block, block
    assert "offers" not in block, block


@pytest.mark.parametrize(("argv", "message"), [
    (["--community", "North", "home-1"], "community 'North': not an id"),
    (["--community", "n", "home 1"], "user 'home 1': not an id"),
    (["--community", "n", "home-1", "home-1"], "user 'home-1' named twice"),
    (["--community", "n", "coordinator"], "user 'coordinator' named twice"),
    (["--community", "n", "a/#"], "user 'a/#': not an id"),
    (["--community", "n"], "no home named"),
])
def test_bad_names_exit_2_with_one_line(argv: list[str], message: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    out = capsys.readouterr()
    assert out.out == ""
    lines = out.err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("peerwatt coordinator acl: "), lines
    assert message in lines[0], lines


def test_homes_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    roster = tmp_path / "homes.txt"
    roster.write_text("# the north street\nhome-1\n\nhome-2  # corner\n")
    assert main(["--community", "north", "--no-homeassistant", "--homes-file",
                 str(roster)]) == 0
    assert capsys.readouterr().out == render("north", ["home-1", "home-2"], homeassistant=None)
