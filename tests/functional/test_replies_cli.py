"""`opchat replies …` as a user runs them: YAML and CSV, private replies, the starter set."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.functional.test_cli import run


def test_csv_export_import_round_trip_keeps_folder_owner_attachment(tmp_path: Path) -> None:
    assert run(tmp_path, "replies", "add", "price", "--title", "Price, list", "--body",
               'Line one,\nline "two"', "--folder", "orders", "--private", "--operator",
               "anna", "--attachment", "/srv/price.pdf").returncode == 0
    assert run(tmp_path, "replies", "add", "hi", "--title", "Hi", "--body", "Hello").returncode == 0
    yaml_out = run(tmp_path, "replies", "export")  # YAML on stdout unless told otherwise
    assert yaml_out.returncode == 0 and "- shortcut: hi" in yaml_out.stdout
    assert "owner: anna" in yaml_out.stdout and "folder: orders" in yaml_out.stdout
    csv_file = tmp_path / "replies.csv"
    assert run(tmp_path, "replies", "export", "-o", str(csv_file)).returncode == 0
    assert csv_file.read_text().startswith("shortcut,title,body,folder,owner,attachment,variants\n")
    assert run(tmp_path, "replies", "delete", "price").returncode == 0
    assert "/price" not in run(tmp_path, "replies", "list").stdout
    imported = run(tmp_path, "replies", "import", str(csv_file))
    assert imported.returncode == 0, imported.stderr
    assert run(tmp_path, "replies", "export").stdout == yaml_out.stdout
    listed = run(tmp_path, "replies", "list").stdout
    assert "[orders]" in listed and "[private: anna]" in listed


@pytest.mark.parametrize(("text", "fmt", "message"), [
    ("shortcut,title,body\nok,T,B\nbad one,T,B\n", "csv", "<stdin>:3: shortcut must be"),
    ("title,body\nT,B\n", "csv", "the header has no column shortcut"),
    ("- shortcut: ok\n  title: T\n  body: B\n- shortcut: x\n  title: T\n  body: [\n",
     "yaml", "not valid YAML"),
])
def test_a_broken_file_changes_nothing(tmp_path: Path, text: str, fmt: str,
                                       message: str) -> None:
    assert run(tmp_path, "replies", "add", "keep", "--title", "Kept",
               "--body", "still here").returncode == 0
    before = run(tmp_path, "replies", "export").stdout
    result = run(tmp_path, "replies", "import", "-", "--format", fmt, stdin=text)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert run(tmp_path, "replies", "export").stdout == before  # "ok" was not stored either


def test_starter_set_once_and_delete_unknown(tmp_path: Path) -> None:
    first = run(tmp_path, "replies", "starter")
    assert first.returncode == 0 and "added 12" in first.stdout
    assert "all were there" in run(tmp_path, "replies", "starter").stdout
    listed = run(tmp_path, "replies", "list").stdout
    assert "/delivery" in listed and "/shipping" in listed and "Доставка" in listed
    missing = run(tmp_path, "replies", "delete", "nope")
    assert missing.returncode == 2 and "no quick reply /nope" in missing.stderr
