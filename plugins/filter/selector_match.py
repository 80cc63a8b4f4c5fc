# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""selector_match: does a Kubernetes label selector select an object with these labels?"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def _labels(labels):
    """Labels as the API holds them: strings to strings; null (no labels) is none."""
    if labels is None:
        return {}
    if not isinstance(labels, dict) or not all(isinstance(key, str) and isinstance(value, str)
                                               for key, value in labels.items()):
        raise AnsibleFilterError("selector_match: the labels must be a mapping of strings to strings, got %r" % (labels,))
    return labels


def selector_match(labels, selector):
    """True when the selector (matchLabels and matchExpressions, ANDed) selects the labels."""
    # Imported here, not with the file: see docs/architecture.md, "Filters".
    from ansible_collections.kubenet.netpol.plugins.module_utils.engine.model import selector_from_manifest
    from ansible_collections.kubenet.netpol.plugins.module_utils.engine.selectors import selector_matches
    from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.validate import validate_label_selector
    from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.yamldoc import Document

    labels = _labels(labels)
    problems = [problem for problem in validate_label_selector(Document(selector, "selector"), "", selector)
                if problem.severity == "error"]
    if problems:
        raise AnsibleFilterError("selector_match: invalid selector:\n%s" % "\n".join(str(problem) for problem in problems))
    return selector_matches(selector_from_manifest(selector), labels)


class FilterModule:
    def filters(self):
        return {"selector_match": selector_match}
