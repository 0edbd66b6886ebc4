"""The README stays true: its configuration table names every setting, and its commands exist."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tutorhub_messaging.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_every_setting_is_documented_in_the_readme() -> None:
    documented = set(re.findall(r"`(MESSAGING_[A-Z0-9_]+)`", README))
    settings = {f"MESSAGING_{name.upper()}" for name in Settings.model_fields}
    assert settings - documented == set(), "settings missing from the README"


def test_the_readme_documents_no_setting_that_does_not_exist() -> None:
    documented = set(re.findall(r"`(MESSAGING_[A-Z0-9_]+)`", README))
    settings = {f"MESSAGING_{name.upper()}" for name in Settings.model_fields}
    test_only = {"MESSAGING_TEST_POSTGRES_URL"}
    assert documented - settings - test_only == set(), "the README names unknown settings"


def test_the_readme_commands_exist_and_are_executable() -> None:
    for command in ("scripts/run", "scripts/test"):
        assert f"./{command}" in README
        assert os.access(ROOT / command, os.X_OK), f"{command} is not executable"


def test_the_readme_layout_lists_every_package() -> None:
    package = ROOT / "src" / "tutorhub_messaging"
    packages = {p.parent.name for p in package.glob("*/__init__.py")}
    listed = set(re.findall(r"^  ([a-z_]+)/ ", README, re.MULTILINE))
    assert packages - listed == set(), "packages missing from the README's project layout"


def test_the_docs_cite_no_document_outside_the_repository() -> None:
    texts = [README, *(p.read_text() for p in (ROOT / "docs").rglob("*.md"))]
    for text in texts:
        for citation in ("DECISIONS", "§", "the hub guide", "the REST guide", "the guide's"):
            assert citation not in text, f"{citation!r} cites a document that is not in the repository"
