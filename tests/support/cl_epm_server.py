#!/usr/bin/env python3
"""A connectionless DCE/RPC (v4, ncadg_ip_udp) endpoint-mapper server for tests.

Written from the specifications, not from the client under test:
  * C706 (DCE 1.1 RPC) ch.12 "RPC PDU Encodings", connectionless part: the
    80-byte header, request/response/fault/reject/working/nocall/ack/fack,
    fragments (FRAG, LASTFRAG, NOFACK, fragnum) and the fack body
    (rpc_dg_fackpkt_body_t); ch.14 NDR; Appendix L towers; Appendix O ept;
    Appendix P conv (conv_who_are_you2).
  * MS-RPCE 2.2.1.2.4 (ept_lookup), 3.2 (CL rules), 4.3 (callback sequence).

It answers ept_lookup (opnum 2) and ept_lookup_handle_free (opnum 4) on the
EPM interface with pages of entries, keeping a cursor per context handle.

Every packet is logged on stderr. Anything the client does against the spec
is logged as a line starting with "VIOLATION:", so a test can assert there
are none. The chosen port is printed on stdout (then flushed).

Modes:
  --callback      call conv_who_are_you2 back before the first call of an
                  unknown activity, and check the client's answer
  --callback-flags2 HEX  flags2 of that callback (default 0x04 PF2_UNRELATED,
                  MS-RPCE 2.2.3.3; Wireshark's heuristic rejects it, use 0 to
                  dissect a capture)
  --frag N        split response bodies into N-byte fragments, each non-last
                  one waiting for a fack (resent a few times on timeout)
  --blast B       with --frag, send B fragments per burst, NOFACK set on all
                  but the burst's last one (and on the final fragment)
  --working       send `working` PDUs while "executing" the first call, for
                  longer than the client's timeout (--working-ms in total)
  --drop-first    ignore the first ept_lookup request, forcing a retransmit
  --entries K     number of endpoints (towers cycle ncacn_ip_tcp,
                  ncadg_ip_udp, ncacn_np)
  --end windows   the page with the last entries has status 0 and a NULL
                  handle (default)
  --end samba     pages keep a handle; one more call returns num_ents 0 and
                  status EPT_S_NOT_REGISTERED (0x16c9a0d6)
  --fault STATUS  answer every ept_lookup with a fault PDU
  --single-flags1 HEX  flags1 of unfragmented responses (default 0; some
                  stacks set LASTFRAG/NOFACK on single packets)
"""

import argparse
import socket
import struct
import sys
import time
import uuid

EPM_UUID = uuid.UUID("e1af8308-5d1f-11c9-91a4-08002b14a0fa")
NDR_UUID = uuid.UUID("8a885d04-1ceb-11c9-9fe8-08002b104860")
CONV_UUID = uuid.UUID("333a2276-0000-0000-0d00-00809c000000")
NIL = uuid.UUID(int=0)

# Packet types (C706 12.5.1)
REQUEST, PING, RESPONSE, FAULT, WORKING, NOCALL, REJECT, ACK, QUIT, FACK, QUACK = range(11)
PTYPE_NAMES = {
    0: "request", 1: "ping", 2: "response", 3: "fault", 4: "working", 5: "nocall",
    6: "reject", 7: "ack", 8: "quit", 9: "fack", 10: "quack",
}
# flags1 (C706 12.5.3.1)
PF_FORWARDED = 0x01
PF_LASTFRAG = 0x02
PF_FRAG = 0x04
PF_NOFACK = 0x08
PF_MAYBE = 0x10
PF_IDEMPOTENT = 0x20
PF_BROADCAST = 0x40
# flags2
PF2_UNRELATED = 0x04

EPT_S_NOT_REGISTERED = 0x16C9A0D6
NCA_S_OP_RNG_ERROR = 0x1C010002
NCA_S_UNK_IF = 0x1C010003
NCA_S_WRONG_BOOT_TIME = 0x1C010006
NCA_S_PROTO_ERROR = 0x1C01000B
RPC_X_INVALID_BOUND = 0x000006C6

HEADER = struct.Struct("<BBBB3sB16s16s16sIIIHHHHHBB")
assert HEADER.size == 80

MAX_DATAGRAMS = 10_000
MAX_SECONDS = 600
FACK_WAIT = 0.4
FACK_TRIES = 5
CALLBACK_WAIT = 0.4
CALLBACK_TRIES = 5


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def violation(msg):
    log("VIOLATION: " + msg)


class Hdr:
    """An 80-byte connectionless header, little-endian drep."""

    def __init__(self, **kw):
        self.vers = 4
        self.ptype = 0
        self.flags1 = 0
        self.flags2 = 0
        self.drep = b"\x10\x00\x00"
        self.serial = 0
        self.object = NIL
        self.interface = NIL
        self.activity = NIL
        self.server_boot = 0
        self.if_vers = 0
        self.seq = 0
        self.opnum = 0
        self.ihint = 0xFFFF
        self.ahint = 0xFFFF
        self.length = 0
        self.fragnum = 0
        self.auth_proto = 0
        self.__dict__.update(kw)

    @classmethod
    def parse(cls, data):
        f = HEADER.unpack_from(data)
        h = cls()
        (h.vers, h.ptype, h.flags1, h.flags2, h.drep, serial_hi, obj, iface, act,
         h.server_boot, h.if_vers, h.seq, h.opnum, h.ihint, h.ahint, h.length,
         h.fragnum, h.auth_proto, serial_lo) = f
        h.serial = serial_hi << 8 | serial_lo
        h.object = uuid.UUID(bytes_le=obj)
        h.interface = uuid.UUID(bytes_le=iface)
        h.activity = uuid.UUID(bytes_le=act)
        return h

    def pack(self, body):
        return HEADER.pack(
            self.vers, self.ptype, self.flags1, self.flags2, self.drep,
            (self.serial >> 8) & 0xFF, self.object.bytes_le, self.interface.bytes_le,
            self.activity.bytes_le, self.server_boot, self.if_vers, self.seq,
            self.opnum, self.ihint, self.ahint, len(body), self.fragnum,
            self.auth_proto, self.serial & 0xFF) + body

    def describe(self):
        return (f"{PTYPE_NAMES.get(self.ptype, self.ptype)} f1={self.flags1:#04x} "
                f"f2={self.flags2:#04x} if={self.interface} act={self.activity} "
                f"boot={self.server_boot} seq={self.seq} op={self.opnum} "
                f"len={self.length} frag={self.fragnum} serial={self.serial}")


# ---------------------------------------------------------------- towers / NDR

def floor(lhs, rhs):
    return struct.pack("<H", len(lhs)) + lhs + struct.pack("<H", len(rhs)) + rhs


def uuid_floor(u, major, minor):
    return floor(b"\x0d" + u.bytes_le + struct.pack("<H", major), struct.pack("<H", minor))


def entry_spec(i, udp_port):
    """The i-th endpoint: (interface uuid, major, minor, annotation, tower, binding)."""
    iface = uuid.UUID(f"{0x1000 + i:08x}-1234-5678-9abc-def012345678")
    major, minor = 1 + i % 3, i % 2
    annotation = "" if i % 5 == 4 else f"Mock service {i}"
    kind = i % 3
    floors = [uuid_floor(iface, major, minor), uuid_floor(NDR_UUID, 2, 0)]
    if kind == 0:
        port = 49664 + i
        floors += [floor(b"\x0b", b"\x00\x00"), floor(b"\x07", struct.pack(">H", port)),
                   floor(b"\x09", bytes([127, 0, 0, 1]))]
        binding = f"ncacn_ip_tcp:127.0.0.1[{port}]"
    elif kind == 1:
        floors += [floor(b"\x0a", b"\x00\x00"), floor(b"\x08", struct.pack(">H", udp_port)),
                   floor(b"\x09", bytes([127, 0, 0, 1]))]
        binding = f"ncadg_ip_udp:127.0.0.1[{udp_port}]"
    else:
        pipe = f"\\PIPE\\mock{i}"
        floors += [floor(b"\x0b", b"\x00\x00"), floor(b"\x0f", pipe.encode() + b"\x00"),
                   floor(b"\x11", b"\\\\MOCKHOST\x00")]
        binding = f"ncacn_np:\\\\MOCKHOST[{pipe}]"
    tower = struct.pack("<H", len(floors)) + b"".join(floors)
    return iface, major, minor, annotation, tower, binding


def pad4(b):
    return b + b"\x00" * (-len(b) % 4)


def lookup_reply(handle, entries, max_ents, status):
    """NDR reply stub of ept_lookup (protocols.md 3.3 / MS-RPCE 2.2.1.2.4)."""
    out = bytearray(handle)
    out += struct.pack("<IIII", len(entries), max_ents, 0, len(entries))
    towers = []
    for k, (_iface, _maj, _min, annotation, tower, _b) in enumerate(entries):
        out += NIL.bytes_le
        out += struct.pack("<I", 0x00020000 + 4 * k)
        ann = annotation.encode() + b"\x00"
        out += struct.pack("<II", 0, len(ann))
        out = bytearray(pad4(bytes(out + ann)))
        towers.append(tower)
    for tower in towers:
        out += struct.pack("<II", len(tower), len(tower))
        out = bytearray(pad4(bytes(out + tower)))
    out += struct.pack("<I", status)
    return bytes(out)


# ---------------------------------------------------------------- the server

class Server:
    def __init__(self, args):
        self.a = args
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        host, _, port = args.bind.rpartition(":")
        self.sock.bind((host, int(port)))
        self.port = self.sock.getsockname()[1]
        self.boot = int(time.time()) & 0xFFFFFFFF or 1
        self.entries = [entry_spec(i, self.port) for i in range(args.entries)]
        self.cursors = {}        # handle uuid -> next entry index
        self.activities = {}     # client activity -> dict(seq, cas, boot_known, done)
        self.cache = {}          # (activity, seq) -> list of datagrams (completed call)
        self.dropped = False
        self.worked = False
        self.serial = 0
        self.datagrams = 0
        self.started = time.monotonic()
        self.backlog = []        # datagrams read while waiting for something else

    # -- I/O

    def recv(self, timeout, backlog=False):
        if backlog and self.backlog:
            return self.backlog.pop(0)
        if time.monotonic() - self.started > MAX_SECONDS or self.datagrams >= MAX_DATAGRAMS:
            log("cap reached, exiting")
            sys.exit(0)
        self.sock.settimeout(timeout)
        try:
            data, peer = self.sock.recvfrom(65535)
        except socket.timeout:
            return None
        self.datagrams += 1
        return data, peer

    def send(self, hdr, body, peer):
        hdr.serial = self.serial
        self.serial = (self.serial + 1) & 0xFFFF
        pkt = hdr.pack(body)
        log(f"-> {peer[1]} {Hdr.parse(pkt).describe()}")
        self.sock.sendto(pkt, peer)
        return pkt

    def reply_hdr(self, req, ptype, flags1=0):
        return Hdr(ptype=ptype, flags1=flags1, object=req.object, interface=req.interface,
                   activity=req.activity, server_boot=self.boot, if_vers=req.if_vers,
                   seq=req.seq, opnum=req.opnum)

    def parse(self, data, peer):
        if len(data) < 80 or data[0] != 4:
            log(f"<- {peer[1]} {len(data)} bytes, not CL DCE/RPC: ignored")
            return None
        h = Hdr.parse(data)
        log(f"<- {peer[1]} {h.describe()}")
        if h.drep[0] != 0x10:
            violation(f"drep {h.drep.hex()} is not little-endian/ASCII")
            return None
        if len(data) != 80 + h.length:
            violation(f"len field {h.length} but datagram body is {len(data) - 80} bytes")
            return None
        if h.flags1 & (PF_FORWARDED | PF_BROADCAST):
            violation(f"client set flags1 {h.flags1:#04x} (forwarded/broadcast)")
        if h.auth_proto != 0:
            violation(f"auth_proto {h.auth_proto}")
        return h, data[80:]

    # -- main loop

    def run(self):
        print(self.port, flush=True)
        log(f"listening on {self.sock.getsockname()} boot={self.boot} entries={len(self.entries)}")
        while True:
            got = self.recv(5.0, backlog=True)
            if got is None:
                continue
            self.dispatch(*got)

    def dispatch(self, data, peer):
        p = self.parse(data, peer)
        if p is None:
            return
        h, body = p
        if h.ptype == REQUEST:
            self.on_request(h, body, peer)
        elif h.ptype == PING:
            key = (h.activity, h.seq)
            if key in self.cache:
                for pkt in self.cache[key]:
                    self.sock.sendto(pkt, peer)
            else:
                self.send(self.reply_hdr(h, NOCALL), b"", peer)
        elif h.ptype == ACK:
            if (h.activity, h.seq) not in self.cache:
                violation(f"ack for unknown call {h.activity} seq {h.seq}")
            else:
                log(f"   call {h.activity} seq {h.seq} acknowledged")
        elif h.ptype == FACK:
            log("   fack outside a fragmented transmission: ignored")
        else:
            violation(f"unexpected {PTYPE_NAMES.get(h.ptype, h.ptype)} from the client")

    def on_request(self, h, body, peer):
        if h.interface != EPM_UUID:
            violation(f"request on interface {h.interface}")
            self.send(self.reply_hdr(h, REJECT), struct.pack("<I", NCA_S_UNK_IF), peer)
            return
        if h.if_vers != 3:
            violation(f"EPM if_vers {h.if_vers:#x}, expected 3")
        if h.object != NIL:
            violation(f"object uuid {h.object} is not nil")
        if h.flags1 & PF_FRAG or h.fragnum != 0:
            violation(f"a 40-byte request should be one unfragmented packet (f1={h.flags1:#04x})")
        key = (h.activity, h.seq)
        act = self.activities.get(h.activity)
        if key in self.cache:
            log("   retransmitted request of a finished call: resending the response")
            for pkt in self.cache[key]:
                self.sock.sendto(pkt, peer)
            return
        if act is not None and h.seq <= act["seq"]:
            violation(f"seq {h.seq} does not advance (last {act['seq']})")
            return
        if act is not None and h.seq != act["seq"] + 1:
            violation(f"seq jumped from {act['seq']} to {h.seq}")
        if h.server_boot not in (0, self.boot):
            self.send(self.reply_hdr(h, REJECT), struct.pack("<I", NCA_S_WRONG_BOOT_TIME), peer)
            violation(f"server_boot {h.server_boot} is not ours ({self.boot})")
            return
        if act is not None and act["boot_known"] and h.server_boot != self.boot:
            violation(f"server_boot {h.server_boot}: the client did not echo {self.boot}")
        if self.a.drop_first and not self.dropped:
            self.dropped = True
            log("   dropping the first request (--drop-first)")
            return
        if act is None and self.a.callback:
            act = self.callback(h, peer)
            if act is None:
                return
        if act is None:
            act = {"seq": h.seq, "cas": None, "boot_known": False, "handles": set()}
            self.activities[h.activity] = act
        act["seq"] = h.seq
        if self.a.working and not self.worked:
            self.worked = True
            if not self.work(h, peer):
                return
        if h.opnum == 2:
            ptype, stub = self.ept_lookup(act, body)
        elif h.opnum == 4:
            ptype, stub = self.handle_free(act, body)
        else:
            violation(f"opnum {h.opnum}")
            ptype, stub = FAULT, struct.pack("<I", NCA_S_OP_RNG_ERROR)
        act["boot_known"] = True
        if ptype == FAULT:
            pkts = [self.send(self.reply_hdr(h, FAULT), stub, peer)]
        else:
            pkts = self.respond(h, stub, peer)
        if pkts is not None:
            self.cache[key] = pkts

    # -- conv_who_are_you2 callback (MS-RPCE 3.2.3.5.4.2, 4.3; C706 App. P)

    def callback(self, req, peer):
        cb = Hdr(ptype=REQUEST, flags1=PF_IDEMPOTENT, flags2=self.a.callback_flags2,
                 interface=CONV_UUID, activity=uuid.uuid4(), server_boot=0, if_vers=3,
                 seq=0, opnum=1)
        body = req.activity.bytes_le + struct.pack("<I", self.boot)
        for attempt in range(CALLBACK_TRIES):
            log(f"   conv_who_are_you2 callback, try {attempt + 1}")
            self.send(cb, body, peer)
            deadline = time.monotonic() + CALLBACK_WAIT
            while time.monotonic() < deadline:
                got = self.recv(max(deadline - time.monotonic(), 0.001))
                if got is None:
                    break
                data, frm = got
                p = self.parse(data, frm)
                if p is None:
                    continue
                h, rbody = p
                if h.activity != cb.activity:
                    if h.ptype == REQUEST and h.activity == req.activity and h.seq == req.seq:
                        log("   client retransmitted while we call back: ignored")
                    else:
                        self.backlog.append((data, frm))
                    continue
                if h.ptype != RESPONSE:
                    violation(f"callback answered with {PTYPE_NAMES.get(h.ptype, h.ptype)}")
                    return None
                if frm != peer:
                    violation(f"callback response from {frm}, the call came from {peer}")
                if (h.interface, h.seq, h.opnum) != (CONV_UUID, 0, 1):
                    violation(f"callback response header ids: if={h.interface} seq={h.seq} "
                              f"op={h.opnum}")
                if h.if_vers != 3:
                    violation(f"callback response if_vers {h.if_vers}")
                if h.flags1 & PF_FRAG:
                    violation("fragmented callback response")
                if len(rbody) < 24:
                    violation(f"callback response body {len(rbody)} bytes, expected 24")
                    return None
                seq, cas, status = struct.unpack_from("<I16sI", rbody)
                cas = uuid.UUID(bytes_le=cas)
                log(f"   callback answer: seq={seq} cas={cas} status={status:#x}")
                if seq != req.seq:
                    violation(f"callback answer seq {seq}, the pending call is seq {req.seq}")
                if status != 0:
                    violation(f"callback answer status {status:#x}")
                if cas == NIL:
                    violation("callback answer has a nil CAS uuid")
                for other in self.activities.values():
                    if other["cas"] is not None and other["cas"] != cas:
                        log(f"   note: a different CAS uuid than before ({other['cas']})")
                act = {"seq": req.seq, "cas": cas, "boot_known": True, "handles": set()}
                self.activities[req.activity] = act
                return act
        violation("no answer to the conv_who_are_you2 callback")
        return None

    # -- working

    def work(self, req, peer):
        """Execute slowly: a working PDU every 300 ms for --working-ms in total."""
        end = time.monotonic() + self.a.working_ms / 1000
        while True:
            self.send(self.reply_hdr(req, WORKING), b"", peer)
            nxt = min(end, time.monotonic() + 0.3)
            while time.monotonic() < nxt:
                got = self.recv(max(nxt - time.monotonic(), 0.001))
                if got is None:
                    break
                p = self.parse(*got)
                if p is None:
                    continue
                h, _ = p
                if h.activity == req.activity and h.seq == req.seq and h.ptype in (REQUEST, PING):
                    log("   client retransmitted during the call: answering working")
                    self.send(self.reply_hdr(req, WORKING), b"", peer)
                else:
                    self.backlog.append(got)
            if time.monotonic() >= end:
                return True

    # -- ept_lookup

    def ept_lookup(self, act, stub):
        if self.a.fault is not None:
            return FAULT, struct.pack("<I", self.a.fault)
        try:
            off = 0
            inquiry, obj_ref = struct.unpack_from("<II", stub, off)
            off += 8
            if obj_ref:
                off += 16
            (if_ref,) = struct.unpack_from("<I", stub, off)
            off += 4
            if if_ref:
                off += 20
            (vers_option,) = struct.unpack_from("<I", stub, off)
            off += 4
            handle = stub[off:off + 20]
            off += 20
            (max_ents,) = struct.unpack_from("<I", stub, off)
            off += 4
        except struct.error:
            violation(f"ept_lookup stub too short: {stub.hex()}")
            return FAULT, struct.pack("<I", NCA_S_PROTO_ERROR)
        if off != len(stub) or len(handle) != 20:
            violation(f"ept_lookup stub has {len(stub)} bytes, decoded {off}")
        log(f"   ept_lookup inquiry={inquiry} object={'set' if obj_ref else 'NULL'} "
            f"ifid={'set' if if_ref else 'NULL'} vers_option={vers_option} "
            f"handle={handle.hex()} max_ents={max_ents}")
        if inquiry != 0 or obj_ref or if_ref or vers_option != 1:
            violation("expected RPC_C_EP_ALL_ELTS, NULL object and Ifid, vers_option 1")
        if not 1 <= max_ents <= 500:
            violation(f"max_ents {max_ents} outside range(1,500)")
            return FAULT, struct.pack("<I", RPC_X_INVALID_BOUND)
        null = handle == bytes(20)
        if null:
            hid = uuid.uuid4()
            self.cursors[hid] = 0
            act["handles"].add(hid)
        else:
            attr, hid = struct.unpack("<I16s", handle)
            hid = uuid.UUID(bytes_le=hid)
            if attr != 0 or hid not in self.cursors:
                violation(f"unknown context handle {handle.hex()}")
                return FAULT, struct.pack("<I", 0x1C00001A)  # nca_s_fault_context_mismatch
            if hid not in act["handles"]:
                violation("context handle used from another activity")
        start = self.cursors[hid]
        page = self.entries[start:start + max_ents]
        self.cursors[hid] = start + len(page)
        exhausted = self.cursors[hid] >= len(self.entries)
        out_handle = struct.pack("<I", 0) + hid.bytes_le
        status = 0
        if self.a.end == "windows":
            if exhausted:
                out_handle = bytes(20)
                del self.cursors[hid]
            if not page:
                status = EPT_S_NOT_REGISTERED
        elif not page:
            status = EPT_S_NOT_REGISTERED  # samba: keep the handle, say "no more"
        log(f"   page: entries {start}..{start + len(page)} of {len(self.entries)}, "
            f"status={status:#x}, handle={'NULL' if out_handle == bytes(20) else hid}")
        return RESPONSE, lookup_reply(out_handle, page, max_ents, status)

    def handle_free(self, act, stub):
        if len(stub) != 20:
            violation(f"ept_lookup_handle_free stub {len(stub)} bytes")
        hid = uuid.UUID(bytes_le=stub[4:20]) if len(stub) >= 20 else None
        self.cursors.pop(hid, None)
        return RESPONSE, bytes(20) + struct.pack("<I", 0)

    # -- responses and fragments

    def respond(self, req, stub, peer):
        n = self.a.frag
        if not n or len(stub) <= n:
            return [self.send(self.reply_hdr(req, RESPONSE, self.a.single_flags1), stub, peer)]
        parts = [stub[i:i + n] for i in range(0, len(stub), n)]
        blast = max(1, self.a.blast)
        sent = []
        # Bursts of --blast fragments: NOFACK on all but a burst's last one (as
        # the DCE and Windows runtimes blast); the final fragment carries
        # LASTFRAG, and NOFACK too with --blast > 1.
        for first in range(0, len(parts), blast):
            burst = list(range(first, min(first + blast, len(parts))))
            for attempt in range(FACK_TRIES):
                for num in burst:
                    last = num == len(parts) - 1
                    flags = PF_FRAG | (PF_LASTFRAG if last else 0)
                    wants_fack = num == burst[-1] and not last
                    if not wants_fack and (blast > 1 or not last):
                        flags |= PF_NOFACK if blast > 1 else 0
                    hdr = self.reply_hdr(req, RESPONSE, flags)
                    hdr.fragnum = num
                    pkt = self.send(hdr, parts[num], peer)
                    if attempt == 0:
                        sent.append(pkt)
                if burst[-1] == len(parts) - 1:
                    return sent
                serial = Hdr.parse(pkt).serial
                if self.wait_fack(req, burst[-1], serial):
                    break
                log(f"   no fack for fragment {burst[-1]} (try {attempt + 1}), resending")
            else:
                violation(f"never got a fack for fragment {burst[-1]}")
                return None
        return sent

    def wait_fack(self, req, num, serial):
        deadline = time.monotonic() + FACK_WAIT
        while time.monotonic() < deadline:
            got = self.recv(max(deadline - time.monotonic(), 0.001))
            if got is None:
                return False
            p = self.parse(*got)
            if p is None:
                continue
            h, body = p
            if h.activity != req.activity:
                self.backlog.append(got)
                continue
            if h.ptype == REQUEST and h.seq == req.seq:
                log("   request retransmitted during the fragments: ignored")
                continue
            if h.ptype == ACK:
                continue
            if h.ptype != FACK:
                violation(f"{PTYPE_NAMES.get(h.ptype, h.ptype)} while sending fragments")
                continue
            if h.seq != req.seq:
                violation(f"fack seq {h.seq}, call seq {req.seq}")
                continue
            if len(body) < 20:
                violation(f"fack body {len(body)} bytes, expected >= 20 (rpc_dg_fackpkt_body_t)")
                continue
            vers, _pad, window, max_tsdu, max_frag, fserial, selack_len = \
                struct.unpack_from("<BBHIIHH", body)
            log(f"   fack fragnum={h.fragnum} vers={vers} window={window} max_tsdu={max_tsdu} "
                f"max_frag={max_frag} serial={fserial} selack_len={selack_len} "
                f"body={len(body)}")
            if vers not in (0, 1):
                violation(f"fack body vers {vers}")
            if len(body) < 20 + 4 * selack_len:
                violation(f"fack selack_len {selack_len} but body {len(body)} bytes")
            if fserial != serial:
                violation(f"fack serial_num {fserial}, the fragment had serial {serial}")
            if h.fragnum != num:
                violation(f"fack fragnum {h.fragnum}: the highest in-order fragment is {num}")
                continue
            if window == 0:
                violation("fack window_size 0 would stall the sender")
            return True
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bind", help="address:port to bind (port 0: any)")
    ap.add_argument("--callback", action="store_true")
    ap.add_argument("--callback-flags2", type=lambda s: int(s, 0), default=PF2_UNRELATED,
                    help="flags2 of the callback request (MS-RPCE 2.2.3.3: PF2_UNRELATED)")
    ap.add_argument("--frag", type=int, default=0)
    ap.add_argument("--blast", type=int, default=1,
                    help="fragments per burst; NOFACK on all but each burst's last")
    ap.add_argument("--working", action="store_true")
    ap.add_argument("--working-ms", type=int, default=1500)
    ap.add_argument("--drop-first", action="store_true")
    ap.add_argument("--entries", type=int, default=3)
    ap.add_argument("--end", choices=("windows", "samba"), default="windows")
    ap.add_argument("--fault", type=lambda s: int(s, 0), default=None)
    ap.add_argument("--single-flags1", type=lambda s: int(s, 0), default=0)
    a = ap.parse_args()
    if a.frag and a.frag < 8:
        ap.error("--frag must be at least 8")
    try:
        Server(a).run()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
