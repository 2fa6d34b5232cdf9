import stat
import tomllib
from pathlib import Path

import platformdirs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from opchat.config import (
    ChannelSettings,
    ConfigError,
    Settings,
    ensure_data_dir,
    load_settings,
    remove_channel,
    resolve_paths,
    save_channel,
    toml_value,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path) -> Settings:
    return load_settings(path, path.parent / "data")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- Paths ------------------------------------------------------------------------


def test_paths_default_to_platformdirs() -> None:
    config, data = resolve_paths(None, None, environ={})
    assert config == platformdirs.user_config_path("opchat") / "config.toml"
    assert data == platformdirs.user_data_path("opchat")


def test_paths_from_environment() -> None:
    environ = {"OPCHAT_CONFIG": "/etc/opchat.toml", "OPCHAT_DATA_DIR": "/srv/opchat"}
    assert resolve_paths(None, None, environ) == (Path("/etc/opchat.toml"), Path("/srv/opchat"))


def test_arguments_win_over_environment() -> None:
    environ = {"OPCHAT_CONFIG": "/etc/opchat.toml", "OPCHAT_DATA_DIR": "/srv/opchat"}
    assert resolve_paths("/tmp/c.toml", "/tmp/d", environ) == (Path("/tmp/c.toml"), Path("/tmp/d"))


def test_empty_environment_variable_counts_as_unset() -> None:
    config, _data = resolve_paths(None, None, {"OPCHAT_CONFIG": ""})
    assert config == platformdirs.user_config_path("opchat") / "config.toml"


def test_paths_expand_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    config, data = resolve_paths("~/c.toml", None, {"OPCHAT_DATA_DIR": "~/data"})
    assert config == tmp_path / "c.toml"
    assert data == tmp_path / "data"


def test_ensure_data_dir_creates_it_private(tmp_path: Path) -> None:
    path = ensure_data_dir(tmp_path / "deep" / "opchat")
    assert path.is_dir()
    assert mode(path) == 0o700


def test_ensure_data_dir_leaves_a_shared_dir_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o2770)
    assert ensure_data_dir(shared) == shared
    assert mode(shared) == 0o2770


# --- Loading ----------------------------------------------------------------------


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path / "nope.toml")
    assert settings == Settings(config_path=tmp_path / "nope.toml", data_dir=tmp_path / "data")
    assert settings.mouse is True and settings.channels == []


def test_full_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
language = "ru"          # "en" | "ru"
operator = "anna"
[ui]
mouse = false
wait_amber = 20
wait_red = 40
wait_alert = 200
display_cap = 3000
[log]
level = "debug"
[channels.shop]
kind = "telegram"
token_env = "SHOP_BOT_TOKEN"
[channels.site-chat]
kind = "webchat"
origins = ["https://shop.example"]
""",
    )
    settings = load(path)
    assert settings.language == "ru"
    assert settings.operator == "anna"
    assert settings.mouse is False
    assert (settings.wait_amber, settings.wait_red, settings.wait_alert) == (20, 40, 200)
    assert settings.display_cap == 3000
    assert settings.log_level == "DEBUG"
    assert settings.channels == [
        ChannelSettings("shop", "telegram", {"token_env": "SHOP_BOT_TOKEN"}),
        ChannelSettings("site-chat", "webchat", {"origins": ["https://shop.example"]}),
    ]


def test_locale_style_language_is_normalised(tmp_path: Path) -> None:
    assert load(write(tmp_path, 'language = "ru_RU.UTF-8"\n')).language == "ru"


def test_broken_toml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'language = "ru"\nmouse = \n')
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.path == path
    assert caught.value.line == 2
    assert str(caught.value).startswith(f"{path}:2: ")
    assert "(at line" not in str(caught.value)


def test_unterminated_string_points_at_the_end(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, 'language = "ru"\noperator = "ann\n'))
    assert caught.value.line == 2


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('language = "ru"\n[ui]\nmouse = "yes"\n', 3, ["ui.mouse", "true or false", '"yes"']),
        ("[ui]\n\nwait_red = true\n", 3, ["ui.wait_red", "whole number"]),
        ("[ui]\ndisplay_cap = 12.5\n", 2, ["ui.display_cap"]),
        ("[ui]\nwait_amber = 0\n", 2, ["ui.wait_amber", "more than 0"]),
        ("ui.wait_alert = -5\n", 1, ["ui.wait_alert"]),
        ("operator = 7\n", 1, ["operator", "string"]),
        ("ui = 1\n", 1, ["ui", "table"]),
        ('[log]\nlevel = "LOUD"\n', 2, ["log.level", "LOUD"]),
        ('language = "de"\n', 1, ["unknown language", '"de"']),
        ('[channels.shop]\nkind = "telegram"\ntoken_env = 5\n', 3, ["token_env"]),
        ('[channels]\nshop = "telegram"\n', 2, ["channels.shop", "table"]),
    ],
)
def test_wrong_values_name_key_and_line(
    tmp_path: Path, text: str, line: int, words: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, text))
    assert caught.value.line == line
    for word in words:
        assert word in caught.value.problem


@pytest.mark.parametrize(
    ("text", "line", "suggestion"),
    [
        ('operatr = "anna"\n', 1, "operator"),
        ('language = "en"\nmouse = true\n', 2, "ui.mouse"),
        ("[ui]\nwait_ambr = 10\n", 2, "ui.wait_amber"),
        ("[logging]\nlevel = 1\n", 1, None),
    ],
)
def test_unknown_keys_are_errors(
    tmp_path: Path, text: str, line: int, suggestion: str | None
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, text))
    assert caught.value.line == line
    assert "unknown setting" in caught.value.problem
    if suggestion:
        assert f'did you mean "{suggestion}"' in caught.value.problem


def test_channel_without_kind(tmp_path: Path) -> None:
    path = write(tmp_path, '[ui]\nmouse = true\n\n[channels.shop]\ntoken = "x"\n')
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.line == 4
    assert '"shop" has no kind' in caught.value.problem


@pytest.mark.parametrize("name", ['"my shop"', '"магазин"', "a" * 33])
def test_bad_channel_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, f'[channels.{name}]\nkind = "telegram"\n'))
    assert caught.value.line == 1
    assert "channel name" in caught.value.problem


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes('language = "ru"\noperator = "Анна"\n'.encode("cp1251"))
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.line == 2
    assert "UTF-8" in caught.value.problem


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'\xef\xbb\xbfoperator = "anna"\n')
    assert load(path).operator == "anna"


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, 'operator = "anna"\n')

    # chmod 000 does not stop root (the CI container), so fake the refusal.
    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.line is None
    assert str(caught.value) == f"{path}: cannot read the file: permission denied"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load(tmp_path)


def test_config_error_str() -> None:
    assert str(ConfigError("/x/config.toml", 3, "expected '=' after a key")) == (
        "/x/config.toml:3: expected '=' after a key"
    )
    assert str(ConfigError(Path("/x/config.toml"), None, "oops")) == "/x/config.toml: oops"


# --- Secrets ----------------------------------------------------------------------


def test_secret_from_file_then_environment() -> None:
    channel = ChannelSettings("shop", "telegram", {"token_env": "SHOP_BOT_TOKEN"})
    assert channel.secret("token", environ={"SHOP_BOT_TOKEN": "123:abc"}) == "123:abc"
    assert channel.secret("token", environ={}) is None
    assert channel.secret("token", environ={"SHOP_BOT_TOKEN": ""}) is None
    assert channel.secret("secret", environ={"SHOP_BOT_TOKEN": "123:abc"}) is None

    inline = ChannelSettings("shop", "telegram", {"token": "999:zzz", "token_env": "X"})
    assert inline.secret("token", environ={"X": "from env"}) == "999:zzz"


def test_secret_from_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_BOT_TOKEN", "42:xyz")
    channel = ChannelSettings("shop", "telegram", {"token_env": "SHOP_BOT_TOKEN"})
    assert channel.secret("token") == "42:xyz"


# --- Writing ----------------------------------------------------------------------

EXISTING = """\
# opchat config, hand-written
language = "ru"   # Russian UI

[ui]
# a big screen at the office
display_cap = 8000

[channels.shop]
kind = "telegram"
token_env = "OLD_TOKEN"

# The site widget
[channels.site]
kind = "webchat"
"""


def test_save_channel_creates_file_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "config.toml"
    save_channel(path, ChannelSettings("shop", "telegram", {"token_env": "SHOP_BOT_TOKEN"}))
    assert mode(path) == 0o600
    assert path.read_text() == '[channels.shop]\nkind = "telegram"\ntoken_env = "SHOP_BOT_TOKEN"\n'
    assert load(path).channels == [
        ChannelSettings("shop", "telegram", {"token_env": "SHOP_BOT_TOKEN"})
    ]


def test_save_channel_appends_and_keeps_the_rest(tmp_path: Path) -> None:
    path = write(tmp_path, EXISTING)
    path.chmod(0o644)
    vk = ChannelSettings("vk", "vk", {"token": 'se"cr\\et', "group_id": 12345, "poll": True})
    save_channel(path, vk)
    text = path.read_text()
    assert text.startswith(EXISTING)
    assert text[len(EXISTING) :] == (
        '\n[channels.vk]\nkind = "vk"\ntoken = "se\\"cr\\\\et"\ngroup_id = 12345\npoll = true\n'
    )
    assert mode(path) == 0o600
    settings = load(path)
    assert [channel.name for channel in settings.channels] == ["shop", "site", "vk"]
    assert settings.channels[2] == vk
    assert settings.display_cap == 8000


def test_save_channel_replaces_in_place(tmp_path: Path) -> None:
    path = write(tmp_path, EXISTING)
    save_channel(path, ChannelSettings("shop", "telegram", {"token": "123:abc"}))
    assert path.read_text() == EXISTING.replace('token_env = "OLD_TOKEN"', 'token = "123:abc"')
    assert load(path).channels[0].options == {"token": "123:abc"}


def test_save_channel_replaces_sub_tables_too(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[channels.shop]\nkind = "telegram"\n\n[channels.shop.webhook]\nport = 1\n\n[log]\n'
        'level = "INFO"\n',
    )
    save_channel(path, ChannelSettings("shop", "telegram", {"webhook": {"port": 2}}))
    assert load(path).channels == [ChannelSettings("shop", "telegram", {"webhook": {"port": 2}})]
    assert load(path).log_level == "INFO"


def test_save_channel_refuses_what_it_cannot_edit_cleanly(tmp_path: Path) -> None:
    text = '[channels]\nshop = { kind = "telegram" }\n'
    path = write(tmp_path, text)
    with pytest.raises(ConfigError):
        save_channel(path, ChannelSettings("shop", "vk", {}))
    assert path.read_text() == text


def test_save_channel_refuses_a_broken_file(tmp_path: Path) -> None:
    path = write(tmp_path, "mouse = \n")
    with pytest.raises(ConfigError):
        save_channel(path, ChannelSettings("shop", "telegram", {}))
    assert path.read_text() == "mouse = \n"


def test_save_channel_rejects_bad_names(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        save_channel(tmp_path / "c.toml", ChannelSettings("my shop", "telegram", {}))
    assert not (tmp_path / "c.toml").exists()


def test_save_channel_keeps_crlf(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'operator = "anna"\r\n')
    save_channel(path, ChannelSettings("shop", "telegram", {}))
    assert path.read_bytes() == b'operator = "anna"\r\n\r\n[channels.shop]\r\nkind = "telegram"\r\n'


def test_save_channel_through_a_symlink(tmp_path: Path) -> None:
    real = write(tmp_path, 'operator = "anna"\n')
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    save_channel(link, ChannelSettings("shop", "telegram", {}))
    assert link.is_symlink()
    assert load(real).channels[0].name == "shop"


def test_remove_channel(tmp_path: Path) -> None:
    path = write(tmp_path, EXISTING)
    assert remove_channel(path, "shop") is True
    assert path.read_text() == EXISTING.replace(
        '[channels.shop]\nkind = "telegram"\ntoken_env = "OLD_TOKEN"\n\n', ""
    )
    assert mode(path) == 0o600
    assert remove_channel(path, "shop") is False
    assert remove_channel(tmp_path / "missing.toml", "shop") is False
    assert remove_channel(path, "site") is True
    assert load(path).channels == []
    assert load(path).display_cap == 8000


@given(
    st.recursive(
        st.text() | st.integers() | st.booleans() | st.floats(allow_nan=False),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(max_size=5), children, max_size=3)
        ),
        max_leaves=8,
    )
)
def test_toml_value_round_trips(value: object) -> None:
    assert tomllib.loads(f"x = {toml_value(value)}")["x"] == value


def test_toml_value_rejects_what_toml_cannot_hold() -> None:
    with pytest.raises(TypeError):
        toml_value(None)


def test_keymap_takes_quoted_and_unquoted_binding_ids(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[keymap]\n"opchat.quit" = "f10"\nopchat.next_conversation = "f6,ctrl+down"\n')
    settings = load_settings(path, tmp_path)
    assert settings.keymap == {"opchat.quit": "f10", "opchat.next_conversation": "f6,ctrl+down"}
    path.write_text("[keymap]\nopchat.quit = 10\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, tmp_path)
    assert caught.value.line == 2


def test_files_under_a_group_shared_data_dir_are_group_readable(tmp_path: Path) -> None:
    from opchat.config import private_modes
    from opchat.transports.webchat import load_secret

    private, shared = tmp_path / "private", tmp_path / "shared"
    private.mkdir(mode=0o700)
    shared.mkdir()
    shared.chmod(0o2770)
    assert private_modes(private) == (0o600, 0o700)
    assert private_modes(shared) == (0o660, 0o2770)
    # The hub may pass to another operator's process: it must be able to read this.
    load_secret(shared)
    assert (shared / "webchat.secret").stat().st_mode & 0o777 == 0o660
    load_secret(private)
    assert (private / "webchat.secret").stat().st_mode & 0o777 == 0o600
