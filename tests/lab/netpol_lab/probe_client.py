"""Send the probes of one source netns, all at once (a thread per probe), and report each outcome.

Standalone (stdlib only): runs as `ip netns exec NS python3 probe_client.py`, reads
{"probes": [[source_ip, destination_ip, protocol, port, expected_name], ...], "timeouts": {...}}
on stdin and writes {"outcomes": [...]} in the same order on stdout. An outcome is
"allowed" (the exchange completed and the expected endpoint answered), "denied" (refused,
unreachable or timed out) or "wrong:<reply>" (someone else answered: a lab fault, not a verdict).
"""

import json
import os
import socket
import sys
from concurrent.futures import ThreadPoolExecutor

MAX_THREADS = 256


def _family(address):
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _judge(reply, expected):
    name = reply.split(b"\n", 1)[0].decode("utf-8", "replace")
    return "allowed" if name == expected else "wrong:" + name


def probe_stream(source, destination, port, expected, timeout, proto=0):
    """TCP, or SCTP with proto IPPROTO_SCTP (a one-to-one socket: connect, read the name, EOF)."""
    with socket.socket(_family(destination), socket.SOCK_STREAM, proto) as sock:
        sock.settimeout(timeout)
        sock.bind((source, 0))
        try:
            sock.connect((destination, port))
            reply = b""
            while True:
                chunk = sock.recv(256)
                if not chunk:
                    break
                reply += chunk
        except OSError:  # refused (REJECT), unreachable, or timed out (DROP)
            return "denied"
    return _judge(reply, expected) if reply else "denied"


def probe_udp(source, destination, port, expected, timeout, attempts):
    token = os.urandom(8).hex().encode()
    with socket.socket(_family(destination), socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.bind((source, 0))
        sock.connect((destination, port))  # connected: an ICMP unreachable (REJECT) ends the wait at once
        for _attempt in range(attempts):
            try:
                sock.send(token)
                reply = sock.recv(2048)
            except socket.timeout:
                continue
            except OSError:
                return "denied"
            if reply.endswith(b"\n" + token):
                return _judge(reply, expected)
        return "denied"


def probe(item, timeouts):
    source, destination, protocol, port, expected = item
    if protocol == "TCP":
        return probe_stream(source, destination, port, expected, timeouts["tcp"])
    if protocol == "SCTP":
        return probe_stream(source, destination, port, expected, timeouts["sctp"], socket.IPPROTO_SCTP)
    return probe_udp(source, destination, port, expected, timeouts["udp"], timeouts["udp_attempts"])


def main():
    request = json.load(sys.stdin)
    items = request["probes"]
    with ThreadPoolExecutor(max_workers=max(1, min(len(items), MAX_THREADS))) as pool:
        outcomes = list(pool.map(lambda item: probe(item, request["timeouts"]), items))
    json.dump({"outcomes": outcomes}, sys.stdout)


if __name__ == "__main__":
    main()
