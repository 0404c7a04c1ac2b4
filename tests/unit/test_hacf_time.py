"""heartbeat's time syntax (cl_get_msec) and our extensions."""
import pytest

from heartbeat_py.config.timeparse import MAX_MS, format_ms, is_extension, parse_ms


@pytest.mark.parametrize("text, ms", [
    ("1", 1000), ("1000ms", 1000), ("1000000us", 1000), ("0.1", 100), ("100ms", 100),
    ("100000us", 100), ("0.001", 1), ("1ms", 1), ("1000us", 1), ("499us", 0), ("501us", 1),
    ("500us", 1),           # heartbeat adds one half before truncating
    (".5", 500), ("2.", 2000), ("10msec", 10), ("10usec", 0), ("3MS", 3), ("0", 0),
    ("2s", 2000), ("2sec", 2000), ("1min", 60000), ("1.5min", 90000), (" 2 ", 2000),
])
def test_values(text, ms):
    assert parse_ms(text) == ms


@pytest.mark.parametrize("text", ["", "ms", "-1", "+1", "1h", "2 ms", "1.2.3", "1e3", "x2", "2ms5",
                                  "9" * 20, "1" * 5000])
def test_refused(text):
    with pytest.raises(ValueError):
        parse_ms(text)


def test_largest_value():
    assert parse_ms(f"{MAX_MS}ms") == MAX_MS


@pytest.mark.parametrize("text, extension", [("2", False), ("500ms", False), ("2us", False),
                                             ("2s", True), ("1min", True), ("junk", False)])
def test_extension_units_are_recognised(text, extension):
    assert is_extension(text) is extension


@pytest.mark.parametrize("ms, text", [(2000, "2s"), (1500, "1500ms"), (0, "0s"), (120000, "120s"), (1, "1ms")])
def test_format(ms, text):
    assert format_ms(ms) == text
