# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Denied packets logged and attributed, end to end (needs root and ulogd2 with its JSON plugin).

netpol_chains converges the lab node of test_dataplane_packets with log_denied; ulogd2, run in
the node's namespace with the collection's example configuration, writes the NFLOG group as JSON;
netpol_denials reads it. Which pod, direction and policies deny each probe is reasoned from the
policies (dataplane_plans), by hand:

- x/a is isolated for ingress by x/allow-b-to-a (from app=b, on 8080, 9000-9100, ...) and
  x/deny-ingress; x/b for ingress by x/deny-ingress and for egress by x/egress-b (to app=a on
  8080, outside 10.0.0.0/8 and fd00::/8 on TCP 443); x/c for ingress by x/deny-ingress and
  x/from-blue (from namespace y only). x/a and x/c are not isolated for egress.
- Egress is judged first: a packet b's egress denies never reaches its peer's ingress check.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chains_module import run_module
from dataplane_plans import node_slice
# lab is the fixture of test_dataplane_packets: imported, pytest finds it here too.
from test_dataplane_packets import OUTSIDE, PODS, lab  # noqa: F401 pylint: disable=unused-import

from netpol_lab.ulogd import ulogd_in

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, netfilter)")]

DENIALS_MODULE = "ansible_collections.kubenet.netpol.plugins.modules.netpol_denials"
A_INGRESS = ["x/allow-b-to-a", "x/deny-ingress"]
B_INGRESS = ["x/deny-ingress"]
B_EGRESS = ["x/egress-b"]
C_INGRESS = ["x/deny-ingress", "x/from-blue"]


def converge(lab, tmp_path, state_dir, **options):  # noqa: F811 (lab: the fixture)
    result = run_module(lab.node, tmp_path, plan=node_slice(), state_dir=state_dir, **options)
    assert not result.get("failed"), result
    return result


def read_denials(tmp_path, **args):
    """netpol_denials run as Ansible runs it (a JSON arguments file); it only reads files."""
    path = tmp_path / "denials-args.json"
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", DENIALS_MODULE, str(path)],
                          capture_output=True, text=True, check=False, timeout=60)
    result = json.loads(done.stdout)
    assert not result.get("failed"), result
    return result


@pytest.fixture
def ulogd(lab, tmp_path):  # noqa: F811 (the fixture imported above)
    """ulogd2 in the node's namespace with the example configuration; its JSON file."""
    with ulogd_in(lab.node, str(tmp_path / "denied.json"), str(tmp_path)) as log_file:
        yield Path(log_file)


def denials_when(tmp_path, state_dir, log_file, count):
    """The attributed denials once `count` different ones are in the log, and half a second more (no extra one)."""
    deadline = time.monotonic() + 15
    while True:
        found = read_denials(tmp_path, log_file=str(log_file), state_dir=state_dir, last=0)
        if len({attribution(denial) for denial in found["denials"]}) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    time.sleep(0.5)
    return read_denials(tmp_path, log_file=str(log_file), state_dir=state_dir, last=0)


def attribution(denial):
    return (denial["pod"], denial["direction"], denial["peer_ip"], denial["protocol"], denial["port"],
            tuple(denial["policies"]))


def test_every_denied_probe_is_logged_and_attributed_and_no_allowed_one(lab, ulogd, tmp_path, state_dir):
    assert converge(lab, tmp_path, state_dir, log_denied=True, log_limit="30/minute", log_burst=10)["changed"]
    # The limit as iptables-save prints it back: a rerun finds nothing to change.
    assert not converge(lab, tmp_path, state_dir, log_denied=True, log_limit="30/minute", log_burst=10)["changed"]

    a4, b4, c4 = (PODS[name][0] for name in "abc")
    a6, b6 = PODS["a"][1], PODS["b"][1]
    allowed = [("b", a4, 8080), ("b", a6, 8080), ("b", OUTSIDE[0], 443), ("c", OUTSIDE[0], 443)]
    denied = {  # probe: (denied pod, direction, peer address, protocol, port, policies isolating it)
        ("c", a4, 8080): ("x/a", "ingress", c4, "tcp", 8080, A_INGRESS),  # not from app=b
        ("outside", a4, 8080): ("x/a", "ingress", OUTSIDE[0], "tcp", 8080, A_INGRESS),
        ("b", a4, 9000): ("x/b", "egress", a4, "tcp", 9000, B_EGRESS),  # a would allow it, b's egress not
        ("b", a6, 9000): ("x/b", "egress", a6, "tcp", 9000, B_EGRESS),
        ("b", OUTSIDE[0], 8080): ("x/b", "egress", OUTSIDE[0], "tcp", 8080, B_EGRESS),
        ("a", b4, 8080): ("x/b", "ingress", a4, "tcp", 8080, B_INGRESS),
        ("a", b6, 8080): ("x/b", "ingress", a6, "tcp", 8080, B_INGRESS),
        ("a", c4, 9090): ("x/c", "ingress", a4, "tcp", 9090, C_INGRESS),
    }
    assert {probe: lab.connect(*probe) for probe in allowed} == {probe: "ok" for probe in allowed}
    assert {probe: lab.connect(*probe) for probe in denied} == {probe: "refused" for probe in denied}

    found = denials_when(tmp_path, state_dir, ulogd, len(denied))
    # Every logged packet is one of a denied probe, attributed as reasoned, and every denied probe is
    # there. A probe may be logged twice: the kernel rate-limits the ICMP errors of REJECT towards one
    # host (a burst of 6, then one a second), and a SYN whose reject was held back is sent again.
    expected = {(pod, direction, peer, protocol, port, tuple(policies))
                for pod, direction, peer, protocol, port, policies in denied.values()}
    assert {attribution(denial) for denial in found["denials"]} == expected
    assert found["unreadable"] == 0
    first = found["lines"][0]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z x/a denied ingress from 10\.244\.1\.12 \(x/c\) "
                    r"tcp/8080: isolated by x/allow-b-to-a, x/deny-ingress, none allows it$", first), first

    only_b = read_denials(tmp_path, log_file=str(ulogd), state_dir=state_dir, last=2, namespace="x")
    assert [attribution(denial) for denial in only_b["denials"]] == [
        attribution(denial) for denial in found["denials"][-2:]]

    # Logging off: the lookup goes, the log rules too (a denied probe adds nothing).
    converge(lab, tmp_path, state_dir)
    assert not os.path.exists(os.path.join(state_dir, "denials.json"))
    assert lab.connect("c", a4, 8080) == "refused"
    time.sleep(0.5)
    assert len(ulogd.read_text(encoding="utf-8").splitlines()) == len(found["denials"])


def test_a_flood_beyond_the_burst_is_denied_but_only_the_burst_logged(lab, ulogd, tmp_path, state_dir):
    # One pod chain (x/c ingress, IPv4), a burst of 2 and then one a day: of 5 denied probes, 2 are logged.
    # (5 rejects to a stay within the kernel's ICMP burst towards one host, so no SYN is sent twice.)
    converge(lab, tmp_path, state_dir, log_denied=True, log_limit="1/day", log_burst=2)
    probes = [lab.connect("a", PODS["c"][0], 9090) for _number in range(5)]
    assert probes == ["refused"] * 5
    assert lab.connect("c", PODS["b"][0], 8080) == "refused"  # another chain: logged after them, in order
    found = denials_when(tmp_path, state_dir, ulogd, 2)
    assert [attribution(denial) for denial in found["denials"]] == [
        ("x/c", "ingress", PODS["a"][0], "tcp", 9090, tuple(C_INGRESS))] * 2 + [
        ("x/b", "ingress", PODS["c"][0], "tcp", 8080, tuple(B_INGRESS))]
