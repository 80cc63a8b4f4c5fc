# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Label selector semantics (the Kubernetes LabelSelector rules), and the index held equal to them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import LabelSelector, Requirement
from ansible_collections.kubenet.netpol.plugins.module_utils.engine.selectors import (
    LabelIndex, requirement_matches, selector_matches)

WEB = {"app": "web", "tier": "front"}
NO_APP = {"tier": "front"}


def labels_selector(**labels):
    return LabelSelector(match_labels=tuple(sorted(labels.items())))


def expression_selector(key, operator, *values):
    return LabelSelector(match_expressions=(Requirement(key, operator, tuple(values)),))


@pytest.mark.parametrize("operator, values, labels, expected", [
    ("In", ("web", "api"), WEB, True),
    ("In", ("api",), WEB, False),
    ("In", ("web",), NO_APP, False),          # a missing key is in no set
    ("NotIn", ("web",), WEB, False),
    ("NotIn", ("api", "db"), WEB, True),
    ("NotIn", ("web",), NO_APP, True),        # NotIn matches objects lacking the key
    ("Exists", (), WEB, True),
    ("Exists", (), NO_APP, False),
    ("DoesNotExist", (), WEB, False),
    ("DoesNotExist", (), NO_APP, True),       # DoesNotExist matches exactly those lacking it
])
def test_each_operator_on_present_and_missing_keys(operator, values, labels, expected):
    requirement = Requirement("app", operator, values)
    assert requirement_matches(requirement, labels) is expected
    assert selector_matches(LabelSelector(match_expressions=(requirement,)), labels) is expected


def test_exists_matches_an_empty_value():
    assert selector_matches(expression_selector("app", "Exists"), {"app": ""})
    assert not selector_matches(expression_selector("app", "DoesNotExist"), {"app": ""})


def test_match_labels_needs_the_exact_value():
    assert selector_matches(labels_selector(app="web"), WEB)
    assert not selector_matches(labels_selector(app="Web"), WEB)
    assert not selector_matches(labels_selector(app="web"), NO_APP)


def test_empty_selector_matches_everything_even_without_labels():
    assert selector_matches(LabelSelector(), {})
    assert selector_matches(LabelSelector(), WEB)


def test_match_labels_and_expressions_are_anded():
    selector = LabelSelector(match_labels=(("tier", "front"),),
                             match_expressions=(Requirement("app", "In", ("web",)),
                                                Requirement("canary", "DoesNotExist")))
    assert selector_matches(selector, WEB)
    assert not selector_matches(selector, dict(WEB, canary="true"))
    assert not selector_matches(selector, dict(WEB, tier="back"))
    assert not selector_matches(selector, NO_APP)


def test_unknown_operator_is_an_error_not_a_silent_match():
    selector = expression_selector("app", "Gt", "1")
    with pytest.raises(ValueError):
        selector_matches(selector, WEB)
    with pytest.raises(ValueError):
        LabelIndex(["a"], lambda obj: WEB.items()).select(selector)


class TestLabelIndex:
    OBJECTS = {"a": {"app": "web", "env": "prod"}, "b": {"app": "api", "env": "prod"}, "c": {"app": "web"}, "d": {}}

    def select(self, selector):
        return LabelIndex(self.OBJECTS, lambda name: self.OBJECTS[name].items()).select(selector)

    def test_empty_selector_selects_every_object_including_unlabelled(self):
        assert self.select(LabelSelector()) == frozenset("abcd")

    def test_not_in_and_does_not_exist_include_objects_lacking_the_key(self):
        assert self.select(expression_selector("env", "NotIn", "prod")) == frozenset("cd")
        assert self.select(expression_selector("env", "DoesNotExist")) == frozenset("cd")
        assert self.select(expression_selector("app", "NotIn", "web")) == frozenset("bd")

    def test_in_is_a_union_of_values_and_labels_intersect(self):
        assert self.select(expression_selector("app", "In", "web", "api")) == frozenset("abc")
        assert self.select(labels_selector(app="web", env="prod")) == frozenset("a")

    def test_no_object_matched_is_an_empty_set(self):
        assert self.select(labels_selector(app="db")) == frozenset()
        assert self.select(expression_selector("zone", "Exists")) == frozenset()

    def test_repeated_selection_answers_the_same(self):
        index = LabelIndex(self.OBJECTS, lambda name: self.OBJECTS[name].items())
        selector = expression_selector("app", "Exists")
        assert index.select(selector) == frozenset("abc")
        assert index.select(selector) == frozenset("abc")


KEYS = st.sampled_from(["app", "tier", "env"])
VALUES = st.sampled_from(["a", "b", "c"])
LABELS = st.dictionaries(KEYS, VALUES, max_size=3)


@st.composite
def requirements(draw):
    operator = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
    values = ()
    if operator in ("In", "NotIn"):
        values = tuple(sorted(draw(st.sets(VALUES, min_size=1, max_size=3))))
    return Requirement(draw(KEYS), operator, values)


SELECTORS = st.builds(
    LabelSelector,
    st.dictionaries(KEYS, VALUES, max_size=2).map(lambda labels: tuple(sorted(labels.items()))),
    st.lists(requirements(), max_size=3).map(tuple),
)


@settings(max_examples=60, deadline=None)
@given(objects=st.lists(LABELS, max_size=12), selectors=st.lists(SELECTORS, min_size=1, max_size=4))
def test_index_selects_exactly_what_the_predicate_matches(objects, selectors):
    index = LabelIndex(range(len(objects)), lambda number: objects[number].items())
    for selector in selectors:
        expected = frozenset(number for number, labels in enumerate(objects) if selector_matches(selector, labels))
        assert index.select(selector) == expected
