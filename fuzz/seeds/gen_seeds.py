#!/usr/bin/env python3
"""Write the unit-test seeds and fuzz/seeds/README.md.

usage: python3 fuzz/seeds/gen_seeds.py      (no root, no network)

1. Copies every `const NAME: [u8; N] = [...]` byte array from the `#[cfg(test)]`
   modules of src/protocols/{dns,netbios,ldap,dcerpc,epm,snmp,tftp,l2tp,banner,ssrp,ike}.rs into
   fuzz/seeds/<target>/test-<module>-<NAME>.bin (the target chosen by module).
2. Cuts the protocol towers out of the epm seeds (unit-test and captured) into
   fuzz/seeds/epm_reply/tower-*.bin, for `epm::decode_tower`.
3. Writes fuzz/seeds/README.md: every seed as hex, with where it came from.
   The captured ones come from captured.json, written by capture.py.
"""
import glob
import json
import os
import re
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MODULE_TARGET = {
    "dns": "dns_response",
    "netbios": "netbios_response",
    "ldap": "ldap_response",
    "dcerpc": "dcerpc_pdu",
    "epm": "epm_reply",
    "snmp": "snmp_response",
    "tftp": "tftp_response",
    "l2tp": "l2tp_response",
    "banner": "banner_response",
    "ssrp": "ssrp_response",
    "ike": "ike_response",
}
TARGETS = ["dns_response", "netbios_response", "ldap_response", "epm_reply", "dcerpc_pdu",
           "snmp_response", "tftp_response", "l2tp_response", "banner_response", "ssrp_response",
           "ike_response"]
CONST_RE = re.compile(r"const\s+([A-Z0-9_]+)\s*:\s*\[u8;\s*(\d+)\]\s*=\s*\[(.*?)\];", re.S)
# Text protocols' constants are byte strings: `const NAME: [u8; N] = *b"...";`
BSTR_RE = re.compile(r'const\s+([A-Z0-9_]+)\s*:\s*\[u8;\s*(\d+)\]\s*=\s*\*b"((?:[^"\\]|\\.)*)";', re.S)
ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "0": b"\0", "\\": b"\\", '"': b'"', "'": b"'"}


def byte_string(body):
    """The bytes of a Rust byte-string literal's body."""
    out, i = b"", 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode()
            i += 1
        elif body[i + 1] == "x":
            out += bytes([int(body[i + 2:i + 4], 16)])
            i += 4
        elif body[i + 1] == "\n":  # line continuation: the newline and leading blanks vanish
            i += 2
            while i < len(body) and body[i] in " \t\n":
                i += 1
        else:
            out += ESCAPES[body[i + 1]]
            i += 2
    return out


def write(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name + ".bin"), "wb") as f:
        f.write(data)


def test_arrays():
    out = []
    for module, target in MODULE_TARGET.items():
        src = open(os.path.join(ROOT, "src", "protocols", module + ".rs")).read()
        at = src.find("#[cfg(test)]")
        if at < 0:
            continue
        found = [(m, False) for m in CONST_RE.finditer(src[at:])] + \
            [(m, True) for m in BSTR_RE.finditer(src[at:])]
        for m, text in sorted(found, key=lambda f: f[0].start()):
            name, n, body = m.group(1), int(m.group(2)), m.group(3)
            if text:
                data = byte_string(body)
            else:
                body = re.sub(r"//[^\n]*", "", body)
                data = bytes(int(tok, 0) for tok in re.findall(r"0x[0-9a-fA-F]+|\d+", body))
            assert len(data) == n, (module, name, len(data), n)
            line = src[:at + m.start()].count("\n") + 1
            out.append({"target": target, "name": f"test-{module}-{name}",
                        "source": f"src/protocols/{module}.rs:{line}, unit-test constant `{name}`",
                        "hex": data.hex(), "len": n})
            write(target, f"test-{module}-{name}", data)
    return out


def towers_of(stub):
    """The tower octet strings of an ept_lookup reply stub (protocols.md 3.3)."""
    pos = 20 + 4 + 12  # handle, num_ents, max_count/offset/actual_count
    (actual,) = struct.unpack_from("<I", stub, 32)
    refs = []
    for _ in range(actual):
        pos += 16
        (ref,) = struct.unpack_from("<I", stub, pos)
        pos += 4
        _off, cnt = struct.unpack_from("<II", stub, pos)
        pos += 8 + cnt
        pos = (pos + 3) & ~3
        refs.append(ref)
    towers = []
    for ref in refs:
        if not ref:
            continue
        _max, tlen = struct.unpack_from("<II", stub, pos)
        pos += 8
        towers.append(stub[pos:pos + tlen])
        pos = (pos + tlen + 3) & ~3
    return towers


def floor_ids(tower):
    """Protocol ids (lhs byte 0) of a tower's floors (protocols.md 3.4)."""
    (count,) = struct.unpack_from("<H", tower, 0)
    pos, ids = 2, []
    for _ in range(count):
        (lhs,) = struct.unpack_from("<H", tower, pos)
        ids.append(tower[pos + 2])
        pos += 2 + lhs
        (rhs,) = struct.unpack_from("<H", tower, pos)
        pos += 2 + rhs
    return tuple(ids)


def tower_seeds(seeds):
    """One tower per distinct floor layout (ncacn_ip_tcp, ncacn_np, ncalrpc, ...)."""
    out, seen = [], set()
    for s in seeds:
        if s["target"] != "epm_reply":
            continue
        stub = bytes.fromhex(s["hex"])
        if len(stub) < 40:
            continue
        for i, t in enumerate(towers_of(stub)):
            kind = floor_ids(t)
            if kind in seen:
                continue
            seen.add(kind)
            name = f"tower-{s['name']}-{i}"
            out.append({"target": "epm_reply", "name": name,
                        "source": f"tower {i} (floor protocol ids {' '.join(f'{x:#04x}' for x in kind)}) "
                                  f"cut out of `{s['name']}`, as `epm::decode_tower` input",
                        "hex": t.hex(), "len": len(t)})
            write("epm_reply", name, t)
    return out


def hexdump(h):
    b = bytes.fromhex(h)
    return "\n".join(b[i:i + 32].hex() for i in range(0, len(b), 32))


def main():
    for stale in glob.glob(os.path.join(HERE, "*", "test-*.bin")) + \
            glob.glob(os.path.join(HERE, "*", "tower-*.bin")):
        os.remove(stale)
    tests = test_arrays()
    captured = json.load(open(os.path.join(HERE, "captured.json")))
    towers = tower_seeds(tests + captured)
    every = tests + captured + towers
    lines = [
        "# Fuzz seeds",
        "",
        "Every file under `fuzz/seeds/<target>/` is one input for that fuzz target; `run.sh`",
        "copies them into the working corpus `fuzz/corpus/<target>/` (git-ignored) before a run.",
        "Three kinds:",
        "",
        "* `real-*.bin`: reply bytes captured from the real servers of `tests/servers/`",
        "  (dnsmasq, OpenLDAP slapd, Samba nmbd, a Samba AD DC, net-snmp snmpd, tftpd-hpa, xl2tpd,",
        "  vsftpd, OpenSMTPD, Dovecot, strongSwan)",
        "  by `capture.py`, run as root",
        "  after `ensure.sh`. Nothing was edited: DNS and NetBIOS replies keep the ID of the",
        "  query that was sent (the fuzz targets take the expected ID from the input's first two",
        "  bytes), LDAP replies answer message id 1 (the id the ldap target expects), DNS-over-TCP",
        "  replies are stored without their 2-byte length prefix (what `dns::parse_response` takes),",
        "  and EPM replies are the ept_lookup *stubs*: the bodies of all response PDUs of one call,",
        "  concatenated (what `epm::parse_ept_lookup_reply` takes). The `dcerpc_pdu` ones are whole",
        "  CO PDUs as read from TCP 135. SNMP replies answer request-id (v2c) or msgID (v3)",
        "  0x5101, the id the snmp_response target expects. The TFTP reply came from the",
        "  server's transfer ID port, not 69; the L2TP ones answer an SCCRQ assigning tunnel",
        "  0x5101 (an SCCRP), and our StopCCN for the tunnel it opened (a ZLB). The banner ones",
        "  are every byte a server sent in one session (the greeting, for FTP the reply to",
        "  `USER anonymous`, the reply to `QUIT` or `a1 LOGOUT`), back to back, as",
        "  `banner::Replay` takes them. The IKE ones answer IKE_SA_INIT requests with initiator",
        "  SPI 5101510151015101 (the ike_response target takes the SPI from the input's first",
        "  8 bytes).",
        "* `test-*.bin`: the byte-array constants of the unit tests in `src/protocols/*.rs`,",
        "  copied by `gen_seeds.py` (re-run it after the tests change).",
        "* `tower-*.bin`: protocol towers cut out of the EPM stubs, for `epm::decode_tower`.",
        "",
        "To turn a seed into a unit test: `bytes.fromhex(...)` in Python, or paste the hex into",
        "a `const X: [u8; N]`; the captured ones are known to parse with the current parsers",
        "(the `portqry parses it:` line under each, from a throwaway program calling the",
        "library, is what a regression test would assert).",
        "",
        "Captured on 2026-11-26 from the test servers (Debian 12: dnsmasq-base 2.90, slapd 2.5.13,",
        "samba 4.17.12) at dns 198.18.10.2, ldap 198.18.11.2,",
        "nmbd 198.18.12.2, dc 198.18.13.2. Samba's NBSTAT MAC is random per start and its",
        "endpoint list depends on the samba version, so a re-capture differs in those bytes.",
        "The SNMP replies were captured the same day (`capture.py snmp`) from net-snmp snmpd 5.9.3",
        "at snmp 198.18.14.2; its engine ID, uptime and sysDescr (the host's kernel) differ per run.",
        "The TFTP and L2TP replies were captured the same day (`capture.py tftp l2tp`) from",
        "tftpd-hpa 5.2 at tftp 198.18.15.2 and xl2tpd 1.3.18 at l2tp 198.18.16.2; xl2tpd's",
        "Assigned Tunnel ID is random per tunnel.",
        "The banner sessions were captured the same day (`capture.py banner`) from vsftpd 3.0.3",
        "at ftp 198.18.20.2, and OpenSMTPD 6.8.0p2 and Dovecot 2.3.19.1 at mail 198.18.21.2.",
        "The IKE replies were captured the same day (`capture.py ike`) from strongSwan charon",
        "5.9.8 at ike 198.18.22.2; its responder SPI, KE value and nonce are random per reply.",
        "",
        "| target | seeds | real | unit test | tower |",
        "| --- | --- | --- | --- | --- |",
    ]
    for t in TARGETS:
        mine = [s for s in every if s["target"] == t]
        k = lambda p: sum(1 for s in mine if s["name"].startswith(p))  # noqa: E731
        lines.append(f"| {t} | {len(mine)} | {k('real-')} | {k('test-')} | {k('tower-')} |")
    lines.append("")
    for t in TARGETS:
        lines += [f"## {t}", ""]
        for s in [s for s in every if s["target"] == t]:
            lines += [f"### `{s['name']}.bin` ({s['len']} bytes)", "", s["source"] + "."]
            if s.get("parses_as"):
                lines += ["", s["parses_as"].replace("|", "\\|")]
            lines += ["", "```", hexdump(s["hex"]), "```", ""]
    with open(os.path.join(HERE, "README.md"), "w") as f:
        f.write("\n".join(lines))
    for t in TARGETS:
        print(t, len(os.listdir(os.path.join(HERE, t))))


if __name__ == "__main__":
    main()
