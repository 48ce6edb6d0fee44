"""Fitting the matter classifier: TF-IDF and logistic regression, kept as sparse weights.

scikit-learn is used only here, at training time; a fitted model is plain arrays
(:class:`Weights`) that :mod:`cityops.cases.classifier` saves, loads and scores with numpy.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from cityops.cases.text_features import TrainSettings, features


@dataclass(slots=True)
class Weights:
    """The numeric part of a model, exactly as saved."""

    vocab: dict[str, int]
    idf: npt.NDArray[np.float32]
    indptr: npt.NDArray[np.int32]
    class_index: npt.NDArray[np.unsignedinteger[Any]]
    weights: npt.NDArray[np.float16]
    intercept: npt.NDArray[np.float32]
    weights32: npt.NDArray[np.float32] = field(init=False)

    def __post_init__(self) -> None:
        self.weights32 = self.weights.astype(np.float32)


def fit(
    texts: list[str],
    labels: list[str],
    classes: tuple[str, ...],
    settings: TrainSettings,
    seed: int,
) -> tuple[Weights, bool]:
    """Fit the TF-IDF vectoriser and the logistic regression.

    Return the weights (in their saved form) and whether the solver converged within
    ``settings.max_iter``.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectoriser = TfidfVectorizer(
        analyzer=lambda text: features(text, settings),
        sublinear_tf=True,
        min_df=settings.min_df if len(texts) >= 4 * settings.min_df else 1,
        max_features=settings.max_features,
        dtype=np.float32,
    )
    matrix = vectoriser.fit_transform(texts)
    regression = LogisticRegression(
        C=settings.c,
        solver="saga",
        tol=settings.tol,
        max_iter=settings.max_iter,
        random_state=seed,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        regression.fit(matrix, labels)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    if tuple(regression.classes_) != classes:
        raise AssertionError("classifier classes differ from the sorted labels")
    coef = np.asarray(regression.coef_, dtype=np.float64)
    intercept = np.asarray(regression.intercept_, dtype=np.float64)
    if coef.shape[0] == 1:  # two classes: one logit; softmax([-z/2, z/2]) is sigmoid(z)
        coef = np.vstack([-coef / 2, coef / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    terms = vectoriser.get_feature_names_out()
    return _sparse_weights(coef, intercept, terms, vectoriser.idf_, settings.prune), converged


def _sparse_weights(
    coef: npt.NDArray[np.float64],
    intercept: npt.NDArray[np.float64],
    terms: Sequence[str],
    idf: npt.NDArray[np.float64],
    prune: float,
) -> Weights:
    """Keep the coefficients with ``|w| >= prune`` as feature-major sparse float16 rows.

    Every feature stays in the vocabulary (a feature without weights still counts in the
    l2 norm of a text's vector, exactly as in training).
    """
    mask = (np.abs(coef) >= prune).T  # features × classes
    counts = mask.sum(axis=1)
    indptr = np.zeros(len(terms) + 1, dtype=np.int32)
    np.cumsum(counts, out=indptr[1:])
    feature_rows, class_cols = np.nonzero(mask)
    index_type = np.uint8 if coef.shape[0] <= 256 else np.uint16
    return Weights(
        vocab={str(term): i for i, term in enumerate(terms)},
        idf=idf.astype(np.float32),
        indptr=indptr,
        class_index=class_cols.astype(index_type),
        weights=coef.T[feature_rows, class_cols].astype(np.float16),
        intercept=intercept.astype(np.float32),
    )
