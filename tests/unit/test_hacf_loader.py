"""Loading a whole configuration directory: the three files and what ties them together."""
import shutil
from pathlib import Path

import pytest

from heartbeat_py.config import ConfigErrors, config_dir, load

DATA = Path(__file__).parent / "data" / "hacfg"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def confdir(tmp_path):
    target = tmp_path / "ha.d"
    shutil.copytree(DATA / "classic", target)
    (target / "authkeys").chmod(0o600)
    scripts = target / "resource.d"
    scripts.mkdir()
    for name in ("IPaddr", "drbddisk"):
        (scripts / name).write_text("#!/bin/sh\n")
        (scripts / name).chmod(0o755)
    return target


def env_for(confdir):
    return {"INITDIR": str(confdir.parent / "init.d")}


def test_load_classic(confdir):
    cfg = load(confdir, env=env_for(confdir))
    assert cfg.confdir == confdir
    assert cfg.hacf.nodes == ["debian-420", "debian-566"]
    assert [g.key for g in cfg.resources.groups] == ["192.168.0.222"]
    assert cfg.authkeys.active.key == b"Hello!"
    assert cfg.find_script("IPaddr") == confdir / "resource.d" / "IPaddr"
    assert [str(w) for w in cfg.warnings] == [
        f'{confdir}/haresources:2: no resource script "drbdisk" in {confdir}/resource.d or'
        f' {confdir.parent}/init.d (did you mean "drbddisk"?)']
    assert cfg.summary() == (
        f"{confdir}: nodes debian-420 debian-566; media ucast eth0 192.168.0.73:694;"
        " keepalive 2s deadtime 30s warntime 10s initdead 120s; auto_failback on;"
        " 1 resource group (debian-420: IPaddr::192.168.0.222 drbdisk::drbd0); auth 3 md5")


def test_errors_of_all_files_and_cross_checks_are_collected(confdir):
    (confdir / "ha.cf").write_text("node a\nucast eth0 192.0.2.2\nlogfile /x\nkeepalve 2\nauto_failback on\n")
    (confdir / "authkeys").chmod(0o644)
    with pytest.raises(ConfigErrors) as caught:
        load(confdir, env=env_for(confdir))
    assert [str(e) for e in caught.value.errors] == [
        f'{confdir}/ha.cf:4: unknown directive "keepalve" (did you mean "keepalive"?)',
        f"{confdir}/authkeys: bad permissions 0644 on keyfile: group or others may read or write it; run chmod 600",
        f'{confdir}/haresources:2: node "debian-420" is not declared by a node directive in ha.cf',
    ]


def test_resource_group_node_must_be_declared(confdir):
    (confdir / "haresources").write_text("debian-420 192.0.2.10\nDebian-999 drbddisk::r0\n")
    with pytest.raises(ConfigErrors) as caught:
        load(confdir, env=env_for(confdir))
    assert [str(e) for e in caught.value.errors] == [
        f'{confdir}/haresources:2: node "debian-999" is not declared by a node directive in ha.cf']


def test_this_node_must_be_declared_when_named(confdir):
    assert load(confdir, env=env_for(confdir), nodename="Debian-566").hacf.is_node("debian-566")
    with pytest.raises(ConfigErrors) as caught:
        load(confdir, env=env_for(confdir), nodename="laptop")
    assert str(caught.value) == f'{confdir}/ha.cf: this node "laptop" (uname -n) is not declared by a node directive'


def test_without_resource_management_haresources_is_not_read(confdir):
    (confdir / "haresources").unlink()
    with pytest.raises(ConfigErrors) as caught:
        load(confdir, env=env_for(confdir))
    assert str(caught.value) == f"{confdir}/haresources: cannot open resources file: No such file or directory"
    assert len(load(confdir, env=env_for(confdir), manage_resources=False).resources) == 0


def test_unhandled_directives_are_listed(confdir):
    with open(confdir / "ha.cf", "a") as f:
        f.write("watchdog /dev/watchdog\n")
    cfg = load(confdir, env=env_for(confdir))
    assert [str(u) for u in cfg.unhandled] == [
        f'{confdir}/ha.cf:14: "watchdog" is accepted but not acted on by this heartbeat']


def test_config_dir_choice(tmp_path):
    etc_ha_d, etc_heartbeat = tmp_path / "ha.d", tmp_path / "heartbeat"
    candidates = (str(etc_ha_d), str(etc_heartbeat))
    assert config_dir({}, candidates) == etc_ha_d                 # nothing anywhere
    etc_heartbeat.mkdir()
    (etc_heartbeat / "ha.cf").write_text("")
    assert config_dir({}, candidates) == etc_heartbeat            # Debian's 2006 layout
    etc_ha_d.mkdir()
    (etc_ha_d / "ha.cf").write_text("")
    assert config_dir({}, candidates) == etc_ha_d
    assert config_dir({"HA_DIR": "/srv/ha"}, candidates) == Path("/srv/ha")
    assert config_dir({"HA_DIR": ""}, candidates) == etc_ha_d


def test_shipped_example_configuration_passes(tmp_path):
    confdir = tmp_path / "ha.d"
    shutil.copytree(ROOT / "etc" / "ha.d", confdir)
    shutil.copytree(ROOT / "resource.d", confdir / "resource.d")
    (confdir / "authkeys").chmod(0o600)
    cfg = load(confdir, env={"INITDIR": str(tmp_path / "init.d")}, nodename="debian-420")
    assert cfg.warnings == [] and cfg.unhandled == []
    assert [r.script for r in cfg.resources.groups[0].resources] == ["IPaddr", "drbddisk", "Filesystem"]
