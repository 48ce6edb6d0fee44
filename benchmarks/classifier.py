"""Benchmark the matter-class text classifier: accuracy, size, training time and latency.

Prints, in one run:
  * training time (the documented seed-model settings) and the saved model's size;
  * top-1 / top-3 accuracy on the generated held-out split and on the hand-written appeals
    (``cityops/cases/data/holdout-appeals.csv``, the honest figure);
  * "auto-dispatch": the share of hold-out texts whose top-1 confidence is at least
    ``--threshold``, and how many of those are right;
  * ``suggest()`` latency p50/p99 over the hold-out texts after warm-up, as wall time and as
    the calling thread's CPU time (the CPU figure does not count time the thread waited for a
    core on a busy machine), next to the cost of feature extraction alone (the floor: jieba +
    n-grams, before any arithmetic).

Usage:
  python benchmarks/classifier.py                      # train afresh with the seed settings
  python benchmarks/classifier.py --shipped            # measure the shipped seed model instead
  python benchmarks/classifier.py --threshold 0.8 --per-class 60
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from cityops.cases.classifier import TextClassifier, seed_model
from cityops.cases.corpus import (
    DEFAULT_PER_CLASS,
    DEFAULT_SEED,
    build_seed_model,
    generate,
    holdout_appeals,
    split,
)
from cityops.cases.text_features import features


def _percentiles(samples: Sequence[float]) -> tuple[float, float]:
    """Return (p50, p99) of samples in milliseconds."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49] * 1e3, cuts[98] * 1e3


def _latency(call: Callable[[str], object], texts: Sequence[str], rounds: int) -> dict[str, float]:
    """Time ``call`` on every text ``rounds`` times, after one warm-up pass."""
    for text in texts:
        call(text)
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(rounds):
        for text in texts:
            w0, c0 = time.perf_counter(), time.thread_time()
            call(text)
            cpu.append(time.thread_time() - c0)
            wall.append(time.perf_counter() - w0)
    wall50, wall99 = _percentiles(wall)
    cpu50, cpu99 = _percentiles(cpu)
    return {"wall_p50": wall50, "wall_p99": wall99, "cpu_p50": cpu50, "cpu_p99": cpu99}


def _auto_dispatch(
    model: TextClassifier, pairs: Sequence[tuple[str, str]], threshold: float
) -> tuple[int, int]:
    """Return (texts whose top-1 confidence >= threshold, of those the correct ones)."""
    confident = correct = 0
    for text, code in pairs:
        best = model.suggest(text, k=1)[0]
        if best.confidence >= threshold:
            confident += 1
            correct += best.code == code
    return confident, correct


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=0.6, help="auto-dispatch confidence")
    parser.add_argument("--per-class", type=int, default=DEFAULT_PER_CLASS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--rounds", type=int, default=5, help="latency passes over the texts")
    parser.add_argument("--shipped", action="store_true", help="use the shipped seed model")
    args = parser.parse_args()

    _, heldout = split(generate(args.seed, args.per_class))
    appeals = holdout_appeals()
    if args.shipped:
        model = seed_model()
        print("model: shipped seed model (not retrained)")
    else:
        started = time.perf_counter()
        model = build_seed_model(seed=args.seed, per_class=args.per_class)
        print(
            f"training (generate + split + fit + evaluate): {time.perf_counter() - started:.1f} s"
        )
    meta = model.metadata
    print(
        f"fit time recorded in the model: {meta.get('train_seconds')} s; documents "
        f"{meta.get('n_documents')}, classes {meta.get('n_classes')}, features "
        f"{meta.get('n_features')}, weights kept {meta.get('n_weights')}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.npz"
        model.save(path)
        size = path.stat().st_size
        started = time.perf_counter()
        TextClassifier.load(path)
        load_ms = (time.perf_counter() - started) * 1e3
    print(f"model file: {size / 1e6:.2f} MB; load: {load_ms:.0f} ms")

    print(
        f"\n{'hold-out':<22}{'n':>6}{'top-1':>8}{'top-3':>8}   auto-dispatch (>= {args.threshold})"
    )
    for name, pairs in (("generated held-out", heldout), ("hand-written appeals", appeals)):
        figures = model.evaluate([t for t, _ in pairs], [c for _, c in pairs])
        confident, correct = _auto_dispatch(model, pairs, args.threshold)
        share = confident / len(pairs)
        right = correct / confident if confident else float("nan")
        print(
            f"{name:<22}{len(pairs):>6}{figures['top1']:>8.3f}{figures['top3']:>8.3f}   "
            f"{share:.1%} of texts, {right:.1%} of those correct ({correct}/{confident})"
        )

    texts = [t for t, _ in appeals] + [t for t, _ in heldout[:500]]
    settings = model.settings
    floor = _latency(lambda text: features(text, settings), texts, args.rounds)
    full = _latency(lambda text: model.suggest(text), texts, args.rounds)
    print(f"\nlatency over {len(texts)} texts x {args.rounds} (ms)   wall p50/p99    cpu p50/p99")
    for name, figures in (("features() only (floor)", floor), ("suggest(k=3)", full)):
        print(
            f"{name:<28}{figures['wall_p50']:>8.3f} /{figures['wall_p99']:>7.3f}"
            f"{figures['cpu_p50']:>10.3f} /{figures['cpu_p99']:>7.3f}"
        )


if __name__ == "__main__":
    main()
