# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""YAML documents that remember where each field came from.

Errors must name the line of the offending field, which plain yaml.safe_load forgets;
so documents are composed into nodes first and each field path keeps its line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None

from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import Problem


def join_path(parent, key):
    """Field paths as the API writes them: spec.ingress[0].ports[1].endPort."""
    if isinstance(key, int):
        return "%s[%d]" % (parent, key)
    return "%s.%s" % (parent, key) if parent else str(key)


def object_label(obj):
    """namespace/name of a manifest, or what can be said of it when those are missing."""
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    if not isinstance(meta, dict):
        return ""
    name = meta.get("name")
    if not isinstance(name, str):
        return ""
    namespace = meta.get("namespace")
    return "%s/%s" % (namespace if isinstance(namespace, str) else "default", name)


@dataclass
class Document:
    """One manifest: its object, its file, and the line of every field path."""

    obj: object
    file: str
    lines: dict = field(default_factory=dict)

    def line_of(self, path):
        """The line of a field, or of its nearest ancestor that exists."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""

    def problem(self, path, message, obj=None):
        return Problem(self.file, message, obj if obj is not None else object_label(self.obj),
                       path, self.line_of(path))

    def child(self, key):
        """The sub-document at key (a List item), with its own paths re-rooted."""
        prefix = join_path("", key)
        lines = {}
        for path, line in self.lines.items():
            if path == prefix:
                lines[""] = line
            elif path.startswith(prefix + ".") or path.startswith(prefix + "["):
                rest = path[len(prefix):]
                lines[rest[1:] if rest.startswith(".") else rest] = line
        return Document(self.obj[key], self.file, lines)


def _record_lines(node, path, lines, problems, file, line=None):
    """A field's line is its key's line (a block value starts on the next one)."""
    lines[path] = node.start_mark.line + 1 if line is None else line
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # construct_document reports complex keys as unhashable
            key = key_node.value
            if key in seen:
                problems.append(Problem(file, "duplicate field %r" % key, "", join_path(path, key),
                                        key_node.start_mark.line + 1))
            seen.add(key)
            _record_lines(value_node, join_path(path, key), lines, problems, file, key_node.start_mark.line + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, join_path(path, index), lines, problems, file)


def parse_documents(text, file):
    """Every non-empty document of a YAML (or JSON) text, and the problems met on the way."""
    problems = []
    documents = []
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        return [], [Problem(file, "invalid YAML: %s" % reason, line=line)]
    for node in nodes:
        if node is None:
            continue
        lines = {}
        _record_lines(node, "", lines, problems, file)
        try:
            obj = yaml.SafeLoader("").construct_document(node)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or node.start_mark
            reason = getattr(exc, "problem", None) or str(exc)
            problems.append(Problem(file, "invalid YAML: %s" % reason, line=mark.line + 1))
            continue
        if obj is not None:
            documents.append(Document(obj, file, lines))
    return documents, problems


def read_documents(path):
    """parse_documents for a file; an unreadable file is a problem, not a traceback."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Problem(str(path), "cannot read: %s" % exc)]
    return parse_documents(text, str(path))
