"""The workspace scripts' messages: every key they use exists in both catalogues and is embedded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import cityops.web
from cityops.auth.model import Grant, Principal
from cityops.auth.permissions import ROLE_PERMISSIONS, Role
from cityops.auth.scopes import Scope
from cityops.cases.model import Channel, Urgency
from cityops.cases.queries import Queue
from cityops.cases.workflow import Status
from cityops.web.i18n import LANGUAGES, Translator, catalogue
from cityops.web.routes.workspace_pages import SCRIPT_MESSAGES, queues_of
from tests.unit.web.test_i18n import HISTORY_COMMANDS

STATIC = Path(cityops.web.__file__).parent / "static"
SCRIPTS = [STATIC / name for name in ("ws.js", "work.js", "case.js", "intake.js")]
LITERAL = re.compile(r"""\bmsg\(\s*"([a-z_.]+)"\s*[,)]""")
BUILT = re.compile(r"""\bmsg\(\s*"([a-z_.]+\.)"\s*\+""")
# What the scripts put after each prefix they build keys from.
ENDINGS = {
    "status.": [s.value for s in Status],
    "cmd.": HISTORY_COMMANDS,
    "light.": ["green", "yellow", "red"],
    "channel.": [c.value for c in Channel],
    "urgency.": [u.value for u in Urgency],
    "role.": ["intake", "dispatcher", "department_handler", "patroller", "command_center"],
    "ws.part.": ["to_file", "to_dispatch", "returned", "extension_requests"],
    "ws.source.": ["rule", "model", "clerk"],
    "ws.intake.done": ["", "_file", "_reject", "_merge"],
}


def _keys(pattern: re.Pattern[str]) -> set[str]:
    return {m.group(1) for path in SCRIPTS for m in pattern.finditer(path.read_text("utf-8"))}


def test_the_scripts_use_messages() -> None:
    assert len(_keys(LITERAL)) > 40
    assert _keys(BUILT) >= {"status.", "cmd.", "light."}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_key_the_scripts_use_exists_and_is_embedded(language: str) -> None:
    messages = catalogue(language)
    embedded = Translator(language).messages(*SCRIPT_MESSAGES)
    literal = _keys(LITERAL)
    built = {prefix + end for prefix in _keys(BUILT) for end in ENDINGS[prefix]}
    built |= {"ws.intake.done" + end for end in ENDINGS["ws.intake.done"]}
    for key in sorted(literal | built):
        assert key in messages, f"{key} missing in {language}"
        assert key in embedded, f"{key} is not under a prefix the pages embed"


def test_every_prefix_the_scripts_build_is_listed_here() -> None:
    assert _keys(BUILT) <= set(ENDINGS)


def _principal(*roles: Role) -> Principal:
    grants = tuple(Grant(r.value, Scope.city(), ROLE_PERMISSIONS[r]) for r in roles)
    return Principal("user", "someone", grants)


def test_queues_follow_the_grants() -> None:
    assert queues_of(_principal(Role.DISPATCHER, Role.INTAKE, Role.DISPATCHER)) == [
        "dispatch",
        "intake",
    ]
    assert queues_of(_principal(Role.DEPARTMENT_HANDLER)) == ["department"]
    assert queues_of(_principal(Role.VIEWER)) == [Queue.COMMAND.value]
