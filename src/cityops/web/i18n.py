"""The translation catalogue: zh-CN first, English second.

Catalogues are JSON files in ``locales/`` with the same keys; a missing key shows the key itself
(so it is noticed), and a test checks that both catalogues cover every key the templates use.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

LANGUAGES = ("zh-CN", "en")
LANGUAGE_COOKIE = "cityops_lang"


@cache
def catalogue(language: str) -> dict[str, str]:
    """Return the message catalogue of ``language``."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}")
    text = resources.files("cityops.web").joinpath(f"locales/{language}.json").read_text("utf-8")
    data: dict[str, str] = json.loads(text)
    return data


class Translator:
    """Look up messages in one language."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else LANGUAGES[0]
        self._messages = catalogue(self.language)

    def messages(self, *prefixes: str) -> dict[str, str]:
        """Return the messages whose keys start with one of ``prefixes`` (for a page's script)."""
        return {k: v for k, v in self._messages.items() if k.startswith(prefixes)}

    def __call__(self, key: str, **values: object) -> str:
        """Return the message for ``key`` with ``{name}`` placeholders filled."""
        message = self._messages.get(key, key)
        return message.format(**values) if values else message


def pick_language(query: str | None, cookie: str | None, default: str) -> str:
    """Choose the language: an explicit ?lang= first, then the cookie, then the default."""
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate
    return default if default in LANGUAGES else LANGUAGES[0]
