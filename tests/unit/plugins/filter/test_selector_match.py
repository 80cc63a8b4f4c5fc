# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""selector_match: label selector semantics as the Kubernetes API defines them."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.kubenet.netpol.plugins.filter.selector_match import FilterModule, selector_match

WEB_FRONT = {"app": "web", "tier": "front"}


@pytest.mark.parametrize("labels, selector, expected", [
    # The empty selector selects everything, even an object without labels.
    (WEB_FRONT, {}, True),
    (None, {}, True),
    ({}, {"matchLabels": {}, "matchExpressions": []}, True),
    # matchLabels: every pair must be present with that exact value.
    (WEB_FRONT, {"matchLabels": {"app": "web"}}, True),
    (WEB_FRONT, {"matchLabels": {"app": "web", "tier": "back"}}, False),
    (WEB_FRONT, {"matchLabels": {"env": "prod"}}, False),
    # In / NotIn: NotIn also selects objects that lack the key.
    (WEB_FRONT, {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["back", "front"]}]}, True),
    (WEB_FRONT, {"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}, False),
    (WEB_FRONT, {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]}, False),
    (WEB_FRONT, {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}, True),
    # Exists / DoesNotExist look at the key only.
    ({"app": ""}, {"matchExpressions": [{"key": "app", "operator": "Exists"}]}, True),
    (WEB_FRONT, {"matchExpressions": [{"key": "env", "operator": "Exists"}]}, False),
    (WEB_FRONT, {"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}, True),
    (WEB_FRONT, {"matchExpressions": [{"key": "app", "operator": "DoesNotExist", "values": []}]}, False),
    # matchLabels and every expression are ANDed.
    (WEB_FRONT, {"matchLabels": {"app": "web"},
                 "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]},
                                      {"key": "env", "operator": "DoesNotExist"}]}, True),
    (WEB_FRONT, {"matchLabels": {"app": "web"},
                 "matchExpressions": [{"key": "tier", "operator": "In", "values": ["back"]}]}, False),
])
def test_selector_semantics(labels, selector, expected):
    assert selector_match(labels, selector) is expected


@pytest.mark.parametrize("selector, field", [
    ({"matchExpressions": [{"key": "app", "operator": "in", "values": ["web"]}]}, "matchExpressions[0].operator"),
    ({"matchExpressions": [{"key": "app", "operator": "In"}]}, "matchExpressions[0].values"),
    ({"matchExpressions": [{"key": "app", "operator": "Exists", "values": ["web"]}]}, "matchExpressions[0].values"),
    ({"matchLabel": {"app": "web"}}, "matchLabel"),
    ({"matchLabels": {"app": 1}}, "matchLabels.app"),
])
def test_an_invalid_selector_is_refused_naming_the_field(selector, field):
    with pytest.raises(AnsibleFilterError) as raised:
        selector_match(WEB_FRONT, selector)
    assert "selector: %s: " % field in str(raised.value)


def test_an_absent_selector_is_refused_not_read_as_select_all():
    with pytest.raises(AnsibleFilterError, match="invalid selector"):
        selector_match(WEB_FRONT, None)


@pytest.mark.parametrize("labels", [["app=web"], {"version": 2}])
def test_labels_must_map_strings_to_strings(labels):
    with pytest.raises(AnsibleFilterError, match="labels must be a mapping of strings to strings"):
        selector_match(labels, {})


def test_the_plugin_registers_the_filter():
    assert FilterModule().filters() == {"selector_match": selector_match}
