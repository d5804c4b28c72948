#!/usr/bin/env python3
"""Send the 39-byte LDAP rootDSE SearchRequest (protocols.md section 4.1) over UDP 389
(CLDAP, as Active Directory and Samba expect it) and print what comes back.

usage: cldap_rootdse.py [--quiet] ADDR [PORT]
Exit 0 when a reply arrived, 1 on timeout or ICMP error (ECONNREFUSED).  Stdlib only.
"""
import socket
import sys

REQ = bytes.fromhex(
    "3025020101632004000a01000a0100020100020100010100"
    "870b6f626a656374436c617373" "3000"
)


def read_len(buf, i):
    b = buf[i]
    i += 1
    if b < 0x80:
        return b, i
    n = b & 0x7F
    return int.from_bytes(buf[i:i + n], "big"), i + n


def tlv(buf, i):
    tag = buf[i]
    ln, j = read_len(buf, i + 1)
    return tag, buf[j:j + ln], j + ln


def attrs_of(entry):
    """entry: the contents of SearchResultEntry [APPLICATION 4]."""
    _, _, i = tlv(entry, 0)  # objectName
    _, attrs, _ = tlv(entry, i)
    out = []
    k = 0
    while k < len(attrs):
        _, pa, k = tlv(attrs, k)
        _, name, m = tlv(pa, 0)
        _, vals, _ = tlv(pa, m)
        vs = []
        v = 0
        while v < len(vals):
            _, val, v = tlv(vals, v)
            vs.append(val)
        out.append((name.decode("utf-8", "replace"), vs))
    return out


def main():
    args = sys.argv[1:]
    quiet = False
    if args and args[0] == "--quiet":
        quiet = True
        args = args[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    addr = args[0]
    port = int(args[1]) if len(args) > 1 else 389
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        # Connected, so an ICMP port unreachable shows as ECONNREFUSED.
        s.connect((addr, port))
        s.send(REQ)
        data, peer = s.recvfrom(65535)
    except (socket.timeout, OSError) as e:
        if not quiet:
            print(f"no reply: {e}")
        return 1
    if quiet:
        return 0
    print(f"reply from {peer[0]}:{peer[1]}: {len(data)} bytes")
    i = 0
    while i < len(data):
        _, msg, i = tlv(data, i)
        _, msgid, j = tlv(msg, 0)
        op, body, _ = tlv(msg, j)
        mid = int.from_bytes(msgid, "big")
        if op == 0x64:
            at = attrs_of(body)
            print(f"  msgid {mid} SearchResultEntry, {len(at)} attributes")
            for name, vs in at:
                shown = [v.decode("utf-8", "replace") for v in vs[:3]]
                more = f" (+{len(vs) - 3})" if len(vs) > 3 else ""
                print(f"    {name}: {'; '.join(shown)}{more}")
        elif op == 0x65:
            _, rc, _ = tlv(body, 0)
            print(f"  msgid {mid} SearchResultDone, resultCode {int.from_bytes(rc, 'big')}")
        else:
            print(f"  msgid {mid} op 0x{op:02x}, {len(body)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
