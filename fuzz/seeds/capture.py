#!/usr/bin/env python3
"""Capture real reply bytes from the test servers in tests/servers/ as fuzz seeds.

usage (as root, from the repository root):
    DNS=$(bash tests/servers/ensure.sh dns)  LDAP=$(bash tests/servers/ensure.sh ldap) \
    NMBD=$(bash tests/servers/ensure.sh nmbd) DC=$(bash tests/servers/ensure.sh dc) \
    SNMP=$(bash tests/servers/ensure.sh snmp) TFTP=$(bash tests/servers/ensure.sh tftp) \
    L2TP=$(bash tests/servers/ensure.sh l2tp) FTP=$(bash tests/servers/ensure.sh ftp) \
    MAIL=$(bash tests/servers/ensure.sh mail) IKE=$(bash tests/servers/ensure.sh ike) \
    SMB=$(bash tests/servers/ensure.sh smb) RDP=$(bash tests/servers/ensure.sh rdp) \
    python3 fuzz/seeds/capture.py [PART...]
    bash tests/servers/teardown.sh all

PART is dns, netbios, ldap, epm, snmp, tftp, l2tp, banner, ike, smb or rdp (default: all); captured.json keeps the
entries of the parts not captured this time.

Writes fuzz/seeds/<target>/real-*.bin and fuzz/seeds/captured.json (name, target,
source, hex), which gen_readme.py turns into fuzz/seeds/README.md. Stdlib only.
Every exchange has a 2 s timeout and is sent once: traffic goes only to the
198.18.N.2 test namespaces that ensure.sh creates.
"""
import json
import os
import socket
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "servers"))
import cldap_rootdse  # noqa: E402  (its REQ is the 39-byte rootDSE request, msgid 1)

DNS = os.environ.get("DNS", "198.18.10.2")
LDAP = os.environ.get("LDAP", "198.18.11.2")
NMBD = os.environ.get("NMBD", "198.18.12.2")
DC = os.environ.get("DC", "198.18.13.2")
SNMP = os.environ.get("SNMP", "198.18.14.2")
TIMEOUT = 2.0

captured = []


def save(target, name, data, source):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name + ".bin"), "wb") as f:
        f.write(data)
    captured.append({"target": target, "name": name, "source": source, "len": len(data),
                     "hex": data.hex()})
    print(f"{target}/{name}.bin  {len(data)} bytes  ({source})")


# ------------------------------------------------------------------ DNS
def dns_query(qid, name, qtype):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)


def udp_exchange(addr, port, req, bufsize=65535):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(TIMEOUT)
        s.connect((addr, port))
        s.send(req)
        return s.recv(bufsize)


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise EOFError(f"closed after {len(out)} of {n} bytes")
        out += chunk
    return out


def dns_tcp(addr, req):
    with socket.create_connection((addr, 53), timeout=TIMEOUT) as s:
        s.sendall(struct.pack(">H", len(req)) + req)
        (n,) = struct.unpack(">H", recv_exact(s, 2))
        return recv_exact(s, n)


def capture_dns():
    A, AAAA, TXT, SRV = 1, 28, 16, 33
    jobs = [
        ("dnsmasq", DNS, "a", "dc1.portqry.test", A),
        ("dnsmasq", DNS, "aaaa", "dc1.portqry.test", AAAA),
        ("dnsmasq", DNS, "txt", "portqry.test", TXT),
        ("dnsmasq", DNS, "srv", "_ldap._tcp.portqry.test", SRV),
        ("dnsmasq", DNS, "refused", "www.example.com", A),
        ("dnsmasq", DNS, "nxdomain", "nosuch.portqry.test", A),
        ("samba-dc", DC, "a", "dc1.portqry.test", A),
        ("samba-dc", DC, "srv", "_ldap._tcp.dc._msdcs.portqry.test", SRV),
        ("samba-dc", DC, "nxdomain", "www.example.com", A),
    ]
    for i, (server, addr, tag, name, qtype) in enumerate(jobs):
        req = dns_query(0x5100 + i, name, qtype)
        rep = udp_exchange(addr, 53, req)
        save("dns_response", f"real-{server}-udp-{tag}", rep,
             f"{server} at {addr}, UDP 53, query id 0x{0x5100 + i:04x} {name} type {qtype}")
    for server, addr in (("dnsmasq", DNS), ("samba-dc", DC)):
        req = dns_query(0x5200, "dc1.portqry.test", A)
        rep = dns_tcp(addr, req)
        save("dns_response", f"real-{server}-tcp-a", rep,
             f"{server} at {addr}, TCP 53 (2-byte length prefix removed), id 0x5200 dc1.portqry.test A")


# ------------------------------------------------------------------ NetBIOS
def nbstat_request(trn_id):
    # protocols.md 1.1: wildcard "*" name, NBSTAT, IN.
    return (struct.pack(">HHHHHH", trn_id, 0, 1, 0, 0, 0) + b"\x20" + b"CK" + b"A" * 30 + b"\0"
            + struct.pack(">HH", 0x21, 1))


def capture_netbios():
    for server, addr in (("nmbd", NMBD), ("samba-dc", DC)):
        req = nbstat_request(0x1337)
        assert len(req) == 50
        rep = udp_exchange(addr, 137, req)
        save("netbios_response", f"real-{server}-nbstat", rep,
             f"{server} at {addr}, UDP 137, NBSTAT request of protocols.md 1.1 (TRN_ID 0x1337)")


# ------------------------------------------------------------------ LDAP / CLDAP
def ber_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, value):
    return bytes([tag]) + ber_len(len(value)) + value


def rootdse_search(msgid, attrs):
    """A base-scope SearchRequest for "" with (objectClass=*) and the given attributes."""
    body = (tlv(0x04, b"") + tlv(0x0a, b"\0") + tlv(0x0a, b"\0") + tlv(0x02, b"\0")
            + tlv(0x02, b"\0") + tlv(0x01, b"\0") + tlv(0x87, b"objectClass")
            + tlv(0x30, b"".join(tlv(0x04, a.encode()) for a in attrs)))
    return tlv(0x30, tlv(0x02, bytes([msgid])) + tlv(0x63, body))


def ldap_tcp(addr, req):
    """Send req, read whole BER messages until a SearchResultDone (0x65)."""
    buf = b""
    with socket.create_connection((addr, 389), timeout=TIMEOUT) as s:
        s.sendall(req)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            # walk messages; stop once the last complete one is a SearchResultDone
            off, done = 0, False
            while off + 2 <= len(buf):
                first = buf[off + 1]
                if first < 0x80:
                    hl, ln = 2, first
                else:
                    k = first & 0x7F
                    if off + 2 + k > len(buf):
                        break
                    hl, ln = 2 + k, int.from_bytes(buf[off + 2:off + 2 + k], "big")
                if off + hl + ln > len(buf):
                    break
                msg = buf[off:off + hl + ln]
                # msgid INTEGER then protocolOp tag
                idlen = msg[hl + 1]
                if msg[hl + 2 + idlen] == 0x65:
                    done = True
                off += hl + ln
            if done:
                break
        s.sendall(bytes.fromhex("30050201024200"))  # unbind, msgid 2
    return buf


def capture_ldap():
    req39 = cldap_rootdse.REQ
    assert len(req39) == 39 and req39 == rootdse_search(1, [])
    rep = udp_exchange(DC, 389, req39)
    save("ldap_response", "real-samba-dc-cldap-rootdse", rep,
         f"samba-dc at {DC}, UDP 389 (CLDAP), the 39-byte rootDSE request of "
         "tests/servers/cldap_rootdse.py (msgid 1, no attributes)")
    rep = ldap_tcp(LDAP, req39)
    save("ldap_response", "real-slapd-tcp-rootdse", rep,
         f"OpenLDAP slapd at {LDAP}, TCP 389, the 39-byte rootDSE request (msgid 1)")
    req_all = rootdse_search(1, ["*", "+"])
    rep = ldap_tcp(LDAP, req_all)
    save("ldap_response", "real-slapd-tcp-rootdse-all", rep,
         f"OpenLDAP slapd at {LDAP}, TCP 389, rootDSE request for '*' '+' (msgid 1)")
    rep = ldap_tcp(DC, req39)
    save("ldap_response", "real-samba-dc-tcp-rootdse", rep,
         f"samba-dc at {DC}, TCP 389, the 39-byte rootDSE request (msgid 1)")


# ------------------------------------------------------------------ DCE/RPC endpoint mapper
BIND_72 = bytes.fromhex(  # protocols.md 3.2
    "05000b03100000004800000001000000" "b810b81000000000010000000000010"
    "00883afe11f5dc91191a408002b14a0fa" "03000000045d888aeb1cc9119fe80800"
    "2b10486002000000"
)


def co_read_frame(s):
    hdr = recv_exact(s, 16)
    (frag_len,) = struct.unpack_from("<H", hdr, 8)
    return hdr + recv_exact(s, frag_len - 16)


def ept_lookup_request(call_id, handle, max_ents):
    stub = struct.pack("<IIII", 0, 0, 0, 1) + handle + struct.pack("<I", max_ents)
    assert len(stub) == 40
    hdr = struct.pack("<BBBB4sHHI", 5, 0, 0, 3, b"\x10\0\0\0", 24 + len(stub), 0, call_id)
    return hdr + struct.pack("<IHH", len(stub), 0, 2) + stub


def epm_dump(addr, max_ents):
    """Returns (bind_ack frame, [(frames of one call, concatenated stub)])."""
    pages = []
    with socket.create_connection((addr, 135), timeout=TIMEOUT) as s:
        s.sendall(BIND_72)
        bind_ack = co_read_frame(s)
        assert bind_ack[2] == 12, f"not a bind_ack: ptype {bind_ack[2]}"
        handle = b"\0" * 20
        for call in range(2, 200):
            s.sendall(ept_lookup_request(call, handle, max_ents))
            frames, stub = [], b""
            while True:
                f = co_read_frame(s)
                frames.append(f)
                if f[2] != 2:  # fault or something else: stop
                    break
                stub += f[24:len(f) - struct.unpack_from("<H", f, 10)[0]]
                if f[3] & 0x02:  # LAST_FRAG
                    break
            pages.append((frames, stub))
            if frames[-1][2] != 2 or len(stub) < 28:
                break
            handle = stub[:20]
            (num_ents,) = struct.unpack_from("<I", stub, 20)
            (status,) = struct.unpack_from("<I", stub, len(stub) - 4)
            if handle == b"\0" * 20 or num_ents == 0 or status != 0:
                break
    return bind_ack, pages


def capture_epm():
    bind_ack, pages = epm_dump(DC, 500)
    save("dcerpc_pdu", "real-samba-dc-bind-ack", bind_ack,
         f"samba-dc at {DC}, TCP 135: bind_ack answering the 72-byte EPM bind of protocols.md 3.2")
    for i, (frames, stub) in enumerate(pages):
        save("epm_reply", f"real-samba-dc-ept-lookup-500-call{i + 1}", stub,
             f"samba-dc at {DC}, TCP 135: ept_lookup max_ents=500, call {i + 1}: "
             f"the stubs of its {len(frames)} response PDU(s) concatenated")
        save("dcerpc_pdu", f"real-samba-dc-ept-lookup-500-call{i + 1}-frame1", frames[0],
             f"samba-dc at {DC}, TCP 135: first response PDU of ept_lookup call {i + 1}")
        if len(frames) > 1:
            save("dcerpc_pdu", f"real-samba-dc-ept-lookup-500-call{i + 1}-stream",
                 b"".join(frames),
                 f"samba-dc at {DC}, TCP 135: all {len(frames)} response PDUs of call {i + 1}, "
                 "as read from the TCP stream")
    # Paging: three entries per call, keep the first two pages and the last.
    _, pages3 = epm_dump(DC, 3)
    for i, (frames, stub) in enumerate(pages3):
        if i < 2 or i == len(pages3) - 1:
            save("epm_reply", f"real-samba-dc-ept-lookup-3-call{i + 1}", stub,
                 f"samba-dc at {DC}, TCP 135: ept_lookup max_ents=3 (paged), call {i + 1} of "
                 f"{len(pages3)}, returned handle fed back")
    print(f"ept_lookup: {len(pages)} call(s) at max_ents=500, {len(pages3)} at max_ents=3",
          file=sys.stderr)


# ------------------------------------------------------------------ SNMP
SNMP_ID = 0x5101  # request-id (v2c) and msgID (v3) the snmp_response fuzz target expects


def oid(arcs):
    body = bytes([40 * arcs[0] + arcs[1]])
    for a in arcs[2:]:
        groups = [a & 0x7F]
        a >>= 7
        while a:
            groups.append(0x80 | (a & 0x7F))
            a >>= 7
        body += bytes(reversed(groups))
    return tlv(0x06, body)


def ber_int(v):
    return tlv(0x02, v.to_bytes((v.bit_length() + 8) // 8 or 1, "big", signed=True))


def snmp_pdu(tag, req_id, oids):
    vbs = b"".join(tlv(0x30, oid(o) + tlv(0x05, b"")) for o in oids)
    return tlv(tag, ber_int(req_id) + ber_int(0) + ber_int(0) + tlv(0x30, vbs))


def snmp_v2c_get(community, req_id, oids):
    return tlv(0x30, ber_int(1) + tlv(0x04, community) + snmp_pdu(0xA0, req_id, oids))


def snmp_v3_discovery(msg_id):
    """RFC 3414 section 4 discovery: reportable, noAuthNoPriv, empty USM fields and PDU."""
    usm = tlv(0x30, tlv(0x04, b"") + ber_int(0) + ber_int(0) + tlv(0x04, b"") * 3)
    header = tlv(0x30, ber_int(msg_id) + ber_int(65507) + tlv(0x04, b"\x04") + ber_int(3))
    scoped = tlv(0x30, tlv(0x04, b"") + tlv(0x04, b"") + snmp_pdu(0xA0, msg_id, []))
    return tlv(0x30, ber_int(3) + header + tlv(0x04, usm) + scoped)


def capture_snmp():
    system = [[1, 3, 6, 1, 2, 1, 1, n, 0] for n in (1, 2, 3, 5)]
    rep = udp_exchange(SNMP, 161, snmp_v2c_get(b"portqry-test", SNMP_ID, system))
    save("snmp_response", "real-snmpd-v2c-system", rep,
         f"net-snmp snmpd at {SNMP}, UDP 161, SNMPv2c GetRequest (community portqry-test, "
         f"request-id 0x{SNMP_ID:04x}) for sysDescr.0, sysObjectID.0, sysUpTime.0, sysName.0")
    odd = [[1, 3, 6, 1, 2, 1, 1, 7, 0], [1, 3, 6, 1, 2, 1, 1, 99, 0], [1, 3, 6, 1, 6, 3, 10, 2, 1, 1, 0]]
    rep = udp_exchange(SNMP, 161, snmp_v2c_get(b"portqry-test", SNMP_ID, odd))
    save("snmp_response", "real-snmpd-v2c-nosuchobject", rep,
         f"net-snmp snmpd at {SNMP}, UDP 161, SNMPv2c GetRequest (request-id 0x{SNMP_ID:04x}) for "
         "sysServices.0, the absent 1.3.6.1.2.1.1.99.0 and snmpEngineID.0")
    rep = udp_exchange(SNMP, 161, snmp_v3_discovery(SNMP_ID))
    save("snmp_response", "real-snmpd-v3-report", rep,
         f"net-snmp snmpd at {SNMP}, UDP 161, Report answering the SNMPv3 engine discovery "
         f"(msgID and request-id 0x{SNMP_ID:04x})")


# ------------------------------------------------------------------ TFTP
TFTP = os.environ.get("TFTP", "198.18.15.2")
L2TP = os.environ.get("L2TP", "198.18.16.2")


def any_port_exchange(addr, port, req, bufsize=65535):
    """Send req to addr:port; return (source port, reply) of the first datagram from addr.

    Unconnected: TFTP servers answer from a new port (their transfer ID)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(TIMEOUT)
        s.sendto(req, (addr, port))
        for _ in range(16):
            data, (host, sport) = s.recvfrom(bufsize)
            if host == addr:
                return sport, data
    raise TimeoutError(f"no reply from {addr}")


def tftp_rrq(name, mode="octet"):
    return struct.pack(">H", 1) + name.encode() + b"\0" + mode.encode() + b"\0"


def capture_tftp():
    # tftpd-hpa answers "File not found" (code 1) alike for a missing name, a name
    # outside the root (../x), a WRQ and an RRQ with options: one seed covers them.
    name = "portqry-probe-5101"
    sport, rep = any_port_exchange(TFTP, 69, tftp_rrq(name))
    save("tftp_response", "real-tftpd-hpa-not-found", rep,
         f"tftpd-hpa at {TFTP}, UDP 69, octet RRQ for {name!r} (the root is empty); "
         f"answered from port {sport}, its transfer ID")


# ------------------------------------------------------------------ L2TP
L2TP_TUNNEL = 0x5101  # the tunnel ID our SCCRQs assign


def l2tp_avp(attr, value):
    return struct.pack(">HHH", 0x8000 | (6 + len(value)), 0, attr) + value


def l2tp_control(tunnel, ns, nr, avps):
    body = b"".join(avps)
    return struct.pack(">HHHHHH", 0xC802, 12 + len(body), tunnel, 0, ns, nr) + body


def l2tp_sccrq(version=b"\x01\x00"):
    return l2tp_control(0, 0, 0, [
        l2tp_avp(0, struct.pack(">H", 1)), l2tp_avp(2, version), l2tp_avp(7, b"portqry"),
        l2tp_avp(3, struct.pack(">I", 3)), l2tp_avp(9, struct.pack(">H", L2TP_TUNNEL))])


def capture_l2tp():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(TIMEOUT)
        s.connect((L2TP, 1701))  # xl2tpd answers from 1701
        s.send(l2tp_sccrq())
        sccrp = s.recv(65535)
        save("l2tp_response", "real-xl2tpd-sccrp", sccrp,
             f"xl2tpd at {L2TP}, UDP 1701, SCCRP answering an SCCRQ (Assigned Tunnel ID 0x{L2TP_TUNNEL:04x}, "
             "host name portqry)")
        # The peer's Assigned Tunnel ID: the AVP with attribute 9 (walk the AVPs).
        off, peer = 12, 0
        while off + 6 <= len(sccrp):
            flen, _vendor, attr = struct.unpack_from(">HHH", sccrp, off)
            if attr == 9:
                (peer,) = struct.unpack_from(">H", sccrp, off + 6)
            off += flen & 0x3FF
        (peer_ns,) = struct.unpack_from(">H", sccrp, 8)
        s.send(l2tp_control(peer, 1, peer_ns + 1, [
            l2tp_avp(0, struct.pack(">H", 4)), l2tp_avp(9, struct.pack(">H", L2TP_TUNNEL)),
            l2tp_avp(1, struct.pack(">H", 1))]))
        zlb = s.recv(65535)
        save("l2tp_response", "real-xl2tpd-zlb", zlb,
             f"xl2tpd at {L2TP}, UDP 1701, ZLB acknowledging our StopCCN (result 1) for that tunnel")


# ------------------------------------------------------------------ IKE
IKE = os.environ.get("IKE", "198.18.22.2")
IKE_SPI = bytes.fromhex("5101510151015101")  # our initiator SPI in every request


def ike_payload(nxt, body):
    return struct.pack(">BBH", nxt, 0, 4 + len(body)) + body


def ike_sa_init(transforms, ke_group):
    """IKEv2 IKE_SA_INIT (RFC 7296): SA with one IKE proposal, KE, 32-byte Nonce.

    transforms: (type, id, key length or None); the KE value is 0x01 * 256 (< the
    MODP 2048 prime) for group 14, else 64 bytes."""
    ts = b""
    for i, (ttype, tid, klen) in enumerate(transforms):
        attr = struct.pack(">HH", 0x800E, klen) if klen else b""
        last = 0 if i + 1 == len(transforms) else 3
        ts += struct.pack(">BBHBBH", last, 0, 8 + len(attr), ttype, 0, tid) + attr
    prop = struct.pack(">BBHBBBB", 0, 0, 8 + len(ts), 1, 1, 0, len(transforms)) + ts
    ke_len = 256 if ke_group == 14 else 64
    body = ike_payload(34, prop) + ike_payload(40, struct.pack(">HH", ke_group, 0) + b"\x01" * ke_len) + \
        ike_payload(0, b"\x02" * 32)
    return IKE_SPI + bytes(8) + struct.pack(">BBBBII", 33, 0x20, 34, 0x08, 0, 28 + len(body)) + body


IKE_OFFER = [(1, 12, 256), (1, 12, 128), (2, 5, None), (2, 2, None), (3, 12, None), (3, 2, None),
             (4, 14, None), (4, 19, None)]


def capture_ike():
    # strongSwan answers from 500 whatever our source port (no NAT-T needed).
    cases = [
        ("real-strongswan-sa-init", ike_sa_init(IKE_OFFER, 14),
         "IKE_SA_INIT response (SA/KE/Nonce, notifies, strongSwan vendor ID) to portqry's offer, KE group 14"),
        ("real-strongswan-invalid-ke", ike_sa_init(IKE_OFFER, 19),
         "Notify INVALID_KE_PAYLOAD (wants group 14) to the same offer with a group 19 KE payload"),
        ("real-strongswan-no-proposal", ike_sa_init([(1, 3, None), (2, 1, None), (3, 1, None), (4, 2, None)], 2),
         "Notify NO_PROPOSAL_CHOSEN to an offer of 3DES/HMAC_MD5/MODP_1024 only"),
    ]
    for name, req, what in cases:
        rep = udp_exchange(IKE, 500, req)
        save("ike_response", name, rep,
             f"strongSwan charon 5.9.8 at {IKE}, UDP 500, initiator SPI {IKE_SPI.hex()}: {what}")


# ------------------------------------------------------------------ FTP/SMTP/POP3/IMAP banners
FTP = os.environ.get("FTP", "198.18.20.2")
MAIL = os.environ.get("MAIL", "198.18.21.2")


def read_reply(s, buf, done):
    """Read until done(lines of buf) says a whole reply is there; returns buf."""
    while not done(buf.split(b"\n")[:-1]):
        chunk = s.recv(4096)
        if not chunk:
            raise EOFError(f"closed mid-reply after {buf!r}")
        buf += chunk
    return buf


def coded_done(lines):
    """RFC 959/5321: the first line's code, then a space (or nothing), ends the reply."""
    if not lines:
        return False
    code = lines[0][:3]
    return any(l.rstrip(b"\r")[:4] in (code + b" ", code) and (l[3:4] != b"-") for l in lines)


def banner_session(addr, port, commands):
    """Everything the server sends in one session: the greeting, then each command's
    reply (each awaited with its done() test), then the rest until it closes."""
    with socket.create_connection((addr, port), timeout=TIMEOUT) as s:
        greeting_done, *steps = commands
        data = read_reply(s, b"", greeting_done)
        for command, done in steps:
            s.sendall(command + b"\r\n")
            data = read_reply(s, data, lambda lines, n=len(data.split(b"\n")) - 1: done(lines[n:]))
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return data
            data += chunk


def capture_banner():
    one_line = lambda lines: len(lines) >= 1  # noqa: E731
    tagged = lambda lines: any(l.startswith(b"a1 ") for l in lines)  # noqa: E731
    jobs = [
        ("vsftpd-ftp", FTP, 21, [coded_done, (b"USER anonymous", coded_done), (b"QUIT", coded_done)],
         "vsftpd 3.0.3 (two-line banner_file): multi-line 220 greeting, USER anonymous -> 331, QUIT -> 221"),
        ("opensmtpd-smtp", MAIL, 25, [coded_done, (b"QUIT", coded_done)],
         "OpenSMTPD 6.8.0p2: 220 greeting, QUIT -> 221"),
        ("dovecot-pop3", MAIL, 110, [one_line, (b"QUIT", one_line)],
         "Dovecot 2.3.19.1 pop3-login: +OK greeting, QUIT -> +OK"),
        ("dovecot-imap", MAIL, 143, [one_line, (b"a1 LOGOUT", tagged)],
         "Dovecot 2.3.19.1 imap-login: * OK [CAPABILITY ...] greeting, a1 LOGOUT -> * BYE, a1 OK"),
    ]
    for name, addr, port, commands, what in jobs:
        data = banner_session(addr, port, commands)
        save("banner_response", f"real-{name}-session", data,
             f"{what}; at {addr} TCP {port}: every byte the server sent in the session, in order")


# ------------------------------------------------------------------ SMB2 NEGOTIATE (TCP 445)
SMB = os.environ.get("SMB", "198.18.36.2")
# The first request of a connection must carry MessageId 0 (Samba drops any other),
# so the replies answer MessageId 0. Client GUID and salt are fixed here (portqry's
# are random) so that unit tests can rebuild this exact request.
SMB_GUID = bytes(range(0x51, 0x61))
SMB_SALT = bytes(range(32))


def smb2_context(out, ctype, data):
    while len(out) % 8:
        out += b"\0"
    out += struct.pack("<HHI", ctype, len(data), 0) + data


def smb2_negotiate(dialects=(0x0202, 0x0210, 0x0300, 0x0302, 0x0311)):
    """portqry's NEGOTIATE (src/wire/smb2.rs emit_negotiate), Direct TCP framed."""
    m = bytearray(b"\xfeSMB" + struct.pack("<HHIHHIIQIIQ", 64, 0, 0, 0, 1, 0, 0, 0, 0xfeff, 0, 0) + bytes(16))
    off = (64 + 36 + 2 * len(dialects) + 7) // 8 * 8
    m += struct.pack("<HHHHI", 36, len(dialects), 1, 0, 0x7f) + SMB_GUID + struct.pack("<IHH", off, 3, 0)
    m += b"".join(struct.pack("<H", d) for d in dialects)
    smb2_context(m, 1, struct.pack("<HHH", 1, 32, 1) + SMB_SALT)  # preauth: SHA-512
    smb2_context(m, 2, struct.pack("<5H", 4, 4, 3, 2, 1))  # ciphers, AES-256-GCM first
    smb2_context(m, 8, struct.pack("<4H", 3, 2, 1, 0))  # signing: GMAC, CMAC, HMAC-SHA256
    return b"\0" + len(m).to_bytes(3, "big") + bytes(m)


def smb1_negotiate():
    """An SMB1 NEGOTIATE offering only "NT LM 0.12" (what an SMB1-era client sends)."""
    dialects = b"\x02NT LM 0.12\x00"
    m = b"\xffSMB\x72" + bytes(4) + b"\x18" + struct.pack("<H", 0xc853) + bytes(12)
    m += struct.pack("<HHHH", 0, 0xfeff, 0, 0) + b"\x00" + struct.pack("<H", len(dialects)) + dialects
    return b"\0" + len(m).to_bytes(3, "big") + m


def tcp_first_frame(addr, port, req, frame_len):
    """Send req, read until frame_len(data) says one whole frame is there; return it all."""
    with socket.create_connection((addr, port), timeout=TIMEOUT) as s:
        s.sendall(req)
        data = b""
        while True:
            n = frame_len(data)
            if n is not None and len(data) >= n:
                return data
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


def direct_tcp_len(data):
    return 4 + int.from_bytes(data[1:4], "big") if len(data) >= 4 else None


def capture_smb():
    cases = [
        ("real-samba-dc-311", DC, 445, smb2_negotiate(),
         "Samba 4.17.12 AD DC: NEGOTIATE response, 3.1.1, signing required, contexts"),
        ("real-smbd-311", SMB, 445, smb2_negotiate(),
         "Samba 4.17.12 standalone smbd (defaults): NEGOTIATE response, 3.1.1, signing not required"),
        ("real-smbd-signing-mandatory", SMB, 1445, smb2_negotiate(),
         "Samba 4.17.12 smbd, server signing = mandatory: NEGOTIATE response, signing required"),
        ("real-smbd-max-smb2-02", SMB, 2445, smb2_negotiate(),
         "Samba 4.17.12 smbd, server max protocol = SMB2_02: NEGOTIATE response, dialect 2.0.2"),
        ("real-smbd-no-dialect", SMB, 445, smb2_negotiate(dialects=()),
         "Samba smbd: ERROR STATUS_INVALID_PARAMETER to a NEGOTIATE offering no dialect"),
        ("real-smbd-unknown-dialect", SMB, 445, smb2_negotiate(dialects=(0x0400,)),
         "Samba smbd: ERROR STATUS_NOT_SUPPORTED to a NEGOTIATE offering only dialect 0x0400"),
        ("real-smbd-smb1-negotiate", SMB, 445, smb1_negotiate(),
         "Samba smbd (server min protocol SMB2_02): SMB1 NEGOTIATE response, dialect index 0xffff, to SMB1's NT LM 0.12"),
    ]
    for name, addr, port, req, what in cases:
        rep = tcp_first_frame(addr, port, req, direct_tcp_len)
        save("smb2_negotiate_reply", name, rep, f"{what}; at {addr} TCP {port}, MessageId 0, Direct TCP frame")


# ------------------------------------------------------------------ RDP X.224 (TCP 3389)
RDP = os.environ.get("RDP", "198.18.37.2")


def rdp_cr(requested=None):
    """TPKT + X.224 Connection Request, with an RDP_NEG_REQ unless requested is None."""
    neg = b"" if requested is None else struct.pack("<BBHI", 1, 0, 8, requested)
    x224 = bytes([6 + len(neg), 0xe0, 0, 0, 0, 0, 0]) + neg
    return struct.pack(">BBH", 3, 0, 4 + len(x224)) + x224


def tpkt_len(data):
    return int.from_bytes(data[2:4], "big") if len(data) >= 4 else None


def capture_rdp():
    cases = [
        ("real-xrdp-negotiate", 3389, 0x0b, "xrdp 0.9.21.1 security_layer=negotiate: RDP_NEG_RSP TLS"),
        ("real-xrdp-rdp-layer", 3390, 0x0b, "xrdp security_layer=rdp: RDP_NEG_RSP Standard RDP Security"),
        ("real-xrdp-tls-layer", 3391, 0x0b, "xrdp security_layer=tls: RDP_NEG_RSP TLS"),
        ("real-xrdp-ssl-required", 3391, 0x00,
         "xrdp security_layer=tls to a request for Standard RDP Security only: RDP_NEG_FAILURE "
         "SSL_REQUIRED_BY_SERVER, then its DisconnectProviderUltimatum"),
        ("real-xrdp-legacy", 3389, None, "xrdp to a CR without RDP_NEG_REQ: a CC without negotiation data"),
    ]
    for name, port, requested, what in cases:
        with socket.create_connection((RDP, port), timeout=TIMEOUT) as s:
            s.sendall(rdp_cr(requested))
            rep = recv_exact(s, 4)
            rep += recv_exact(s, tpkt_len(rep) - 4)
            # Anything sent right after the CC (xrdp's disconnect after a failure) too.
            s.settimeout(0.3)
            try:
                while chunk := s.recv(4096):
                    rep += chunk
            except OSError:
                pass
        req = "no RDP_NEG_REQ" if requested is None else f"requestedProtocols {requested:#x}"
        save("rdp_confirm", name, rep, f"{what}; at {RDP} TCP {port}, {req}")


PARTS = {"dns": capture_dns, "netbios": capture_netbios, "ldap": capture_ldap, "epm": capture_epm,
         "snmp": capture_snmp, "tftp": capture_tftp, "l2tp": capture_l2tp, "banner": capture_banner,
         "ike": capture_ike, "smb": capture_smb, "rdp": capture_rdp}
PART_TARGETS = {"dns": {"dns_response"}, "netbios": {"netbios_response"},
                "ldap": {"ldap_response"}, "epm": {"epm_reply", "dcerpc_pdu"},
                "snmp": {"snmp_response"}, "tftp": {"tftp_response"}, "l2tp": {"l2tp_response"},
                "banner": {"banner_response"}, "ike": {"ike_response"},
                "smb": {"smb2_negotiate_reply"}, "rdp": {"rdp_confirm"}}


def main():
    parts = sys.argv[1:] or list(PARTS)
    for p in parts:
        if p not in PARTS:
            sys.exit(f"capture.py: unknown part {p!r} (known: {' '.join(PARTS)})")
    for p in parts:
        PARTS[p]()
    path = os.path.join(HERE, "captured.json")
    replaced = set().union(*(PART_TARGETS[p] for p in parts))
    kept = []
    if os.path.exists(path):
        kept = [c for c in json.load(open(path)) if c["target"] not in replaced]
    with open(path, "w") as f:
        json.dump(kept + captured, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
