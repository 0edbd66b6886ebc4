"""The command line explains itself: every option with its help and default, and ``--version``."""

from __future__ import annotations

import argparse

import pytest

from tutorhub_messaging import __version__
from tutorhub_messaging.cli import build_parser, main


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    [group] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(group.choices)


def help_of(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_version_prints_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"tutorhub-messaging {__version__}"


def test_the_top_level_help_is_plain_text_and_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(capsys)
    assert "``" not in text
    assert "REST API and the realtime Socket.IO chat hub" in text
    for command in ("serve", "migrate", "token"):
        assert command in text
    assert "--version" in text


@pytest.mark.parametrize("command", ["serve", "migrate", "token"])
def test_every_option_has_help_and_says_its_default(command: str) -> None:
    for action in subcommands()[command]._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{command} {action.option_strings} has no help"
        assert "default" in action.help or "required" in action.help, (
            f"{command} {action.option_strings} does not say its default"
        )


def test_serve_help_shows_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(help_of(capsys, "serve").split())
    assert "--host HOST address to listen on; 0.0.0.0 for every interface (default: 127.0.0.1)" in text
    assert "--port PORT TCP port to listen on (default: 3000)" in text
    assert "(default: 1)" in text  # --workers


def test_token_help_shows_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(help_of(capsys, "token").split())
    assert "the user's role (default: student)" in text
    assert "(default: 3600, one hour)" in text
    assert "--fullname NAME" in text
    assert "--avatar URL" in text
    assert "(default: a new random UUID)" in text


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["serve", "--port", "70000"], "70000 is not a TCP port (1-65535)"),
        (["serve", "--port", "0"], "0 is not a TCP port (1-65535)"),
        (["serve", "--port", "http"], "not a port number: 'http'"),
        (["serve", "--workers", "0"], "must be at least 1"),
        (["token", "--ttl", "-5"], "must be at least 0"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_usage_mistakes_are_one_line_and_exit_2(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert complaint in err
    assert "--help" in err
