"""Bad drbd.conf input: one line naming file and line, and drbdadm's exit code."""
import pytest

from drbd_py.config.errors import ConfigError, ConfigMissing
from drbd_py.config.loader import load_config, load_text

HOSTS = """
  on alpha { device /dev/drbd0; disk /dev/sda7; address 10.1.1.31:7789; meta-disk internal; }
  on bravo { device /dev/drbd0; disk /dev/sda7; address 10.1.1.32:7789; meta-disk internal; }
"""


def error_of(text):
    with pytest.raises(ConfigError) as caught:
        load_text(text, "/etc/drbd.conf")
    err = caught.value
    assert "\n" not in str(err)
    assert err.code == 10
    return str(err)


@pytest.mark.parametrize("text, message", [
    ("resource r0 {\nprotocol C\n on alpha {}", "/etc/drbd.conf:3: Parse error: ';' expected, "
     "but got 'on'"),
    ("resource r0 {\n  frob 1;" + HOSTS + "}", "/etc/drbd.conf:2: Parse error: 'protocol | "
     "incon-degr-cmd | on | floating | disk | device | meta-disk | flexible-meta-disk | volume | "
     "net | syncer | startup | handlers | options | ignore-on | skip' expected, but got 'frob'"),
    ("resource r0 {\n net {\n  frob 1; }" + HOSTS + "}",
     "/etc/drbd.conf:3: Parse error: 'an option keyword' expected, but got 'frob'"),
    ("resource r0 {\n syncer { group 1; frob 2; }" + HOSTS + "}",
     "/etc/drbd.conf:2: Parse error: 'a syncer option keyword' expected, but got 'frob'"),
    ("resource r0 {\n protocol X;" + HOSTS + "}",
     "/etc/drbd.conf:2: unknown protocol 'X', should be one of A,B,C"),
    ("resource r0 {\n disk { on-io-error bogus; }" + HOSTS + "}",
     "/etc/drbd.conf:2: Parse error: 'pass_on | call-local-io-error | detach' expected, "
     "but got 'bogus'"),
    ("resource r0 {\n syncer { rate abc; }" + HOSTS + "}",
     "/etc/drbd.conf:2: rate: 'abc' is not a valid size ([0-9]+[KMGs]?)"),
    ("resource r0 {\n syncer { al-extents 3; }" + HOSTS + "}",
     "/etc/drbd.conf:2: al-extents 3 out of range [7..65534]"),
    ("resource r0 {\n handlers { split-brain \"abc\n; } }" + HOSTS + "}",
     "/etc/drbd.conf:2: Unterminated double quoted string"),
    ("resource r0 {" + HOSTS, "/etc/drbd.conf:4: Parse error: 'protocol | incon-degr-cmd | on | "
     "floating | disk | device | meta-disk | flexible-meta-disk | volume | net | syncer | startup "
     "| handlers | options | ignore-on | skip' expected, but got end of file"),
    ("resource r0 protocol C;", "/etc/drbd.conf:1: Parse error: '{' expected, but got 'protocol'"),
    ("frob { }", "/etc/drbd.conf:1: Parse error: 'global | common | resource | skip | include' "
     "expected, but got 'frob'"),
    ("include \"nothere.conf\";", "/etc/drbd.conf:1: Failed to open include file 'nothere.conf'."),
    ("resource r0 {" + HOSTS + "}\nresource r0 {" + HOSTS + "}",
     "/etc/drbd.conf:5: conflicting use of resource section 'r0' (first used at /etc/drbd.conf:1)"),
    ("resource r0 {\n on alpha { device /dev/drbd0; disk /dev/sda7; address 10.1.1.31:7789; "
     "meta-disk internal; }\n on alpha { device /dev/drbd1; disk /dev/sda7; "
     "address 10.1.1.32:7789; meta-disk internal; } }",
     "/etc/drbd.conf:3: conflicting use of host section 'r0: on alpha' "
     "(first used at /etc/drbd.conf:2)"),
    ("resource r0 {\n on alpha {\n disk /dev/sda7; address 10.1.1.31:7789; meta-disk internal; }"
     "\n on bravo { device /dev/drbd0; disk /dev/sda7; address 10.1.1.32:7789; "
     "meta-disk internal; } }",
     "/etc/drbd.conf:2: in resource r0, on alpha { ... }: 'device' keyword missing."),
    ("resource r0 {\n on alpha {\n device /dev/drbd0; address 10.1.1.31:7789;\n "
     "meta-disk internal; }\n on bravo { device /dev/drbd0; disk /dev/sda7; "
     "address 10.1.1.32:7789; meta-disk internal; } }",
     "/etc/drbd.conf:2: in resource r0, on alpha { ... }: 'disk' keyword missing."),
    ("resource r0 {\n on alpha { device /dev/drbd0; disk /dev/sda7; meta-disk internal; }\n"
     " on bravo { device /dev/drbd0; disk /dev/sda7; address 10.1.1.32:7789; "
     "meta-disk internal; } }",
     "/etc/drbd.conf:2: in resource r0, on alpha { ... }: 'address' keyword missing."),
    ("resource r0 {\n on alpha { device /dev/drbd0; disk /dev/sda7; address 10.1.1.31:7789; "
     "meta-disk internal; } }", "/etc/drbd.conf:1: in resource r0: Missing section "
     "'on <PEER> { ... }'."),
    ("resource r0 {" + HOSTS + "}\nresource r1 {\n on alpha { device /dev/drbd0; "
     "disk /dev/sda8; address 10.1.1.31:7790; meta-disk internal; }\n on bravo { device "
     "/dev/drbd1; disk /dev/sda8; address 10.1.1.32:7790; meta-disk internal; } }",
     "/etc/drbd.conf:6: conflicting use of device-minor 'device-minor:alpha:0' "
     "(first used at /etc/drbd.conf:2)"),
    ("resource r0 {\n on alpha { device /dev/drbd0; disk /dev/sda7; address 10.1.1.31:7789; "
     "meta-disk internal; }\n on bravo { device /dev/drbd0; disk /dev/sda7;\n"
     " address 10.1.1.31:7789; meta-disk internal; } }",
     "/etc/drbd.conf:4: conflicting use of IP '10.1.1.31:7789' (first used at /etc/drbd.conf:2)"),
    ("resource r0 {\n on alpha { device /dev/sdx; disk /dev/sda7; address 10.1.1.31:7789; "
     "meta-disk internal; } }", "/etc/drbd.conf:2: device name must start with /dev/drbd "
     "(/dev/ is optional, but drbd is required)"),
    ("resource r0 {\n on alpha { device /dev/drbd0; disk /dev/sda7; address 10.1.1.31; "
     "meta-disk internal; } }",
     "/etc/drbd.conf:2: ':PORT' missing from '10.1.1.31' (address IP:PORT;)"),
    ("resource r0 {\n on alpha { device /dev/drbd0; disk /dev/sda7; address 10.1.1.31:99999; "
     "meta-disk internal; } }", "/etc/drbd.conf:2: port '99999' out of range [1..65535]"),
    ("resource r0 {\n on alpha { device /dev/drbd0; disk /dev/sda7; address 10.1.1:7788; "
     "meta-disk internal; } }", "/etc/drbd.conf:2: '10.1.1' is not a valid ipv4 address"),
    ("resource r0 {\n on alpha { device /dev/drbd0; disk /dev/sda7; address 10.1.1.31:7788; "
     "meta-disk internal [0]; } }",
     "/etc/drbd.conf:2: don't give an index for internal meta-data"),
    ("resource r0 {\n syncer { after r9; }" + HOSTS + "}",
     "/etc/drbd.conf:1: in resource r0: resync-after refers to unknown resource 'r9'"),
    ("resource r0 {\n stacked-on-top-of r1 { }" + HOSTS + "}",
     "/etc/drbd.conf:2: stacked resources are not supported"),
    ("resource r0 {\n volume 0 { device minor 1; disk /dev/a; meta-disk internal; }\n"
     " device minor 2;" + HOSTS + "}",
     "/etc/drbd.conf:3: in resource r0: you must not mix implicit and explicit volumes"),
    ("skip {\n resource x { \n", "/etc/drbd.conf:1: reached end of file while parsing this "
     "skip block"),
    ("common { on alpha { } }", "/etc/drbd.conf:1: in the common section, there are no host "
     "sections allowed"),
    ("global { usage-count yes; }\nglobal { }", "/etc/drbd.conf:2: conflicting use of global "
     "section 'global' (first used at /etc/drbd.conf:1)"),
])
def test_error_message(text, message):
    assert error_of(text) == message


def test_missing_file_is_exit_20():
    with pytest.raises(ConfigMissing) as caught:
        load_config("/nonexistent/drbd.conf")
    assert str(caught.value) == "Can not open '/nonexistent/drbd.conf'."
    assert caught.value.code == 20


def test_error_in_included_file_names_that_file(tmp_path):
    (tmp_path / "drbd.d").mkdir()
    (tmp_path / "drbd.d" / "bad.res").write_text("resource r0 {\n  protocol Q;\n}\n")
    (tmp_path / "drbd.conf").write_text('include "drbd.d/*.res";\n')
    with pytest.raises(ConfigError) as caught:
        load_config(str(tmp_path / "drbd.conf"))
    assert str(caught.value) == (f"{tmp_path}/drbd.d/bad.res:2: unknown protocol 'Q', "
                                 "should be one of A,B,C")


def test_glob_matching_nothing_is_fine_and_files_are_read_once(tmp_path):
    (tmp_path / "r.res").write_text("resource r0 {" + HOSTS + "}\n")
    (tmp_path / "drbd.conf").write_text('include "none/*.res";\ninclude "*.res";\n'
                                        'include "r.res";\n')
    config = load_config(str(tmp_path / "drbd.conf"))
    assert [r.name for r in config.resources] == ["r0"]


def test_unterminated_string_inside_skip_is_skipped():
    config = load_text('skip {\n handlers { x "unterminated\n }\n}\nresource r0 {' + HOSTS + "}")
    assert [r.name for r in config.resources] == ["r0"]
