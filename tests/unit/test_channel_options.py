"""Channel options come from each kind's declaration (transports.OptionSet), found
through the `opchat.channel_options` entry points, as a plugin installed beside opchat
would declare them: here a real distribution on sys.path, not a patched lookup."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from opchat.config import ConfigError, load_settings, secrets_in_file
from opchat.transports import channel_options, load_transport

PLUGIN = '''
from typing import ClassVar

from opchat.transports import Capabilities, Delivery, Option, OptionProblem, OptionSet


def _not_loud(value, setting):
    if value.isupper():
        raise OptionProblem(f"{setting} must not shout")


OPTIONS = OptionSet((
    Option("every", "number", "seconds between echoes"),
    Option("api_key", "text", "the platform's key", secret=True),
    Option("api_key_env", "variable", "a variable holding it"),
    Option("motto", "text", "what it says", check=_not_loud),
))


class EchoTransport:
    kind: ClassVar[str] = "echo"
    capabilities: ClassVar[Capabilities] = Capabilities()
    options: ClassVar[OptionSet] = OPTIONS

    def __init__(self, channel, data_dir):
        self.name = channel.name

    async def run(self, sink):
        pass

    async def send(self, out):
        return Delivery(external_id="1")
'''


@pytest.fixture
def echo_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    site = tmp_path / "site"
    (site / "echo_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "opchat_echo_plugin.py").write_text(PLUGIN)
    (site / "echo_plugin-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: echo-plugin\nVersion: 1.0\n")
    (site / "echo_plugin-1.0.dist-info" / "entry_points.txt").write_text(textwrap.dedent("""\
        [opchat.transports]
        echo = opchat_echo_plugin:EchoTransport

        [opchat.channel_options]
        echo = opchat_echo_plugin:OPTIONS
        """))
    monkeypatch.syspath_prepend(str(site))
    channel_options.cache_clear()
    yield
    channel_options.cache_clear()


def load(tmp_path: Path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_settings(path, tmp_path / "data")


def test_a_plugins_options_are_checked_as_declared(tmp_path: Path, echo_plugin: None) -> None:
    settings = load(tmp_path, '[channels.e]\nkind = "echo"\nevery = 5\nmotto = "hello"\n')
    assert settings.channels[0].options == {"every": 5, "motto": "hello"}
    assert load_transport("echo").options is channel_options("echo")


@pytest.mark.parametrize(("text", "line", "words"), [
    ('[channels.e]\nkind = "echo"\n\nevery = "soon"\n', 4,
     'channels.e.every must be a number above 0, not "soon"'),
    ('[channels.e]\nkind = "echo"\nevry = 5\n', 3,
     'unknown setting "channels.e.evry" for a echo channel (did you mean "every"?)'),
    ('[channels.e]\nkind = "echo"\nmotto = "HELLO"\n', 3, "channels.e.motto must not shout"),
    ('[channels.e]\nkind = "echo"\napi_key_env = "not a name"\n', 3,
     "is not an environment variable name"),
])
def test_a_mistake_in_a_plugins_options_names_file_line_and_key(
        tmp_path: Path, echo_plugin: None, text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert caught.value.line == line
    assert words in str(caught.value), str(caught.value)


def test_a_declared_secret_in_the_file_is_found(tmp_path: Path, echo_plugin: None) -> None:
    settings = load(tmp_path, '[channels.e]\nkind = "echo"\napi_key = "k-123"\nmotto = "hi"\n')
    assert secrets_in_file(settings) == ["channels.e.api_key"]


def test_built_in_kinds_declare_their_options() -> None:
    for kind, some in (("telegram", {"token", "webhook_url"}), ("webchat", {"origin", "texts"}),
                       ("demo", {"interval"})):
        declared = channel_options(kind)
        assert declared is not None and some <= set(declared.names)
    telegram = channel_options("telegram")
    assert telegram is not None and [o.name for o in telegram.options if o.secret] == ["token"]


def _blocks(text: str, language: str) -> list[str]:
    parts = text.split(f"```{language}\n")[1:]
    return [part.split("```", 1)[0] for part in parts]


def test_the_example_in_plugins_md_works_as_written(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import tomllib

    from opchat.config import ChannelSettings
    from opchat.transports import Checks

    doc = (Path(__file__).parents[2] / "docs" / "PLUGINS.md").read_text()
    example = doc.split("## A complete example", 1)[1]
    [code] = [block for block in _blocks(example, "python")
              if block.startswith("# opchat_echo/__init__.py")]
    project, config = _blocks(example, "toml")[:2]
    site = tmp_path / "site"
    (site / "opchat_echo").mkdir(parents=True)
    (site / "opchat_echo" / "__init__.py").write_text(code)
    info = site / "opchat_echo-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: opchat-echo\nVersion: 0.1.0\n")
    groups = tomllib.loads(project)["project"]["entry-points"]
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items()) + "\n"
        for group, entries in groups.items()))
    monkeypatch.syspath_prepend(str(site))
    channel_options.cache_clear()
    try:
        settings = load(tmp_path, config)
        [channel] = settings.channels
        assert (channel.kind, channel.options) == ("echo", {"every": 10})
        with pytest.raises(ConfigError, match="every must be a number above 0"):
            load(tmp_path, config.replace("every = 10", 'every = "often"'))
        transport = load_transport("echo")(ChannelSettings("echo", "echo", {}), tmp_path)
        assert isinstance(transport, Checks)
        assert asyncio.run(transport.check()) == "nothing to connect to"
    finally:
        channel_options.cache_clear()


def test_every_built_in_options_help_is_in_russian_too() -> None:
    from opchat.locales import ru

    missing = [f"{kind}.{option.name}: {option.help!r}"
               for kind in ("telegram", "webchat", "demo")
               for option in (channel_options(kind) or OptionSetStub).options
               if option.help not in ru.MESSAGES]
    assert not missing, "add to opchat/locales/ru.py:\n" + "\n".join(missing)


class OptionSetStub:
    options = ()


def test_what_is_secret_follows_the_declaration_else_the_name(echo_plugin: None) -> None:
    from opchat.config import ChannelSettings

    declared = ChannelSettings("e", "echo", {"api_key": "k-123456", "motto": "hello world"})
    assert declared.secrets() == ("k-123456",)  # what errors and logs never show
    undeclared = ChannelSettings("p", "pigeon", {"api_key": "k-654321", "coop": "roof"})
    assert undeclared.secrets() == ("k-654321",)  # "key" in its name: a secret
    web = ChannelSettings("w", "webchat", {"operator_name": "Anna Karenina"})
    assert web.secrets() == ()


def test_channel_list_hides_what_the_kind_declares_secret(tmp_path: Path,
                                                          echo_plugin: None) -> None:
    import io
    from contextlib import redirect_stdout

    from opchat.cli import main

    config = tmp_path / "config.toml"
    config.write_text('[channels.e]\nkind = "echo"\napi_key = "k-123456"\nmotto = "hi"\n')
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["--config", str(config), "--data-dir", str(tmp_path / "data"),
                     "channel", "list"])
    assert code == 0
    assert "api_key=***" in out.getvalue() and "k-123456" not in out.getvalue()
    assert "motto=hi" in out.getvalue()


def test_a_plugins_options_are_flags_of_channel_add(tmp_path: Path, echo_plugin: None,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import tomllib

    from opchat.cli import main

    config = tmp_path / "config.toml"
    common = ["--config", str(config), "--data-dir", str(tmp_path / "data")]
    with pytest.raises(SystemExit):
        main(["channel", "add", "echo", "--help"])
    shown = capsys.readouterr().out
    assert "options of echo channels:" in shown
    assert "--every NUMBER" in shown and "--api-key-env VARIABLE" in shown
    assert "--motto TEXT" in shown and "what it says" in shown

    assert main(["channel", "add", "echo", "--every", "2.5", "--motto", "hi", *common]) == 0
    assert tomllib.loads(config.read_text())["channels"]["echo"] == {
        "kind": "echo", "every": 2.5, "motto": "hi"}
    capsys.readouterr()
    assert main(["channel", "add", "echo", "--name", "loud", "--motto", "HI", *common]) == 2
    assert capsys.readouterr().err == "opchat: --motto must not shout\n"
