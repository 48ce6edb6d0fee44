"""Unit tests of the translation catalogues, the translator and the language choice."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import cityops.web
from cityops.auth.permissions import Role
from cityops.auth.scopes import parse_scope
from cityops.cases.model import Channel
from cityops.cases.queries import Queue
from cityops.cases.workflow import Command, Status
from cityops.web.i18n import LANGUAGE_COOKIE, LANGUAGES, Translator, catalogue, pick_language
from cityops.web.routes.workspace_pages import APPEAL_TYPES

# What a case's history entries may be: the commands, and the entries intake, merging and the
# deadline sweeper write.
HISTORY_COMMANDS = [c.value for c in Command] + [
    "accept",
    "merge",
    "merged_in",
    "escalate",
    "light_green",
    "light_yellow",
    "light_red",
]

WEB = Path(cityops.web.__file__).parent
TEMPLATES = sorted((WEB / "templates").glob("*.html"))
PYTHON_SOURCES = sorted(WEB.rglob("*.py"))

# t("key") or t('key') followed by ")" or "," (a literal key, perhaps with placeholders) …
LITERAL_KEY = re.compile(r"""\bt\(\s*(["'])([^"'\\]+)\1\s*[,)]""")
# … and t("prefix." ~ expression), a key built at render time.
CONCATENATED_KEY = re.compile(r"""\bt\(\s*(["'])([^"'\\]*)\1\s*~""")
SCOPE_KINDS = sorted({parse_scope(s).kind for s in ("city", "division:320100", "department:cg")})
DYNAMIC_KEYS = {
    "role.": sorted(f"role.{role.value}" for role in Role),
    "scope.": sorted(f"scope.{kind}" for kind in SCOPE_KINDS),
    "channel.": sorted(f"channel.{channel.value}" for channel in Channel),
    "queue.": sorted(f"queue.{queue.value}" for queue in Queue),
    "ws.appeal.": sorted(f"ws.appeal.{kind}" for kind in APPEAL_TYPES),
    "status.": sorted(f"status.{status.value}" for status in Status),
    "cmd.": sorted(f"cmd.{command}" for command in HISTORY_COMMANDS),
    "command.card.": [
        f"command.card.{card}"
        for card in (
            "accepted",
            "closed",
            "open",
            "overdue",
            "due_soon",
            "closing_rate",
            "on_time_closing_rate",
            "median_hours_to_close",
            "satisfaction",
        )
    ],
}


def placeholders(message: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(message) if name is not None}


def literal_keys(paths: list[Path]) -> set[str]:
    return {m.group(2) for p in paths for m in LITERAL_KEY.finditer(p.read_text("utf-8"))}


# --- the catalogues -------------------------------------------------------------------------


def test_languages() -> None:
    assert LANGUAGES == ("zh-CN", "en")
    assert LANGUAGE_COOKIE == "cityops_lang"


def test_catalogues_have_the_same_keys() -> None:
    zh, en = catalogue("zh-CN"), catalogue("en")
    assert set(zh) - set(en) == set(), "keys only in zh-CN"
    assert set(en) - set(zh) == set(), "keys only in en"


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_files_are_flat_string_maps(language: str) -> None:
    path = WEB / "locales" / f"{language}.json"
    pairs = json.loads(path.read_text("utf-8"), object_pairs_hook=list)
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), "a key appears twice in the file"
    for key, value in pairs:
        assert isinstance(value, str), key
        assert value.strip(), f"{language}: {key} is empty"


def test_placeholders_match_across_languages() -> None:
    zh, en = catalogue("zh-CN"), catalogue("en")
    for key in zh:
        assert placeholders(zh[key]) == placeholders(en[key]), key


def test_unsupported_catalogue_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported language"):
        catalogue("fr")


# --- keys used by templates and code --------------------------------------------------------


def test_templates_are_found_and_use_keys() -> None:
    assert TEMPLATES, "no templates found"
    assert len(literal_keys(TEMPLATES)) >= 10


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_literal_template_key_exists(language: str) -> None:
    missing = sorted(literal_keys(TEMPLATES) - set(catalogue(language)))
    assert not missing, f"{language} lacks {missing}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_literal_key_in_web_code_exists(language: str) -> None:
    missing = sorted(literal_keys(PYTHON_SOURCES) - set(catalogue(language)))
    assert not missing, f"{language} lacks {missing}"


def test_every_concatenated_key_prefix_is_covered_here() -> None:
    prefixes = {
        m.group(2) for p in TEMPLATES for m in CONCATENATED_KEY.finditer(p.read_text("utf-8"))
    }
    assert prefixes, "expected the role and scope keys to be built in a template"
    assert prefixes <= set(DYNAMIC_KEYS), f"new dynamic key prefixes to check: {prefixes}"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("prefix", sorted(DYNAMIC_KEYS))
def test_every_dynamic_key_exists(language: str, prefix: str) -> None:
    missing = [k for k in DYNAMIC_KEYS[prefix] if k not in catalogue(language)]
    assert not missing, f"{language} lacks {missing}"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", ["division", "department"])
def test_scope_messages_show_the_code(language: str, kind: str) -> None:
    assert placeholders(catalogue(language)[f"scope.{kind}"]) == {"code"}
    assert "320102" in Translator(language)(f"scope.{kind}", code="320102")


# --- Translator -----------------------------------------------------------------------------


def test_translator_looks_up_each_language() -> None:
    assert Translator("en")("app.name") == "City Operations Management Platform"
    assert Translator("zh-CN")("app.name") == catalogue("zh-CN")["app.name"]
    assert Translator("zh-CN")("app.name") != Translator("en")("app.name")


@pytest.mark.parametrize("language", ["fr", "", "EN", "zh", "zh-cn", "de-DE"])
def test_translator_falls_back_to_zh_cn(language: str) -> None:
    translator = Translator(language)
    assert translator.language == "zh-CN"
    assert translator("login.title") == catalogue("zh-CN")["login.title"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_missing_key_shows_the_key(language: str) -> None:
    assert Translator(language)("no.such.key") == "no.such.key"


def test_placeholders_are_filled() -> None:
    assert Translator("en")("home.welcome", name="Alice") == "Welcome, Alice"
    zh = Translator("zh-CN")("home.welcome", name="张伟")
    assert "张伟" in zh
    assert "{" not in zh
    limited = Translator("en")("login.rate_limited", seconds=42)
    assert "42" in limited
    assert "{seconds}" not in limited


def test_without_values_braces_are_left_alone() -> None:
    assert Translator("en")("home.welcome") == catalogue("en")["home.welcome"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_formats_with_its_placeholders(language: str) -> None:
    translate = Translator(language)
    for key, message in catalogue(language).items():
        names = placeholders(message)
        if names:
            filled = translate(key, **{name: "VALUE" for name in names})
            assert "VALUE" in filled
            assert "{" not in filled, key


# --- pick_language --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "cookie", "default", "expected"),
    [
        ("en", "zh-CN", "zh-CN", "en"),  # the query wins over the cookie
        ("zh-CN", "en", "en", "zh-CN"),
        (None, "en", "zh-CN", "en"),  # then the cookie
        (None, "zh-CN", "en", "zh-CN"),
        (None, None, "en", "en"),  # then the default
        (None, None, "zh-CN", "zh-CN"),
        ("fr", "en", "zh-CN", "en"),  # an unsupported query is ignored
        ("", "en", "zh-CN", "en"),
        ("fr", "xx", "en", "en"),  # so is an unsupported cookie
        ("EN", None, "zh-CN", "zh-CN"),
        (None, None, "fr", "zh-CN"),  # and an unsupported default
        ("fr", "de", "", "zh-CN"),
    ],
)
def test_pick_language(query: str | None, cookie: str | None, default: str, expected: str) -> None:
    assert pick_language(query, cookie, default) == expected


@given(st.one_of(st.none(), st.text()), st.one_of(st.none(), st.text()), st.text())
def test_pick_language_always_picks_a_supported_language(
    query: str | None, cookie: str | None, default: str
) -> None:
    chosen = pick_language(query, cookie, default)
    assert chosen in LANGUAGES
    if query in LANGUAGES:
        assert chosen == query
    elif cookie in LANGUAGES:
        assert chosen == cookie
    elif default in LANGUAGES:
        assert chosen == default
    else:
        assert chosen == "zh-CN"
