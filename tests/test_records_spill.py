"""Memory flat in run length: records no window will read again are spilled
to an anonymous temporary file and read back identically."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from perfanalyzer.records import (
    COLUMNS,
    INITIAL_CAPACITY,
    MAX_ERROR_MESSAGES,
    OVERFLOW_ERROR,
    RecordBuffer,
)


def _fill(buf: RecordBuffer, lo: int, hi: int) -> None:
    for i in range(lo, hi):
        status = buf.error_code(f"e{i % 3}") if i % 7 == 0 else 0
        buf.add_full(i, i + 1, i + 2, i + 3 + (i % 5 == 0), status, 1 + (i % 4 == 0), i % 9)


def _same(a: RecordBuffer, b: RecordBuffer, lo: int, hi: int) -> None:
    va, vb = a.view(lo, hi), b.view(lo, hi)
    for name, _ in COLUMNS:
        assert np.array_equal(getattr(va, name), getattr(vb, name)), name
    assert va.errors == vb.errors


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(0, 3000), max_size=6), lo=st.integers(0, 3000),
       span=st.integers(0, 3000))
def test_spilled_records_read_back_identically(cuts: list[int], lo: int, span: int) -> None:
    plain, spilled = RecordBuffer(), RecordBuffer()
    done = 0
    for cut in [*sorted(cuts), 3000]:
        _fill(plain, done, max(done, cut))
        _fill(spilled, done, max(done, cut))
        done = max(done, cut)
        spilled.spill_before(cut // 2)
    hi = min(3000, lo + span)
    lo = min(lo, hi)
    _same(plain, spilled, lo, hi)
    _same(plain, spilled, 0, 3000)
    for t in (0, lo + 3, hi + 2, 5000):
        assert plain.index_at(t, lo) == spilled.index_at(t, lo)
    if hi > lo:
        assert plain.last_at(lo) == spilled.last_at(lo)
    spilled.close()


def test_memory_stays_flat_when_windows_are_spilled() -> None:
    buf = RecordBuffer()
    window = 10_000
    for w in range(50):  # 500k records; only the last three windows stay in memory
        _fill(buf, w * window, (w + 1) * window)
        buf.spill_before(max(0, (w - 2) * window))
    assert buf.count == 500_000
    assert buf.capacity <= 4 * max(3 * window, INITIAL_CAPACITY)
    assert int(buf.view(0, 1).sent[0]) == 1 and int(buf.view(499_999).sent[0]) == 500_000
    buf.close()


def test_error_table_is_bounded() -> None:
    buf = RecordBuffer()
    codes = {buf.error_code(f"unique {i}") for i in range(5 * MAX_ERROR_MESSAGES)}
    assert len(buf.errors) == MAX_ERROR_MESSAGES
    assert buf.errors[buf.error_code("yet another")] == OVERFLOW_ERROR
    assert max(codes) < MAX_ERROR_MESSAGES


def test_a_spill_file_held_in_a_reference_cycle_is_closed_without_a_warning() -> None:
    """A run's buffer can sit in a reference cycle; when the collector frees it, its spill file is
    closed first (no "unclosed file" ResourceWarning, which pytest turns into a failure of
    whatever test the collection happens in)."""
    import gc
    import os
    import warnings

    buf = RecordBuffer()
    cycle: list[object] = [buf]
    cycle.append(cycle)
    _fill(buf, 0, 100)
    # The collector finalizes an unreachable cycle in the order of its lists; put the file ahead
    # of the buffer there (the buffer older but frozen while the file ages), as a run in a
    # process that froze the collector left them (the order in which CI met the warning).
    gc.freeze()
    try:
        buf.spill_before(50)
        gc.collect()
    finally:
        gc.unfreeze()
    assert buf._spill is not None
    fd = buf._spill.fileno()
    del buf, cycle
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)], caught
    try:
        os.fstat(fd)
    except OSError:
        pass  # closed
    else:
        raise AssertionError(f"the spill file (fd {fd}) is still open")
