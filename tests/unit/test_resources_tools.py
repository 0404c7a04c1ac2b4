"""hb_standby's own output line, as heartbeat 3.0.6's script prints it (observed by
running /usr/share/heartbeat/hb_standby with stdin not a terminal: `Nov 25 07:54:37
Going standby [all].` on stderr, exit 0 once the request is sent; `failback` is
announced as `foreign`). hb_takeover prints nothing."""
import io
import re

from heartbeat_py.tools import hb_standby, hb_takeover


class Stdin(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


def test_going_standby_line_is_dated_without_a_terminal(monkeypatch):
    monkeypatch.delenv("HA_DATEFMT", raising=False)
    monkeypatch.setattr("sys.stdin", Stdin(False))
    assert re.fullmatch(r"[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d Going standby \[all\]\.",
                        hb_standby.going_standby("all"))
    monkeypatch.setattr("sys.stdin", Stdin(True))
    assert hb_standby.going_standby("foreign") == "Going standby [foreign]."


def test_failback_is_announced_as_foreign_and_takeover_says_nothing(monkeypatch, capsys,
                                                                     tmp_path):
    monkeypatch.setenv("HBPY_ROOT", str(tmp_path))          # no daemon there
    monkeypatch.setattr("sys.stdin", Stdin(True))
    monkeypatch.setattr("sys.argv", ["hb_standby"])
    assert hb_standby.main(["failback"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Going standby [foreign].\n") and "heartbeat is not running" in err
    monkeypatch.setattr("sys.argv", ["hb_takeover"])
    assert hb_takeover.main(["all"]) == 1
    assert "Going standby" not in capsys.readouterr().err
