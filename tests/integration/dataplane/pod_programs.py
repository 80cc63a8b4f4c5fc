# -*- coding: utf-8 -*-
# Copyright: contributors to kubenet.netpol
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Programs the dataplane tests run inside pod namespaces (`python -c SERVER PORT...`)."""

# Listens on every port given, IPv4 and IPv6; greets each connection with "ok", then echoes what it sends.
SERVER = r"""
import selectors, socket, sys
selector = selectors.DefaultSelector()
for port in sys.argv[1:]:
    for family, address in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        server = socket.socket(family, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        server.bind((address, int(port)))
        server.listen(64)
        selector.register(server, selectors.EVENT_READ)
print("ready", flush=True)
while True:  # greet each connection with "ok", then echo what it sends
    for key, events in selector.select():
        if key.data is None:
            connection, peer = key.fileobj.accept()
            connection.sendall(b"ok")
            selector.register(connection, selectors.EVENT_READ, data="echo")
            continue
        try:
            data = key.fileobj.recv(1024)
        except OSError:
            data = b""
        if data:
            key.fileobj.sendall(data)
        else:
            selector.unregister(key.fileobj)
            key.fileobj.close()
"""
