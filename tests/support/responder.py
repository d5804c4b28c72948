#!/usr/bin/env python3
"""Minimal TCP accept + UDP echo responder for the namespace tests.

Usage: responder.py ADDR PORT [ADDR PORT ...]  (ADDR may be IPv6)
Runs until killed; the test harness kills it by pid.
"""
import selectors
import socket
import sys

sel = selectors.DefaultSelector()
args = sys.argv[1:]
for addr, port in zip(args[0::2], args[1::2]):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    t = socket.socket(fam, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((addr, int(port)))
    t.listen(64)
    sel.register(t, selectors.EVENT_READ, "tcp")
    u = socket.socket(fam, socket.SOCK_DGRAM)
    u.bind((addr, int(port)))
    sel.register(u, selectors.EVENT_READ, "udp")
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        s = key.fileobj
        if key.data == "tcp":
            c, _ = s.accept()
            c.close()
        else:
            data, peer = s.recvfrom(65535)
            s.sendto(b"echo:" + data, peer)
