"""The query-disjoint split: disjoint, fixed by its seed, every split used."""

from __future__ import annotations

import pytest

from fixate.data.adserp.split import QuerySplit, query_split

QUERIES = [f"buy-thing-{i}" for i in range(40)]


def test_no_query_is_in_two_splits_and_all_are_assigned():
    split = query_split(QUERIES * 3, seed=42)  # repeated queries: one unit each
    parts = [set(split.train), set(split.val), set(split.test)]
    assert sum(map(len, parts)) == len(QUERIES)
    assert set().union(*parts) == set(QUERIES)
    assert (len(split.test), len(split.val), len(split.train)) == (8, 6, 26)
    assert split.mapping()[split.test[0]] == "test"


def test_the_seed_fixes_the_split_and_the_input_order_does_not_matter():
    a = query_split(QUERIES, seed=7)
    assert query_split(list(reversed(QUERIES)), seed=7) == a
    assert query_split(QUERIES, seed=8).test != a.test
    assert QuerySplit.from_dict(a.as_dict()) == a


def test_few_queries_still_give_every_split_one():
    split = query_split(["a", "b", "c"], seed=1)
    assert sorted(map(len, (split.train, split.val, split.test))) == [1, 1, 1]
    assert query_split(["a", "b"], seed=1).train == ("a", "b")
    with pytest.raises(ValueError, match="leave some queries for training"):
        query_split(QUERIES, test_fraction=0.6, val_fraction=0.4)
