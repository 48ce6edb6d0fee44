"""Case ids drawn ahead in blocks: unique, in order, no gaps when quiet, big blocks when busy."""

from __future__ import annotations

import threading

from hypothesis import given
from hypothesis import strategies as st

from cityops.storage.case_ids import BLOCK_LIFETIME_SECONDS, MAX_BLOCK, CaseIdBlocks


class FakeSequence:
    """nextval, many at a time, with a record of how many each draw asked for."""

    def __init__(self) -> None:
        self.last = 0
        self.draws: list[int] = []

    def draw(self, count: int) -> list[int]:
        self.draws.append(count)
        first = self.last + 1
        self.last += count
        return list(range(first, self.last + 1))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _blocks() -> tuple[CaseIdBlocks, FakeSequence, FakeClock]:
    sequence, clock = FakeSequence(), FakeClock()
    return CaseIdBlocks(sequence.draw, monotonic=clock), sequence, clock


def test_a_quiet_city_draws_one_id_at_a_time_and_leaves_no_gaps() -> None:
    blocks, sequence, clock = _blocks()
    taken = []
    for _ in range(5):
        taken.append(blocks.take())
        clock.now += 2 * BLOCK_LIFETIME_SECONDS
    assert taken == [1, 2, 3, 4, 5]
    assert sequence.draws == [1, 1, 1, 1, 1]


def test_a_busy_process_doubles_its_blocks_up_to_the_maximum() -> None:
    blocks, sequence, _ = _blocks()
    taken = [blocks.take() for _ in range(1000)]
    assert taken == list(range(1, 1001))  # no time passes: every block is used up fresh
    assert sequence.draws[:8] == [1, 2, 4, 8, 16, 32, 64, 64]
    assert max(sequence.draws) == MAX_BLOCK


def test_an_outlived_block_is_dropped_and_the_next_asks_for_what_was_used() -> None:
    blocks, sequence, clock = _blocks()
    for _ in range(1 + 2 + 4):  # blocks of 1, 2 and 4 used up
        blocks.take()
    blocks.take()  # the first of a block of 8
    blocks.take()
    clock.now += BLOCK_LIFETIME_SECONDS  # the block of 8 outlives its second with 6 left
    after = blocks.take()
    assert after == 16  # 10..15 are dropped: a gap, as a rolled-back insert leaves
    assert sequence.draws == [1, 2, 4, 8, 2]


@given(st.lists(st.floats(min_value=0, max_value=3 * BLOCK_LIFETIME_SECONDS), max_size=200))
def test_ids_always_increase_whatever_the_pauses(pauses: list[float]) -> None:
    blocks, sequence, clock = _blocks()
    taken = []
    for pause in pauses:
        clock.now += pause
        taken.append(blocks.take())
    assert taken == sorted(set(taken))
    assert all(1 <= size <= MAX_BLOCK for size in sequence.draws)


@given(st.lists(st.floats(min_value=0, max_value=0.01), min_size=1, max_size=90))
def test_within_a_blocks_lifetime_no_id_is_skipped(pauses: list[float]) -> None:
    blocks, _, clock = _blocks()
    taken = []
    for pause in pauses:  # at most 0.9 s in all: no block outlives its second
        clock.now += pause
        taken.append(blocks.take())
    assert taken == list(range(1, len(pauses) + 1))


def test_threads_never_get_the_same_id() -> None:
    blocks, _, _ = _blocks()
    taken: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        mine = [blocks.take() for _ in range(500)]
        with lock:
            taken.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == len(set(taken)) == 4000
