"""private_file: a file appears whole under its name, with its modes, or not at all."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from opchat.privatefile import private_file


def test_the_file_appears_whole_with_its_modes(tmp_path: Path) -> None:
    target = tmp_path / "made" / "report.pdf"
    with private_file(target, (0o640, 0o750)) as file:
        file.write(b"%PDF-1.7 ")
        assert not target.exists()  # nobody sees it half written
        file.write(b"rest")
    assert target.read_bytes() == b"%PDF-1.7 rest"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o750
    assert [p.name for p in target.parent.iterdir()] == ["report.pdf"]


def test_a_failed_write_leaves_the_old_file_and_no_trace(tmp_path: Path) -> None:
    target = tmp_path / "report.pdf"
    target.write_bytes(b"old")
    with pytest.raises(ValueError, match="hash"), private_file(target, (0o600, 0o700)) as file:
        file.write(b"new but wrong")
        raise ValueError("hash does not match")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]
