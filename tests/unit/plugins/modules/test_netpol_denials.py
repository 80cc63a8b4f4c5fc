# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""netpol_denials as Ansible runs it: what it returns, and the errors that name what is missing."""

from __future__ import annotations

import json

import pytest

from ansible_collections.kubenet.netpol.plugins.module_utils.node import denials, naming
from ansible_collections.kubenet.netpol.plugins.modules import netpol_denials
from module_runner import module_runner

CHAIN = naming.pod_chain("ingress", ["x/deny"])
KNOWN = {"version": denials.LOOKUP_VERSION, "node": "n1",
         "chains": {CHAIN: {"direction": "ingress", "policies": ["x/deny"]}}, "pods": {"10.244.1.10": "x/a"}}


@pytest.fixture
def run(monkeypatch):
    return module_runner(monkeypatch, netpol_denials)


def packet(port):
    return json.dumps({"oob.prefix": naming.log_prefix(CHAIN), "oob.time.sec": 0, "ip.protocol": 6,
                       "src_ip": "10.244.2.20", "dest_ip": "10.244.1.10", "src_port": 40000, "dest_port": port})


def test_reads_the_log_with_the_lookup(run, tmp_path):
    (tmp_path / denials.LOOKUP_FILE).write_text(json.dumps(KNOWN), encoding="utf-8")
    log = tmp_path / "denied.json"
    log.write_text("\n".join([packet(80), '{"oob.prefix": "other"}', "garbage", packet(443)]) + "\n", encoding="utf-8")
    result = run({"log_file": str(log), "state_dir": str(tmp_path), "last": 1})
    assert not result["failed"] and not result["changed"]
    assert result["lines"] == [
        "1970-01-01T00:00:00.000000Z x/a denied ingress from 10.244.2.20 tcp/443: isolated by x/deny, none allows it"]
    assert result["denials"][0]["pod"] == "x/a" and result["unreadable"] == 1


@pytest.mark.parametrize("args, message", [
    ({"last": -1}, "last must be 0 (all) or more"),
    ({}, "has no lookup of denials: netpol_chains has not run there with log_denied"),
])
def test_errors_say_what_is_missing(run, tmp_path, args, message):
    result = run(dict(args, state_dir=str(tmp_path), log_file=str(tmp_path / "denied.json")))
    assert result["failed"] and message in result["msg"]


def test_a_missing_log_names_the_file(run, tmp_path):
    (tmp_path / denials.LOOKUP_FILE).write_text(json.dumps(KNOWN), encoding="utf-8")
    result = run({"state_dir": str(tmp_path), "log_file": str(tmp_path / "none.json")})
    assert result["failed"] and "none.json" in result["msg"] and "ulogd2" in result["msg"]
