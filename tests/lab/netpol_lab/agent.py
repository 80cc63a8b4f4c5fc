"""The lab's listener: one per pod, external or node (for its hostNetwork pods), inside its netns.

Serves every probed port on every address it is given. TCP and SCTP: accept, send "<name>\\n", close.
UDP: echo the request after "<name>\\n". Replying with its name lets the prober check that the
right endpoint answered, not just any. Standalone (stdlib only): it runs as
`ip netns exec NS python3 agent.py ...`, and writes its pid file once every socket listens.
"""

import argparse
import os
import selectors
import socket

BACKLOG = 512


def listen(addresses, tcp_ports, udp_ports, sctp_ports=()):
    """SCTP sockets are one-to-one (stream) sockets, served like TCP; only kernels with SCTP have them."""
    sockets = []
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        for kind, proto, ports in ((socket.SOCK_STREAM, 0, tcp_ports), (socket.SOCK_DGRAM, 0, udp_ports),
                                   (socket.SOCK_STREAM, socket.IPPROTO_SCTP, sctp_ports)):
            for port in ports:
                sock = socket.socket(family, kind, proto)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((address, port))
                if kind == socket.SOCK_STREAM:
                    sock.listen(BACKLOG)
                sock.setblocking(False)
                sockets.append(sock)
    return sockets


def serve(name, sockets):
    greeting = (name + "\n").encode()
    selector = selectors.DefaultSelector()
    for sock in sockets:
        selector.register(sock, selectors.EVENT_READ)
    while True:
        for key, _events in selector.select():
            sock = key.fileobj
            try:
                if sock.type == socket.SOCK_STREAM:
                    connection = sock.accept()[0]
                    with connection:
                        connection.setblocking(True)
                        connection.settimeout(1.0)
                        connection.sendall(greeting)
                else:
                    data, peer = sock.recvfrom(2048)
                    sock.sendto(greeting + data, peer)
            except OSError:
                continue  # a peer that went away (or an ICMP error) must not stop the agent


def write_pidfile(path):
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        handle.write("%d\n" % os.getpid())
    os.replace(path + ".tmp", path)


def ports(text):
    return [int(port) for port in text.split(",") if port]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--pidfile", required=True)
    parser.add_argument("--ip", action="append", default=[])
    parser.add_argument("--tcp", type=ports, default=[])
    parser.add_argument("--udp", type=ports, default=[])
    parser.add_argument("--sctp", type=ports, default=[])
    args = parser.parse_args()
    sockets = listen(args.ip, args.tcp, args.udp, args.sctp)
    write_pidfile(args.pidfile)
    serve(args.name, sockets)


if __name__ == "__main__":
    main()
