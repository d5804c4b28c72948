//! A small, lenient BER (X.690) reader and writer: the subset LDAP and SNMP need.
//!
//! Decoding is deliberately more permissive than DER: Active Directory encodes every
//! length in long form with four length bytes (`84 00 00 00 xx`), which is legal BER
//! but rejected by DER decoders. Everything else a hostile peer could send is refused
//! with a [`BerError`], never a panic:
//!
//! * every read is bounds-checked against the bytes actually present, and nothing is
//!   allocated from a peer-supplied length (values are borrowed slices);
//! * indefinite lengths (`0x80`) are refused: RFC 4511 §5.1 forbids them in LDAP, and
//!   they would require scanning for end-of-contents markers;
//! * lengths of more than four bytes are refused (no LDAP message is 4 GiB);
//! * multi-byte (high-tag-number) tags are refused: LDAP never uses tag numbers > 30;
//! * nesting is bounded by [`MAX_DEPTH`] when descending through [`Tlv::children`].
//!
//! The writer always emits minimal (definite, shortest-form) lengths.

use core::fmt;

/// Class bits of an identifier octet (X.690 §8.1.2.2).
pub const CLASS_MASK: u8 = 0xc0;
/// Universal class (INTEGER, SEQUENCE, ...).
pub const CLASS_UNIVERSAL: u8 = 0x00;
/// Application class (LDAP protocol operations).
pub const CLASS_APPLICATION: u8 = 0x40;
/// Context-specific class (implicitly tagged fields such as LDAP's `controls [0]`).
pub const CLASS_CONTEXT: u8 = 0x80;
/// Private class (unused by LDAP, listed for completeness).
pub const CLASS_PRIVATE: u8 = 0xc0;
/// Constructed bit of an identifier octet (X.690 §8.1.2.5).
pub const CONSTRUCTED: u8 = 0x20;
/// Tag-number bits of an identifier octet; all ones announces the multi-byte form.
const TAG_NUMBER_MASK: u8 = 0x1f;

/// Bit 8 of the first length octet: set for the long form (X.690 §8.1.3.5).
const LENGTH_LONG_FORM: u8 = 0x80;
/// Low seven bits of a long-form first length octet: how many length bytes follow.
const LENGTH_COUNT_MASK: u8 = 0x7f;
/// Most length bytes accepted. Four covers every real LDAP server (AD uses exactly
/// four) and keeps every length within `u32`.
pub const MAX_LENGTH_BYTES: usize = 4;
/// Deepest nesting accepted when walking constructed values with [`Tlv::children`].
/// LDAP responses need about six levels; 32 leaves room for controls and extensions
/// while keeping recursive consumers safe from stack exhaustion.
pub const MAX_DEPTH: u8 = 32;
/// Widest INTEGER / ENUMERATED content accepted after stripping redundant sign bytes.
const MAX_INTEGER_BYTES: usize = 8;
/// Most arcs accepted in an OBJECT IDENTIFIER (SNMP's limit, RFC 2578 §3.5).
pub const MAX_OID_ARCS: usize = 128;
/// Bit 8 of an OID subidentifier byte: more bytes of the same subidentifier follow.
const OID_MORE: u8 = 0x80;

/// Universal tags, as complete identifier octets (class and constructed bits included).
pub mod tag {
    /// BOOLEAN, primitive.
    pub const BOOLEAN: u8 = 0x01;
    /// INTEGER, primitive.
    pub const INTEGER: u8 = 0x02;
    /// OCTET STRING, primitive (LDAP never uses the constructed form).
    pub const OCTET_STRING: u8 = 0x04;
    /// NULL, primitive.
    pub const NULL: u8 = 0x05;
    /// OBJECT IDENTIFIER, primitive (SNMP variable names).
    pub const OBJECT_IDENTIFIER: u8 = 0x06;
    /// ENUMERATED, primitive.
    pub const ENUMERATED: u8 = 0x0a;
    /// SEQUENCE / SEQUENCE OF, constructed.
    pub const SEQUENCE: u8 = 0x30;
    /// SET / SET OF, constructed.
    pub const SET: u8 = 0x31;
}

/// Why a BER encoding was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BerError {
    /// The buffer ends before the element does.
    #[error("truncated BER element: need {needed} bytes, have {available}")]
    Truncated {
        /// Bytes the element claims (header plus content) or at least needs.
        needed: usize,
        /// Bytes actually present.
        available: usize,
    },
    /// High-tag-number form (tag number >= 31), which LDAP never uses.
    #[error("multi-byte BER tag {0:#04x} is not supported")]
    MultiByteTag(u8),
    /// Indefinite length (`0x80`), forbidden in LDAP.
    #[error("indefinite BER length is not allowed")]
    IndefiniteLength,
    /// Long-form length announcing more than [`MAX_LENGTH_BYTES`] bytes.
    #[error("BER length uses {0} bytes (at most 4 are accepted)")]
    LengthTooLong(u8),
    /// A different tag than the one the structure requires.
    #[error("unexpected BER tag {found:#04x} (expected {expected:#04x})")]
    UnexpectedTag {
        /// Tag the structure requires.
        expected: u8,
        /// Tag found on the wire.
        found: u8,
    },
    /// A required element is absent (the enclosing constructed value ended early).
    #[error("missing BER element {0:#04x}")]
    Missing(u8),
    /// INTEGER / ENUMERATED with empty content or wider than 64 bits.
    #[error("BER integer of {0} bytes does not fit in 64 bits")]
    IntegerRange(usize),
    /// BOOLEAN whose content is not exactly one byte.
    #[error("BER boolean has {0} content bytes (expected 1)")]
    BadBoolean(usize),
    /// Children requested from a primitive element.
    #[error("BER element {0:#04x} is primitive, not constructed")]
    NotConstructed(u8),
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("BER nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// OBJECT IDENTIFIER that is empty, ends inside a subidentifier, has an arc wider
    /// than 32 bits or more than [`MAX_OID_ARCS`] arcs.
    #[error("malformed BER object identifier")]
    BadOid,
}

/// One decoded tag-length-value element, borrowing its content from the input.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// Complete identifier octet: class, constructed bit and tag number.
    pub tag: u8,
    /// Content octets (exactly the announced length).
    pub value: &'a [u8],
    /// Length of identifier plus length octets (needed to re-frame the element).
    pub header_len: usize,
    /// Nesting level: 0 for an element read with [`read_tlv`], parent + 1 for children.
    pub depth: u8,
}

impl fmt::Debug for Tlv<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The content can be large; its length is what matters when debugging framing.
        f.debug_struct("Tlv")
            .field("tag", &format_args!("{:#04x}", self.tag))
            .field("len", &self.value.len())
            .field("depth", &self.depth)
            .finish()
    }
}

/// Decoded identifier and length octets of an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    tag: u8,
    header_len: usize,
    content_len: usize,
}

/// Decode the identifier and length octets at the start of `buf`.
///
/// `Ok(None)` means the header itself is incomplete (more bytes are needed); the
/// content is not checked here.
fn decode_header(buf: &[u8]) -> Result<Option<Header>, BerError> {
    let Some(&tag) = buf.first() else {
        return Ok(None);
    };
    if tag & TAG_NUMBER_MASK == TAG_NUMBER_MASK {
        return Err(BerError::MultiByteTag(tag));
    }
    let Some(&first) = buf.get(1) else {
        return Ok(None);
    };
    if first & LENGTH_LONG_FORM == 0 {
        return Ok(Some(Header { tag, header_len: 2, content_len: usize::from(first) }));
    }
    let count = first & LENGTH_COUNT_MASK;
    if count == 0 {
        return Err(BerError::IndefiniteLength);
    }
    if usize::from(count) > MAX_LENGTH_BYTES {
        return Err(BerError::LengthTooLong(count));
    }
    let header_len = 2 + usize::from(count);
    let Some(length_bytes) = buf.get(2..header_len) else {
        return Ok(None);
    };
    // Leading zero bytes are accepted on purpose: AD always sends four length bytes.
    let content_len = length_bytes.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
    Ok(Some(Header { tag, header_len, content_len: content_len as usize }))
}

/// Encode a definite length in its minimal form (short form below 128).
fn encode_length(out: &mut Vec<u8>, len: usize) {
    if len < usize::from(LENGTH_LONG_FORM) {
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let significant = &bytes[skip..];
    out.push(LENGTH_LONG_FORM | significant.len() as u8);
    out.extend_from_slice(significant);
}

/// Encode identifier and length octets.
pub fn write_header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    encode_length(out, len);
}

/// Total length (header plus content) of the first element in `buf`.
///
/// Returns `Ok(None)` while the header is incomplete, so a TCP reader can keep
/// reading; once it returns `Some(n)`, the message is complete when `buf.len() >= n`.
/// The result is what the peer *claims*: callers must compare it against their own
/// maximum before buffering that many bytes (a hostile peer can claim 4 GiB).
pub fn message_len(buf: &[u8]) -> Result<Option<usize>, BerError> {
    match decode_header(buf)? {
        None => Ok(None),
        Some(h) => Ok(Some(total_len(&h, buf.len())?)),
    }
}

/// Header plus content length, refusing sums that overflow `usize` (32-bit targets).
fn total_len(h: &Header, available: usize) -> Result<usize, BerError> {
    h.header_len.checked_add(h.content_len).ok_or(BerError::Truncated { needed: usize::MAX, available })
}

/// Read one element from the start of `buf`; returns it and the bytes after it.
pub fn read_tlv(buf: &[u8]) -> Result<(Tlv<'_>, &[u8]), BerError> {
    read_tlv_at(buf, 0)
}

/// [`read_tlv`] for an element at nesting level `depth`.
fn read_tlv_at(buf: &[u8], depth: u8) -> Result<(Tlv<'_>, &[u8]), BerError> {
    let truncated = |needed| BerError::Truncated { needed, available: buf.len() };
    // An incomplete header needs at least one more byte than we have.
    let h = decode_header(buf)?.ok_or_else(|| truncated(buf.len() + 1))?;
    let total = total_len(&h, buf.len())?;
    if total > buf.len() {
        return Err(truncated(total));
    }
    let (element, rest) = buf.split_at(total);
    Ok((Tlv { tag: h.tag, value: &element[h.header_len..], header_len: h.header_len, depth }, rest))
}

/// Write a complete element with the given content.
pub fn write_tlv(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    write_header(out, tag, value.len());
    out.extend_from_slice(value);
}

impl<'a> Tlv<'a> {
    /// The class bits (one of the `CLASS_*` constants).
    pub fn class(&self) -> u8 {
        self.tag & CLASS_MASK
    }

    /// Whether the constructed bit is set.
    pub fn is_constructed(&self) -> bool {
        self.tag & CONSTRUCTED != 0
    }

    /// The tag number without class and constructed bits.
    pub fn number(&self) -> u8 {
        self.tag & TAG_NUMBER_MASK
    }

    /// The whole element length (header plus content).
    pub fn total_len(&self) -> usize {
        self.header_len + self.value.len()
    }

    /// Return `self` if it carries `tag`, else [`BerError::UnexpectedTag`].
    pub fn expect(self, tag: u8) -> Result<Self, BerError> {
        if self.tag == tag {
            Ok(self)
        } else {
            Err(BerError::UnexpectedTag { expected: tag, found: self.tag })
        }
    }

    /// Iterate over the children of a constructed element (SEQUENCE, SET, or an
    /// implicitly tagged constructed type such as LDAP's `[APPLICATION 4]`).
    pub fn children(&self) -> Result<Children<'a>, BerError> {
        if !self.is_constructed() {
            return Err(BerError::NotConstructed(self.tag));
        }
        if self.depth >= MAX_DEPTH {
            return Err(BerError::TooDeep);
        }
        Ok(Children { rest: self.value, depth: self.depth + 1 })
    }

    /// Content decoded as a two's-complement integer, whatever the tag (INTEGER,
    /// ENUMERATED, or an implicitly tagged integer).
    pub fn integer_value(&self) -> Result<i64, BerError> {
        decode_integer(self.value)
    }

    /// Content decoded as an unsigned integer of at most 64 bits (SNMP's Counter32,
    /// Gauge32, TimeTicks and Counter64, whose top values need a leading zero byte).
    pub fn unsigned_value(&self) -> Result<u64, BerError> {
        let digits = match self.value {
            [0, rest @ ..] if !rest.is_empty() => rest,
            [] => return Err(BerError::IntegerRange(0)),
            [first, ..] if first & 0x80 != 0 => return Err(BerError::IntegerRange(self.value.len())),
            v => v,
        };
        if digits.len() > MAX_INTEGER_BYTES {
            return Err(BerError::IntegerRange(self.value.len()));
        }
        Ok(digits.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// Content decoded as OBJECT IDENTIFIER arcs (X.690 §8.19), whatever the tag.
    pub fn oid_value(&self) -> Result<Vec<u32>, BerError> {
        decode_oid(self.value)
    }

    /// Content decoded as a BOOLEAN (any non-zero byte is TRUE, as BER allows).
    pub fn boolean_value(&self) -> Result<bool, BerError> {
        match self.value {
            [b] => Ok(*b != 0),
            other => Err(BerError::BadBoolean(other.len())),
        }
    }
}

/// Decode two's-complement integer content.
///
/// Redundant leading sign bytes (a non-minimal encoding) are tolerated; what remains
/// must fit in 64 bits.
fn decode_integer(content: &[u8]) -> Result<i64, BerError> {
    let Some(&first) = content.first() else {
        return Err(BerError::IntegerRange(0));
    };
    let negative = first & 0x80 != 0;
    let sign_byte = if negative { 0xff } else { 0x00 };
    // Drop sign-extension bytes, keeping one whose top bit still carries the sign.
    let mut digits = content;
    while let [b, next, ..] = digits {
        if *b == sign_byte && (next & 0x80 != 0) == negative {
            digits = &digits[1..];
        } else {
            break;
        }
    }
    if digits.len() > MAX_INTEGER_BYTES {
        return Err(BerError::IntegerRange(content.len()));
    }
    let init = if negative { -1i64 } else { 0 };
    Ok(digits.iter().fold(init, |acc, &b| (acc << 8) | i64::from(b)))
}

/// Decode OBJECT IDENTIFIER content: base-128 subidentifiers, the first one packing
/// the first two arcs as `40 * a + b`. Non-minimal subidentifiers (leading `0x80`
/// bytes) are tolerated; each arc must fit in 32 bits.
fn decode_oid(content: &[u8]) -> Result<Vec<u32>, BerError> {
    if content.is_empty() || content.last().is_some_and(|b| b & OID_MORE != 0) {
        return Err(BerError::BadOid);
    }
    let mut arcs = Vec::new();
    let mut acc: u64 = 0;
    for &b in content {
        acc = (acc << 7) | u64::from(b & !OID_MORE);
        if acc > u64::from(u32::MAX) + 80 {
            return Err(BerError::BadOid);
        }
        if b & OID_MORE != 0 {
            continue;
        }
        if arcs.is_empty() {
            // The first subidentifier carries two arcs (X.690 §8.19.4).
            let first = (acc / 40).min(2);
            arcs.push(first as u32);
            arcs.push(u32::try_from(acc - first * 40).map_err(|_| BerError::BadOid)?);
        } else {
            arcs.push(u32::try_from(acc).map_err(|_| BerError::BadOid)?);
        }
        if arcs.len() > MAX_OID_ARCS {
            return Err(BerError::BadOid);
        }
        acc = 0;
    }
    Ok(arcs)
}

/// Write an OBJECT IDENTIFIER. `arcs` needs at least two arcs, the first at most 2
/// (and the second below 40 unless the first is 2); our callers pass constants.
pub fn write_oid(out: &mut Vec<u8>, arcs: &[u32]) {
    let mut content = Vec::with_capacity(arcs.len() + 4);
    let first = match arcs {
        [a, b, ..] => u64::from(*a) * 40 + u64::from(*b),
        [a] => u64::from(*a) * 40,
        [] => 0,
    };
    let rest = arcs.get(2..).unwrap_or_default().iter().map(|&a| u64::from(a));
    for sub in core::iter::once(first).chain(rest) {
        // Base 128, most significant group first, bit 8 set on all but the last byte.
        let groups = (64 - sub.leading_zeros()).div_ceil(7).max(1);
        for g in (0..groups).rev() {
            let more = if g == 0 { 0 } else { OID_MORE };
            content.push(((sub >> (7 * g)) as u8 & !OID_MORE) | more);
        }
    }
    write_tlv(out, tag::OBJECT_IDENTIFIER, &content);
}

/// Encode the minimal two's-complement content of `value`.
fn encode_integer(out: &mut Vec<u8>, value: i64) {
    let bytes = value.to_be_bytes();
    let mut start = 0;
    // Skip a leading byte when it only repeats the sign of the next one.
    while start + 1 < bytes.len() {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Write an integer-valued element: `tag` is [`tag::INTEGER`], [`tag::ENUMERATED`]
/// or an implicit tag.
pub fn write_integer(out: &mut Vec<u8>, tag: u8, value: i64) {
    let mut content = Vec::with_capacity(MAX_INTEGER_BYTES);
    encode_integer(&mut content, value);
    write_tlv(out, tag, &content);
}

/// Write a BOOLEAN (DER's canonical `0xff` for TRUE).
pub fn write_boolean(out: &mut Vec<u8>, tag: u8, value: bool) {
    write_tlv(out, tag, &[if value { 0xff } else { 0x00 }]);
}

/// Write an OCTET STRING (or an implicitly tagged string such as an LDAP filter).
pub fn write_octet_string(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    write_tlv(out, tag, value);
}

/// Write a constructed element whose content `build` appends to the buffer it is given.
pub fn write_constructed(out: &mut Vec<u8>, tag: u8, build: impl FnOnce(&mut Vec<u8>)) {
    // The length precedes the content, so the content is built separately first.
    let mut content = Vec::new();
    build(&mut content);
    write_tlv(out, tag, &content);
}

/// Read an INTEGER; returns the value and the bytes after it.
pub fn read_integer(buf: &[u8]) -> Result<(i64, &[u8]), BerError> {
    let (tlv, rest) = read_tlv(buf)?;
    Ok((tlv.expect(tag::INTEGER)?.integer_value()?, rest))
}

/// Read an ENUMERATED; returns the value and the bytes after it.
pub fn read_enumerated(buf: &[u8]) -> Result<(i64, &[u8]), BerError> {
    let (tlv, rest) = read_tlv(buf)?;
    Ok((tlv.expect(tag::ENUMERATED)?.integer_value()?, rest))
}

/// Read a BOOLEAN; returns the value and the bytes after it.
pub fn read_boolean(buf: &[u8]) -> Result<(bool, &[u8]), BerError> {
    let (tlv, rest) = read_tlv(buf)?;
    Ok((tlv.expect(tag::BOOLEAN)?.boolean_value()?, rest))
}

/// Read an OCTET STRING; returns its content and the bytes after it.
pub fn read_octet_string(buf: &[u8]) -> Result<(&[u8], &[u8]), BerError> {
    let (tlv, rest) = read_tlv(buf)?;
    Ok((tlv.expect(tag::OCTET_STRING)?.value, rest))
}

/// Read a SEQUENCE; returns an iterator over its children and the bytes after it.
pub fn read_sequence(buf: &[u8]) -> Result<(Children<'_>, &[u8]), BerError> {
    let (tlv, rest) = read_tlv(buf)?;
    Ok((tlv.expect(tag::SEQUENCE)?.children()?, rest))
}

/// Read a SET; returns an iterator over its children and the bytes after it.
pub fn read_set(buf: &[u8]) -> Result<(Children<'_>, &[u8]), BerError> {
    let (tlv, rest) = read_tlv(buf)?;
    Ok((tlv.expect(tag::SET)?.children()?, rest))
}

/// Iterator over the children of a constructed element.
///
/// Yields `Err` once for a malformed child and then stops, since the framing of
/// everything after it is unknown.
#[derive(Debug, Clone)]
pub struct Children<'a> {
    rest: &'a [u8],
    depth: u8,
}

impl<'a> Children<'a> {
    /// The next child, or `Ok(None)` at the end of the parent's content.
    pub fn next_tlv(&mut self) -> Result<Option<Tlv<'a>>, BerError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        match read_tlv_at(self.rest, self.depth) {
            Ok((tlv, rest)) => {
                self.rest = rest;
                Ok(Some(tlv))
            }
            Err(e) => {
                // Poison the iterator: the remaining bytes cannot be framed.
                self.rest = &[];
                Err(e)
            }
        }
    }

    /// The next child, which must exist and carry `tag`.
    pub fn expect_next(&mut self, tag: u8) -> Result<Tlv<'a>, BerError> {
        self.next_tlv()?.ok_or(BerError::Missing(tag))?.expect(tag)
    }

    /// The next child if it carries `tag`; otherwise nothing is consumed.
    /// Used for OPTIONAL fields.
    pub fn next_if(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, BerError> {
        if self.peek_tag() == Some(tag) { self.next_tlv() } else { Ok(None) }
    }

    /// Tag of the next child without consuming it.
    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Whether all children have been consumed.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

impl<'a> Iterator for Children<'a> {
    type Item = Result<Tlv<'a>, BerError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_tlv().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_form_lengths() {
        let (t, rest) = read_tlv(&[0x04, 0x02, b'h', b'i', 0xaa]).unwrap();
        assert_eq!((t.tag, t.value, t.header_len, rest), (0x04, &b"hi"[..], 2, &[0xaa][..]));
        // AD style: four length bytes, non-minimal.
        let (t, rest) = read_tlv(&[0x04, 0x84, 0, 0, 0, 2, b'h', b'i']).unwrap();
        assert_eq!((t.value, t.header_len, rest), (&b"hi"[..], 6, &[][..]));
        let (t, _) = read_tlv(&[0x04, 0x81, 0x00]).unwrap();
        assert!(t.value.is_empty());
    }

    #[test]
    fn rejects_bad_headers() {
        assert_eq!(read_tlv(&[0x30, 0x80, 0, 0]), Err(BerError::IndefiniteLength));
        assert_eq!(read_tlv(&[0x04, 0x85, 0, 0, 0, 0, 1, 0]), Err(BerError::LengthTooLong(5)));
        assert_eq!(read_tlv(&[0x04, 0xff]), Err(BerError::LengthTooLong(0x7f)));
        assert_eq!(read_tlv(&[0x1f, 0x81, 0x01, 0x00]), Err(BerError::MultiByteTag(0x1f)));
        assert_eq!(message_len(&[0xbf, 0x01]), Err(BerError::MultiByteTag(0xbf)));
        assert!(matches!(read_tlv(&[]), Err(BerError::Truncated { .. })));
        assert!(matches!(read_tlv(&[0x04]), Err(BerError::Truncated { .. })));
        assert!(matches!(read_tlv(&[0x04, 0x84, 0]), Err(BerError::Truncated { .. })));
        assert!(matches!(
            read_tlv(&[0x04, 0x03, 1, 2]),
            Err(BerError::Truncated { needed: 5, available: 4 })
        ));
    }

    #[test]
    fn four_gigabyte_claim_is_truncated_not_allocated() {
        let buf = [0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01];
        assert!(matches!(read_tlv(&buf), Err(BerError::Truncated { available: 9, .. })));
        let claimed = message_len(&buf).unwrap().unwrap();
        assert_eq!(claimed as u64, 6 + 0xffff_ffff);
    }

    #[test]
    fn message_len_framing() {
        let msg = [0x30, 0x84, 0, 0, 0, 3, 0x02, 0x01, 0x07];
        for n in 0..6 {
            assert_eq!(message_len(&msg[..n]), Ok(None), "prefix {n}");
        }
        for n in 6..=msg.len() {
            assert_eq!(message_len(&msg[..n]), Ok(Some(9)));
        }
        assert_eq!(message_len(&[0x30, 0x00, 0x30]), Ok(Some(2)));
        assert_eq!(message_len(&[0x30, 0x80]), Err(BerError::IndefiniteLength));
    }

    #[test]
    fn integers_round_trip() {
        for v in [0, 1, -1, 127, 128, -128, -129, 255, 256, 65535, i32::MAX as i64, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            write_integer(&mut out, tag::INTEGER, v);
            let (got, rest) = read_integer(&out).unwrap();
            assert_eq!((got, rest.len()), (v, 0), "{v} encoded as {out:02x?}");
        }
        let mut out = Vec::new();
        write_integer(&mut out, tag::INTEGER, 128);
        assert_eq!(out, [0x02, 0x02, 0x00, 0x80]);
        out.clear();
        write_integer(&mut out, tag::INTEGER, -129);
        assert_eq!(out, [0x02, 0x02, 0xff, 0x7f]);
    }

    #[test]
    fn integer_leniency_and_bounds() {
        // Non-minimal but in range.
        assert_eq!(read_integer(&[0x02, 0x03, 0, 0, 5]).unwrap().0, 5);
        assert_eq!(read_integer(&[0x02, 0x03, 0xff, 0xff, 0xfe]).unwrap().0, -2);
        let mut wide = vec![0x02, 10, 0, 0];
        wide.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(read_integer(&wide).unwrap().0, i64::MAX);
        // Nine significant bytes do not fit.
        let big = [0x02, 0x09, 0x01, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(read_integer(&big), Err(BerError::IntegerRange(9)));
        assert_eq!(read_integer(&[0x02, 0x00]), Err(BerError::IntegerRange(0)));
        assert_eq!(read_enumerated(&[0x0a, 0x01, 0x02]).unwrap().0, 2);
        assert!(matches!(read_enumerated(&[0x02, 0x01, 0x02]), Err(BerError::UnexpectedTag { .. })));
    }

    #[test]
    fn booleans_and_strings() {
        let mut out = Vec::new();
        write_boolean(&mut out, tag::BOOLEAN, false);
        write_boolean(&mut out, tag::BOOLEAN, true);
        write_octet_string(&mut out, tag::OCTET_STRING, b"abc");
        assert_eq!(out, [0x01, 0x01, 0x00, 0x01, 0x01, 0xff, 0x04, 0x03, b'a', b'b', b'c']);
        let (a, rest) = read_boolean(&out).unwrap();
        let (b, rest) = read_boolean(rest).unwrap();
        let (s, rest) = read_octet_string(rest).unwrap();
        assert_eq!((a, b, s, rest.len()), (false, true, &b"abc"[..], 0));
        assert_eq!(read_boolean(&[0x01, 0x02, 0, 0]), Err(BerError::BadBoolean(2)));
    }

    #[test]
    fn minimal_lengths_written() {
        for (len, header) in [
            (0usize, vec![0x04, 0x00]),
            (127, vec![0x04, 0x7f]),
            (128, vec![0x04, 0x81, 0x80]),
            (255, vec![0x04, 0x81, 0xff]),
            (256, vec![0x04, 0x82, 0x01, 0x00]),
            (70000, vec![0x04, 0x83, 0x01, 0x11, 0x70]),
        ] {
            let mut out = Vec::new();
            write_octet_string(&mut out, tag::OCTET_STRING, &vec![0u8; len]);
            assert_eq!(&out[..header.len()], &header[..], "len {len}");
            let (t, rest) = read_tlv(&out).unwrap();
            assert_eq!((t.value.len(), rest.len()), (len, 0));
        }
    }

    #[test]
    fn sequence_children() {
        let mut out = Vec::new();
        write_constructed(&mut out, tag::SEQUENCE, |s| {
            write_integer(s, tag::INTEGER, 7);
            write_octet_string(s, tag::OCTET_STRING, b"x");
            write_constructed(s, tag::SET, |_| {});
        });
        let (mut kids, rest) = read_sequence(&out).unwrap();
        assert!(rest.is_empty());
        assert_eq!(kids.expect_next(tag::INTEGER).unwrap().integer_value(), Ok(7));
        assert_eq!(kids.next_if(tag::INTEGER), Ok(None));
        assert_eq!(kids.expect_next(tag::OCTET_STRING).unwrap().value, b"x");
        let set = kids.expect_next(tag::SET).unwrap();
        assert_eq!(set.depth, 1);
        assert!(set.children().unwrap().is_empty());
        assert!(kids.is_empty());
        assert_eq!(kids.expect_next(tag::INTEGER), Err(BerError::Missing(tag::INTEGER)));
        let (prim, _) = read_tlv(&[0x04, 0x00]).unwrap();
        assert_eq!(prim.children().err(), Some(BerError::NotConstructed(0x04)));
    }

    #[test]
    fn malformed_child_poisons_iterator() {
        // SEQUENCE { INTEGER 1, <child claiming 9 bytes with 1 present> }
        let buf = [0x30, 0x05, 0x02, 0x01, 0x01, 0x04, 0x09];
        let (kids, _) = read_sequence(&buf).unwrap();
        let items: Vec<_> = kids.collect();
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok());
        assert!(matches!(items[1], Err(BerError::Truncated { .. })));
    }

    /// Recursively visit every constructed element, the way a generic consumer would.
    fn walk(tlv: Tlv<'_>) -> Result<usize, BerError> {
        let mut count = 1;
        if tlv.is_constructed() {
            for child in tlv.children()? {
                count += walk(child?)?;
            }
        }
        Ok(count)
    }

    /// `levels` nested SEQUENCEs around an empty one, with AD-style long lengths.
    fn nesting_bomb(levels: usize) -> Vec<u8> {
        // Each level adds a 6-byte header, so all headers can be written up front.
        let mut buf = Vec::with_capacity(6 * levels + 2);
        for k in (1..=levels).rev() {
            buf.extend_from_slice(&[0x30, 0x84]);
            buf.extend_from_slice(&((2 + 6 * (k - 1)) as u32).to_be_bytes());
        }
        buf.extend_from_slice(&[0x30, 0x00]);
        buf
    }

    #[test]
    fn nesting_is_bounded() {
        let ok = nesting_bomb(usize::from(MAX_DEPTH) - 1);
        assert_eq!(walk(read_tlv(&ok).unwrap().0), Ok(usize::from(MAX_DEPTH)));
        let bomb = nesting_bomb(10_000);
        assert_eq!(walk(read_tlv(&bomb).unwrap().0), Err(BerError::TooDeep));
    }

    #[test]
    fn object_identifiers() {
        // sysDescr.0 and an arc needing three base-128 bytes (X.690 §8.19 example style).
        let mut out = Vec::new();
        write_oid(&mut out, &[1, 3, 6, 1, 2, 1, 1, 1, 0]);
        assert_eq!(out, [0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00]);
        let (t, _) = read_tlv(&out).unwrap();
        assert_eq!(t.oid_value().unwrap(), [1, 3, 6, 1, 2, 1, 1, 1, 0]);
        out.clear();
        write_oid(&mut out, &[1, 3, 6, 1, 4, 1, 8072, 3, 2, 10, u32::MAX]);
        assert_eq!(&out[7..10], &[0xbf, 0x08, 0x03]);
        assert_eq!(
            read_tlv(&out).unwrap().0.oid_value().unwrap(),
            [1, 3, 6, 1, 4, 1, 8072, 3, 2, 10, u32::MAX]
        );
        out.clear();
        write_oid(&mut out, &[2, 999, 3]);
        assert_eq!(read_tlv(&out).unwrap().0.oid_value().unwrap(), [2, 999, 3]);
        // Empty, unterminated, wider than 32 bits, too many arcs.
        for bad in [&[][..], &[0x2b, 0x86], &[0x2b, 0x90, 0x80, 0x80, 0x80, 0x00]] {
            assert_eq!(decode_oid(bad), Err(BerError::BadOid), "{bad:02x?}");
        }
        assert_eq!(decode_oid(&[0x2b; MAX_OID_ARCS]), Err(BerError::BadOid));
        assert_eq!(decode_oid(&[0x2b; MAX_OID_ARCS - 1]).unwrap().len(), MAX_OID_ARCS);
        // Non-minimal subidentifier tolerated.
        assert_eq!(decode_oid(&[0x2b, 0x80, 0x01]).unwrap(), [1, 3, 1]);
    }

    #[test]
    fn unsigned_values() {
        let u = |v: &[u8]| Tlv { tag: 0x41, value: v, header_len: 2, depth: 0 }.unsigned_value();
        assert_eq!(u(&[0x00, 0xff, 0xff, 0xff, 0xff]), Ok(u64::from(u32::MAX)));
        assert_eq!(u(&[0x00, 0xff, 0, 0, 0, 0, 0, 0, 1]), Ok(0xff00_0000_0000_0001));
        assert_eq!(u(&[0x05]), Ok(5));
        assert_eq!(u(&[0x00]), Ok(0));
        assert_eq!(u(&[]), Err(BerError::IntegerRange(0)));
        assert_eq!(u(&[0x80]), Err(BerError::IntegerRange(1)));
        assert_eq!(u(&[0x01, 0, 0, 0, 0, 0, 0, 0, 0]), Err(BerError::IntegerRange(9)));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let mut msg = Vec::new();
        write_constructed(&mut msg, tag::SEQUENCE, |s| {
            write_integer(s, tag::INTEGER, 300);
            write_octet_string(s, tag::OCTET_STRING, &[7; 200]);
        });
        for n in 0..msg.len() {
            assert!(read_tlv(&msg[..n]).is_err(), "prefix {n}");
            if let Some(total) = message_len(&msg[..n]).unwrap() {
                assert_eq!(total, msg.len());
            }
        }
        assert!(read_tlv(&msg).is_ok());
    }
}
