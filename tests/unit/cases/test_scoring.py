"""The classifier's numeric core: dense + sparse scoring equals the plain sparse product."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from cityops.cases import corpus
from cityops.cases.classifier import KeywordRule, TextClassifier, _top, seed_model
from cityops.cases.text_features import features


def _reference_scores(model: TextClassifier, text: str) -> npt.NDArray[np.float64]:
    """The sparse product, feature by feature (what the model meant before the dense block)."""
    w = model._w
    counts = Counter(f for f in features(text, model.settings) if f in w.vocab)
    scores = w.intercept.astype(np.float64)
    if not counts:
        return scores
    values = {w.vocab[f]: (1.0 + math.log(n)) * float(w.idf[w.vocab[f]]) for f, n in counts.items()}
    norm = math.sqrt(sum(v * v for v in values.values()))
    for index, value in values.items():
        for position in range(int(w.indptr[index]), int(w.indptr[index + 1])):
            scores[w.class_index[position]] += float(w.weights32[position]) * value / norm
    return scores


def test_seed_model_scores_equal_the_plain_sparse_product() -> None:
    model = seed_model()
    assert model._scorer._dense.shape[0] > 0  # the dense block is in use
    texts = [text for text, _ in corpus.generate(seed=3, per_class=2)][:400]
    texts += ["x", "！！", "12345", "井盖", "abc def", "路灯不亮了，晚上很黑"]
    for text in texts:
        assert np.allclose(
            model._scorer.scores(text), _reference_scores(model, text), rtol=0, atol=1e-9
        )


def test_a_small_model_without_dense_rows_scores_the_same() -> None:
    pairs = corpus.generate(seed=5, per_class=10)[:300]
    model = TextClassifier.train([t for t, _ in pairs], [c for _, c in pairs])
    for text, _ in pairs[:50]:
        assert np.allclose(
            model._scorer.scores(text), _reference_scores(model, text), rtol=0, atol=1e-9
        )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0]), min_size=1, max_size=30),
    st.integers(1, 35),
)
def test_top_k_equals_a_stable_full_sort(values: list[float], k: int) -> None:
    probs = np.asarray(values, dtype=np.float64)
    expected = np.argsort(-probs, kind="stable")[:k]
    assert list(_top(probs, k)) == list(expected)


@given(
    st.lists(st.sampled_from(["井盖", "井", "盖子", "ab", "AB", "路灯"]), min_size=1, max_size=5)
)
def test_keyword_rule_reports_its_longest_matching_keyword(keywords: list[str]) -> None:
    rule = KeywordRule("01001", tuple(keywords))
    text = "人行道井盖破损 ab 路"
    expected = max((len(k) for k in keywords if k.casefold() in text.casefold()), default=0)
    assert rule.longest_match(text) == expected
