"""The shared JSON-array splitter (auditor.ingest.jsonarray): it cuts an array exactly as
`json` does, whatever the read size, and names where a damaged array breaks."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.ingest.jsonarray import BOM, ArrayDamaged, array_elements

_TEXT = st.text(alphabet=st.sampled_from(list('ab"\\[]{},: \n\u00e9\u2603')), max_size=12)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(
    items=st.lists(_VALUES, max_size=6),
    chunk=st.integers(1, 9),
    indent=st.sampled_from([None, 1]),
    bom=st.booleans(),
)
def test_elements_are_those_json_reads_whatever_the_read_size(
    items: list[Any], chunk: int, indent: int | None, bom: bool
) -> None:
    data = (BOM if bom else b"") + json.dumps(items, indent=indent, ensure_ascii=False).encode()
    out = list(array_elements(io.BytesIO(data), 1 << 20, chunk=chunk))
    assert [json.loads(e.data or b"") for e in out] == items
    assert [e.number for e in out] == list(range(1, len(items) + 1))


def test_an_element_over_the_cap_is_skipped_and_the_next_one_read() -> None:
    data = json.dumps([{"a": "x" * 100}, {"b": 1}]).encode()
    out = list(array_elements(io.BytesIO(data), 50, chunk=7))
    assert [(e.number, e.data) for e in out] == [(1, None), (2, b'{"b": 1}')]


@pytest.mark.parametrize(
    ("data", "elements", "number", "reason"),
    [
        (b'{"a": 1}', 0, 1, "not a JSON array"),
        (b'[{"a": 1}', 1, 2, "the file ends before the JSON array is closed"),
        (b'[{"a": 1}, ', 1, 2, "the file ends before the JSON array is closed"),
        (b'[{"a": "unterminated', 0, 1, "the file ends inside a record (truncated)"),
        (b'[{"a": 1} {"b": 2}]', 1, 2, "the JSON array is malformed here (a missing comma?)"),
        (b'[{"a": 1}] trailing', 1, 2, "unexpected data after the end of the JSON array"),
    ],
)
def test_a_damaged_array_stops_reading_where_it_breaks(
    data: bytes, elements: int, number: int, reason: str
) -> None:
    got = []
    with pytest.raises(ArrayDamaged) as caught:
        got.extend(array_elements(io.BytesIO(data), 1 << 20, chunk=4))
    assert len(got) == elements
    assert (caught.value.number, caught.value.reason) == (number, reason)


@pytest.mark.parametrize("data", [b"[]", b" \n[ ]\n", BOM + b"[]"])
def test_an_empty_array_has_no_elements(data: bytes) -> None:
    assert list(array_elements(io.BytesIO(data), 100)) == []
