#!/usr/bin/env python3
"""Prints N loopback TCP ports that were free a moment ago, each with PORT + 1 and PORT + 2 free
too and all at least 3 apart (scripts start data node i of a base port on base + i): for scripts
that start servers on fixed ports.
  free_ports.py N"""
import socket
import sys


def free(port):
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        probe.close()


wanted = int(sys.argv[1])
found = []
for _ in range(1000):
    if len(found) == wanted:
        break
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    if (port + 2 < 65536 and all(abs(port - other) > 2 for other in found)
            and free(port + 1) and free(port + 2)):
        found.append(port)
if len(found) < wanted:
    sys.exit("no free ports found")
print(*found)
