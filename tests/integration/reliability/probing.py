# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Continuous probes from inside a host's namespace while the node converges again and again.

One prober process per source host: it opens its long-lived connections, then probes its pairs
every 10 ms, a thread per pair (a fresh TCP connection or UDP exchange each time), and sends a
word over every long-lived connection every 0.1 s, until its stdin closes; then it prints what it saw as
JSON. A wrong verdict or a broken connection is kept with the time it happened.
"""

from __future__ import annotations

import json
import subprocess
import sys

PROBER = r"""
import json, socket, sys, threading, time

request = json.loads(sys.argv[1])
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
start = time.monotonic()

def family(address):
    return socket.AF_INET6 if ":" in address else socket.AF_INET

def tcp(source, address, port):
    with socket.socket(family(address), socket.SOCK_STREAM) as sock:
        sock.settimeout(5.0)  # a denied probe is refused at once (REJECT); only a starved allowed one waits
        sock.bind((source, 0))
        try:
            sock.connect((address, port))
            return sock.recv(2) == b"ok"
        except OSError:
            return False

def udp(source, address, port):
    with socket.socket(family(address), socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        sock.bind((source, 0))
        sock.connect((address, port))
        for attempt in range(3):
            try:
                sock.send(b"probe")
                return sock.recv(64) == b"probe"
            except socket.timeout:
                continue
            except OSError:
                return False
        return False

sessions = []
for source, address, port in request["sessions"]:
    sock = socket.create_connection((address, port), timeout=5.0, source_address=(source, 0))
    assert sock.recv(2) == b"ok"
    sessions.append(((address, port), sock, {"exchanges": 0, "errors": []}))
print("ready", flush=True)

counts, wrong = [], []
PAUSE = 0.01  # a probe every 10 ms or so per pair: the window of a run is tens of ms; the CPU is shared

def probe_forever(source, address, protocol, port, allowed):
    count = 0
    while not stop.is_set():
        seen = (tcp if protocol == "TCP" else udp)(source, address, port)
        count += 1
        if seen != allowed:
            wrong.append([address, protocol, port, seen, round(time.monotonic() - start, 3)])
        stop.wait(PAUSE)
    counts.append(count)

threads = [threading.Thread(target=probe_forever, args=pair) for pair in request["pairs"]]
for thread in threads:
    thread.start()
rounds = 0
while not stop.wait(0.1):
    rounds += 1
    for target, sock, record in sessions:
        word = b"w%d" % rounds
        try:
            sock.sendall(word)
            reply = b""
            while len(reply) < len(word):
                chunk = sock.recv(64)
                if not chunk:
                    raise OSError("closed by the peer")
                reply += chunk
            if reply != word:
                raise OSError("echo %r for %r" % (reply, word))
            record["exchanges"] += 1
        except OSError as error:
            record["errors"].append([str(error), round(time.monotonic() - start, 3)])
for thread in threads:
    thread.join()
probes = sum(counts)
print(json.dumps({"probes": probes, "wrong": wrong,
                  "sessions": {"%s:%d" % target: record for target, sock, record in sessions}}), flush=True)
"""

UDP_ECHO = r"""
import socket, sys
servers = []
for address, port in zip(sys.argv[1::2], sys.argv[2::2]):
    server = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_DGRAM)
    server.bind((address, int(port)))
    servers.append(server)
print("ready", flush=True)
import selectors
selector = selectors.DefaultSelector()
for server in servers:
    selector.register(server, selectors.EVENT_READ)
while True:
    for key, _events in selector.select():
        data, peer = key.fileobj.recvfrom(2048)
        key.fileobj.sendto(data, peer)
"""


def start_udp_echo(lab, host, endpoints):
    """A UDP echo server on (address, port) endpoints inside a host; the lab stops it."""
    argv = [str(item) for endpoint in endpoints for item in endpoint]
    server = subprocess.Popen(["ip", "netns", "exec", lab.hosts[host], sys.executable, "-c", UDP_ECHO] + argv,
                              stdout=subprocess.PIPE, text=True)
    lab.servers.append(server)
    assert server.stdout.readline().strip() == "ready"


class Prober:
    """The prober of one source host: pairs [(source ip, address, protocol, port, allowed)], sessions."""

    def __init__(self, lab, host, pairs, sessions):
        request = json.dumps({"pairs": pairs, "sessions": sessions})
        self.host = host
        self.process = subprocess.Popen(["ip", "netns", "exec", lab.hosts[host], sys.executable, "-c", PROBER, request],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        lab.servers.append(self.process)
        assert self.process.stdout.readline().strip() == "ready", "the prober of %s did not start" % host

    def finish(self):
        """Stop probing; what it saw: {"probes": n, "wrong": [...], "sessions": {...}}."""
        output, _errors = self.process.communicate("", timeout=60)
        return json.loads(output)
