"""A mixed cluster: one node runs Debian's real heartbeat 3.0.6, the other ours, with
the same ha.cf and authkeys. Each sees the other active; each declares the other
dead within deadtime after a kill -9; restarted, they rejoin. Also with our side
sending the classic wire form, and with a wrong key on one side."""
from __future__ import annotations

import os
import time

import pytest

from tests.cluster import wait_until
from tests.integration.test_hb_pair import (DEADTIME, INITDEAD, KEEPALIVE, REAL, assert_deadtime,
                                            both_active, configure, log, nodestatus,
                                            past_start_lapse, start, time_to_death)

pytestmark = pytest.mark.skipif(not os.path.exists(REAL), reason="needs the real heartbeat 3.0.6")


@pytest.fixture
def mixed(cluster):
    """alpha: the real 3.0.6 (its own tools first on PATH); beta: ours."""
    c = cluster("alpha", "beta")
    real, ours = c["alpha"], c["beta"]
    real.venv_on_path = False
    return c, real, ours


@pytest.mark.parametrize("auth, extra", [
    ("2 md5 Hello!", ""),
    ("3 sha1 s3cr3t", ""),
    ("1 sha1 s3cr3t", "msgfmt classic\n"),      # ours sends >>>/<<< packets
], ids=["md5", "sha1", "classic"])
def test_real_and_ours_form_one_cluster_and_survive_kills(mixed, auth, extra):
    c, real, ours = mixed
    configure(real, ours, auth, extra)
    configure(ours, real, auth, extra)
    start(real)
    start(ours)
    wait_until(lambda: both_active(real, ours), 2 * KEEPALIVE + INITDEAD, message="both active")
    assert "failed authentication" not in log(real) + log(ours)
    wait_until(lambda: past_start_lapse(ours, real), 8, interval=0.2)

    # the real one dies: ours notices within deadtime; a restart rejoins
    assert_deadtime(time_to_death(ours, real))
    assert nodestatus(ours, real) == ("dead", 1)
    real.reboot()           # what a crashed machine comes back as
    start(real)
    # The real daemon's own start-up (generation file, mlock attempt) took 3 s on a loaded
    # machine: the budget is for the cluster to form, so it counts from when it is up.
    wait_until(lambda: "Local status now set to: 'up'" in log(real).split(
        "Configuration validated")[-1], 15, message="real heartbeat up again")
    wait_until(lambda: both_active(real, ours), 2 * KEEPALIVE + INITDEAD, message="rejoined")
    assert "Heartbeat restart on node alpha" in log(ours)

    # ours dies: the real one notices within deadtime; a restart rejoins
    wait_until(lambda: past_start_lapse(ours, real), 8, interval=0.2)
    assert_deadtime(time_to_death(real, ours))
    assert nodestatus(real, ours) == ("dead", 1)
    start(ours)
    wait_until(lambda: both_active(real, ours), 2 * KEEPALIVE + INITDEAD, message="rejoined")
    assert "Heartbeat restart on node beta" in log(real)
    for text in (log(real), log(ours)):
        assert "replay attack" not in text and "failed authentication" not in text
        assert "Message hist queue is filling up" not in text
    assert "flow control disabled" not in log(real)


def test_a_wrong_key_means_no_membership_and_a_log_line(mixed):
    c, real, ours = mixed
    configure(real, ours, "1 sha1 one-key")
    configure(ours, real, "1 sha1 another-key")
    start(real)
    start(ours)
    t0 = time.monotonic()
    wait_until(lambda: "failed authentication" in log(ours), INITDEAD,
               message="ours logs the failed authentication")
    wait_until(lambda: "authentication failed" in log(real) or "failed authentication" in log(real),
               INITDEAD, message="the real one logs it too")
    # after initdead each goes on alone, the other dead
    wait_until(lambda: nodestatus(ours, real) == ("dead", 1) and nodestatus(real, ours) == ("dead", 1),
               INITDEAD + 3, message="no membership")
    assert time.monotonic() - t0 >= INITDEAD - 1
    assert "Status update for node alpha" not in log(ours)
    assert "Status update for node beta" not in log(real)
    assert "[alpha] failed authentication" in log(ours)
