//! The DCE endpoint mapper's `ept_lookup` (opnum 2): the request stub, the NDR reply
//! stub, protocol towers and their string bindings, and PortQry's text layout.
//!
//! References: C706 Appendix L (towers) and Appendix O (ept interface), MS-RPCE
//! §2.2.1.2.4, impacket `epm.py` (`PrintStringBinding`, whose binding strings we match).
//!
//! The stub is the reassembled body of the response (CO) or the datagram body (CL); NDR
//! alignment is relative to its first byte. The caller has already checked the PDU's
//! drep, so the stub is decoded little-endian. Nothing here allocates from a count the
//! server sent: every count is checked against the bytes actually present.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use uuid::Uuid;

use super::bytes::{Reader, Truncated, put_u32_le, u16_be_at, u16_le_at};
use super::dcerpc::{RpcError, SyntaxId, uuid_le};

/// `ept_lookup` operation number.
pub const EPT_LOOKUP_OPNUM: u16 = 2;
/// `ept_lookup_handle_free` operation number (to release a handle when stopping early).
pub const EPT_LOOKUP_HANDLE_FREE_OPNUM: u16 = 4;
/// Status meaning "no (more) elements".
pub const EPT_S_NOT_REGISTERED: u32 = 0x16c9_a0d6;
/// `inquiry_type` RPC_C_EP_ALL_ELTS: return every entry.
pub const RPC_C_EP_ALL_ELTS: u32 = 0;
/// `vers_option` RPC_C_VERS_ALL.
pub const RPC_C_VERS_ALL: u32 = 1;
/// Length of the ept_lookup request stub.
pub const EPT_LOOKUP_STUB_LEN: usize = 40;
/// Length of a context handle (u32 attributes + UUID).
pub const HANDLE_LEN: usize = 20;
/// The NULL context handle that starts a lookup.
pub const NULL_HANDLE: [u8; HANDLE_LEN] = [0; HANDLE_LEN];
/// Entries to ask for per call over TCP (what impacket asks; Windows caps at 500).
pub const MAX_ENTS_TCP: u32 = 500;
/// Entries to ask for per call over UDP, keeping replies near one 1024-byte fragment.
pub const MAX_ENTS_UDP: u32 = 1;
/// Hard cap on lookup round trips, for servers whose handle never ends the loop.
pub const MAX_LOOKUP_CALLS: usize = 200;
/// What [`Tower::binding`] holds when the tower names no transport at all.
pub const NO_BINDING: &str = "(no binding)";

/// Smallest possible encoded entry: object UUID + tower referent + annotation offset and
/// count, with an empty annotation.
const MIN_ENTRY_LEN: usize = 16 + 4 + 4 + 4;

/// Encode the ept_lookup request stub: RPC_C_EP_ALL_ELTS, NULL object, NULL Ifid,
/// RPC_C_VERS_ALL, then `entry_handle` (NULL to start, then the one the server returned)
/// and `max_ents`.
pub fn emit_ept_lookup_stub(entry_handle: &[u8; HANDLE_LEN], max_ents: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(EPT_LOOKUP_STUB_LEN);
    put_u32_le(&mut out, RPC_C_EP_ALL_ELTS);
    put_u32_le(&mut out, 0); // [ptr] object: NULL
    put_u32_le(&mut out, 0); // [ptr] Ifid: NULL
    put_u32_le(&mut out, RPC_C_VERS_ALL);
    out.extend_from_slice(entry_handle);
    put_u32_le(&mut out, max_ents);
    out
}

/// Encode the ept_lookup_handle_free stub (the in/out handle alone).
pub fn emit_ept_lookup_handle_free_stub(entry_handle: &[u8; HANDLE_LEN]) -> Vec<u8> {
    entry_handle.to_vec()
}

/// One decoded ept_lookup reply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LookupPage {
    /// Handle to send with the next call (all zero when the server has no more).
    #[serde(skip)]
    pub entry_handle: [u8; HANDLE_LEN],
    /// `num_ents` as the server stated it.
    pub num_ents: u32,
    /// The entries actually marshalled (the array's actual_count).
    pub entries: Vec<Entry>,
    /// Call status: 0, or [`EPT_S_NOT_REGISTERED`] when there is nothing (more).
    pub status: u32,
}

impl LookupPage {
    /// Whether the lookup loop should stop after this page: a NULL handle, any non-zero
    /// status (normally [`EPT_S_NOT_REGISTERED`]), or no entries. Implementations differ
    /// in which of these they use to signal the end (impacket stops on the handle, nmap
    /// on the count, Samba sends the status), so all are honoured.
    pub fn is_last(&self) -> bool {
        self.entry_handle == NULL_HANDLE || self.status != 0 || self.num_ents == 0 || self.entries.is_empty()
    }
}

/// One endpoint-mapper entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// Object UUID (usually nil).
    pub object: Uuid,
    /// Annotation, up to its first NUL; control characters replaced.
    pub annotation: String,
    /// The decoded tower, `None` for a NULL tower pointer.
    pub tower: Option<Tower>,
}

/// A decoded protocol tower.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tower {
    /// Floor 1: the interface UUID and version, if floor 1 is a UUID floor.
    pub interface: Option<SyntaxId>,
    /// Floor 2: the transfer syntax, if floor 2 is a UUID floor.
    pub transfer: Option<SyntaxId>,
    /// String binding in impacket's `PrintStringBinding` format, e.g.
    /// `ncacn_ip_tcp:10.0.0.1[49668]`.
    pub binding: String,
    /// The tower ended before its declared floor count; `binding` uses the floors
    /// that were complete.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// An NDR u32: aligned to 4 from the stub start, little-endian.
fn ndr_u32(r: &mut Reader<'_>) -> Result<u32, Truncated> {
    r.align(4);
    r.u32_le()
}

/// An NDR UUID: a struct whose largest member is a u32, so aligned to 4.
fn ndr_uuid(r: &mut Reader<'_>) -> Result<Uuid, Truncated> {
    r.align(4);
    r.array().map(Uuid::from_bytes_le)
}

/// Decode an ept_lookup reply stub.
///
/// Layout: entry_handle (20) | num_ents | entries as a conformant-varying array
/// (max_count, offset, actual_count, then per entry: object UUID, tower referent,
/// annotation as a varying string) | the non-NULL towers, deferred, each a conformant
/// struct (max_count, tower_length, octets) | status.
pub fn parse_ept_lookup_reply(stub: &[u8]) -> Result<LookupPage, RpcError> {
    const HEADER: &str = "endpoint mapper reply";
    let mut r = Reader::new(stub);
    let header = |_| RpcError::Truncated(HEADER);
    let entry_handle: [u8; HANDLE_LEN] = r.array().map_err(header)?;
    let num_ents = ndr_u32(&mut r).map_err(header)?;
    // max_count is the size we asked for and offset is 0 in practice; neither says how
    // many elements follow, so neither is used (and max_count is never allocated from).
    let _max_count = ndr_u32(&mut r).map_err(header)?;
    let _offset = ndr_u32(&mut r).map_err(header)?;
    let actual = usize::try_from(ndr_u32(&mut r).map_err(header)?).unwrap_or(usize::MAX);
    let fit = r.remaining() / MIN_ENTRY_LEN;
    if actual > fit {
        return Err(RpcError::TruncatedEntry(fit + 1));
    }

    // Pass 1: the fixed parts of the entries; remember which have a tower.
    let mut entries = Vec::with_capacity(actual);
    let mut has_tower = Vec::with_capacity(actual);
    for i in 0..actual {
        let trunc = RpcError::TruncatedEntry(i + 1);
        let object = ndr_uuid(&mut r).map_err(|_| trunc.clone())?;
        let referent = ndr_u32(&mut r).map_err(|_| trunc.clone())?;
        let _ann_offset = ndr_u32(&mut r).map_err(|_| trunc.clone())?;
        let ann_len = usize::try_from(ndr_u32(&mut r).map_err(|_| trunc.clone())?).unwrap_or(usize::MAX);
        let ann = r.bytes(ann_len).map_err(|_| trunc)?;
        entries.push(Entry { object, annotation: c_string(ann), tower: None });
        has_tower.push(referent != 0);
    }

    // Pass 2: the deferred towers, in entry order.
    for (i, entry) in entries.iter_mut().enumerate() {
        if !has_tower[i] {
            continue;
        }
        let trunc = RpcError::TruncatedTower(i + 1);
        let max_count = usize::try_from(ndr_u32(&mut r).map_err(|_| trunc.clone())?).unwrap_or(usize::MAX);
        let tower_length = usize::try_from(ndr_u32(&mut r).map_err(|_| trunc.clone())?).unwrap_or(usize::MAX);
        // The array on the wire is max_count bytes; tower_length should be the same, and
        // if it is not, only the bytes both agree on are decoded.
        let octets = r.bytes(max_count).map_err(|_| trunc)?;
        entry.tower = Some(decode_tower(&octets[..tower_length.min(octets.len())]));
    }

    let status = ndr_u32(&mut r).map_err(|_| RpcError::Truncated("endpoint mapper reply status"))?;
    Ok(LookupPage { entry_handle, num_ents, entries, status })
}

/// Protocol identifiers found in tower floors (C706 Appendix I, MS-RPCE §2.2.1).
pub mod proto_id {
    pub const NETBIOS_HOST_ALT: u8 = 0x01;
    pub const TCP: u8 = 0x07;
    pub const UDP: u8 = 0x08;
    pub const IP: u8 = 0x09;
    pub const RPC_CL: u8 = 0x0a;
    pub const RPC_CO: u8 = 0x0b;
    /// SPX port (also "ncalrpc" in floor 3 of local towers).
    pub const SPX: u8 = 0x0c;
    /// A UUID floor in floors 1-2; an IPX/SPX host address further up.
    pub const UUID: u8 = 0x0d;
    pub const IPX: u8 = 0x0e;
    pub const NAMED_PIPE: u8 = 0x0f;
    pub const LRPC: u8 = 0x10;
    pub const NETBIOS_HOST: u8 = 0x11;
    pub const HTTP: u8 = 0x1f;
}

/// One tower floor: left-hand side (protocol id and data) and right-hand side
/// (address data).
struct Floor<'a> {
    lhs: &'a [u8],
    rhs: &'a [u8],
}

impl Floor<'_> {
    fn protocol(&self) -> u8 {
        // An empty lhs has no protocol id; 0x00 (OSI OID) is not one we render, so it
        // falls into the "unknown" case like any other foreign protocol.
        self.lhs.first().copied().unwrap_or(0)
    }

    /// Floors 1 and 2: 0x0d, UUID, major version (u16 LE) | minor version (u16 LE).
    fn syntax(&self) -> Option<SyntaxId> {
        if self.protocol() != proto_id::UUID {
            return None;
        }
        Some(SyntaxId::new(uuid_le(self.lhs, 1)?, u16_le_at(self.lhs, 17)?, u16_le_at(self.rhs, 0)?))
    }

    /// A TCP/UDP/HTTP/SPX/IPX port: big-endian in towers.
    fn port(&self) -> String {
        u16_be_at(self.rhs, 0).map_or_else(|| "?".to_owned(), |port| port.to_string())
    }

    /// An IP address: 4 bytes in network order (16 accepted too, for IPv6 towers).
    fn ip(&self) -> String {
        if let Ok(b) = <[u8; 4]>::try_from(self.rhs) {
            Ipv4Addr::from(b).to_string()
        } else if let Ok(b) = <[u8; 16]>::try_from(self.rhs) {
            Ipv6Addr::from(b).to_string()
        } else {
            hex_upper(self.rhs)
        }
    }
}

/// Decode a tower's octet string (not NDR: u16 LE floor count, then per floor u16 LE
/// lhs length, lhs, u16 LE rhs length, rhs). Never fails: a short tower yields what its
/// complete floors say, with `truncated` set.
pub fn decode_tower(octets: &[u8]) -> Tower {
    let declared = u16_le_at(octets, 0);
    let mut floors = Vec::new();
    let mut off = 2;
    let mut truncated = declared.is_none();
    // Bounded by the u16 floor count; each floor consumes at least 4 bytes or ends it.
    for _ in 0..declared.unwrap_or(0) {
        let floor = (|| {
            let lhs_len = usize::from(u16_le_at(octets, off)?);
            let lhs = octets.get(off + 2..off + 2 + lhs_len)?;
            let rhs_off = off + 2 + lhs_len;
            let rhs_len = usize::from(u16_le_at(octets, rhs_off)?);
            let rhs = octets.get(rhs_off + 2..rhs_off + 2 + rhs_len)?;
            off = rhs_off + 2 + rhs_len;
            Some(Floor { lhs, rhs })
        })();
        match floor {
            Some(f) => floors.push(f),
            None => {
                truncated = true;
                break;
            }
        }
    }
    Tower {
        interface: floors.first().and_then(Floor::syntax),
        transfer: floors.get(1).and_then(Floor::syntax),
        binding: string_binding(&floors),
        truncated,
    }
}

/// Render floors 4 and up as a string binding, the way impacket's `PrintStringBinding`
/// does: a port or pipe floor sets up the protocol sequence and endpoint, and the next
/// host floor completes it.
fn string_binding(floors: &[Floor<'_>]) -> String {
    // (text before the host, text after the host) of the binding being built.
    let mut pending: Option<(String, String)> = None;
    let finish = |pending: Option<(String, String)>, host: &str, alone: &str| match pending {
        Some((head, tail)) => format!("{head}{host}{tail}"),
        None => format!("{alone}{host}"),
    };
    for floor in floors.iter().skip(3) {
        let port = || format!("[{}]", floor.port());
        match floor.protocol() {
            proto_id::TCP => pending = Some(("ncacn_ip_tcp:".into(), port())),
            proto_id::UDP => pending = Some(("ncadg_ip_udp:".into(), port())),
            proto_id::HTTP => pending = Some(("ncacn_http:".into(), port())),
            proto_id::SPX => pending = Some(("ncacn_spx:~".into(), port())),
            proto_id::IPX => pending = Some(("ncadg_ipx:~".into(), port())),
            proto_id::NAMED_PIPE => {
                pending = Some(("ncacn_np:".into(), format!("[{}]", c_string(floor.rhs))));
            }
            proto_id::IP => return finish(pending, &floor.ip(), "IP: "),
            proto_id::UUID => return finish(pending, &hex_upper(floor.rhs), "SPX: "),
            proto_id::NETBIOS_HOST | proto_id::NETBIOS_HOST_ALT => {
                return finish(pending, &c_string(floor.rhs), "NetBIOS: ");
            }
            proto_id::LRPC => return format!("ncalrpc:[{}]", c_string(floor.rhs)),
            other => return format!("unknown_proto_{other:#x}:[0]"),
        }
    }
    // The tower ended before a host floor. impacket gives up here; we keep what we have
    // (for example `ncacn_ip_tcp:[49668]`) rather than lose the endpoint.
    match pending {
        Some((head, tail)) => head + &tail,
        None => NO_BINDING.to_owned(),
    }
}

/// Bytes up to the first NUL as text, with control characters (a hostile server's
/// terminal escapes) replaced by U+FFFD.
fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end])
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

fn hex_upper(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

/// Well-known interface names, from Microsoft's open protocol specifications and the
/// DCE documents. Matched by UUID only.
const WELL_KNOWN: &[(Uuid, &str)] = &[
    (Uuid::from_u128(0xe1af8308_5d1f_11c9_91a4_08002b14a0fa), "DCE endpoint mapper"),
    (Uuid::from_u128(0x12345778_1234_abcd_ef00_0123456789ac), "SAMR"),
    (Uuid::from_u128(0x12345778_1234_abcd_ef00_0123456789ab), "LSARPC"),
    (Uuid::from_u128(0x12345678_1234_abcd_ef00_01234567cffb), "Netlogon"),
    (Uuid::from_u128(0x12345678_1234_abcd_ef00_0123456789ab), "Print Spooler (winspool)"),
    (Uuid::from_u128(0x76f03f96_cdfd_44fc_a22c_64950a001209), "Print System Asynchronous Remote"),
    (Uuid::from_u128(0xe3514235_4b06_11d1_ab04_00c04fc2dcd2), "MS NT Directory DRS Interface"),
    (Uuid::from_u128(0xecec0d70_a603_11d0_96b1_00a0c91ece30), "NTDS Backup Interface"),
    (Uuid::from_u128(0x16e0cf3a_a604_11d0_96b1_00a0c91ece30), "NTDS Restore Interface"),
    (Uuid::from_u128(0x3919286a_b10c_11d0_9ba8_00c04fd92ef5), "DSROLE (dssetup)"),
    (Uuid::from_u128(0x4b324fc8_1670_01d3_1278_5a47bf6ee188), "Server Service (srvsvc)"),
    (Uuid::from_u128(0x6bffd098_a112_3610_9833_46c3f87e345a), "Workstation Service (wkssvc)"),
    (Uuid::from_u128(0x367abb81_9844_35f1_ad32_98f038001003), "Service Control Manager (svcctl)"),
    (Uuid::from_u128(0x338cd001_2244_31f1_aaaa_900038001003), "Remote Registry (winreg)"),
    (Uuid::from_u128(0x86d35949_83c9_4044_b424_db363231fd0c), "Task Scheduler Service"),
    (Uuid::from_u128(0x1ff70682_0a51_30e8_076d_740be8cee98b), "Task Scheduler (atsvc)"),
    (Uuid::from_u128(0x378e52b0_c0a9_11cf_822d_00aa0051e40f), "Task Scheduler (sasec)"),
    (Uuid::from_u128(0x82273fdc_e32a_18c3_3f78_827929dc23ea), "EventLog"),
    (Uuid::from_u128(0xf6beaff7_1e19_4fbb_9f8f_b89e2018337c), "EventLog (even6)"),
    (Uuid::from_u128(0x894de0c0_0d55_11d3_a322_00c04fa321a1), "InitShutdown"),
    (Uuid::from_u128(0xd95afe70_a6d5_4259_822e_2c84da1ddb0d), "WindowsShutdown"),
    (Uuid::from_u128(0x4fc742e0_4a10_11cf_8273_00aa004ae673), "DFS Namespace (netdfs)"),
    (Uuid::from_u128(0xf5cc59b4_4264_101a_8c59_08002b2f8426), "File Replication Service (frsrpc)"),
    (Uuid::from_u128(0x897e2e5f_93f3_4376_9c9c_fd2277495c27), "DFS Replication (frstrans)"),
    (Uuid::from_u128(0x50abc2a4_574d_40b3_9d66_ee4fd5fba076), "DNS Server"),
    (Uuid::from_u128(0xc681d488_d850_11d0_8c52_00c04fd90f7e), "EFSRPC (lsarpc pipe)"),
    (Uuid::from_u128(0xdf1941c5_fe89_4e79_bf10_463657acf44d), "EFSRPC (efsrpc pipe)"),
    (Uuid::from_u128(0x6b5bdd1e_528c_422c_af8c_a4079be4fe48), "Windows Firewall Remote Management"),
    (Uuid::from_u128(0x99fcfec4_5260_101b_bbcb_00aa0021347a), "DCOM OXID Resolver (IObjectExporter)"),
    (Uuid::from_u128(0x000001a0_0000_0000_c000_000000000046), "DCOM IRemoteSCMActivator"),
    (Uuid::from_u128(0x4d9f4ab8_7d1c_11cf_861e_0020af6e7c57), "DCOM IActivation"),
];

/// The well-known name of an interface, if we know it.
pub fn interface_name(uuid: &Uuid) -> Option<&'static str> {
    WELL_KNOWN.iter().find(|(u, _)| u == uuid).map(|&(_, n)| n)
}

/// Render entries in PortQry's layout: `UUID: <uuid>[ <annotation>]`, the binding, then
/// a blank line, for each entry. The UUID is the tower's interface (floor 1), as PortQry
/// and rpcdump print it, falling back to the entry's object UUID.
///
/// With `names`, the well-known interface name is appended in brackets when the
/// annotation is empty or says something else. The caller prints the
/// "Total endpoints found" line and the end marker.
pub fn render_entries(entries: &[Entry], names: bool) -> Vec<String> {
    let mut lines = Vec::with_capacity(entries.len().saturating_mul(3));
    for e in entries {
        let uuid = e.tower.as_ref().and_then(|t| t.interface).map_or(e.object, |s| s.uuid);
        let mut line = format!("UUID: {uuid}");
        if !e.annotation.is_empty() {
            line.push(' ');
            line.push_str(&e.annotation);
        }
        if names
            && let Some(name) = interface_name(&uuid)
            && e.annotation != name
        {
            let _ = write!(line, " [{name}]");
        }
        lines.push(line);
        lines.push(e.tower.as_ref().map_or_else(|| NO_BINDING.to_owned(), |t| t.binding.clone()));
        lines.push(String::new());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::dcerpc::NDR_SYNTAX;

    /// protocols.md §3.3: one SAMR entry on ncacn_ip_tcp 10.0.0.1:49668.
    #[rustfmt::skip]
    const REPLY_156: [u8; 156] = [
        0x00, 0x00, 0x00, 0x00, 0x6b, 0x0e, 0x5a, 0x9c, 0x1d, 0x2e, 0x4f, 0x5a, 0x8b, 0x7c, 0x9d, 0x0e,
        0x1f, 0x2a, 0x3b, 0x4c, 0x01, 0x00, 0x00, 0x00, 0xf4, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x4b, 0x00, 0x00, 0x00, 0x4b, 0x00, 0x00, 0x00, 0x05, 0x00, 0x13, 0x00,
        0x0d, 0x78, 0x57, 0x34, 0x12, 0x34, 0x12, 0xcd, 0xab, 0xef, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89,
        0xac, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x13, 0x00, 0x0d, 0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c,
        0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, 0x02, 0x00, 0x02, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x0b, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x07, 0x02, 0x00, 0xc2, 0x04, 0x01, 0x00,
        0x09, 0x04, 0x00, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    /// Offset of the tower (its floor count) inside REPLY_156.
    const TOWER_AT: usize = 0x4c;
    const SAMR: Uuid = Uuid::from_u128(0x12345778_1234_abcd_ef00_0123456789ac);

    // ---- a small NDR/tower encoder for building test replies

    fn floor(out: &mut Vec<u8>, lhs: &[u8], rhs: &[u8]) {
        out.extend_from_slice(&(lhs.len() as u16).to_le_bytes());
        out.extend_from_slice(lhs);
        out.extend_from_slice(&(rhs.len() as u16).to_le_bytes());
        out.extend_from_slice(rhs);
    }

    /// A tower: interface floor, NDR floor, RPC protocol floor, then `rest` floors.
    fn tower(iface: SyntaxId, rpc: u8, rest: &[(u8, &[u8])]) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(&(3 + rest.len() as u16).to_le_bytes());
        for s in [iface, NDR_SYNTAX] {
            let mut lhs = vec![0x0d];
            lhs.extend_from_slice(&s.uuid.to_bytes_le());
            lhs.extend_from_slice(&s.major.to_le_bytes());
            floor(&mut t, &lhs, &s.minor.to_le_bytes());
        }
        floor(&mut t, &[rpc], &[0, 0]);
        for (id, rhs) in rest {
            floor(&mut t, &[*id], rhs);
        }
        t
    }

    fn pad4(out: &mut Vec<u8>) {
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }

    /// One test entry: object, annotation bytes as sent (incl. NUL), tower octets.
    type TestEntry<'a> = (Uuid, &'a [u8], Option<Vec<u8>>);

    /// Encode a reply stub.
    fn reply(handle: [u8; 20], max: u32, entries: &[TestEntry<'_>], status: u32) -> Vec<u8> {
        let mut s = handle.to_vec();
        for v in [entries.len() as u32, max, 0, entries.len() as u32] {
            s.extend_from_slice(&v.to_le_bytes());
        }
        for (i, (obj, ann, tower)) in entries.iter().enumerate() {
            pad4(&mut s);
            s.extend_from_slice(&obj.to_bytes_le());
            let referent = if tower.is_some() { 0x20000 + 4 * i as u32 } else { 0 };
            for v in [referent, 0, ann.len() as u32] {
                s.extend_from_slice(&v.to_le_bytes());
            }
            s.extend_from_slice(ann);
        }
        for t in entries.iter().filter_map(|e| e.2.as_ref()) {
            pad4(&mut s);
            s.extend_from_slice(&(t.len() as u32).to_le_bytes());
            s.extend_from_slice(&(t.len() as u32).to_le_bytes());
            s.extend_from_slice(t);
        }
        pad4(&mut s);
        s.extend_from_slice(&status.to_le_bytes());
        s
    }

    fn handle() -> [u8; 20] {
        REPLY_156[..20].try_into().unwrap()
    }

    fn samr_tcp_tower() -> Vec<u8> {
        tower(SyntaxId::new(SAMR, 1, 0), 0x0b, &[(0x07, &[0xc2, 0x04]), (0x09, &[10, 0, 0, 1])])
    }

    #[test]
    fn lookup_stub_matches_reference_bytes() {
        // protocols.md §3.2 request stub (max_ents 500) and §3.5 (max_ents 1).
        let mut want = vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
        want.extend_from_slice(&[0; 20]);
        want.extend_from_slice(&[0xf4, 0x01, 0, 0]);
        assert_eq!(emit_ept_lookup_stub(&NULL_HANDLE, MAX_ENTS_TCP), want);
        want[36..].copy_from_slice(&[1, 0, 0, 0]);
        assert_eq!(emit_ept_lookup_stub(&NULL_HANDLE, MAX_ENTS_UDP), want);
        assert_eq!(emit_ept_lookup_handle_free_stub(&handle()), handle().to_vec());
    }

    #[test]
    fn one_entry_reference_reply() {
        // The test encoder reproduces the reference bytes, so the other tests built
        // with it are trustworthy.
        assert_eq!(reply(handle(), 500, &[(Uuid::nil(), b"\0", Some(samr_tcp_tower()))], 0), REPLY_156);
        let page = parse_ept_lookup_reply(&REPLY_156).unwrap();
        assert_eq!(page.entry_handle, handle());
        assert_eq!((page.num_ents, page.status), (1, 0));
        assert!(!page.is_last());
        assert_eq!(page.entries.len(), 1);
        let e = &page.entries[0];
        assert_eq!(e.object, Uuid::nil());
        assert_eq!(e.annotation, "");
        let t = e.tower.as_ref().unwrap();
        assert_eq!(t.interface, Some(SyntaxId::new(SAMR, 1, 0)));
        assert_eq!(t.transfer, Some(NDR_SYNTAX));
        assert_eq!(t.binding, "ncacn_ip_tcp:10.0.0.1[49668]");
        assert!(!t.truncated);
        assert_eq!(
            render_entries(&page.entries, false),
            ["UUID: 12345778-1234-abcd-ef00-0123456789ac", "ncacn_ip_tcp:10.0.0.1[49668]", ""]
        );
        assert_eq!(
            render_entries(&page.entries, true)[0],
            "UUID: 12345778-1234-abcd-ef00-0123456789ac [SAMR]"
        );
    }

    #[test]
    fn three_entries_np_lrpc_udp() {
        let backup = Uuid::from_u128(0xecec0d70_a603_11d0_96b1_00a0c91ece30);
        let drs = Uuid::from_u128(0xe3514235_4b06_11d1_ab04_00c04fc2dcd2);
        let frs2 = Uuid::from_u128(0x897e2e5f_93f3_4376_9c9c_fd2277495c27);
        let obj = Uuid::from_u128(0x01020304_0506_0708_090a_0b0c0d0e0f10);
        let np = tower(
            SyntaxId::new(backup, 1, 0),
            0x0b,
            &[(0x0f, b"\\PIPE\\lsass\0"), (0x11, b"\\\\MYSERVER\0")],
        );
        let lrpc = tower(SyntaxId::new(frs2, 1, 0), 0x0c, &[(0x10, b"LRPC-0123abcd4567ef\0")]);
        let udp =
            tower(SyntaxId::new(drs, 4, 0), 0x0a, &[(0x08, &[0x04, 0x08]), (0x09, &[169, 254, 12, 191])]);
        let stub = reply(
            handle(),
            500,
            &[
                (Uuid::nil(), b"NTDS Backup Interface\0", Some(np)),
                (obj, b"Frs2 Service\0", Some(lrpc)),
                (Uuid::nil(), b"Impl friendly name\0", Some(udp)),
            ],
            0,
        );
        let page = parse_ept_lookup_reply(&stub).unwrap();
        let b: Vec<_> = page.entries.iter().map(|e| e.tower.as_ref().unwrap().binding.as_str()).collect();
        assert_eq!(
            b,
            [
                "ncacn_np:\\\\MYSERVER[\\PIPE\\lsass]",
                "ncalrpc:[LRPC-0123abcd4567ef]",
                "ncadg_ip_udp:169.254.12.191[1032]"
            ]
        );
        assert_eq!(page.entries[1].object, obj);
        assert_eq!(page.entries[2].tower.as_ref().unwrap().interface, Some(SyntaxId::new(drs, 4, 0)));
        assert_eq!(
            render_entries(&page.entries, true),
            [
                "UUID: ecec0d70-a603-11d0-96b1-00a0c91ece30 NTDS Backup Interface",
                "ncacn_np:\\\\MYSERVER[\\PIPE\\lsass]",
                "",
                "UUID: 897e2e5f-93f3-4376-9c9c-fd2277495c27 Frs2 Service [DFS Replication (frstrans)]",
                "ncalrpc:[LRPC-0123abcd4567ef]",
                "",
                "UUID: e3514235-4b06-11d1-ab04-00c04fc2dcd2 Impl friendly name [MS NT Directory DRS Interface]",
                "ncadg_ip_udp:169.254.12.191[1032]",
                "",
            ]
        );
        // Every prefix is an error, never a panic.
        for n in 0..stub.len() {
            assert!(parse_ept_lookup_reply(&stub[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn null_tower_and_annotation_without_nul() {
        let stub = reply(
            NULL_HANDLE,
            4,
            &[(Uuid::nil(), b"abc", None), (Uuid::nil(), b"", Some(samr_tcp_tower()))],
            0,
        );
        let page = parse_ept_lookup_reply(&stub).unwrap();
        assert_eq!(page.entries[0].tower, None);
        assert_eq!(page.entries[0].annotation, "abc");
        assert_eq!(page.entries[1].tower.as_ref().unwrap().binding, "ncacn_ip_tcp:10.0.0.1[49668]");
        assert!(page.is_last()); // NULL handle
        assert_eq!(render_entries(&page.entries[..1], false)[1], NO_BINDING);
    }

    #[test]
    fn samba_style_last_page() {
        let stub = reply(NULL_HANDLE, 500, &[], EPT_S_NOT_REGISTERED);
        assert_eq!(stub.len(), 40);
        let page = parse_ept_lookup_reply(&stub).unwrap();
        assert!(page.entries.is_empty());
        assert_eq!(page.status, EPT_S_NOT_REGISTERED);
        assert!(page.is_last());
        // Any one of the stop conditions is enough.
        let mut s = reply(handle(), 500, &[], EPT_S_NOT_REGISTERED);
        assert!(parse_ept_lookup_reply(&s).unwrap().is_last());
        let n = s.len();
        s[n - 4..].copy_from_slice(&[0; 4]);
        assert!(parse_ept_lookup_reply(&s).unwrap().is_last()); // num_ents 0
    }

    #[test]
    fn hostile_counts() {
        // num_ents, max_count, actual_count = 0xFFFFFFFF: refused before any allocation.
        let mut s = REPLY_156;
        s[20..36].copy_from_slice(&[0xff; 16]);
        assert_eq!(parse_ept_lookup_reply(&s), Err(RpcError::TruncatedEntry(5)));
        // Only num_ents and max_count huge: harmless, actual_count rules.
        let mut s = REPLY_156;
        s[20..28].copy_from_slice(&[0xff; 8]);
        assert_eq!(parse_ept_lookup_reply(&s).unwrap().entries.len(), 1);
        // Annotation count beyond the stub.
        let mut s = REPLY_156;
        s[0x3c..0x40].copy_from_slice(&[0xff; 4]);
        assert_eq!(parse_ept_lookup_reply(&s), Err(RpcError::TruncatedEntry(1)));
        // Tower max_count and tower_length larger than the stub.
        let mut s = REPLY_156;
        s[0x44..0x4c].copy_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(parse_ept_lookup_reply(&s), Err(RpcError::TruncatedTower(1)));
        // tower_length alone larger: decoded from the max_count bytes that exist.
        let mut s = REPLY_156;
        s[0x48..0x4c].copy_from_slice(&[0xff; 4]);
        let page = parse_ept_lookup_reply(&s).unwrap();
        assert_eq!(page.entries[0].tower.as_ref().unwrap().binding, "ncacn_ip_tcp:10.0.0.1[49668]");
        // floor_count huge: the five real floors are used, the tower is flagged.
        let mut s = REPLY_156;
        s[TOWER_AT..TOWER_AT + 2].copy_from_slice(&[0xff, 0xff]);
        let t = parse_ept_lookup_reply(&s).unwrap().entries[0].tower.clone().unwrap();
        assert!(t.truncated);
        assert_eq!(t.binding, "ncacn_ip_tcp:10.0.0.1[49668]");
        // A floor length running past the tower.
        let mut s = REPLY_156;
        s[TOWER_AT + 2..TOWER_AT + 4].copy_from_slice(&[0xff, 0xff]);
        let t = parse_ept_lookup_reply(&s).unwrap().entries[0].tower.clone().unwrap();
        assert!(t.truncated && t.interface.is_none());
        assert_eq!(t.binding, NO_BINDING);
    }

    #[test]
    fn truncation_at_every_length() {
        for n in 0..REPLY_156.len() {
            assert!(parse_ept_lookup_reply(&REPLY_156[..n]).is_err(), "prefix {n}");
        }
        assert_eq!(
            parse_ept_lookup_reply(&REPLY_156[..60]).unwrap_err().to_string(),
            "endpoint mapper reply truncated in entry 1"
        );
        // Every prefix of the tower octets decodes without panicking.
        let t = samr_tcp_tower();
        for n in 0..t.len() {
            assert!(decode_tower(&t[..n]).truncated);
        }
    }

    #[test]
    fn binding_forms() {
        let ifc = SyntaxId::new(SAMR, 1, 0);
        let b = |rest: &[(u8, &[u8])]| decode_tower(&tower(ifc, 0x0b, rest)).binding;
        assert_eq!(b(&[(0x1f, &[0x02, 0x51]), (0x09, &[10, 0, 0, 2])]), "ncacn_http:10.0.0.2[593]");
        assert_eq!(b(&[(0x09, &[1, 2, 3, 4])]), "IP: 1.2.3.4");
        assert_eq!(b(&[(0x42, &[])]), "unknown_proto_0x42:[0]");
        assert_eq!(b(&[(0x07, &[0x00, 0x87])]), "ncacn_ip_tcp:[135]");
        assert_eq!(b(&[(0x07, &[0x00])]), "ncacn_ip_tcp:[?]");
        assert_eq!(b(&[(0x07, &[0, 135]), (0x09, &[1, 2, 3])]), "ncacn_ip_tcp:010203[135]");
        assert_eq!(b(&[(0x11, b"HOST\0")]), "NetBIOS: HOST");
        assert_eq!(b(&[(0x10, b"a\x1b[2Jb\0")]), "ncalrpc:[a\u{fffd}[2Jb]");
        assert_eq!(b(&[]), NO_BINDING);
        assert_eq!(decode_tower(&[]).binding, NO_BINDING);
        assert_eq!(interface_name(&SAMR), Some("SAMR"));
    }

    #[test]
    fn mutated_replies_never_panic() {
        // A deterministic xorshift mutator: a cheap stand-in for the fuzz target.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let mut s = REPLY_156.to_vec();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() % s.len() as u64) as usize;
                s[i] = next() as u8;
            }
            let cut = (next() % (s.len() as u64 + 1)) as usize;
            if let Ok(page) = parse_ept_lookup_reply(&s[..cut]) {
                let _ = render_entries(&page.entries, true);
            }
        }
    }
}
