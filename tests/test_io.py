import os
import stat

import pytest

from uticket_lib import io


def test_atomic_json_round_trip_and_permissions(tmp_path):
    path = io.save_json({"b": 1, "a": [1.5]}, tmp_path / "x" / "m.json")
    assert io.load_json(path) == {"a": [1.5], "b": 1}
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o666 & ~io._UMASK


def test_failed_write_leaves_nothing_behind(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"old")
    with pytest.raises(Exception):
        io.save_torch({"f": lambda: 0}, tmp_path / "bad.pt")  # fails mid-write (unpicklable)
    assert [p.name for p in tmp_path.iterdir()] == ["bad.pt"]  # no temp file left
    assert (tmp_path / "bad.pt").read_bytes() == b"old"       # old content untouched
