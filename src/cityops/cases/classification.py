"""Suggesting a case's class: the city's keyword rules first, then the trained text classifier.

The classifier in use is the city's own (trained by ``cityops cases train`` on its closed cases
plus the seed corpus, written to the data directory) or, until there is one, the seed model that
ships with cityops. Keyword rules come from the matter rules and are re-read when they change.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from cityops.auth.model import Principal
from cityops.cases.classifier import KeywordRule, Suggestion, TextClassifier, classify, seed_model
from cityops.cases.ports import CasesUnitOfWork
from cityops.kernel.clock import Clock
from cityops.kernel.errors import ValidationFailed
from cityops.kernel.uow import UnitOfWorkFactory

MAX_TRAINING_CASES = 500_000
RULES_RECHECK_SECONDS = 2.0


class ClassificationService:
    """Top-k class suggestions for a text, and retraining on the city's closed cases."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory[CasesUnitOfWork],
        clock: Clock,
        model_path: Path,
        configured: Path | None = None,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._model_path = model_path
        self._configured = configured
        self._model: TextClassifier | None = None
        self._rules: tuple[tuple[int, str], list[KeywordRule]] | None = None
        self._rules_checked_at = float("-inf")
        self._lock = threading.Lock()

    def model(self) -> TextClassifier:
        """Return the classifier in use (loaded once)."""
        with self._lock:
            if self._model is None:
                path = self._configured or self._model_path
                self._model = TextClassifier.load(path) if _exists(path) else seed_model()
            return self._model

    def invalidate_rules(self) -> None:
        """Forget the cached keyword rules (the rules service calls this after a change)."""
        self._rules = None

    def keyword_rules(self) -> list[KeywordRule]:
        """Return the keyword rules of the city's matter rules (re-read when they change).

        Changes made in this process are seen at once; another process's within 2 s.
        """
        cached = self._rules
        if cached is not None and time.monotonic() - self._rules_checked_at < RULES_RECHECK_SECONDS:
            return cached[1]
        self._rules_checked_at = time.monotonic()
        with self._unit_of_work(read_only=True) as uow:
            revision = uow.matter_rules.revision()
            if self._rules is not None and self._rules[0] == revision:
                return self._rules[1]
            rules = [
                KeywordRule(rule.matter_code, rule.keywords)
                for rule in uow.matter_rules.list()
                if rule.keywords
            ]
        self._rules = (revision, rules)
        return rules

    def suggest(self, text: str, k: int = 3) -> list[Suggestion]:
        """Return up to ``k`` suggestions, best first."""
        return classify(text, self.model(), self.keyword_rules(), k)

    def suggest_for(self, principal: Principal, text: str, k: int = 3) -> list[Suggestion]:
        """Return suggestions for a clerk typing a case (needs ``cases:create``)."""
        principal.require_somewhere("cases:create")
        if not 1 <= k <= 10:
            raise ValidationFailed.single("k", "range", "between 1 and 10")
        return self.suggest(text, k)

    def train(
        self, principal: Principal, *, include_seed: bool = True, seed_per_class: int | None = None
    ) -> dict[str, Any]:
        """Train on closed cases (plus the seed corpus), save, and start using the new model."""
        principal.authorize("cases:admin")
        from cityops.cases.corpus import generate, split

        with self._unit_of_work(read_only=True) as uow:
            closed = uow.cases.training_texts(MAX_TRAINING_CASES)
        pairs = list(closed)
        if include_seed:
            pairs.extend(
                generate() if seed_per_class is None else generate(per_class=seed_per_class)
            )
        if len({code for _, code in pairs}) < 2:
            raise ValidationFailed.single(
                "cases", "enough_classes", "need closed cases of at least two classes"
            )
        train_pairs, held_out = split(pairs)
        trained_at = self._clock.now()
        model = TextClassifier.train(
            [t for t, _ in train_pairs],
            [c for _, c in train_pairs],
            metadata={
                "trained_at": trained_at.isoformat(),
                "closed_cases": len(closed),
                "seed_corpus": include_seed,
            },
        )
        # One fit, on the training split: the accuracy reported is the shipped model's own.
        accuracy = model.evaluate([t for t, _ in held_out], [c for _, c in held_out])
        final = model.with_metadata({"held_out_accuracy": accuracy})
        self._model_path.parent.mkdir(parents=True, exist_ok=True)
        final.save(self._model_path)
        with self._lock:
            self._model = final
        return {
            "path": str(self._model_path),
            "closed_cases": len(closed),
            "documents": len(pairs),
            "classes": len(final.classes),
            "held_out": accuracy,
            "trained_at": _iso(trained_at),
        }


def _exists(path: Path) -> bool:
    return path.is_file()


def _iso(moment: datetime) -> str:
    return moment.isoformat()
