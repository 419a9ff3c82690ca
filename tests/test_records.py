"""The one record type: window slicing, error interning, merging worker buffers."""

from __future__ import annotations

import numpy as np

from perfanalyzer.records import RecordBuffer, RecordSlice


def test_add_grows_and_keeps_order() -> None:
    buf = RecordBuffer(capacity=4)
    for i in range(10):
        buf.add(i * 10, i * 10 + 1, i * 10 + 5, 0)
    assert buf.count == 10
    v = buf.view()
    assert v.sent.tolist() == [i * 10 + 1 for i in range(10)]
    assert v.last.tolist() == [i * 10 + 5 for i in range(10)]
    assert v.responses.tolist() == [1] * 10


def test_window_edges_are_inclusive_and_count_each_request_once() -> None:
    buf = RecordBuffer()
    for t in (5, 10, 10, 15, 20, 25):
        buf.add(0, 0, t)
    # windows (0, 10], (10, 20], (20, 30]
    lo = buf.index_at(0)
    mid = buf.index_at(10, lo)
    hi = buf.index_at(20, mid)
    end = buf.index_at(30, hi)
    assert (lo, mid, hi, end) == (0, 3, 5, 6)


def test_error_codes_are_interned_and_remapped_on_extend() -> None:
    a = RecordBuffer()
    a.add(0, 0, 1, a.error_code("boom"))
    b = RecordBuffer()
    b.add(0, 0, 2, b.error_code("other"))
    b.add(0, 0, 3, b.error_code("boom"))
    b.add(0, 0, 4, 0)
    a.extend(b.view())
    v = a.view()
    assert [v.errors[c] for c in v.status.tolist()] == ["boom", "other", "boom", ""]
    merged = RecordSlice.concat([b.view(), b.view()])
    assert len(merged) == 6
    assert int((merged.status != 0).sum()) == 4


def test_structured_export_roundtrip() -> None:
    buf = RecordBuffer()
    buf.add_full(1, 2, 3, 4, 0, 3, 77)
    arr = buf.view().to_structured()
    assert arr["responses"][0] == 3 and arr["sequence"][0] == 77
    assert arr.dtype.names is not None and "intended" in arr.dtype.names
    assert np.all(arr["last"] >= arr["first"])
