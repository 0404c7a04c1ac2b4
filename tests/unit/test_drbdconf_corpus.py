"""Every sample drbd.conf of the corpus loads, maps to the one model, and dumps
to text that reads back to the same model."""
import glob
import os

import pytest

from drbd_py.config.dump import dump_config
from drbd_py.config.loader import load_config, load_text

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "drbd")
SAMPLES = sorted(glob.glob(os.path.join(DATA, "v*", "*.conf"))
                 + glob.glob(os.path.join(DATA, "v*", "*", "drbd.conf")))
MIB = 1 << 20


def sample(name):
    return os.path.join(DATA, name)


def test_corpus_has_every_era():
    eras = {os.path.relpath(path, DATA).split(os.sep)[0] for path in SAMPLES}
    assert len(SAMPLES) >= 30
    assert eras == {"v07", "v83", "v84"}


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: os.path.relpath(p, DATA))
def test_dump_reads_back_to_the_same_model(path, tmp_path):
    config = load_config(path)
    assert config.resources
    text = dump_config(config)
    again = load_text(text, str(tmp_path / "dumped.conf"))
    assert again == config
    assert dump_config(again).splitlines()[1:] == text.splitlines()[1:]


def test_classic_07_file_maps_to_the_model():
    config = load_config(sample("v07/classic.conf"))
    (res,) = config.resources
    assert res.name == "drbd0"
    settings = res.settings
    assert settings.net.protocol == "C"
    assert settings.disk.resync_rate == 20 * MIB
    assert settings.disk.sync_group == 1
    assert settings.disk.al_extents == 7
    assert settings.handlers == {"pri-on-incon-degr": "halt -f"}
    first, second = res.hosts
    assert first.names == ("debian-420",) and second.names == ("debian-566",)
    assert (first.volumes[0].device, first.volumes[0].minor) == ("/dev/drbd1", 1)
    assert first.volumes[0].disk == "/dev/sdb1" and second.volumes[0].disk == "/dev/hda3"
    assert str(first.address) == "ipv4 192.168.0.95:7789"
    assert str(second.address) == "ipv4 192.168.0.73:7789"
    assert first.volumes[0].meta_disk == "internal"


def test_comments_do_not_change_the_classic_model():
    plain = load_config(sample("v07/classic.conf"))
    commented = load_config(sample("v07/classic-commented.conf"))
    assert plain == commented


def test_07_and_84_spellings_give_one_model():
    old = load_text("""
resource r0 {
  protocol C;
  incon-degr-cmd "halt -f";
  disk { on-io-error panic; }
  net { sndbuf-size 512K; }
  syncer { rate 20M; al-extents 257; }
  on a { device /dev/drbd0; disk /dev/sda1; address 10.0.0.1:7788; meta-disk /dev/sdb1 [0]; }
  on b { device /dev/drbd0; disk /dev/sda1; address 10.0.0.2:7788; meta-disk /dev/sdb1 [0]; }
}""")
    new = load_text("""
resource r0 {
  net { protocol C; sndbuf-size 512K; }
  disk { resync-rate 20M; al-extents 257; on-io-error call-local-io-error; }
  handlers { pri-on-incon-degr "halt -f"; }
  on a { device /dev/drbd0 minor 0; disk /dev/sda1; address ipv4 10.0.0.1:7788;
         meta-disk /dev/sdb1 [0]; }
  on b { device /dev/drbd0 minor 0; disk /dev/sda1; address ipv4 10.0.0.2:7788;
         meta-disk /dev/sdb1 [0]; }
}""")
    assert old == new
    assert old.resources[0].settings.net.sndbuf_size == 512 * 1024


def test_83_syncer_section_lands_in_84_sections():
    config = load_config(sample("v84/syncer-in-8.4.conf"))
    settings = config.resources[0].settings
    assert settings.disk.resync_rate == 60 * MIB
    assert settings.disk.al_extents == 1237
    assert settings.net.verify_alg == "crc32c"
    assert settings.options.cpu_mask == "3"
    assert settings.disk.disk_flushes is False and settings.disk.md_flushes is False
    assert settings.net.tcp_cork is False


def test_common_is_inherited_and_overridden():
    config = load_config(sample("v83/common-inherited.conf"))
    home, srv = config.resources
    assert home.settings.net.protocol == "C" and srv.settings.net.protocol == "A"
    assert home.settings.disk.resync_rate == 25 * MIB
    assert srv.settings.disk.resync_rate == 5 * MIB
    assert set(home.settings.handlers) == {"pri-on-incon-degr", "pri-lost-after-sb",
                                           "local-io-error"}
    assert srv.settings.startup.wfc_timeout == 120
    assert config.global_options.minor_count == 16


def test_includes_with_globs_relative_to_the_file():
    config = load_config(sample("v84/split/drbd.conf"))
    assert [r.name for r in config.resources] == ["r0", "r1"]
    r0, r1 = config.resources
    assert r0.settings.net.after_sb_0pri == "discard-zero-changes"
    assert r1.settings.disk.resync_rate == 10 * MIB
    assert r0.settings.disk.on_io_error == "detach"
    assert r0.where.path.endswith("drbd.d/r0.res")


def test_84_volumes_are_inherited_by_hosts():
    config = load_config(sample("v84/volumes.conf"))
    for host in config.resources[0].hosts:
        assert [(v.number, v.minor, v.disk) for v in host.volumes.values()] == [
            (0, 1, "/dev/sda7"), (1, 2, "/dev/sda8")]


def test_per_volume_disk_options_and_resource_level_statements():
    config = load_config(sample("v84/per-volume-disk.conf"))
    base, app = config.resources
    assert base.hosts[0].volumes[0].device == "/dev/drbd10"
    assert base.hosts[1].volumes[0].disk == "/dev/vg/base"
    second = app.hosts[0].volumes[1]
    assert second.disk_options.resync_after == "base"
    assert second.disk_options.on_io_error == "pass_on"
    assert app.settings.disk.resync_rate == 20 * MIB


def test_meta_disk_forms():
    config = load_config(sample("v84/external-meta.conf"))
    volumes = [res.hosts[0].volumes[0] for res in config.resources]
    assert [(v.meta_disk, v.meta_index) for v in volumes] == [
        ("/dev/sdc1", 2), ("/dev/sdd1", None), ("/dev/sde1", None)]
    nfs = load_config(sample("v07/nfs-howto.conf")).resources[0].hosts[0].volumes[0]
    assert (nfs.meta_disk, nfs.meta_index, nfs.meta_device) == ("/dev/sda7", 0, "/dev/sda7")


def test_address_families():
    v6 = load_config(sample("v83/ipv6.conf")).resources[0].hosts[0].address
    assert (v6.family, v6.host, v6.port) == ("ipv6", "fd01:2345:6789::1", 7789)
    assert str(v6) == "ipv6 [fd01:2345:6789::1]:7789"
    floating = load_config(sample("v84/floating-ipv6.conf")).resources[0].hosts
    assert all(h.floating for h in floating)
    assert floating[1].name == "fd00:1::2"


def test_size_units():
    config = load_config(sample("v84/options-section.conf"))
    settings = config.resources[0].settings
    assert settings.disk.c_fill_target == 24 * MIB
    assert settings.net.congestion_fill == 1 << 30
    assert settings.net.sndbuf_size == 2 * MIB
    small = load_config(sample("v07/quoted-old-spellings.conf")).resources[0]
    assert small.settings.disk.resync_rate == 512 * 1024
    assert small.hosts[0].volumes[0].device == "/dev/drbd0"
    panic = load_config(sample("v07/panic-standalone.conf")).resources[0].settings
    assert panic.disk.size == 10 << 30
    assert panic.disk.on_io_error == "call-local-io-error"
    assert panic.net.on_disconnect == "stand_alone"


def test_skip_sections_are_ignored():
    sample07 = load_config(sample("v07/sample-0.7.conf"))
    assert [r.name for r in sample07.resources] == ["r0"]
    assert sample07.global_options.minor_count == 4
    skipped = load_config(sample("v83/skip-and-comments.conf"))
    assert [r.name for r in skipped.resources] == ["r0"]


def test_renamed_handler_and_split_brain_policies():
    config = load_config(sample("v83/drbd-8.0-example.conf"))
    settings = config.resources[0].settings
    assert settings.handlers["fence-peer"] == "/usr/lib/heartbeat/drbd-peer-outdater -t 5"
    assert (settings.net.after_sb_0pri, settings.net.rr_conflict) == ("disconnect", "disconnect")


def test_example_in_etc_is_the_classic_file():
    etc = os.path.join(DATA, "..", "..", "..", "etc", "drbd.conf")
    with open(etc, encoding="utf-8") as mine, open(sample("v07/classic.conf"),
                                                   encoding="utf-8") as classic:
        assert mine.read() == classic.read()


def test_default_units_are_drbds():
    config = load_text("""
resource r0 {
  disk { size 2048; }
  net { sndbuf-size 1000; }
  syncer { rate 4096; c-min-rate 8s; }
  on a { device /dev/drbd0; disk /dev/sda1; address 10.0.0.1:7788; meta-disk internal; }
  on b { device /dev/drbd0; disk /dev/sda1; address 10.0.0.2:7788; meta-disk internal; }
}""")
    settings = config.resources[0].settings
    assert settings.disk.resync_rate == 4096 * 1024  # KiB/s
    assert settings.disk.size == 2048 * 512  # sectors
    assert settings.net.sndbuf_size == 1000  # bytes
    assert settings.disk.c_min_rate == 8 * 512
    rrc = load_config(sample("v83/rr-conflict-pri-lost.conf")).resources[0].settings
    assert rrc.disk.resync_rate == 4 * MIB
