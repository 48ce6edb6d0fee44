"""Suggest a case's matter class (事项类别) from its Chinese description.

A linear text classifier over TF-IDF features (sublinear tf): character n-grams (1–3 by default)
of the normalised text, plus jieba word tokens of two characters or more. It is trained with
scikit-learn's multinomial logistic regression (:meth:`TextClassifier.train`), but suggesting
needs only numpy: the model keeps its vocabulary, idf weights, a sparse coefficient matrix
(coefficients below a threshold dropped, float16) and the intercepts, vectorises a text itself
and takes one sparse product (:mod:`cityops.cases.scoring`). Confidences are the model's softmax
probabilities: rough probabilities, not guarantees (see ``data/README.md`` for how they behave on
real appeals).

A model is saved to one ``.npz`` file (numpy arrays and a JSON header; no pickle) and loaded
without refitting anything. :func:`classify` puts a city's own keyword rules in front of the
model; :func:`seed_model` loads the model shipped in ``cityops/cases/data`` once per process.

Nothing is done at import time: jieba, scikit-learn and the seed model are loaded on first use.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.resources import as_file, files
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cityops.cases.classifier_fit import Weights, fit
from cityops.cases.scoring import Scorer
from cityops.cases.text_features import TrainSettings, fold
from cityops.kernel.errors import ValidationFailed

FORMAT = "cityops.text-classifier"
"""The ``format`` named in the header of every saved model."""

FORMAT_VERSION = 1
"""The version of the saved-model layout; a file of another version is refused."""

SEED_MODEL_FILE = "seed-model.npz"
"""The shipped seed model, in ``cityops/cases/data``."""

MODEL = "model"
RULE = "rule"

_ARRAYS = ("meta", "vocab", "idf", "indptr", "class_index", "weights", "intercept")


# --------------------------------------------------------------------------- results and rules


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One suggested matter class with a confidence in [0, 1] and where it came from."""

    code: str
    confidence: float
    source: str  # "model" or "rule"


@dataclass(frozen=True, slots=True)
class KeywordRule:
    """A city's own rule: any of the keywords found in a text suggests the class ``code``."""

    code: str
    keywords: tuple[str, ...]
    _folded: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _longest_first: tuple[tuple[int, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.keywords or any(not k or not k.strip() for k in self.keywords):
            raise ValueError(f"keyword rule for {self.code}: every keyword must be non-empty")
        folded = tuple(fold(k) for k in self.keywords)
        object.__setattr__(self, "_folded", folded)
        lengths = [len(k) for k in self.keywords]
        pairs = sorted(zip(lengths, folded, strict=True), key=lambda p: -p[0])
        object.__setattr__(self, "_longest_first", tuple(pairs))

    def longest_match(self, text: str) -> int:
        """Return the length of the longest keyword found in ``text`` (normalised), or 0."""
        return self.longest_match_folded(fold(text))

    def longest_match_folded(self, folded: str) -> int:
        """Like :meth:`longest_match`, for a text already NFKC-normalised and case-folded."""
        for length, keyword in self._longest_first:
            if keyword in folded:
                return length
        return 0


# --------------------------------------------------------------------------- the model


def _check_text(text: str) -> None:
    if not isinstance(text, str) or not text.strip():
        raise ValidationFailed.single(
            "description",
            "required",
            "the description is empty; say what the problem is and where",
        )


def _check_json(metadata: Mapping[str, object]) -> None:
    try:
        json.dumps(dict(metadata), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model metadata must be plain JSON data: {exc}") from exc


def _check_k(k: int) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValidationFailed.single("k", "k_range", f"{k!r} is not a positive whole number")


class TextClassifier:
    """A trained matter-class classifier; build one with :meth:`train` or :meth:`load`.

    An instance is immutable and safe to share between threads.
    """

    __slots__ = ("_classes", "_metadata", "_scorer", "_settings", "_w")

    def __init__(
        self,
        *,
        classes: Sequence[str],
        settings: TrainSettings,
        weights: Weights,
        metadata: Mapping[str, object],
    ) -> None:
        self._classes = tuple(classes)
        self._settings = settings
        self._w = weights
        self._metadata = dict(metadata)
        self._scorer = Scorer(weights, settings, len(self._classes))

    # ---------------------------------------------------------------- training

    @classmethod
    def train(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        seed: int = 0,
        metadata: Mapping[str, object] | None = None,
        settings: TrainSettings | None = None,
    ) -> TextClassifier:
        """Fit a model on ``texts`` labelled with matter class codes.

        ``metadata`` (for example ``trained_at`` as an ISO time, corpus details) is kept with
        the model; the counts, settings and whether the solver converged are added.
        Deterministic for a given ``seed``.
        """
        settings = settings or TrainSettings()
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        for text in texts:
            _check_text(text)
        classes = tuple(sorted(set(labels)))
        if len(classes) < 2:
            raise ValueError("training needs texts of at least two classes")
        if len(classes) > np.iinfo(np.uint16).max:
            raise ValueError(f"{len(classes)} classes is more than a model can hold")
        _check_json(metadata or {})

        weights, converged = fit(list(texts), list(labels), classes, settings, seed)
        model = cls(classes=classes, settings=settings, weights=weights, metadata={})
        model._metadata = {
            **dict(metadata or {}),
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "n_documents": len(texts),
            "n_classes": len(classes),
            "n_features": len(model._w.vocab),
            "n_weights": len(model._w.weights),
            "converged": converged,
            "settings": settings.as_json(),
            "seed": seed,
        }
        return model

    # ---------------------------------------------------------------- suggesting

    @property
    def classes(self) -> tuple[str, ...]:
        """The matter class codes the model knows, in code order."""
        return self._classes

    @property
    def settings(self) -> TrainSettings:
        """How the model's features were made and its weights fitted."""
        return self._settings

    @property
    def metadata(self) -> dict[str, object]:
        """A copy of what is known about the model (trained_at, counts, accuracy, version …)."""
        copied: dict[str, object] = json.loads(json.dumps(self._metadata))
        return copied

    def with_metadata(self, extra: Mapping[str, object]) -> TextClassifier:
        """Return the same model with ``extra`` added to its metadata (e.g. accuracy figures)."""
        _check_json(extra)
        return TextClassifier(
            classes=self._classes,
            settings=self._settings,
            weights=self._w,
            metadata=self._metadata | dict(extra),
        )

    def probabilities(self, text: str) -> npt.NDArray[np.float64]:
        """Return the confidence of every class (in :attr:`classes` order); they sum to 1."""
        _check_text(text)
        return _softmax(self._scorer.scores(text))

    def suggest(self, text: str, k: int = 3) -> list[Suggestion]:
        """Return the model's ``k`` best classes for a text, best first."""
        _check_k(k)
        probs = self.probabilities(text)
        return [Suggestion(self._classes[i], float(probs[i]), MODEL) for i in _top(probs, k)]

    def suggest_many(self, texts: Sequence[str], k: int = 3) -> list[list[Suggestion]]:
        """Return :meth:`suggest` for each text."""
        return [self.suggest(text, k) for text in texts]

    def evaluate(self, texts: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
        """Return ``{"n", "top1", "top3"}`` for labelled texts.

        ``top1`` is the share of texts whose label is the first suggestion, ``top3`` the share
        whose label is among the first three; a label the model does not know counts as missed.
        """
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        if not texts:
            raise ValueError("nothing to evaluate: no texts")
        top1 = top3 = 0
        for suggestions, label in zip(self.suggest_many(texts, k=3), labels, strict=True):
            codes = [s.code for s in suggestions]
            if codes and codes[0] == label:
                top1 += 1
            if label in codes[:3]:
                top3 += 1
        n = len(texts)
        return {"n": float(n), "top1": top1 / n, "top3": top3 / n}

    # ---------------------------------------------------------------- files

    def save(self, path: Path) -> None:
        """Write the model to one ``.npz`` file (arrays + a JSON header; no pickle), atomically."""
        w = self._w
        terms = sorted(w.vocab, key=w.vocab.__getitem__)
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "classes": list(self._classes),
            "settings": self._settings.as_json(),
            "metadata": self._metadata,
        }
        arrays = {
            "meta": np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), np.uint8),
            "vocab": np.frombuffer("\n".join(terms).encode(), np.uint8),
            "idf": w.idf,
            "indptr": w.indptr,
            "class_index": w.class_index,
            "weights": w.weights,
            "intercept": w.intercept,
        }
        path = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                np.savez_compressed(out, **arrays)  # type: ignore[arg-type]
            os.chmod(tmp, 0o644)  # mkstemp makes it private; a model file is not secret
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> TextClassifier:
        """Read a model written by :meth:`save`.

        Raise ValueError naming the file if it is not such a model, is damaged or has another
        format version (FileNotFoundError if there is no file).
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = [name for name in _ARRAYS if name not in data.files]
                if missing:
                    raise ValueError(f"missing arrays {', '.join(missing)}")
                arrays = {name: data[name] for name in _ARRAYS}
            meta = json.loads(arrays["meta"].tobytes().decode())
        except FileNotFoundError:
            raise
        except (
            OSError,
            EOFError,
            ValueError,
            KeyError,
            zipfile.BadZipFile,
            zlib.error,
            UnicodeDecodeError,
        ) as exc:
            raise ValueError(f"{path}: not a cityops text classifier model ({exc})") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(
                f"{path}: not a cityops text classifier model (format is not {FORMAT})"
            )
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{path}: model format version {meta.get('format_version')!r} is not supported; "
                f"this cityops reads version {FORMAT_VERSION} (retrain or regenerate the model)"
            )
        try:
            classes = [str(code) for code in meta["classes"]]
            if classes != sorted(set(classes)):
                raise ValueError("classes are not distinct and in order")
            settings = TrainSettings.from_json(meta["settings"])
            terms = arrays["vocab"].tobytes().decode().split("\n") if arrays["vocab"].size else []
            weights = Weights(
                vocab={term: i for i, term in enumerate(terms)},
                idf=arrays["idf"].astype(np.float32),
                indptr=arrays["indptr"].astype(np.int32),
                class_index=arrays["class_index"],
                weights=arrays["weights"].astype(np.float16),
                intercept=arrays["intercept"].astype(np.float32),
            )
            _check_shapes(weights, len(classes))
        except (AttributeError, KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: damaged cityops text classifier model ({exc})") from exc
        return cls(
            classes=classes,
            settings=settings,
            weights=weights,
            metadata=meta.get("metadata") or {},
        )


def _check_shapes(w: Weights, n_classes: int) -> None:
    """Raise ValueError unless the arrays fit together."""
    n = len(w.vocab)
    if len(w.idf) != n or len(w.indptr) != n + 1:
        raise ValueError("vocabulary, idf and indptr sizes differ")
    if int(w.indptr[0]) != 0 or len(w.weights) != int(w.indptr[-1]):
        raise ValueError("indptr does not cover the weights")
    if np.any(np.diff(w.indptr) < 0) or len(w.class_index) != len(w.weights):
        raise ValueError("indptr or class index is inconsistent")
    if len(w.intercept) != n_classes or n_classes < 2:
        raise ValueError("intercepts do not match the classes")
    if not np.issubdtype(w.class_index.dtype, np.unsignedinteger):
        raise ValueError("class index is not an unsigned integer array")
    if len(w.class_index) and int(w.class_index.max()) >= n_classes:
        raise ValueError("class index out of range")


def _top(probs: npt.NDArray[np.float64], k: int) -> npt.NDArray[np.intp]:
    """Return the indexes of the ``k`` largest values, largest first, ties by index.

    The same as the first ``k`` of a stable argsort of ``-probs``, without sorting them all.
    """
    n = len(probs)
    if k >= n:
        return np.argsort(-probs, kind="stable")
    kth = np.partition(probs, n - k)[n - k]
    candidates = np.flatnonzero(probs >= kth)
    return candidates[np.argsort(-probs[candidates], kind="stable")][:k]


def _softmax(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    shifted = np.exp(z - z.max(axis=-1, keepdims=True))
    result: npt.NDArray[np.float64] = shifted / shifted.sum(axis=-1, keepdims=True)
    return result


# --------------------------------------------------------------------------- rules + model


def classify(
    text: str,
    model: TextClassifier | None,
    rules: Sequence[KeywordRule],
    k: int = 3,
) -> list[Suggestion]:
    """Suggest up to ``k`` matter classes for a text.

    Keyword rules win when they match: they come first with confidence 1.0 and source
    ``"rule"`` (several matching rules: the longest matched keyword first, then rule order).
    Model suggestions fill the list up to ``k`` without repeating a code.
    """
    _check_text(text)
    _check_k(k)
    folded = fold(text)
    matched = [(rule.longest_match_folded(folded), i, rule) for i, rule in enumerate(rules)]
    ranked = sorted((m for m in matched if m[0] > 0), key=lambda m: (-m[0], m[1]))
    out: list[Suggestion] = []
    seen: set[str] = set()
    for _, _, rule in ranked:
        if rule.code not in seen and len(out) < k:
            seen.add(rule.code)
            out.append(Suggestion(rule.code, 1.0, RULE))
    if model is not None and len(out) < k:
        for suggestion in model.suggest(text, k=min(len(model.classes), k + len(seen))):
            if suggestion.code not in seen:
                seen.add(suggestion.code)
                out.append(suggestion)
                if len(out) == k:
                    break
    return out


_seed_lock = threading.Lock()
_seed: TextClassifier | None = None


def seed_model() -> TextClassifier:
    """Return the seed model shipped with cityops, loaded once per process (thread-safe)."""
    global _seed
    with _seed_lock:
        if _seed is None:
            resource = files("cityops.cases") / "data" / SEED_MODEL_FILE
            with as_file(resource) as path:
                _seed = TextClassifier.load(path)
        return _seed
