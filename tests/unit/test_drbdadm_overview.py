"""drbd-overview: the /proc/drbd-format status turned into one line per device."""
import os

from drbd_py.adm import overview

PROC_84 = """version: 8.4.11 (api:1/proto:86-101)
srcversion: drbd_py

 1: cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r-----
    ns:1024 nr:0 dw:0 dr:2048 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:4096
\t[===>................] sync'ed: 20.0% (4096/5120)K
\tfinish: 0:00:02 speed: 2,048 (2,048) K/sec
 2: cs:Unconfigured
"""
PROC_07 = """version: 0.7.25 (api:79/proto:74)
 0: cs:Connected st:Secondary/Primary ld:Consistent
    ns:0 nr:12 dw:12 dr:0 al:0 bm:1 lo:0 pe:0 ua:0 ap:0
"""


def test_parse_both_eras():
    devices = overview.parse_status(PROC_84)
    assert [(d.minor, d.cstate, d.roles, d.dstates, d.protocol) for d in devices] == [
        (1, "SyncSource", "Primary/Secondary", "UpToDate/Inconsistent", "C"),
        (2, "Unconfigured", "", "", "")]
    assert devices[0].progress[0].startswith("[===>")
    (old,) = overview.parse_status(PROC_07)
    assert (old.cstate, old.roles, old.dstates) == ("Connected", "Secondary/Primary", "Consistent")


def test_render_names_minors():
    lines = overview.render(overview.parse_status(PROC_84), {1: "drbd0"})
    assert lines[0] == "  1:drbd0  SyncSource Primary/Secondary UpToDate/Inconsistent C r-----"
    assert lines[1] == "\t[===>................] sync'ed: 20.0% (4096/5120)K"
    assert lines[-1] == "  2:??     Unconfigured"


def test_main_reads_the_status_file(tmp_path, monkeypatch, capsys):
    (tmp_path / "proc-drbd").write_text(PROC_07)
    monkeypatch.setenv("DRBD_PY_RUNDIR", str(tmp_path))
    assert overview.main(["-c", str(tmp_path / "missing.conf")]) == 0
    assert capsys.readouterr().out == "  0:??  Connected Secondary/Primary Consistent\n"
    os.unlink(tmp_path / "proc-drbd")
    assert overview.main([]) == 1
    assert "is the engine running?" in capsys.readouterr().err


def test_a_status_file_that_is_not_utf_8_is_no_traceback(tmp_path, monkeypatch, capsys):
    (tmp_path / "proc-drbd").write_bytes(PROC_07.encode() + b"\xff\xfe garbage\n")
    monkeypatch.setenv("DRBD_PY_RUNDIR", str(tmp_path))
    assert overview.main(["-c", str(tmp_path / "missing.conf")]) == 0
    assert capsys.readouterr().out.startswith("  0:??  Connected Secondary/Primary")
