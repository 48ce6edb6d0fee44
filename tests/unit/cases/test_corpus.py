"""The seed corpus generator, its split, the phrasing data and the hand-written hold-out."""

from __future__ import annotations

import copy
import json
from collections import Counter
from importlib.resources import files
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cityops.cases import corpus
from cityops.catalog.reference import matter_classes


@pytest.fixture(scope="module")
def small() -> list[tuple[str, str]]:
    return corpus.generate(seed=11, per_class=4)


def _raw_phrases() -> dict[str, Any]:
    text = (files("cityops.cases") / "data" / corpus.PHRASES_FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def test_generate_is_deterministic_for_a_seed(small: list[tuple[str, str]]) -> None:
    assert corpus.generate(seed=11, per_class=4) == small
    assert corpus.generate(seed=12, per_class=4) != small


def test_generate_covers_every_class_evenly(small: list[tuple[str, str]]) -> None:
    counts = Counter(code for _, code in small)
    assert set(counts) == set(matter_classes())
    assert len(counts) == 250
    assert set(counts.values()) == {4}


def test_a_class_does_not_depend_on_the_others(small: list[tuple[str, str]]) -> None:
    more = corpus.generate(seed=11, per_class=6)
    for code in ("01001", "06013", "10002"):
        assert [t for t, c in small if c == code] == [t for t, c in more if c == code][:4]


def test_generated_texts_are_clean_and_varied() -> None:
    pairs = corpus.generate(per_class=30)
    for text, _ in pairs:
        assert text
        assert text.strip() == text
        assert "{" not in text, text
        assert "}" not in text, text
        assert not text.startswith(("，", "。", "：")), text
        assert "，，" not in text, text
        assert "，。" not in text, text
    by_code: dict[str, list[str]] = {}
    for text, code in pairs:
        by_code.setdefault(code, []).append(text)
    for code, texts in by_code.items():
        assert len(set(texts)) >= 25, code  # not 30 copies of the class name
    manholes = " ".join(by_code["01011"])
    assert any(word in manholes for word in ("煤气", "燃气", "天然气"))


def test_generate_rejects_a_bad_size() -> None:
    with pytest.raises(ValueError, match="per_class"):
        corpus.generate(per_class=0)


def test_split_is_stratified_disjoint_and_deterministic() -> None:
    pairs = corpus.generate(seed=3, per_class=10)
    train, test = corpus.split(pairs, holdout=0.2)
    assert corpus.split(pairs, holdout=0.2) == (train, test)
    assert Counter(train) + Counter(test) == Counter(pairs)
    assert len(train) + len(test) == len(pairs)
    assert set(Counter(c for _, c in test).values()) == {2}
    assert set(Counter(c for _, c in train).values()) == {8}
    assert corpus.split(pairs, holdout=0.2, seed=99) != (train, test)


@settings(max_examples=60, deadline=None)
@given(
    labels=st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=60),
    holdout=st.floats(min_value=0.05, max_value=0.9),
)
def test_split_keeps_every_item_once(labels: list[str], holdout: float) -> None:
    pairs = [(f"text {i}", label) for i, label in enumerate(labels)]
    train, test = corpus.split(pairs, holdout=holdout)
    assert sorted(train + test) == sorted(pairs)
    assert not set(train) & set(test)
    for label, count in Counter(labels).items():
        held = sum(1 for _, c in test if c == label)
        assert held == (0 if count == 1 else max(1, min(count - 1, round(count * holdout))))


def test_split_rejects_a_bad_fraction() -> None:
    with pytest.raises(ValueError, match="holdout"):
        corpus.split([("x", "a")], holdout=1.0)


def test_phrase_book_names_its_source_and_matches_the_catalog() -> None:
    book = corpus.phrase_book()
    assert "GB/T 47678.5-2026" in book.source
    assert "by hand" in book.source
    assert set(book.classes) == set(matter_classes())
    for code, entry in book.classes.items():
        assert entry.name == matter_classes()[code].name
        assert entry.names, code
        assert entry.problems, code
    # the near-synonym manhole covers carry their distinguishing words
    assert "燃气井盖" in book.classes["01011"].names
    assert "污水井盖" in book.classes["01002"].names


def test_phrase_book_refuses_a_missing_or_misnamed_class() -> None:
    data = _raw_phrases()
    missing = copy.deepcopy(data)
    del missing["classes"]["06013"]
    with pytest.raises(ValueError, match="06013"):
        corpus.parse_phrases(missing)
    misnamed = copy.deepcopy(data)
    misnamed["classes"]["06013"]["class"] = "道路坑洼"
    with pytest.raises(ValueError, match="06013"):
        corpus.parse_phrases(misnamed)
    unknown_set = copy.deepcopy(data)
    unknown_set["classes"]["01001"]["problems"] = ["@nothing"]
    with pytest.raises(ValueError, match="unknown set"):
        corpus.parse_phrases(unknown_set)
    no_roads = copy.deepcopy(data)
    del no_roads["context"]["roads"]
    with pytest.raises(ValueError, match="roads"):
        corpus.parse_phrases(no_roads)


def test_holdout_appeals_are_hand_written_and_labelled() -> None:
    appeals = corpus.holdout_appeals()
    assert 150 <= len(appeals) <= 300
    known = matter_classes()
    assert all(code in known for _, code in appeals)
    assert len({text for text, _ in appeals}) == len(appeals)
    assert len({code for _, code in appeals}) >= 150
    generated = {text for text, _ in corpus.generate()}
    assert not generated & {text for text, _ in appeals}
