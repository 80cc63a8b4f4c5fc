# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""YAML documents read the way kubectl reads them, remembering the line of every field.

Errors must name the line of the offending field, and a manifest must mean to us what it means
to the cluster. kubectl decodes YAML with go-yaml (through sigs.k8s.io/yaml), whose rules for
unquoted scalars differ from PyYAML's YAML 1.1 constructor: `1:20` is the string "1:20" there and
80 here, `0o120` and `8e1` are 80 there and strings here, `y` is true there. So documents are
built here from the parser's events, in one pass without recursion: unquoted scalars resolved by
go-yaml's rules (docs/manifests.md), every field's line kept, and hostile input bounded (nesting
depth, alias cycles, alias expansion) with a message saying what to change.
"""

from __future__ import annotations

import math
import re

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    yaml = None

from ansible_collections.kubenet.netpol.plugins.module_utils.ingest.problems import Problem

MAX_DEPTH = 64  # a NetworkPolicy nests about 10 levels; a List of them a few more
ALIAS_VALUES_FREE = 10000  # values that aliases may add to a document beyond...
ALIAS_VALUES_PER_VALUE = 4  # ...this many per value written out, so expansion stays linear in the text

_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_TRUE = frozenset(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"))
_FALSE = frozenset(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"))
_SPECIAL_FLOATS = {".inf": math.inf, ".Inf": math.inf, ".INF": math.inf, "+.inf": math.inf, "+.Inf": math.inf,
                   "+.INF": math.inf, "-.inf": -math.inf, "-.Inf": -math.inf, "-.INF": -math.inf,
                   ".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan}
_GO_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_GO_INT = re.compile(r"[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ]|$)")
# A timestamp kubectl passes on as the same text (time.Time in RFC 3339, as it writes it back).
_RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]*[1-9])?(Z|[+-][0-9]{2}:[0-9]{2})")
_TAG = "tag:yaml.org,2002:"
_LARGEST_EXACT_FLOAT = 1e21  # Go's JSON writes an integral float below this as an integer


class _Stop(Exception):
    """Ends the current document with one problem: reading on would cost too much or mean nothing."""

    def __init__(self, problem):
        super().__init__(problem.message)
        self.problem = problem


def join_path(parent, key):
    """Field paths as the API writes them: spec.ingress[0].ports[1].endPort."""
    if isinstance(key, int):
        return "%s[%d]" % (parent, key)
    return "%s.%s" % (parent, key) if parent else str(key)


def _below(prefix, path):
    """A path relative to prefix, made absolute."""
    if not prefix:
        return path
    if not path:
        return prefix
    return prefix + path if path.startswith("[") else "%s.%s" % (prefix, path)


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


class Document:
    """One manifest: its object, its file, and the line of every field path.

    A child document (an item of a List) shares its parent's line table under a path prefix, so
    taking every item of a List of 10,000 costs no more than reading it."""

    def __init__(self, obj, file, lines=None, prefix=""):
        self.obj = obj
        self.file = file
        self._lines = lines if lines is not None else {}
        self._prefix = prefix

    @property
    def lines(self):
        """The recorded line of every field path of this document (a child's table is made on demand)."""
        if not self._prefix:
            return self._lines
        found = {}
        for path, line in self._lines.items():
            if path == self._prefix:
                found[""] = line
            elif path.startswith(self._prefix + ".") or path.startswith(self._prefix + "["):
                rest = path[len(self._prefix):]
                found[rest[1:] if rest.startswith(".") else rest] = line
        return found

    def line_of(self, path):
        """The line of a field, or of its nearest ancestor that exists."""
        path = _below(self._prefix, path)
        while True:
            if path in self._lines:
                return self._lines[path]
            if not path:
                return None
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""

    def problem(self, path, message, obj=None):
        return Problem(self.file, message, obj if obj is not None else object_label(self.obj),
                       path, self.line_of(path))

    def child(self, key):
        """The sub-document at key (a List item), its field paths rooted there."""
        return Document(self.obj[key], self.file, self._lines, _below(self._prefix, join_path("", key)))


def _go_number(text):
    """An unquoted scalar as go-yaml reads a number, or None. Integral floats become ints, as
    sigs.k8s.io/yaml passes numbers through JSON (8e1 is 80 to the API server)."""
    plain = text.replace("_", "")
    if _GO_INT.fullmatch(plain):
        sign, digits = (-1, plain[1:]) if plain[0] == "-" else (1, plain.lstrip("+"))
        if len(digits) < 2 or digits[0] != "0":
            return sign * int(digits, 10)
        prefixed = {"x": 16, "o": 8, "b": 2}.get(digits[1].lower())
        return sign * (int(digits[2:], prefixed) if prefixed else int(digits[1:], 8))  # a bare leading 0: octal
    if _GO_FLOAT.fullmatch(plain):
        value = float(plain)
        return int(value) if value.is_integer() and abs(value) < _LARGEST_EXACT_FLOAT else value
    return None


def resolve_plain(text):
    """(value, None), or (None, why) when go-yaml would give the scalar a meaning we do not follow."""
    if text in _NULLS:
        return None, None
    if text in _TRUE or text in _FALSE:
        return text in _TRUE, None
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text], None
    if text[0] in "+-.0123456789":
        number = _go_number(text)
        if number is not None:
            return number, None
        if _TIMESTAMP.match(text) and not _RFC3339.fullmatch(text):
            return None, "kubectl reads the unquoted %s as a timestamp and rewrites it: quote it" % text
    return text, None


def _short_tag(tag):
    """!!int rather than tag:yaml.org,2002:int, as the user wrote it."""
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


def _tagged(tag, text):
    """A scalar with an explicit core tag, as go-yaml reads it; ValueError for anything else."""
    kind = tag[len(_TAG):] if tag.startswith(_TAG) else None
    if tag == "!" or kind == "str":
        return text
    value, why = resolve_plain(text)
    expected = {"int": int, "float": (int, float), "bool": bool, "null": type(None)}.get(kind)
    if expected is None or why or isinstance(value, bool) != (kind == "bool") or not isinstance(value, expected):
        raise ValueError("invalid YAML: tag %s on %r is not supported here: remove the tag or quote the value"
                         % (_short_tag(tag), text))
    return value


class _Container:
    """A mapping or sequence being read: where it is, and what it has expanded to so far."""

    __slots__ = ("obj", "path", "anchor", "size", "key", "key_path", "key_line", "key_text_plain", "merges")

    def __init__(self, obj, path, anchor):
        self.obj = obj
        self.path = path
        self.anchor = anchor
        self.size = 1  # values this container expands to, itself included
        self.key = _Container  # the key waiting for its value; _Container: none yet
        self.key_path = None
        self.key_line = None
        self.key_text_plain = False
        self.merges = []


class _DocumentReader:
    """Builds one document from its events."""

    def __init__(self, file, literal_keys):
        self.file = file
        self.literal_keys = literal_keys
        self.lines = {}
        self.anchors = {}
        self.open_anchors = set()
        self.stack = []
        self.root = None
        self.has_root = False
        self.written = 0
        self.expanded = 0
        self.problems = []

    def stop(self, line, message, path=""):
        raise _Stop(Problem(self.file, message, "", path, line))

    def child_path(self):
        """The path of the value about to be added, and the line it is recorded at (None: its own)."""
        if not self.stack:
            return "", None
        parent = self.stack[-1]
        if parent.key is _Container:
            if isinstance(parent.obj, list):
                return "%s[%d]" % (parent.path, len(parent.obj)), None
            return None, None  # a key: it has no path of its own
        return parent.key_path, parent.key_line

    def scalar(self, event):
        line = event.start_mark.line + 1
        self.written += 1
        try:
            if event.tag not in (None, "!") or not event.implicit[0]:
                value = _tagged(event.tag, event.value) if event.tag not in (None, "!") else event.value
            else:
                value, why = resolve_plain(event.value)
                if why:
                    self.stop(line, why, self.child_path()[0] or "")
        except ValueError as exc:
            self.stop(line, str(exc), self.child_path()[0] or "")
        plain = event.implicit[0] and event.tag in (None, "!")
        self.add(value, line, 1, event.anchor, key_text=event.value if plain else None)

    def alias(self, event):
        line = event.start_mark.line + 1
        if event.anchor in self.open_anchors:
            self.stop(line, "alias *%s is inside the value it names (a cycle): aliases must refer to a value written"
                      " before them" % event.anchor, self.child_path()[0] or "")
        if event.anchor not in self.anchors:
            self.stop(line, "invalid YAML: alias *%s names no anchor written before it" % event.anchor)
        value, size = self.anchors[event.anchor]
        self.expanded += size
        if self.expanded > ALIAS_VALUES_FREE + ALIAS_VALUES_PER_VALUE * self.written:
            self.stop(line, "aliases expand this document to more than %d values (%d written out): write the values"
                      " out or use fewer nested aliases" % (self.expanded, self.written))
        self.add(value, line, size, None, is_alias=True)

    def start_mapping(self, event):
        self.start(event, {})

    def start_sequence(self, event):
        self.start(event, [])

    def start(self, event, obj):
        line = event.start_mark.line + 1
        if event.tag not in (None, "!", _TAG + ("map" if isinstance(obj, dict) else "seq")):
            self.stop(line, "invalid YAML: tag %s is not supported here: remove it" % _short_tag(event.tag))
        if len(self.stack) >= MAX_DEPTH:
            self.stop(line, "values nest deeper than %d levels: a manifest needs far fewer" % MAX_DEPTH)
        self.written += 1
        path, key_line = self.child_path()
        if path is None:
            self.stop(line, "invalid YAML: a key must be a plain value, not a mapping or a list (complex key)")
        self.lines[path] = key_line or line
        if event.anchor is not None:
            self.open_anchors.add(event.anchor)
        self.stack.append(_Container(obj, path, event.anchor))

    def end(self, _event):
        container = self.stack.pop()
        if container.merges:
            self.merge(container)
        if container.anchor is not None:
            self.open_anchors.discard(container.anchor)
        self.add(container.obj, None, container.size, container.anchor, recorded=True)

    def add(self, value, line, size, anchor, key_text=None, is_alias=False, recorded=False):
        """Place a finished value in its parent (or as the root)."""
        if anchor is not None:
            self.anchors[anchor] = (value, size)
        if not self.stack:
            self.root, self.has_root = value, True
            if not recorded:
                self.lines[""] = line
            return
        parent = self.stack[-1]
        parent.size += size
        if parent.key is not _Container:
            key = parent.key
            parent.key = _Container
            if key == "<<" and parent.key_text_plain:
                parent.merges.append((value, line))
                return
            if not recorded:
                self.lines[parent.key_path] = parent.key_line
            parent.obj[key] = value
        elif isinstance(parent.obj, list):
            if not recorded:
                self.lines["%s[%d]" % (parent.path, len(parent.obj))] = line
            parent.obj.append(value)
        else:
            self.take_key(parent, value, line, key_text, is_alias)

    def take_key(self, parent, value, line, key_text, is_alias):
        if is_alias:
            self.stop(line, "an alias may not be a key: write the key out", parent.path)
        if key_text is not None and self.literal_keys:
            value = key_text
        elif key_text is not None and not isinstance(value, str):
            spelled = _json_key(value)
            if spelled != key_text:
                self.stop(line, "kubectl reads the unquoted key %s as %s: quote it" % (key_text, spelled),
                          join_path(parent.path, key_text))
            value = spelled
        elif not isinstance(value, str):
            value = _json_key(value)
        path = "%s.%s" % (parent.path, value) if parent.path else value
        if value in parent.obj and not (value == "<<" and key_text is not None):
            self.problems.append(Problem(self.file, "duplicate field %r" % value, "", path, line))
        parent.key = value
        parent.key_path = path
        parent.key_line = line
        parent.key_text_plain = key_text is not None

    def merge(self, container):
        """`<<: *base` (or a list of them): keys of the mapping itself win, then earlier sources."""
        merged = {}
        for value, line in reversed(container.merges):
            sources = value if isinstance(value, list) else [value]
            for source in reversed(sources):
                if not isinstance(source, dict):
                    self.stop(line, "a merge key (<<) takes a mapping or a list of mappings", container.path)
                merged.update(source)
        merged.update(container.obj)
        container.obj.clear()
        container.obj.update(merged)


def _json_key(value):
    """How sigs.k8s.io/yaml spells a non-string key in JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _read_events(events, file, literal_keys):
    """(documents, problems) from a parser's event stream."""
    documents = []
    problems = []
    reader = None
    skipping = False
    handlers = {}
    for event in events:
        kind = type(event)
        if kind is yaml.DocumentStartEvent:
            reader, skipping = _DocumentReader(file, literal_keys), False
            handlers = {yaml.ScalarEvent: reader.scalar, yaml.AliasEvent: reader.alias,
                        yaml.MappingStartEvent: reader.start_mapping, yaml.SequenceStartEvent: reader.start_sequence,
                        yaml.MappingEndEvent: reader.end, yaml.SequenceEndEvent: reader.end}
        elif kind is yaml.DocumentEndEvent:
            if not skipping:
                problems.extend(reader.problems)
                if reader.has_root and reader.root is not None:
                    documents.append(Document(reader.root, file, reader.lines))
        elif not skipping and kind in handlers:
            try:
                handlers[kind](event)
            except _Stop as stop:
                problems.append(stop.problem)
                skipping = True
    return documents, problems


def parse_documents(text, file, literal_keys=False):
    """Every non-empty document of a YAML (or JSON) text, and the problems met on the way.

    literal_keys: unquoted keys are read as written (y stays "y") instead of as kubectl reads them;
    for the lab's scenario files, whose keys are names of its own making.

    A syntax error anywhere makes the whole text unreadable (no documents): the parser cannot say
    where a broken document ends. A problem inside a readable document drops that document only."""
    loader = yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader
    try:
        return _read_events(yaml.parse(text, Loader=loader), file, literal_keys)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        return [], [Problem(file, "invalid YAML: %s" % reason, line=line)]


def read_documents(path, literal_keys=False):
    """parse_documents for a file; an unreadable file is a problem, not a traceback."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Problem(str(path), "cannot read: %s" % exc)]
    return parse_documents(text, str(path), literal_keys)
