"""Random mutations of the corpus: the reader either accepts the text (then its dump
reads back to the same model and drbdadm plans from it) or reports one
`file:line: message` error."""
import glob
import os
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drbd_py.adm.errors import PlanError
from drbd_py.adm.plan import Command, plan
from drbd_py.config.dump import dump_config
from drbd_py.config.errors import ConfigError
from drbd_py.config.hostmatch import LocalView
from drbd_py.config.loader import load_text

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "drbd")
SAMPLES = sorted(glob.glob(os.path.join(DATA, "v*", "*.conf"))
                 + glob.glob(os.path.join(DATA, "v*", "*", "drbd.conf")))
TEXTS = [(path, open(path, encoding="utf-8").read()) for path in SAMPLES]
SNIPPETS = [";", "{", "}", '"', "#", "[", "]", "\n", " ", ":", "on", "resource r9", "volume 0",
            "skip", "global", "common", "device", "minor 7", "disk", "meta-disk", "address",
            "ipv6", "floating", "protocol", "syncer", "rate", "-1", "0", "99999999999999999999",
            "1G", "7s", "yes", "no", "\\", "\x00", "é", "\udcff", "include \"x*\";", "[0]",
            "10.0.0.1:7788", "fd00::1", "handlers", "after", "group", "internal", "all"]
LINE_ERROR = re.compile(r"\A[^\n]+:\d+: [^\n]+\Z")


@st.composite
def mutated(draw):
    path, text = draw(st.sampled_from(TEXTS))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "insert", "duplicate", "truncate"]))
        at = draw(st.integers(0, len(text)))
        if kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)):]
        elif kind == "insert":
            snippet = draw(st.sampled_from(SNIPPETS) | st.text(max_size=6))
            text = text[:at] + snippet + text[at:]
        elif kind == "duplicate":
            end = min(len(text), at + draw(st.integers(1, 200)))
            text = text[:end] + text[at:end] + text[end:]
        else:
            text = text[:at]
    return path, text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutations_give_config_or_one_line_error(case):
    path, text = case
    try:
        config = load_text(text, path)
    except ConfigError as err:
        assert LINE_ERROR.match(str(err)), str(err)
        assert err.code == 10
        return
    again = load_text(dump_config(config), path)
    assert again == config
    # whatever the reader accepts, drbdadm can plan from, on every host it names
    addresses = {h.address.host for r in config.resources for h in r.hosts if h.address}
    for name in {n for r in config.resources for h in r.hosts for n in h.names} or {"x"}:
        for place in LocalView(name, addresses).mine(config):
            volumes = list(place.me.volumes.values())
            for command in ("up", "primary", "resize", "create-md", "wait-connect", "status"):
                try:
                    steps = plan(command, place, volumes, Command())
                except PlanError as err:
                    assert err.code == 10 and "\n" not in str(err)
                    continue
                assert all(step.line() for step in steps)
