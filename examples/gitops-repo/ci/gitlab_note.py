# -*- coding: utf-8 -*-
"""Post the review comment on the merge request of a GitLab pipeline, or update the one posted before.

    python3 ci/gitlab_note.py build/comment.md

Uses GitLab's merge request notes API with a project access token (role Reporter or higher, scope api)
in NETPOL_NOTE_TOKEN, a masked CI/CD variable; the job token cannot write notes. The other
values are GitLab's own predefined variables: CI_API_V4_URL, CI_PROJECT_ID and
CI_MERGE_REQUEST_IID. A note of ours is recognised by the marker its body starts with
(ci/review_comment.py), so each push updates it instead of adding one more.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

MARKER = "<!-- kubenet-netpol-review -->"
PER_PAGE = 100
MAX_PAGES = 20
TIMEOUT = 30


class GitLab:
    def __init__(self, api, token):
        self.api = api.rstrip("/")
        self.token = token

    def request(self, method, path, data=None):
        body = None
        headers = {"PRIVATE-TOKEN": self.token}
        if data is not None:
            body = json.dumps(data).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.api + path, data=body, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return json.loads(response.read() or b"null")


def find_note(gitlab, notes_path):
    """The id of our note on the merge request, or None."""
    for page in range(1, MAX_PAGES + 1):
        query = urllib.parse.urlencode({"per_page": PER_PAGE, "page": page, "sort": "asc"})
        notes = gitlab.request("GET", "%s?%s" % (notes_path, query))
        for note in notes:
            if not note.get("system") and (note.get("body") or "").startswith(MARKER):
                return note["id"]
        if len(notes) < PER_PAGE:
            return None
    return None


def post(gitlab, project, merge_request, text):
    """Update our note, or create it; returns (action, note id)."""
    notes_path = "/projects/%s/merge_requests/%s/notes" % (urllib.parse.quote(str(project), safe=""), merge_request)
    note_id = find_note(gitlab, notes_path)
    if note_id is None:
        return "created", gitlab.request("POST", notes_path, {"body": text})["id"]
    gitlab.request("PUT", "%s/%s" % (notes_path, note_id), {"body": text})
    return "updated", note_id


def main(argv=None, environ=None):
    argv = sys.argv[1:] if argv is None else argv
    environ = os.environ if environ is None else environ
    if len(argv) != 1:
        print("usage: python3 ci/gitlab_note.py COMMENT.md", file=sys.stderr)
        return 2
    missing = [name for name in ("CI_API_V4_URL", "CI_PROJECT_ID", "CI_MERGE_REQUEST_IID", "NETPOL_NOTE_TOKEN")
               if not environ.get(name)]
    if missing:
        print("gitlab_note: not set: %s (a merge request pipeline with the NETPOL_NOTE_TOKEN variable)"
              % ", ".join(missing), file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as stream:
        text = stream.read()
    if not text.startswith(MARKER):
        text = MARKER + "\n" + text
    gitlab = GitLab(environ["CI_API_V4_URL"], environ["NETPOL_NOTE_TOKEN"])
    try:
        action, note_id = post(gitlab, environ["CI_PROJECT_ID"], environ["CI_MERGE_REQUEST_IID"], text)
    except urllib.error.HTTPError as exc:
        hint = " (NETPOL_NOTE_TOKEN: a project access token with scope api, role Reporter or higher)" if exc.code in (401, 403) else ""
        print("gitlab_note: %s: HTTP %s %s%s" % (exc.url, exc.code, exc.reason, hint), file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print("gitlab_note: %s" % exc, file=sys.stderr)
        return 1
    print("gitlab_note: %s note %s on merge request !%s" % (action, note_id, environ["CI_MERGE_REQUEST_IID"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
