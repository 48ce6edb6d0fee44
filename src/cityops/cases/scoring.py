"""Scoring a text with a model's weights: its TF-IDF vector, then one decision value per class.

The weights are a sparse matrix, one compressed row per feature. A text's lookups fall mostly on
a few thousand features that weigh on many classes (single characters, common words): a typical
text of 30 characters touches thousands of weights, nearly all of them in those rows. The rows are
therefore also kept as a dense block (float64, built once when a model is loaded), so that part
costs one matrix-vector product instead of thousands of gathered elements; the other features
stay sparse. The result is the same sum, added up in another order (differences of the order of
1e-16).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import numpy.typing as npt

from cityops.cases.classifier_fit import Weights
from cityops.cases.text_features import TrainSettings, features

DENSE_MIN_WEIGHTS = 16
"""A feature with at least this many class weights (and a sixteenth of the classes) is dense."""


def _positions(
    starts: npt.NDArray[np.integer], lengths: npt.NDArray[np.integer]
) -> npt.NDArray[np.int64]:
    """Return the concatenated ranges ``starts[i] .. starts[i] + lengths[i]``."""
    total = int(lengths.sum())
    offsets = np.repeat(starts.astype(np.int64) - np.cumsum(lengths) + lengths, lengths)
    return offsets + np.arange(total)


class Scorer:
    """The numeric core of a classifier; immutable and safe to share between threads."""

    __slots__ = ("_dense", "_intercept", "_settings", "_slot", "_w")

    def __init__(self, weights: Weights, settings: TrainSettings, n_classes: int) -> None:
        self._w = weights
        self._settings = settings
        self._intercept = weights.intercept.astype(np.float64)
        counts = np.diff(weights.indptr)
        rows = np.flatnonzero(counts >= max(DENSE_MIN_WEIGHTS, n_classes // 16))
        self._slot = np.full(len(counts), -1, dtype=np.int64)
        self._slot[rows] = np.arange(len(rows))
        self._dense = np.zeros((len(rows), n_classes), dtype=np.float64)
        if len(rows):
            positions = _positions(weights.indptr[rows], counts[rows])
            np.add.at(
                self._dense,
                (np.repeat(np.arange(len(rows)), counts[rows]), weights.class_index[positions]),
                weights.weights32[positions].astype(np.float64),
            )

    def vector(self, text: str) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
        """Return the TF-IDF vector of a text as (feature indexes, values), l2-normalised."""
        # Feature indexes counted in first-seen order (None: not in the vocabulary).
        counts = Counter(map(self._w.vocab.get, features(text, self._settings)))
        counts.pop(None, None)
        if not counts:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float64)
        index = np.fromiter(counts, dtype=np.intp, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        values = (1.0 + np.log(tf)) * self._w.idf[index]
        norm = math.sqrt(float(values @ values))
        return index, values / norm if norm > 0 else values

    def scores(self, text: str) -> npt.NDArray[np.float64]:
        """Return the decision value of every class for a text."""
        index, values = self.vector(text)
        scores = self._intercept.copy()
        if index.size == 0:
            return scores
        slot = self._slot[index]
        dense = slot >= 0
        if dense.all():
            return scores + values @ self._dense[slot]
        if dense.any():
            scores += values[dense] @ self._dense[slot[dense]]
            sparse = ~dense
            index, values = index[sparse], values[sparse]
        w = self._w
        starts = w.indptr[index]
        lengths = w.indptr[index + 1] - starts
        if not lengths.any():
            return scores
        positions = _positions(starts, lengths)
        contributions = w.weights32[positions] * np.repeat(values, lengths)
        return scores + np.bincount(
            w.class_index[positions], weights=contributions, minlength=len(scores)
        )
