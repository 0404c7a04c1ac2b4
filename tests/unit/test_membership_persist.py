"""Generation and uuid files in 3.0.6's formats; the generation never goes down."""
import pytest

from heartbeat_py.membership.persist import (PersistError, load_uuid, next_generation,
                                             uuid_from_name)


def test_first_start_counts_from_the_clock_then_one_more_each_start(tmp_path):
    g = next_generation(tmp_path, lambda: 1795588635.7)
    assert g.value == 1795588636
    assert ("warning", "No Previous generation - starting at 1795588636") in g.notes
    assert (tmp_path / "hb_generation").read_bytes() == b"     1795588636\n"
    assert next_generation(tmp_path, lambda: 5).value == 1795588637


def test_reads_the_file_the_real_heartbeat_wrote(tmp_path):
    (tmp_path / "hb_generation").write_bytes(b"           1234\n")
    g = next_generation(tmp_path, lambda: 10 ** 9)
    assert g.value == 1235 and g.notes == (("info", "Heartbeat generation: 1235"),)


def test_a_broken_file_never_makes_the_generation_go_down(tmp_path):
    (tmp_path / "hb_generation").write_bytes(b"garbage\n")
    g = next_generation(tmp_path, lambda: 1_800_000_000)
    assert g.value == 1_800_000_001 and g.notes[0][0] == "warning"


def test_an_unwritable_place_is_an_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(PersistError):
        next_generation(tmp_path / "file", lambda: 1)


def test_uuid_is_created_once_and_kept(tmp_path):
    said = []
    first = load_uuid(tmp_path, "alpha", log=said.append)
    assert len(first) == 16 and said == ["No uuid found for current node - generating a new uuid."]
    assert (tmp_path / "hb_uuid").read_bytes() == first
    assert load_uuid(tmp_path, "alpha") == first


def test_uuid_from_name_is_stable_and_distinct():
    assert uuid_from_name("Alpha") == uuid_from_name("alpha") != uuid_from_name("beta")
    assert len(uuid_from_name("alpha")) == 16
