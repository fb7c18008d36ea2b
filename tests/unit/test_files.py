"""The one write-to-temp-then-rename helper: a reader sees the old content or the new, never half, and nothing is
left behind."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from movierec.files import replacing, write_atomically, write_private


def test_the_new_content_replaces_the_old_and_no_temporary_file_is_left(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    with replacing(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_text("new")
        assert target.read_text() == "old"  # nothing visible until the block ends
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_an_error_in_the_block_keeps_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_atomically(target, "old")
    with pytest.raises(RuntimeError), replacing(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("the writer failed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_private_files_are_0600_in_a_0700_directory(tmp_path: Path) -> None:
    target = tmp_path / "private" / "stack.json"
    write_private(target, "{}")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert target.read_text() == "{}"


def test_two_writers_never_share_a_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "x"
    with replacing(target) as first, replacing(target) as second:
        assert first != second
        first.write_text("1")
        second.write_text("2")
    assert target.read_text() == "1"  # the outer block ended last
