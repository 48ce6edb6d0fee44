"""The features the matter classifier reads from a text: character n-grams and jieba words.

Texts are NFKC-normalised and case-folded, digit runs become ``0``; character n-grams never span
punctuation or spaces; jieba words of two or more characters are added with a ``w:`` prefix.
One jieba tokenizer per process, initialised quietly on first use.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

_DIGITS = re.compile(r"\d+")
_BREAK = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class TrainSettings:
    """How features are made and the linear model is fitted (stored with the model)."""

    char_min: int = 1  # shortest character n-gram
    char_max: int = 3  # longest character n-gram
    words: bool = True  # add jieba words of 2+ characters
    min_df: int = 2  # a feature must occur in this many texts (1 for tiny corpora)
    max_features: int | None = 200_000  # keep the most frequent features
    c: float = 20.0  # inverse L2 regularisation strength of the logistic regression
    tol: float = 1e-3  # saga solver tolerance
    max_iter: int = 100  # saga solver epochs at most
    prune: float = 0.1  # drop coefficients with a smaller absolute value

    def as_json(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrainSettings:
        """Build settings from :meth:`as_json` output."""
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


class _Tokenizer(Protocol):
    def lcut(self, sentence: str, cut_all: bool = ..., HMM: bool = ...) -> list[str]: ...  # noqa: N803


_jieba_lock = threading.Lock()
_jieba: _Tokenizer | None = None


def _tokenizer() -> _Tokenizer:
    """Return the process's one jieba tokenizer, initialised on first use (quietly)."""
    global _jieba
    if _jieba is not None:
        return _jieba
    with _jieba_lock:
        if _jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            _jieba = tokenizer
        return _jieba


def fold(text: str) -> str:
    """Return ``text`` in NFKC form, case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def normalise(text: str) -> str:
    """Return the text the features are taken from: NFKC, case-folded, digit runs as ``0``."""
    return _DIGITS.sub("0", fold(text))


def features(text: str, settings: TrainSettings) -> list[str]:
    """Return the features of one text.

    Character n-grams of each run of word characters (so no n-gram spans punctuation or
    spaces), then jieba words of two characters or more, prefixed ``w:``.
    """
    norm = normalise(text)
    out: list[str] = []
    for segment in _BREAK.split(norm):
        size = len(segment)
        for n in range(settings.char_min, settings.char_max + 1):
            out.extend([segment[i : i + n] for i in range(size - n + 1)])
    if settings.words:
        out.extend(
            "w:" + word
            for word in _tokenizer().lcut(norm, HMM=False)
            if len(word) >= 2 and not _BREAK.search(word)
        )
    return out
