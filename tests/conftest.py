"""Fixtures that several test files share: a small corpus, and a command's error."""

from collections.abc import Callable
from pathlib import Path

import pytest

from gptcore.cli import train as train_command
from gptcore.data import load_plays


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    """A text file of the first 60,000 characters of Twelfth Night, to train on."""
    path = tmp_path_factory.mktemp("corpus") / "twelfth-night.txt"
    path.write_text(load_plays()["twelfth-night"][:60_000], encoding="utf-8")
    return path


@pytest.fixture
def error(capsys) -> Callable[..., str]:
    """Run a command's main(argv) that must refuse it: exit status 2, one clear message
    on standard error, which is returned."""

    def refused(argv: list[str], main: Callable = train_command.main) -> str:
        with pytest.raises(SystemExit) as exit:
            main(argv)
        assert exit.value.code == 2
        return capsys.readouterr().err

    return refused
