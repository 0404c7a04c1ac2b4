"""haresources as heartbeat's ResourceManager reads it, and where scripts are found."""
from pathlib import Path

import pytest

from heartbeat_py.config import ConfigErrors, find_resource_script, parse_haresources, read_haresources
from heartbeat_py.config.haresources import check_scripts, resource_dirs

DATA = Path(__file__).parent / "data" / "hacfg"
PATH = "/etc/ha.d/haresources"


def parse(text):
    return parse_haresources(text.encode(), PATH)


def flat(resources):
    return [(g.node, [(r.script, r.args) for r in g.resources]) for g in resources]


def script(directory, name, mode=0o755):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(mode)
    return path


def test_classic_guide_line():
    resources = read_haresources(str(DATA / "classic" / "haresources"))
    assert flat(resources) == [("debian-420", [("IPaddr", ("192.168.0.222",)), ("drbdisk", ("drbd0",))])]
    group = resources.groups[0]
    assert (group.line, group.key, group.text()) == (2, "192.168.0.222", "debian-420 192.168.0.222 drbdisk::drbd0")
    assert [r.canonical for r in group.resources] == ["IPaddr::192.168.0.222", "drbdisk::drbd0"]


def test_eucjp_comments_do_not_matter():
    assert flat(read_haresources(str(DATA / "classic-eucjp" / "haresources"))) == \
        flat(read_haresources(str(DATA / "classic" / "haresources")))


@pytest.mark.parametrize("word, script, args", [
    ("192.168.0.222", "IPaddr", ("192.168.0.222",)),
    ("10.0.0.5/24/eth0/10.0.0.255", "IPaddr", ("10.0.0.5/24/eth0/10.0.0.255",)),
    ("IPaddr2::192.0.2.10/24/eth0", "IPaddr2", ("192.0.2.10/24/eth0",)),
    ("Filesystem::/dev/drbd0::/srv::ext3::rw,noatime", "Filesystem", ("/dev/drbd0", "/srv", "ext3", "rw,noatime")),
    ("httpd", "httpd", ()),
    ("MailTo::root@example.org::failover", "MailTo", ("root@example.org", "failover")),
])
def test_resource_forms(word, script, args):
    resource = parse(f"alpha {word}\n").groups[0].resources[0]
    assert (resource.script, resource.args, resource.raw) == (script, args, word)


def test_several_groups_comments_tabs_and_case():
    resources = parse("# comment\n\nAlpha\t192.0.2.10  httpd # web\nbeta drbddisk::r1 # second\n")
    assert flat(resources) == [("alpha", [("IPaddr", ("192.0.2.10",)), ("httpd", ())]),
                               ("beta", [("drbddisk", ("r1",))])]
    assert [g.line for g in resources] == [3, 4]


def test_backslash_continues_a_line():
    resources = parse("alpha 192.0.2.10 \\\n   drbddisk::r0 \\\n\tFilesystem::/dev/drbd0::/srv::ext3\nbeta httpd\n")
    assert flat(resources) == [
        ("alpha", [("IPaddr", ("192.0.2.10",)), ("drbddisk", ("r0",)), ("Filesystem", ("/dev/drbd0", "/srv", "ext3"))]),
        ("beta", [("httpd", ())])]
    assert [g.line for g in resources] == [1, 4]


def test_calling_convention():
    resource = parse("alpha Filesystem::/dev/drbd0::/srv::ext3\n").groups[0].resources[0]
    assert resource.command("/etc/ha.d/resource.d/Filesystem", "start") == \
        ["/etc/ha.d/resource.d/Filesystem", "/dev/drbd0", "/srv", "ext3", "start"]


def test_errors_name_their_line():
    with pytest.raises(ConfigErrors) as caught:
        parse("alpha ::r0\nbeta ../bin/evil::x\n")
    assert [str(e) for e in caught.value.errors] == [
        f'{PATH}:1: resource "::r0" has no script name before \'::\'',
        f'{PATH}:2: resource script "../bin/evil" must be a name in resource.d or /etc/init.d, not a path']


def test_dubious_lines_are_warned():
    resources = parse("alpha\nalpha 192.0.2.10\nbeta 192.0.2.10 httpd\n")
    assert [str(w) for w in resources.warnings] == [
        f'{PATH}:1: node "alpha" has no resources on this line',
        f'{PATH}:3: resource group "192.0.2.10" already starts line 2: heartbeat names groups by their first resource']


def test_lookup_resource_d_before_init_d(tmp_path):
    confdir, initdir = tmp_path / "ha.d", tmp_path / "init.d"
    dirs = resource_dirs(confdir, {"INITDIR": str(initdir)})
    assert dirs == (confdir / "resource.d", initdir)
    in_init = script(initdir, "httpd")
    assert find_resource_script("httpd", dirs) == in_init
    in_resource_d = script(confdir / "resource.d", "httpd")
    assert find_resource_script("httpd", dirs) == in_resource_d


def test_lookup_skips_non_executables_and_paths(tmp_path):
    dirs = (tmp_path / "resource.d", tmp_path / "init.d")
    script(dirs[0], "IPaddr", mode=0o644)
    executable = script(dirs[1], "IPaddr")
    assert find_resource_script("IPaddr", dirs) == executable
    (dirs[0] / "sub").mkdir()
    script(dirs[0] / "sub", "x")
    assert find_resource_script("sub/x", dirs) is None
    assert find_resource_script("nothing", dirs) is None


def test_default_init_dir():
    assert resource_dirs("/etc/ha.d", {}) == (Path("/etc/ha.d/resource.d"), Path("/etc/init.d"))


def test_missing_script_warned_with_line_and_suggestion(tmp_path):
    dirs = (tmp_path / "resource.d", tmp_path / "init.d")
    script(dirs[0], "IPaddr")
    resources = read_haresources(str(DATA / "classic" / "haresources"))
    warnings = check_scripts(resources, dirs)
    assert [str(w) for w in warnings] == [
        f'{resources.path}:2: no resource script "drbdisk" in {dirs[0]} or {dirs[1]} (did you mean "drbddisk"?)']


def test_suggestion_comes_from_installed_scripts_too(tmp_path):
    dirs = (tmp_path / "resource.d", tmp_path / "init.d")
    script(dirs[1], "postgresql")
    warnings = check_scripts(parse("alpha postgresq1\n"), dirs)
    assert warnings[0].message.endswith('(did you mean "postgresql"?)')
