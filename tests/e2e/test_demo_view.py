"""What `make demo` shows, without a cluster: the live view's node rows (role, cs/ds,
VIP, mount, resync bar), the plain lines, and the timeline."""
import io
import re

from tests.e2e.classic import DrbdView, Event, NodeView, Watch
from tests.e2e.demo_view import LiveView, PlainView, progress_bar

SYNCING = {
    "debian-420": NodeView(vip=True, mounted=True,
                           drbd=DrbdView("Primary", "Secondary", "SyncSource",
                                         "UpToDate/Inconsistent", synced=50.0)),
    "debian-566": NodeView(drbd=DrbdView("Secondary", "Primary", "SyncTarget",
                                         "Inconsistent/UpToDate", synced=50.0)),
}


def watch_with(views, events=()):
    watch = Watch(nodes=[])            # never started: the test sets what it saw
    watch.views = dict(views)
    watch.events = list(events)
    return watch


def plain(text):
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def test_progress_bar():
    assert progress_bar(None) == ""
    assert progress_bar(0.0) == "[>.......................]   0.0%"
    assert progress_bar(50.0) == "[============>...........]  50.0%"
    assert progress_bar(100.0) == "[========================] 100.0%"


def test_live_view_shows_each_node_role_cs_ds_vip_mount_and_resync_bar():
    out = io.StringIO()
    view = LiveView(watch_with(SYNCING), out)
    view.step("Initial full sync from debian-420")
    view.refresh()
    screen = plain(out.getvalue()).splitlines()
    rows = {line.split()[0]: line.split() for line in screen
            if line.strip().startswith("debian-")}
    assert rows["debian-420"][1:6] == ["Primary", "SyncSource", "UpToDate/Inconsistent",
                                       "yes", "mounted"]
    assert rows["debian-566"][1:6] == ["Secondary", "SyncTarget", "Inconsistent/UpToDate",
                                       "-", "-"]
    assert sum("resync [============>...........]  50.0%" in line for line in screen) == 2
    assert any(line.endswith("== Initial full sync from debian-420") for line in screen)


def test_live_view_shows_a_node_that_is_down():
    out = io.StringIO()
    LiveView(watch_with({"debian-420": NodeView(up=False),
                         "debian-566": SYNCING["debian-566"]}), out).refresh()
    assert "debian-420  down (rebooting)" in plain(out.getvalue())


def test_plain_lines_and_timeline_in_time_order():
    events = [Event(1.0, "debian-420", "role Primary"), Event(1.0, "debian-420", "ds x/y"),
              Event(2.5, "debian-566", "VIP added"), Event(2.6, "debian-566", "cs WFBitMapS")]
    watch = watch_with(SYNCING, events)
    out = io.StringIO()
    view = PlainView(watch, out)
    view.steps.clear()
    view.step("kill -9")
    view.steps[-1].at = 2.0
    view.refresh()
    lines = out.getvalue().splitlines()
    assert "\x1b[" not in out.getvalue()
    assert "[   2.0s] == kill -9" in lines
    assert "[   1.0s]      debian-420: role Primary" in lines
    assert "[   2.5s]      debian-566: VIP added" in lines
    assert any(line.endswith("debian-420: resync [============>...........]  50.0%")
               for line in lines)
    # ds churn and transient connection states stay out of the story
    assert not any("ds x/y" in line or "WFBitMapS" in line for line in lines)
    assert view.timeline() == ["    1.0s      debian-420: role Primary",
                               "    2.0s == kill -9",
                               "    2.5s      debian-566: VIP added"]
