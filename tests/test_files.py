"""genrescope.files: a reader sees the old file or the new one, never a part."""

import numpy as np
import pytest

from genrescope.files import replaced_atomically, write_text_atomically


def test_replaced_atomically_writes_keeps_suffix_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "scores.npy"
    with replaced_atomically(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".npy" and tmp != target
        np.save(tmp, np.arange(3))                   # np.save keeps a name ending in .npy
    np.testing.assert_array_equal(np.load(target), np.arange(3))
    assert [p.name for p in target.parent.iterdir()] == ["scores.npy"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "config.json"
    write_text_atomically(target, "old")
    with pytest.raises(RuntimeError):
        with replaced_atomically(target) as tmp:
            tmp.write_text("half of the new")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]
