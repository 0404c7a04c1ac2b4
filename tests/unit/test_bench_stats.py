"""bench/: statistics, targets, interleaving, the results table, and the PNG writer."""
import string
import struct
import zlib

import pytest

from bench import report
from bench.figures import Figure, Section, Target
from bench.font import GLYPH_H, GLYPH_W, glyph
from bench.png import Canvas
from bench.profile import summarise
from bench.repeat import Budget, interleave, one_line, order
from bench.stats import percentile, ratio, summarize


def test_summary_is_median_and_range_and_ignores_missing_runs():
    s = summarize([3.0, None, 1.0, 10.0, 2.0])
    assert (s.runs, s.min, s.median, s.max) == (4, 1.0, 2.5, 10.0)
    assert summarize([]) is None and summarize([None]) is None


def test_ratio_by_medians_and_none_when_a_side_is_missing():
    assert ratio(summarize([2, 4, 100]), summarize([1, 2, 3])) == 2.0
    assert ratio(None, summarize([1])) is None
    assert ratio(summarize([1]), summarize([0])) is None


def test_percentile_interpolates_between_ranks():
    assert percentile([10, 20, 30, 40], 50) == 25
    assert percentile([5], 99) == 5
    with pytest.raises(ValueError):
        percentile([], 50)


@pytest.mark.parametrize("target, ours, ref, met", [
    (Target("ratio_max", 1.0), [0.9], [1.0], True),
    (Target("ratio_max", 1.0), [1.2], [1.0], False),
    (Target("ratio_min", 0.7), [70], [100], True),
    (Target("ratio_min", 0.7), [69], [100], False),
    (Target("abs_max", 1.0), [0.99], [], True),
    (Target("abs_max", 1.0), [1.01], [], False),
    (Target("within", 0.1, 100.0), [91], [], True),
    (Target("within", 0.1, 100.0), [111], [], False),
])
def test_targets_judge_medians(target, ours, ref, met):
    verdict = target.judge(summarize(ours), summarize(ref))
    assert verdict[0] is met


def test_a_target_is_not_judged_without_figures():
    assert Target("ratio_max", 1.0).judge(summarize([1]), None) is None
    assert Target("abs_max", 1.0).judge(None, None) is None


def test_missed_ratio_says_by_how_much():
    _, how = Target("ratio_min", 0.7).judge(summarize([35]), summarize([100]))
    assert how == "0.35 x ref (-50 % of the bound)"


def test_abba_order_alternates_direction():
    assert [order(["a", "b"], r) for r in range(4)] == [["a", "b"], ["b", "a"]] * 2


def test_interleave_collects_samples_in_abba_order_and_gives_up_after_errors():
    calls = []

    def ok(r):
        calls.append(("ok", r))
        return r * 10

    def bad(r):
        calls.append(("bad", r))
        raise RuntimeError("engine gone\nsecond line")
    out = interleave({"ok": ok, "bad": bad}, 4, Budget(60), max_errors=2, log=lambda *a: None)
    assert out.samples["ok"] == [0, 10, 20, 30]
    assert out.samples["bad"] == []
    assert calls[:4] == [("ok", 0), ("bad", 0), ("bad", 1), ("ok", 1)]
    assert calls.count(("bad", 2)) == 0
    assert out.why_not("bad") == "RuntimeError: engine gone"
    assert out.why_not("ok") == ""


def test_interleave_stops_when_the_budget_is_spent_but_runs_everyone_once():
    out = interleave({"a": lambda r: 1, "b": lambda r: 2}, 5, Budget(0), log=lambda *a: None)
    assert out.samples == {"a": [1], "b": [2]}


def test_table_row_shows_medians_ranges_ratio_runs_and_target_verdict():
    f = Figure("k", "seq 1M writes", "MB/s", ours=[400, 500, 600], reference=[1000, 1000],
               ref_label="nbdkit chain", better="higher", target=Target("ratio_min", 0.7))
    row = report.table_rows([f])[2]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells == ["seq 1M writes", "500 MB/s", "1,000 MB/s (nbdkit chain)", "0.50", "3 / 2",
                     "400 / 500 / 600", "1,000 / 1,000 / 1,000",
                     ">= 0.7 x ref: **missed**, 0.50 x ref (-29 % of the bound)"]


def test_table_says_why_a_figure_was_not_measured():
    f = Figure("k", "failover", "s", reference=[5.0], why_not_ours="engine has not landed | yet")
    row = report.table_rows([f])[2]
    assert "not measured: engine has not landed \\| yet" in row
    assert "| 0 / 1 |" in row


def test_section_round_trips_through_json():
    s = Section("x", "X", figures=[Figure("a", "A", "s", [1.0], [2.0],
                                          target=Target("within", 0.1, 5.0))], notes=["n"])
    again = Section.from_json(s.to_json())
    assert again == s
    assert isinstance(again.figures[0].target, Target)


def test_render_lists_targets_and_sections():
    s = Section("x", "Failover", figures=[Figure("a", "kill -> VIP", "s", [1.0], [2.0],
                                                 target=Target("ratio_max", 1.0))],
                method="How.", plots=["p.png"], taken="2026-01-01 00:00", seconds=3)
    text = report.render({"cpus": "2"}, [s])
    assert "- cpus: 2" in text
    assert "- kill -> VIP: <= 1 x ref: met (0.50 x ref" in text
    assert "![p.png](p.png)" in text and "How." in text


def test_every_printable_character_has_a_glyph_in_the_box():
    for ch in string.printable[:95]:
        rows = glyph(ch)
        assert len(rows) == GLYPH_H and all(0 <= r < (1 << GLYPH_W) for r in rows), ch
    assert glyph("A") != glyph("B") and any(glyph("x"))
    assert glyph("\u00e9") == glyph("\u2192")     # unknown: one box for all


def test_png_is_a_valid_rgb_image_with_what_was_drawn():
    c = Canvas(7, 3)
    c.rect(1, 1, 2, 1, (255, 0, 0))
    data = c.png()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert (kind, width, height, depth, colour) == (b"IHDR", 7, 3, 8, 2)
    idat = data.index(b"IDAT")
    size = struct.unpack(">I", data[idat - 4:idat])[0]
    raw = zlib.decompress(data[idat + 4:idat + 4 + size])
    assert len(raw) == 3 * (1 + 7 * 3)
    row1 = raw[22:44]
    assert row1[0] == 0 and row1[1 + 3:1 + 9] == b"\xff\x00\x00" * 2
    assert row1[1:4] == b"\xff\xff\xff"


def test_one_line_keeps_the_last_stderr_line_of_a_failed_command():
    class CommandFailed(Exception):
        stderr = "starting engine\ndrbdadm: engine did not answer\n"
    line = one_line(CommandFailed("alpha: drbdadm up all: exit 20\nstdout: \nstderr: ..."))
    assert line == ("CommandFailed: alpha: drbdadm up all: exit 20 "
                    "(drbdadm: engine did not answer)")


def test_profile_summary_names_where_the_busy_samples_were():
    stacks = {
        "process 1:x;main (x.py:1);BaseEventLoop._run_once (asyncio/base_events.py:9);"
        "EpollSelector.select (selectors.py:468)": 60,
        "process 1:x;main (x.py:1);Channel._flush (drbd_py/engine/channel.py:70)": 30,
        "process 1:x;main (x.py:1);Volume._pwrite (drbd_py/engine/volume.py:12)": 10,
    }
    text = summarise(stacks, top=3)
    assert text.splitlines()[0] == ("100 samples; in the event loop's wait 60 %; most self "
                                    "time in `Channel._flush` 30 %, `Volume._pwrite` 10 %.")
    assert "| `Channel._flush (engine/channel.py)` | 30.0 | 30.0 |" in text
    assert summarise({}) == "no samples (the process was idle or gone)"
