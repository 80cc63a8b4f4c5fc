# -*- coding: utf-8 -*-
"""The merge-request comment of the review job, from the files the report playbook wrote.

    python3 ci/review_comment.py build/report [LINK] > build/comment.md

The comment is the connectivity diff against the target branch (diff.md), then the report's
lint findings and expectations (from report.md), then LINK (the pipeline or job, whose
artifacts hold the whole report, report.html included). It starts with a marker so that
ci/gitlab_note.py updates its own note instead of adding one per push, and is cut to fit a
GitHub comment (65,536 characters). A missing file is said in words: the comment of a failed
report still tells the reviewer what happened.
"""

from __future__ import annotations

import os
import sys

MARKER = "<!-- kubenet-netpol-review -->"
LIMIT = 60000  # characters: GitHub refuses comments over 65,536
REPORT_SECTIONS = ("## Lint", "## Expectations")


def _read(path):
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.read()
    except OSError:
        return None


def report_sections(text):
    """The sections of report.md a reviewer needs beside the diff: lint and expectations."""
    lines = text.splitlines()
    kept = []
    keep = False
    for line in lines:
        if line.startswith("## ") or line.startswith("# "):
            keep = line.startswith(REPORT_SECTIONS)
        if keep:
            kept.append(line)
    return "\n".join(kept).strip()


def body(report_dir, link=""):
    parts = [MARKER]
    diff = _read(os.path.join(report_dir, "diff.md"))
    report = _read(os.path.join(report_dir, "report.md"))
    if diff is None:
        parts.append("## NetworkPolicy change: effect on connectivity\n\nNo diff was made: the report step failed"
                     " before writing it. See the job log.")
    else:
        parts.append(diff.strip())
    if report is not None:
        sections = report_sections(report)
        if sections:
            parts.append(sections)
    if link:
        parts.append("Whole report (every workload pair, report.html): the artifacts of %s" % link)
    text = "\n\n".join(parts) + "\n"
    if len(text) > LIMIT:
        note = "\n\n(cut at %d characters: the whole diff is in the job's artifacts)\n" % LIMIT
        text = text[:LIMIT - len(note)].rsplit("\n", 1)[0] + note
    return text


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (1, 2):
        print("usage: python3 ci/review_comment.py REPORT_DIR [LINK]", file=sys.stderr)
        return 2
    sys.stdout.write(body(argv[0], argv[1] if len(argv) == 2 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
