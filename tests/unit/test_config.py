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
origin = ["https://shop.example"]
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
        ChannelSettings("site-chat", "webchat", {"origin": ["https://shop.example"]}),
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


@pytest.fixture
def russian():
    from opchat import i18n

    before = i18n.current_language()
    i18n.set_language("ru")
    yield
    i18n.set_language(before)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("mouse = \n", 1, "неверное значение"),
        ('operator = "ann', 1, "строка не закрыта"),
        ("[ui\n", 1, "в конце имени таблицы нужна ']'"),
        ("a = 1\na = 2\n", 2, "значение задано второй раз"),
        ("[reply_keys]\ndelivery = \"\"\n", 2, "должно называть клавиши"),
        ('[menus.main]\noptions = [{ label = "A", reply = "a" }]\n', 1,
         'меню "main" нужен текст'),
        ('[menus.main]\ntext = "T"\noptions = [{ label = "A" }]\n', 3,
         "нужно либо reply"),
        ('[channels.shop]\nkind = "demo"\nhours = "Mon-Fri 9:00-18:00"\n', 3,
         "нужен и timezone"),
        ('[channels.shop]\nkind = "demo"\nhours = "Funday 9:00-18:00"\n'
         'timezone = "Europe/Moscow"\n', 3, "'Funday' — не день недели"),
        ('[channels.shop]\nkind = "demo"\nhours = "Mon-Fri 9:00-18:00"\n'
         'timezone = "Mars/Olympus"\n', 4, "неизвестный часовой пояс 'Mars/Olympus'"),
    ],
)
def test_more_config_errors_speak_russian(tmp_path: Path, russian: None, text: str, line: int,
                                     words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.line == line
    assert words in str(caught.value), str(caught.value)


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
    vk = ChannelSettings("vk", "webchat", {"title": 'se"cr\\et', "path": "/12345",
                                           "sneak_peek": True})
    save_channel(path, vk)
    text = path.read_text()
    assert text.startswith(EXISTING)
    assert text[len(EXISTING) :] == (
        '\n[channels.vk]\nkind = "webchat"\ntitle = "se\\"cr\\\\et"\npath = "/12345"\n'
        'sneak_peek = true\n'
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
        '[channels.shop]\nkind = "webchat"\n\n[channels.shop.greetings]\n"/a" = "1"\n\n'
        '[log]\nlevel = "INFO"\n',
    )
    save_channel(path, ChannelSettings("shop", "webchat", {"greetings": {"/b": "2"}}))
    assert load(path).channels == [ChannelSettings("shop", "webchat", {"greetings": {"/b": "2"}})]
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
    save_channel(link, ChannelSettings("shop", "telegram", {"token_env": "SHOP_TOKEN"}))
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
    from opchat.transports.webchat.channel import load_secret

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


# --- Mistakes that used to pass in silence (issues 10 and 11) ---------------------------


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        # A keymap with an unknown id or a key no keyboard has: no way to quit after it.
        ('[keymap]\n"opchat.quit" = "ctrl+zz+q"\n', 2, ["opchat.quit", '"ctrl+zz+q"']),
        ('[keymap]\n"opchat.quit" = "f10,ctrl+"\n', 2, ["opchat.quit", '"ctrl+"']),
        ('[keymap]\nopchat.quti = "f10"\n', 2, ["opchat.quti", 'did you mean "opchat.quit"']),
        ('[keymap]\n"quit" = "f10"\n', 2, ["quit", "binding"]),
        # A misspelt key in a channel's table was read as "no token".
        ('[channels.shop]\nkind = "telegram"\ntokn = "123:abc"\n', 3,
         ["channels.shop.tokn", 'did you mean "token"']),
        ('[channels.site]\nkind = "webchat"\n\norigins = ["https://shop.example"]\n', 4,
         ["channels.site.origins", 'did you mean "origin"']),
        # An unknown kind was a DOWN channel at best.
        ('[channels.shop]\nkind = "telgram"\n', 2, ["channels.shop.kind", "telgram", "telegram"]),
        ('[ui]\nwait_amber = 90\nwait_red = 60\n', 3, ["ui.wait_red", "ui.wait_amber", "90"]),
        # As strict as `opchat channel add` (issue 11).
        ('[channels.shop]\nkind = "telegram"\ntoken_env = "T"\napi_base = "ftp://x/?t=1"\n', 4,
         ["channels.shop.api_base", "http"]),
        ('[channels.shop]\nkind = "telegram"\ntoken_env = "T"\napi_base = "https://"\n', 4,
         ["channels.shop.api_base"]),
        ('[channels.shop]\nkind = "telegram"\ntoken = "not a token"\n', 3,
         ["channels.shop.token", "@BotFather"]),
        ('[channels.shop]\nkind = "telegram"\ntoken_env = "MY TOKEN"\n', 3,
         ["channels.shop.token_env", "environment variable"]),
        ('[channels.shop]\nkind = "telegram"\ntoken_env = "T"\n'
         'webhook_url = "http://bot.shop.example/hook"\n', 4,
         ["channels.shop.webhook_url", "https://"]),
        ('[channels.shop]\nkind = "telegram"\ntoken_env = "T"\npoll_timeout = "25"\n', 4,
         ["channels.shop.poll_timeout", "whole number"]),
        ('[channels.site]\nkind = "webchat"\nlisten = "localhost"\n', 3,
         ["channels.site.listen", "host:port"]),
        ('[channels.site]\nkind = "webchat"\nlisten = "127.0.0.1:99999"\n', 3,
         ["channels.site.listen"]),
        ('[channels.site]\nkind = "webchat"\norigin = "shop.example"\n', 3,
         ["channels.site.origin", "https://shop.example"]),
        ('[channels.site]\nkind = "webchat"\npublic_url = "chat.shop.example"\n', 3,
         ["channels.site.public_url"]),
        ('[channels.site]\nkind = "webchat"\nsneak_peek = "no"\n', 3,
         ["channels.site.sneak_peek", "true or false"]),
    ],
)
def test_silent_mistakes_are_errors_with_file_line_and_key(
    tmp_path: Path, text: str, line: int, words: list[str]
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert (caught.value.path, caught.value.line) == (path, line), caught.value
    for word in words:
        assert word in caught.value.problem, caught.value.problem


def test_good_keymaps_and_channel_options_still_load(tmp_path: Path) -> None:
    path = write(tmp_path, """\
[ui]
wait_amber = 60
wait_red = 60
[keymap]
"opchat.quit" = "ctrl+q,f10"
"opchat.next_conversation" = "alt+shift+down, f6"
"opchat.help_question" = "question_mark"
"opchat.search" = "/"
[channels.shop]
kind = "telegram"
token = "123456:AAE-x1y2_z"
api_base = "http://127.0.0.1:8081"
webhook_url = "http://127.0.0.1:9000/hook"
listen = "[::1]:8766"
download_limit = 0
hours = "Mon-Fri 09:00-18:00"
timezone = "Europe/Moscow"
[channels.site]
kind = "webchat"
origin = ["https://shop.example", "http://localhost:3000"]
public_url = "https://chat.shop.example/"
trust_proxy = ["10.0.0.0/8"]
sneak_peek = false
greetings = { "/pricing" = "Questions about prices?" }
[channels.demo]
kind = "demo"
interval = 0.5
""")
    settings = load(path)
    assert settings.keymap["opchat.next_conversation"] == "alt+shift+down,f6"
    assert [c.kind for c in settings.channels] == ["telegram", "webchat", "demo"]


def test_a_channel_kind_from_a_plugin_keeps_its_own_options(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import opchat.config

    monkeypatch.setattr(opchat.config, "available_kinds", lambda: ["line", "telegram"])
    settings = load(write(tmp_path, '[channels.l]\nkind = "line"\nchannel_secret = "s"\n'))
    assert settings.channels[0].options == {"channel_secret": "s"}


def test_every_binding_id_of_the_app_can_be_remapped() -> None:
    """The keymap's list of binding ids is the app's: a new binding must be added to it."""
    import importlib
    import pkgutil

    from textual.binding import Binding

    import opchat.screens
    import opchat.widgets
    from opchat.config import BINDING_IDS

    modules = [importlib.import_module("opchat.app")]
    for package in (opchat.screens, opchat.widgets):
        modules += [importlib.import_module(f"{package.__name__}.{info.name}")
                    for info in pkgutil.iter_modules(package.__path__)]
    found = {binding.id for module in modules for value in vars(module).values()
             if isinstance(value, type) for binding in vars(value).get("BINDINGS", ())
             if isinstance(binding, Binding) and binding.id}
    assert found == set(BINDING_IDS)


def test_an_explicit_config_file_must_exist(tmp_path: Path) -> None:
    path = tmp_path / "typo.toml"
    with pytest.raises(ConfigError) as caught:
        load_settings(path, tmp_path, must_exist=True)
    assert caught.value.path == path and "no such file" in caught.value.problem
    assert load_settings(path, tmp_path).channels == []  # the default path may be absent


def test_menu_options_naming_a_missing_reply(tmp_path: Path) -> None:
    from opchat.config import missing_menu_replies

    path = write(tmp_path, """\
[menus.main]
text = "Choose:"
options = [
  { label = "Delivery", reply = "delivery" },
  { label = "Prices", reply = "prices" },
  { label = "A person", operator = true },
]
[channels.site]
kind = "webchat"
menu = "main"
""")
    settings = load(path)
    problems = missing_menu_replies(settings.channels, {"delivery", "greeting"})
    assert [(p.path, p.line) for p in problems] == [(path, 3)]
    assert 'menus.main.options #2' in problems[0].problem
    assert '"prices"' in problems[0].problem and "opchat replies add" in problems[0].problem
    assert missing_menu_replies(settings.channels, {"delivery", "prices"}) == []


def test_secrets_kept_in_the_file() -> None:
    from opchat.config import secrets_in_file

    settings = Settings(config_path=Path("c"), data_dir=Path("d"), channels=[
        ChannelSettings("a", "telegram", {"token": "1:x"}),
        ChannelSettings("b", "telegram", {"token_env": "T"}),
        ChannelSettings("c", "webchat", {"title": "token"}),
    ])
    assert secrets_in_file(settings) == ["channels.a.token"]


def test_config_errors_speak_russian(tmp_path: Path) -> None:
    from opchat.i18n import set_language

    set_language("ru")
    try:
        with pytest.raises(ConfigError) as caught:
            load(write(tmp_path, '[channels.shop]\nkind = "telegram"\ntokn = "1:x"\n'))
        assert "неизвестная настройка" in caught.value.problem, caught.value.problem
        with pytest.raises(ConfigError) as caught:
            load_settings(tmp_path / "nope.toml", tmp_path, must_exist=True)
        assert "нет такого файла" in caught.value.problem
    finally:
        set_language("en")


def test_a_channels_secrets_are_what_error_texts_must_hide(monkeypatch) -> None:
    from opchat.config import ChannelSettings
    from opchat.sanitize import redact

    monkeypatch.setenv("SHOP_SECRET", "s3cret-from-env")
    channel = ChannelSettings("shop", "telegram", {
        "token": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        "webhook_secret_env": "SHOP_SECRET", "api_base": "https://api.example", "x": "abc"})
    assert set(channel.secrets()) == {"123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
                                      "s3cret-from-env"}
    said = "401 at https://api.example/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/x"
    assert redact(said + " s3cret-from-env", channel.secrets()) == (
        "401 at https://api.example/bot…/x …")


def test_a_required_option_missing_is_an_error_at_the_table(tmp_path: Path) -> None:
    path = write(tmp_path, 'operator = "anna"\n\n[channels.shop]\nkind = "telegram"\n')
    with pytest.raises(ConfigError) as error:
        load(path)
    assert str(error.value) == (
        f"{path}:3: channels.shop.token (or channels.shop.token_env) is missing: the bot's "
        "token from @BotFather")


def test_a_secret_and_its_variable_together_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, '[channels.shop]\nkind = "telegram"\ntoken = "1:a"\n'
                           'token_env = "SHOP_TOKEN"\n')
    with pytest.raises(ConfigError) as error:
        load(path)
    assert str(error.value) == (f"{path}:4: channels.shop.token: give the secret or the "
                                "variable that holds it, not both")


def test_a_timezone_alone_is_checked_too(tmp_path: Path) -> None:
    path = write(tmp_path, '[channels.site]\nkind = "webchat"\ntimezone = "Moon/Base"\n')
    with pytest.raises(ConfigError, match=r":3: channels.site.timezone: "):
        load(path)
