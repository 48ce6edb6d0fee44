"""Generate the seed training corpus for the matter classifier, and build the seed model.

The corpus is made from hand-written phrasing data (``data/matter_phrases.json``): for every
GB/T 47678.5-2026 matter class, what people call the object or the matter, problem words and
class-specific details, plus shared context (roads, housing estates, landmarks, time phrases,
12345 hotline openers and closers, WeChat-style tails, patroller note templates, generic
consequences and noise). Each generated text combines a core statement ("雨水箅子被垃圾堵住了",
"有人私自搭建彩钢棚") with some of that context in one of four styles (hotline, WeChat, patrol,
bare). Everything is drawn from ``random.Random`` seeded with the corpus seed and the class code,
so a (seed, per_class) pair always gives the same corpus.

``data/holdout-appeals.csv`` is different: realistic appeals written by hand, not generated, used
only to measure the model honestly (:func:`holdout_appeals`).

Run ``python -m cityops.cases.corpus`` to regenerate the shipped seed model and print its
accuracy figures; nothing is done at import time.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from cityops.cases.classifier import SEED_MODEL_FILE, TextClassifier
from cityops.cases.text_features import TrainSettings
from cityops.catalog.reference import STANDARD, matter_classes

PHRASES_FILE = "matter_phrases.json"
HOLDOUT_FILE = "holdout-appeals.csv"
HOLDOUT_COLUMNS = ("code", "style", "text")
PHRASES_FORMAT = "cityops.matter-phrases"

DEFAULT_SEED = 20261123
DEFAULT_PER_CLASS = 60
DEFAULT_HOLDOUT = 0.2
SPLIT_SEED = 7
MODEL_SEED = 0

_STYLES = ("hotline", "wechat", "patrol", "bare")
_STYLE_WEIGHTS = (0.35, 0.2, 0.3, 0.15)
_CONTEXT_KEYS = (
    "roads",
    "estates",
    "landmarks",
    "place_templates",
    "times",
    "name_templates",
    "facility_templates",
    *(f"{style}_templates" for style in _STYLES),
    "hotline_openers",
    "hotline_closers",
    "wechat_tails",
    "generic_details",
    "noise",
)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_PUNCT_RUNS = re.compile(r"[，。！？、：；,]*([，。！？、：；,])")
_LEADING_PUNCT = re.compile(r"^[，。！？、：；,\s]+")
_TRAILING_PUNCT = re.compile(r"[，、：；,\s]+$")


# --------------------------------------------------------------------------- the phrase book


@dataclass(frozen=True, slots=True)
class ClassPhrases:
    """The phrasing of one matter class."""

    code: str
    name: str
    names: tuple[str, ...]
    objects: tuple[str, ...]
    problems: tuple[str, ...]
    details: tuple[str, ...]

    @property
    def is_facility(self) -> bool:
        """True for the "<部件>异常" classes (no objects: problems follow a name)."""
        return not self.objects


@dataclass(frozen=True, slots=True)
class PhraseBook:
    """The whole phrasing data file, checked against the matter class table."""

    version: int
    source: str
    classes: Mapping[str, ClassPhrases]
    context: Mapping[str, tuple[str, ...]]


def _tuple(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{PHRASES_FILE}: {where} must be a list of non-empty strings")
    return tuple(value)


def parse_phrases(data: Mapping[str, Any]) -> PhraseBook:
    """Check and read the phrasing data (the decoded JSON of ``matter_phrases.json``).

    Every matter class of the catalog must have an entry whose ``class`` is its name.
    """
    if data.get("format") != PHRASES_FORMAT or not isinstance(data.get("version"), int):
        raise ValueError(f"{PHRASES_FILE}: not a {PHRASES_FORMAT} file with a version")
    sets = {name: _tuple(v, f"problem set {name}") for name, v in data["problem_sets"].items()}
    context = {name: _tuple(v, f"context {name}") for name, v in data["context"].items()}
    absent = [key for key in _CONTEXT_KEYS if key not in context]
    if absent:
        raise ValueError(f"{PHRASES_FILE}: context lacks {', '.join(absent)}")
    if len(context["roads"]) < 2:
        raise ValueError(f"{PHRASES_FILE}: context needs at least two roads")
    catalog = matter_classes()
    entries = data["classes"]
    if set(entries) != set(catalog):
        missing = sorted(set(catalog) - set(entries))
        extra = sorted(set(entries) - set(catalog))
        raise ValueError(f"{PHRASES_FILE}: classes missing {missing}, unknown {extra}")
    classes: dict[str, ClassPhrases] = {}
    for code in sorted(entries):
        entry = entries[code]
        if entry.get("class") != catalog[code].name:
            raise ValueError(f"{PHRASES_FILE}: {code} is {catalog[code].name}, not {entry!r}")
        problems: list[str] = []
        for problem in _tuple(entry["problems"], f"{code} problems"):
            if problem.startswith("@"):
                if problem[1:] not in sets:
                    raise ValueError(f"{PHRASES_FILE}: {code} names unknown set {problem}")
                problems.extend(sets[problem[1:]])
            else:
                problems.append(problem)
        objects = _tuple(entry.get("objects", []), f"{code} objects") if "objects" in entry else ()
        if objects and not all("{o}" in p for p in problems):
            raise ValueError(f"{PHRASES_FILE}: {code} has objects, so every problem needs {{o}}")
        names = _tuple(entry["names"], f"{code} names")
        if not objects:  # a facility class: its component name is a name too
            base = catalog[code].name.replace("异常", "")
            names = tuple(dict.fromkeys((base, *names)))
        classes[code] = ClassPhrases(
            code=code,
            name=catalog[code].name,
            names=names,
            objects=objects,
            problems=tuple(dict.fromkeys(problems)),
            details=_tuple(entry.get("details", []), f"{code} details"),
        )
    return PhraseBook(
        version=data["version"], source=data["source"], classes=classes, context=context
    )


@cache
def phrase_book() -> PhraseBook:
    """Return the packaged phrasing data, read and checked once per process."""
    text = (files("cityops.cases") / "data" / PHRASES_FILE).read_text(encoding="utf-8")
    return parse_phrases(json.loads(text))


# --------------------------------------------------------------------------- generating


def _fill(template: str, values: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), template)


def _tidy(text: str) -> str:
    """Drop the punctuation left doubled, leading or trailing by empty parts."""
    text = _PUNCT_RUNS.sub(r"\1", text)
    text = _LEADING_PUNCT.sub("", text)
    return _TRAILING_PUNCT.sub("", text).strip()


class _Writer:
    """Writes texts for one class from one random stream."""

    def __init__(self, book: PhraseBook, entry: ClassPhrases, rng: random.Random) -> None:
        self.ctx = book.context
        self.entry = entry
        self.rng = rng

    def pick(self, name: str) -> str:
        return self.rng.choice(self.ctx[name])

    def place(self) -> str:
        roads = self.rng.sample(self.ctx["roads"], 2)
        values = {
            "road": roads[0],
            "road2": roads[1],
            "estate": self.pick("estates"),
            "landmark": self.pick("landmarks"),
            "num": str(self.rng.choice((self.rng.randint(1, 30), self.rng.randint(1, 999)))),
            "exit": str(self.rng.randint(1, 8)),
        }
        return _fill(self.pick("place_templates"), values)

    def core(self) -> str:
        entry, rng = self.entry, self.rng
        roll = rng.random()
        if roll < 0.08:
            return entry.name
        if roll < 0.2:
            return _fill(self.pick("name_templates"), {"n": rng.choice(entry.names)})
        problem = rng.choice(entry.problems)
        if entry.objects:
            return problem.replace("{o}", rng.choice(entry.objects))
        return _fill(self.pick("facility_templates"), {"o": rng.choice(entry.names), "p": problem})

    def detail(self) -> str:
        parts = []
        if self.entry.details and self.rng.random() < 0.4:
            parts.append(self.rng.choice(self.entry.details))
        if self.rng.random() < 0.3:
            parts.append(self.pick("generic_details"))
        self.rng.shuffle(parts)
        return "，".join(parts)

    def text(self) -> str:
        rng = self.rng
        style = rng.choices(_STYLES, _STYLE_WEIGHTS)[0]
        template = self.pick(f"{style}_templates")
        values = {
            "core": self.core(),
            "loc": self.place() if "{loc}" in template else "",
            "time": self.pick("times") if rng.random() < 0.4 else "",
            "detail": self.detail(),
            "open": self.pick("hotline_openers"),
            "close": self.pick("hotline_closers") if rng.random() < 0.8 else "",
            "tail": self.pick("wechat_tails"),
        }
        values["estate"] = self.pick("estates")
        text = _fill(template, values)
        text = _fill(text, values)  # an opener may itself name an estate
        if rng.random() < 0.1:
            noise = self.pick("noise")
            text = f"{noise}，{text}" if rng.random() < 0.5 else f"{text}，{noise}"
        return _tidy(text)


def generate(seed: int = DEFAULT_SEED, per_class: int = DEFAULT_PER_CLASS) -> list[tuple[str, str]]:
    """Return ``per_class`` generated (text, code) pairs for every matter class.

    Deterministic: each class draws from its own ``random.Random`` seeded with ``seed`` and the
    class code, so the same arguments always give the same list (classes in code order, texts
    of one class together). Texts within a class are distinct where the phrasing allows.
    """
    if per_class < 1:
        raise ValueError("per_class must be at least 1")
    book = phrase_book()
    pairs: list[tuple[str, str]] = []
    for code, entry in book.classes.items():
        writer = _Writer(book, entry, random.Random(f"{seed}:{code}"))
        seen: set[str] = set()
        texts: list[str] = []
        attempts = 0
        while len(texts) < per_class:
            text = writer.text()
            attempts += 1
            if text not in seen or attempts > per_class * 20:
                seen.add(text)
                texts.append(text)
        pairs.extend((text, code) for text in texts)
    return pairs


def split(
    pairs: Sequence[tuple[str, str]],
    *,
    holdout: float = DEFAULT_HOLDOUT,
    seed: int = SPLIT_SEED,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Split (text, code) pairs into (train, held-out), stratified by code and deterministic.

    About ``holdout`` of each class is held out (at least one text for a class with two or
    more); both parts keep the input order.
    """
    if not 0 < holdout < 1:
        raise ValueError("holdout must be between 0 and 1")
    by_code: dict[str, list[int]] = {}
    for i, (_, code) in enumerate(pairs):
        by_code.setdefault(code, []).append(i)
    rng = random.Random(f"split:{seed}")
    held: set[int] = set()
    for code in sorted(by_code):
        members = by_code[code]
        if len(members) >= 2:
            count = min(len(members) - 1, max(1, round(len(members) * holdout)))
            held.update(rng.sample(members, count))
    train = [pair for i, pair in enumerate(pairs) if i not in held]
    test = [pair for i, pair in enumerate(pairs) if i in held]
    return train, test


def holdout_appeals() -> list[tuple[str, str]]:
    """Return the hand-written appeals of ``data/holdout-appeals.csv`` as (text, code) pairs."""
    raw = (files("cityops.cases") / "data" / HOLDOUT_FILE).read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(raw, newline=""))
    header = tuple(next(reader, ()))
    if header != HOLDOUT_COLUMNS:
        raise ValueError(f"{HOLDOUT_FILE}: header {header!r} is not {HOLDOUT_COLUMNS!r}")
    known = matter_classes()
    pairs: list[tuple[str, str]] = []
    for row in reader:
        if len(row) != len(HOLDOUT_COLUMNS) or row[0] not in known or not row[2].strip():
            raise ValueError(f"{HOLDOUT_FILE} line {reader.line_num}: bad row {row!r}")
        pairs.append((row[2], row[0]))
    return pairs


# --------------------------------------------------------------------------- the seed model


def build_seed_model(
    *,
    seed: int = DEFAULT_SEED,
    per_class: int = DEFAULT_PER_CLASS,
    holdout: float = DEFAULT_HOLDOUT,
    trained_at: str | None = None,
    settings: TrainSettings | None = None,
) -> TextClassifier:
    """Generate the corpus, train on its training part and record the accuracy figures.

    The model is trained on the training split only, so the held-out split stays honest; its
    metadata gets the corpus settings, the training time and ``accuracy`` on the generated
    held-out split and on the hand-written appeals.
    """
    pairs = generate(seed, per_class)
    train, test = split(pairs, holdout=holdout)
    book = phrase_book()
    started = time.perf_counter()
    model = TextClassifier.train(
        [t for t, _ in train],
        [c for _, c in train],
        seed=MODEL_SEED,
        settings=settings,
        metadata={
            "trained_at": trained_at,
            "standard": STANDARD,
            "corpus": {
                "generator": "cityops.cases.corpus",
                "phrases_version": book.version,
                "seed": seed,
                "per_class": per_class,
                "holdout": holdout,
                "split_seed": SPLIT_SEED,
                "n_train": len(train),
                "n_heldout": len(test),
            },
        },
    )
    train_seconds = time.perf_counter() - started
    appeals = holdout_appeals()
    accuracy = {
        "generated_heldout": model.evaluate([t for t, _ in test], [c for _, c in test]),
        "holdout_appeals": model.evaluate([t for t, _ in appeals], [c for _, c in appeals]),
    }
    return model.with_metadata({"accuracy": accuracy, "train_seconds": round(train_seconds, 1)})


def _default_out() -> Path:
    return Path(str(files("cityops.cases") / "data" / SEED_MODEL_FILE))


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the seed model file and print its accuracy figures."""
    parser = argparse.ArgumentParser(
        prog="python -m cityops.cases.corpus", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=_default_out(), help="model file to write")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--per-class", type=int, default=DEFAULT_PER_CLASS)
    parser.add_argument("--holdout", type=float, default=DEFAULT_HOLDOUT)
    parser.add_argument(
        "--trained-at", help="ISO time to record (default: now, UTC, to the second)"
    )
    args = parser.parse_args(argv)
    trained_at = args.trained_at or datetime.now(UTC).replace(microsecond=0).isoformat()
    model = build_seed_model(
        seed=args.seed, per_class=args.per_class, holdout=args.holdout, trained_at=trained_at
    )
    model.save(args.out)
    meta = model.metadata
    accuracy = meta["accuracy"]
    assert isinstance(accuracy, dict)
    out = sys.stdout
    out.write(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)\n")
    out.write(
        f"documents {meta['n_documents']}, classes {meta['n_classes']}, "
        f"features {meta['n_features']}, weights {meta['n_weights']}, "
        f"converged {meta['converged']}, trained in {meta['train_seconds']} s\n"
    )
    for name, figures in accuracy.items():
        out.write(
            f"{name:>18}: n={int(figures['n'])} top1={figures['top1']:.3f} "
            f"top3={figures['top3']:.3f}\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
