"""Start-up stays honest: headless modules never pull in the UI, the UI never a transport."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def modules_after(statement: str) -> set[str]:
    code = f"{statement}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return set(out.split())


@pytest.mark.parametrize("module", ["opchat.cli", "opchat.store", "opchat.inbox",
                                    "opchat.hub", "opchat.config", "opchat.doctor"])
def test_headless_modules_do_not_import_textual(module: str) -> None:
    loaded = modules_after(f"import {module}")
    assert "textual" not in loaded
    assert "aiogram" not in loaded


def test_the_app_imports_no_transport_and_no_web_server() -> None:
    loaded = modules_after("import opchat.app")
    assert "textual" in loaded
    assert not {m for m in loaded if m.startswith("opchat.transports.")}
    assert "opchat.hub" not in loaded
    assert "aiohttp" not in loaded and "aiogram" not in loaded
    # The store opens after the first frame: its modules (and sqlite3) load then too.
    assert not {m for m in loaded if m.startswith("opchat.store")}
    assert "sqlite3" not in loaded


def test_a_config_with_every_kind_of_channel_is_checked_without_their_sdks(
        tmp_path: Path) -> None:
    """Every process reads the config, the app's before its first frame: a channel's
    table is checked by its kind's options alone, found without scanning the installed
    packages' metadata (importlib.metadata, which also imports the `email` package)."""
    from opchat.transports import BUILT_IN_OPTIONS

    tables = {
        "demo": "", "webchat": "", "telegram": 'token = "123456789:AAE-x"',
        "whatsapp": 'access_token = "t"\napp_secret = "s"\nphone_number_id = "1"',
        "messenger": 'access_token = "t"\napp_secret = "s"\npage_id = "1"',
        "instagram": 'access_token = "t"\napp_secret = "s"\ninstagram_account_id = "1"',
        "vk": 'token = "t"\ngroup_id = "1"', "max": 'token = "t"', "viber": 'token = "t"',
        "email": 'imap_host = "imap.example.com"\nsmtp_host = "smtp.example.com"\n'
                 'user = "shop@example.com"\npassword = "p"',
        "api": 'webhook_url = "https://crm.example/hook"\nsecret = "s"',
    }
    assert set(tables) == set(BUILT_IN_OPTIONS)
    config = tmp_path / "config.toml"
    config.write_text("".join(f'[channels.{kind}]\nkind = "{kind}"\n{table}\n\n'
                              for kind, table in tables.items()))
    loaded = modules_after(
        "from pathlib import Path\nfrom opchat.config import load_settings\n"
        f"s = load_settings(Path({str(config)!r}), Path({str(tmp_path)!r}))\n"
        f"assert len(s.channels) == {len(tables)}, s.channels")
    assert not loaded & {"importlib.metadata", "aiohttp", "aiogram", "aioimaplib",
                         "aiosmtplib", "httpx", "hashlib"}, sorted(loaded)
    assert not {m for m in loaded if m.endswith(".channel") and "transports" in m}


def test_the_built_in_kinds_options_are_where_the_entry_points_say() -> None:
    from importlib.metadata import entry_points

    from opchat.transports import BUILT_IN_OPTIONS, OPTIONS_GROUP

    ours = {ep.name: ep.value for ep in entry_points(group=OPTIONS_GROUP)
            if ep.value.startswith("opchat.")}
    assert ours == BUILT_IN_OPTIONS


def test_the_web_server_is_imported_only_when_a_channel_serves() -> None:
    loaded = modules_after("import opchat.hub, opchat.cli, opchat.transports.webchat.channel")
    assert "aiohttp" not in loaded


def test_the_ui_never_reaches_past_the_inbox_to_the_store() -> None:
    """Imports are checked by import-linter; this checks what imports cannot show: an
    attribute path like ``self.inbox.store.workflow`` from a screen or a widget."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "opchat"
    found = []
    for path in [root / "app.py", *(root / "screens").rglob("*.py"),
                 *(root / "widgets").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("store", "db"):
                found.append(f"{path.relative_to(root.parent)}:{node.lineno}")
    assert found == []


def test_what_the_first_frame_does_not_show_is_imported_later() -> None:
    """Screens opened later, quick replies' text, the SLA's clock, the transports'
    entry points: each loads when first used, not before the first frame."""
    loaded = modules_after("import opchat.app, opchat.cli")
    later = {"opchat.screens.help", "opchat.screens.stats", "opchat.screens.search",
             "opchat.screens.pick", "opchat.screens.replies", "opchat.screens.confirm",
             "opchat.placeholders", "opchat.replies", "opchat.alerts", "opchat.hours",
             "opchat.sla", "opchat.model_later", "importlib.metadata", "tomllib"}
    assert later & loaded == set()


def test_the_first_page_read_ahead_loads_only_the_lists_queries() -> None:
    loaded = modules_after("import opchat.store.first_page")
    assert {m for m in loaded if m.startswith("opchat.store.")} == {
        "opchat.store.first_page", "opchat.store.listing", "opchat.store.rows",
        "opchat.store.schema", "opchat.store.sql"}
    assert "asyncio" not in loaded and "textual" not in loaded
    assert "opchat.model_later" not in loaded


def test_the_models_later_classes_come_from_opchat_model() -> None:
    """`opchat.model` hands out `opchat.model_later`'s classes, loading it on first use;
    every class and public function defined there is one of them (and the events'
    payload table), and an unknown name is still an error."""
    code = "\n".join((
        "import sys, opchat.model as model",
        "assert 'opchat.model_later' not in sys.modules",
        "from opchat.model import QuickReply, SavedReply, SearchResults",
        "import opchat.model_later as later",
        "assert all(getattr(model, n) is getattr(later, n) for n in later.__all__)",
        "assert set(later.__all__) <= set(dir(model)) and issubclass(SavedReply, QuickReply)",
        "defined = {n for n, v in vars(later).items() if not n.startswith('_')",
        "           and callable(v) and v.__module__ == later.__name__} | {'EVENT_DATA'}",
        "assert defined == set(later.__all__), defined ^ set(later.__all__)",
        "try:",
        "    from opchat.model import NoSuchThing",
        "except ImportError as e:",
        "    assert 'NoSuchThing' in str(e)",
        "else:",
        "    raise SystemExit('an unknown name was given')",
    ))
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
