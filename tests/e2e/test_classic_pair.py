"""The classic two-node cluster end to end (issue 8): debian-420 and debian-566 with the
classic files, started by /etc/init.d/drbd and /etc/init.d/heartbeat, a third node as
the client of nd0svc on 192.0.2.222.  The steps run in order on one cluster (fast
timers: keepalive 500ms, deadtime 2); a sampler looks at both nodes every 50 ms for
the whole module and any moment where both hold the VIP, the mount or the Primary
role fails the step it happened in.  The classic timers (keepalive 2, deadtime 30) run
at the end: start-up and one graceful move."""
import re
import time

import pytest

from tests.cluster import wait_until
from tests.e2e.classic import (CLASSIC, DEVICE, ENGINE_LOG, FAST, MOUNT, OTHER, PREFERRED,
                               RESOURCE, VIP, ClassicPair, Watch, look)

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def story(module_clusters):
    pair = ClassicPair(module_clusters, FAST)
    watch = Watch(pair.nodes).start()
    pair.first_start()
    pair.files = {}
    yield pair, watch
    watch.stop()


@pytest.fixture
def pair(story, request):
    request.node.hbt_clusters = [story[0].cluster]   # log tails on failure (tests/conftest.py)
    return story[0]


class Window:
    """The sampler's events and violations from now on."""

    def __init__(self, watch):
        self.watch, self.start = watch, watch.now()
        self.violations_before = len(watch.violations)

    def violations(self):
        return self.watch.violations[self.violations_before:]

    def first(self, node, what):
        at = self.watch.first(node, what, after=self.start)
        assert at is not None, f"{node}: never saw {what!r} since {self.start:.2f}s"
        return at


@pytest.fixture
def window(story):
    w = Window(story[1])
    yield w
    # a few more samples so that a late overlap is seen too
    time.sleep(0.3)
    assert w.violations() == [], "both nodes at once (seconds, what, nodes)"


def engine_log_since_boot(node):
    log = node.read_file(ENGINE_LOG)
    return log[log.rindex("drbd-py-engine started"):]


@pytest.mark.steps
def test_1_the_client_reaches_the_service_address_on_debian_420(pair, window):
    assert pair.ping(), f"no ping reply from {VIP}"
    assert pair.who() == PREFERRED
    assert look(pair.preferred).vip and not look(pair.other).vip
    assert (pair.rscstatus(pair.preferred), pair.rscstatus(pair.other)) == ("local", "local")
    # the classic first start has no create-md: 0.7 made its meta-data at the first attach
    for node in pair.nodes:
        assert "drbd1: Creating state block" in node.read_file(ENGINE_LOG), node.name
    status = pair.init(pair.preferred, "heartbeat", "status")
    assert "is running on debian-420" in status.stdout


@pytest.mark.steps
def test_2_drbd1_is_mounted_on_debian_420_only_and_the_client_writes_there(pair, window):
    mounts = pair.preferred.run("mount").stdout
    assert re.search(rf"^{DEVICE} on {MOUNT} type ext3 ", mounts, re.M), mounts
    assert MOUNT not in pair.other.run("mount").stdout
    assert not pair.other.exists(DEVICE), "a Secondary has no /dev/drbd1"
    assert pair.drbd(pair.preferred).role == "Primary"
    assert (pair.drbd(pair.other).role, pair.drbd(pair.other).ds) == \
        ("Secondary", "UpToDate/UpToDate")
    assert pair.sh(pair.preferred, f"drbdadm state {RESOURCE}").stdout.strip() == \
        "Primary/Secondary"
    files = pair.put("first", 30, 16384)
    assert len(files) == 30
    pair.files.update(files)
    listing = pair.preferred.run(["ls", MOUNT]).stdout.split()
    assert set(files) <= set(listing)
    assert pair.missing(pair.files) == []


@pytest.mark.steps
def test_3_kill_9_of_debian_420_moves_everything_to_debian_566(pair, window, e2e_report):
    pair.past_start_lapse(pair.preferred)
    killed = time.monotonic()
    pair.crash(pair.preferred)
    answered_at, by = pair.start_waiting_client(30).answered(40)
    took = answered_at - killed
    e2e_report("kill -9 of debian-420 -> nd0svc answering from debian-566 (deadtime 2)",
               f"{took:.2f} s")
    print(f"takeover: {took:.2f} s from kill -9 to the service answering again")
    assert by == OTHER
    assert took < FAST.deadtime_s + 3, f"takeover took {took:.2f} s"
    other = look(pair.other)
    assert other.vip and other.mounted and other.drbd.role == "Primary"
    assert other.drbd.cs == "WFConnection"
    assert pair.missing(pair.files) == []
    assert "Resources being acquired from debian-420." in pair.log(pair.other)
    # written while debian-420 is away: what it has to resync when it returns
    pair.files.update(pair.put("alone", 20, 65536))


@pytest.mark.steps
def test_4_debian_420_returns_resyncs_and_takes_the_service_back(pair, window):
    pair.boot(pair.preferred)
    pair.wait_service_on(pair.preferred, timeout=60)
    log = engine_log_since_boot(pair.preferred)
    assert "Began resync as SyncTarget" in log, log
    assert "Resync done" in log, log
    synced = window.first(PREFERRED, "ds UpToDate/UpToDate")
    unmounted, demoted = window.first(OTHER, "unmounted"), window.first(OTHER, "role Secondary")
    promoted, mounted = window.first(PREFERRED, "role Primary"), window.first(PREFERRED, "mounted")
    assert synced < promoted, "debian-420 was promoted before its resync ended"
    assert unmounted <= demoted <= promoted <= mounted, (unmounted, demoted, promoted, mounted)
    assert pair.missing(pair.files) == []
    wait_until(lambda: (pair.rscstatus(pair.preferred), pair.rscstatus(pair.other))
               == ("local", "local"), 15, message="both stable")


@pytest.mark.steps
def test_5_hb_standby_on_the_owner_and_back_with_hb_takeover(pair, window):
    out = pair.sh(pair.preferred, "hb_standby", check=False)
    assert out.returncode == 0, out
    pair.wait_service_on(pair.other, timeout=30)
    pair.files.update(pair.put("standby", 5, 4096))
    out = pair.sh(pair.preferred, "hb_takeover", check=False)
    assert out.returncode == 0, out
    pair.wait_service_on(pair.preferred, timeout=30)
    assert pair.missing(pair.files) == []
    assert "debian-420 wants to go standby [all]" in pair.log(pair.other)


@pytest.mark.steps
def test_6_graceful_heartbeat_stop_on_the_owner_moves_the_service_with_no_data_loss(pair,
                                                                                   window):
    pair.files.update(pair.put("last", 10, 32768))
    out = pair.init(pair.preferred, "heartbeat", "stop")
    assert (out.returncode, out.stdout) == (0, "Stopping High-Availability services: Done.\n\n")
    pair.wait_service_on(pair.other, timeout=30)
    assert pair.missing(pair.files) == []
    assert "Received shutdown notice from 'debian-420'." in pair.log(pair.other)
    assert pair.drbd(pair.preferred).role == "Secondary"
    assert pair.drbd(pair.other).ds == "UpToDate/UpToDate"


def test_classic_timers_start_up_and_graceful_move(cluster, e2e_report):
    """keepalive 2, deadtime 30, initdead 120 as the example ships them."""
    pair = ClassicPair(cluster, CLASSIC)
    for node in pair.nodes:
        text = node.read_file("/etc/ha.d/ha.cf")
        assert re.search(r"^keepalive 2$", text, re.M) and re.search(r"^deadtime 30$", text, re.M)
    started = time.monotonic()
    with Watch(pair.nodes) as watch:
        pair.first_start()
        e2e_report("classic timers: drbd + heartbeat first start to service on debian-420",
                   f"{time.monotonic() - started:.1f} s")
        assert pair.sh(pair.preferred, "cl_status hbparameter -p deadtime").stdout.strip() == "30"
        files = pair.put("classic", 10, 8192)
        out = pair.init(pair.preferred, "heartbeat", "stop")
        assert out.returncode == 0, out
        pair.wait_service_on(pair.other, timeout=30)
        assert pair.missing(files) == []
        time.sleep(0.3)
    assert watch.violations == []
    assert watch.samples > 50
