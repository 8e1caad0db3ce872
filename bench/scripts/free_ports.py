#!/usr/bin/env python3
"""Prints N loopback TCP ports that were free a moment ago, at least 3 apart (so that PORT + 1 and
PORT + 2 are distinct from the others too): for scripts that start servers on fixed ports.
  free_ports.py N"""
import socket
import sys

wanted = int(sys.argv[1])
found = []
while len(found) < wanted:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    if port + 2 < 65536 and all(abs(port - other) > 2 for other in found):
        found.append(port)
print(*found)
