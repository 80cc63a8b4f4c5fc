# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Label selectors: the plain predicate, and an index that answers the same faster.

The predicate is the definition; the index exists because resolving 1,000 policies
against 10,000 pods one pod at a time is too slow. Tests hold the two equal.
"""

from __future__ import annotations


def requirement_matches(requirement, labels):
    """One matchExpressions entry; NotIn and DoesNotExist match objects lacking the key."""
    present = requirement.key in labels
    if requirement.operator == "In":
        return present and labels[requirement.key] in requirement.values
    if requirement.operator == "NotIn":
        return not present or labels[requirement.key] not in requirement.values
    if requirement.operator == "Exists":
        return present
    if requirement.operator == "DoesNotExist":
        return not present
    raise ValueError("unknown selector operator %r" % requirement.operator)


def selector_matches(selector, labels):
    """matchLabels and matchExpressions, all ANDed; the empty selector matches everything."""
    for key, value in selector.match_labels:
        if labels.get(key) != value:
            return False
    return all(requirement_matches(requirement, labels) for requirement in selector.match_expressions)


class LabelIndex:
    """Objects (any hashable) indexed by their labels, for fast selector evaluation.

    labels_of(obj) gives the object's labels as (key, value) pairs. Only (key, value) pairs
    index objects; the objects having a key are the union over its values, made when asked.
    """

    def __init__(self, objects, labels_of):
        self.all = frozenset(objects)
        self._by_pair = {}
        self._values = {}
        for obj in self.all:
            for key, value in labels_of(obj):
                self._by_pair.setdefault((key, value), set()).add(obj)
                self._values.setdefault(key, set()).add(value)
        self._with_key = {}
        self._cache = {}

    def _having(self, key):
        if key not in self._with_key:
            self._with_key[key] = frozenset().union(*(self._by_pair[(key, value)] for value in self._values.get(key, ())))
        return self._with_key[key]

    def _requirement(self, requirement):
        if requirement.operator == "In":
            found = set()
            for value in requirement.values:
                found |= self._by_pair.get((requirement.key, value), set())
            return found
        if requirement.operator == "NotIn":
            excluded = set()
            for value in requirement.values:
                excluded |= self._by_pair.get((requirement.key, value), set())
            return self.all - excluded
        if requirement.operator == "Exists":
            return self._having(requirement.key)
        if requirement.operator == "DoesNotExist":
            return self.all - self._having(requirement.key)
        raise ValueError("unknown selector operator %r" % requirement.operator)

    def select(self, selector):
        """The frozenset of indexed objects the selector matches (cached per selector)."""
        if selector in self._cache:
            return self._cache[selector]
        result = None
        for key, value in selector.match_labels:
            found = self._by_pair.get((key, value), set())
            result = set(found) if result is None else result & found
        for requirement in selector.match_expressions:
            found = self._requirement(requirement)
            result = set(found) if result is None else result & found
        selected = self.all if result is None else frozenset(result)
        self._cache[selector] = selected
        return selected
