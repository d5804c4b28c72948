//! The one bounds-checked reader and the integer writers shared by every wire module.
//!
//! [`Reader`] walks a `&[u8]` front to back (hickory-proto's `BinDecoder`, reduced to
//! what these formats need): every read checks the bounds first and a short buffer is a
//! [`Truncated`] error saying where, never a panic. Offsets come from the wire, so all
//! arithmetic on them is checked. Each format maps [`Truncated`] to its own error
//! variant, whose text is what users see.
//!
//! The `*_at` functions read one integer at a fixed offset (the smoltcp `field` style),
//! returning `None` like [`slice::get`] when it is not inside the buffer. The `put_*`
//! functions append one integer to a message being built.

/// A read ran past the end of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("truncated at offset {offset}: {needed} bytes needed, {available} left")]
pub struct Truncated {
    /// Where the read started, from the start of the buffer.
    pub offset: usize,
    /// How many bytes the read wanted.
    pub needed: usize,
    /// How many bytes were left from `offset` (0 when `offset` is past the end).
    pub available: usize,
}

/// A bounds-checked cursor over a byte slice.
///
/// The position may move past the end (by [`Reader::align`]); reads from there fail.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// The current offset from the start of the buffer.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left to read (0 once the position is at or past the end).
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Whether nothing is left to read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The unread bytes, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    fn truncated(&self, needed: usize) -> Truncated {
        Truncated { offset: self.pos, needed, available: self.remaining() }
    }

    /// The next `n` bytes, without consuming them.
    pub fn peek(&self, n: usize) -> Result<&'a [u8], Truncated> {
        self.pos.checked_add(n).and_then(|end| self.buf.get(self.pos..end)).ok_or_else(|| self.truncated(n))
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        let b = self.peek(n)?;
        self.pos += n;
        Ok(b)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Truncated> {
        let b = self.peek(N)?;
        let a = b.try_into().map_err(|_| self.truncated(N))?;
        self.pos += N;
        Ok(a)
    }

    /// Skips `n` bytes, which must be present.
    pub fn skip(&mut self, n: usize) -> Result<(), Truncated> {
        self.bytes(n).map(|_| ())
    }

    /// Rounds the position up to a multiple of `n` (a power of two), as NDR aligns
    /// its primitives. This never fails; a read after it does if the buffer ended.
    pub fn align(&mut self, n: usize) {
        debug_assert!(n.is_power_of_two());
        // Reads past the end fail without moving, so pos <= buf.len() + n - 1 and this
        // cannot overflow; saturating all the same.
        self.pos = self.pos.saturating_add(n - 1) & !(n - 1);
    }

    /// The next byte, without consuming it.
    pub fn peek_u8(&self) -> Result<u8, Truncated> {
        self.peek(1).map(|b| b[0])
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, Truncated> {
        self.array::<1>().map(|[b]| b)
    }

    /// A big-endian (network order) u16.
    pub fn u16_be(&mut self) -> Result<u16, Truncated> {
        self.array().map(u16::from_be_bytes)
    }

    /// A little-endian u16.
    pub fn u16_le(&mut self) -> Result<u16, Truncated> {
        self.array().map(u16::from_le_bytes)
    }

    /// A big-endian (network order) u32.
    pub fn u32_be(&mut self) -> Result<u32, Truncated> {
        self.array().map(u32::from_be_bytes)
    }

    /// A little-endian u32.
    pub fn u32_le(&mut self) -> Result<u32, Truncated> {
        self.array().map(u32::from_le_bytes)
    }

    /// A big-endian (network order) u64.
    pub fn u64_be(&mut self) -> Result<u64, Truncated> {
        self.array().map(u64::from_be_bytes)
    }
}

/// The `N` bytes at `off`, or `None` if they are not all inside `buf`.
pub fn array_at<const N: usize>(buf: &[u8], off: usize) -> Option<[u8; N]> {
    buf.get(off..off.checked_add(N)?)?.try_into().ok()
}

/// The big-endian u16 at `off`, or `None` if it is not inside `buf`.
pub fn u16_be_at(buf: &[u8], off: usize) -> Option<u16> {
    array_at(buf, off).map(u16::from_be_bytes)
}

/// The little-endian u16 at `off`, or `None` if it is not inside `buf`.
pub fn u16_le_at(buf: &[u8], off: usize) -> Option<u16> {
    array_at(buf, off).map(u16::from_le_bytes)
}

/// The big-endian u32 at `off`, or `None` if it is not inside `buf`.
pub fn u32_be_at(buf: &[u8], off: usize) -> Option<u32> {
    array_at(buf, off).map(u32::from_be_bytes)
}

/// The little-endian u32 at `off`, or `None` if it is not inside `buf`.
pub fn u32_le_at(buf: &[u8], off: usize) -> Option<u32> {
    array_at(buf, off).map(u32::from_le_bytes)
}

/// Appends `v` big-endian.
pub fn put_u16_be(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends `v` little-endian.
pub fn put_u16_le(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends `v` big-endian.
pub fn put_u32_be(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends `v` little-endian.
pub fn put_u32_le(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    const BYTES: [u8; 8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08];

    #[test]
    fn integers_in_both_orders() {
        assert_eq!(Reader::new(&BYTES).u8(), Ok(0x01));
        assert_eq!(Reader::new(&BYTES).u16_be(), Ok(0x0102));
        assert_eq!(Reader::new(&BYTES).u16_le(), Ok(0x0201));
        assert_eq!(Reader::new(&BYTES).u32_be(), Ok(0x0102_0304));
        assert_eq!(Reader::new(&BYTES).u32_le(), Ok(0x0403_0201));
        assert_eq!(Reader::new(&BYTES).u64_be(), Ok(0x0102_0304_0506_0708));
    }

    #[test]
    fn reads_advance_in_sequence() {
        let mut r = Reader::new(&BYTES);
        assert_eq!(r.u8(), Ok(0x01));
        assert_eq!(r.peek_u8(), Ok(0x02));
        assert_eq!(r.u16_be(), Ok(0x0203));
        assert_eq!(r.position(), 3);
        assert_eq!(r.bytes(2), Ok(&[0x04, 0x05][..]));
        assert_eq!(r.skip(1), Ok(()));
        assert_eq!(r.rest(), &[0x07, 0x08]);
        assert_eq!(r.array::<2>(), Ok([0x07, 0x08]));
        assert!(r.is_empty());
        assert_eq!(r.rest(), &[] as &[u8]);
        assert_eq!(r.bytes(0), Ok(&[][..]));
    }

    #[test]
    fn align_rounds_up_and_may_pass_the_end() {
        let mut r = Reader::new(&BYTES[..6]);
        r.align(4);
        assert_eq!(r.position(), 0);
        r.u8().unwrap();
        r.align(4);
        assert_eq!(r.position(), 4);
        assert_eq!(r.u32_le(), Err(Truncated { offset: 4, needed: 4, available: 2 }));
        r.skip(1).unwrap();
        r.align(4);
        assert_eq!(r.position(), 8);
        assert_eq!(r.remaining(), 0);
        assert_eq!(r.rest(), &[] as &[u8]);
        assert_eq!(r.u8(), Err(Truncated { offset: 8, needed: 1, available: 0 }));
    }

    /// Every read, from every length of a short buffer: an error naming the offset, the
    /// size wanted and what was left, and the position unchanged.
    #[test]
    fn every_truncation() {
        type Read = fn(&mut Reader<'_>) -> Result<(), Truncated>;
        let reads: [(usize, Read); 9] = [
            (1, |r| r.u8().map(drop)),
            (1, |r| r.peek_u8().map(drop)),
            (2, |r| r.u16_be().map(drop)),
            (2, |r| r.u16_le().map(drop)),
            (4, |r| r.u32_be().map(drop)),
            (4, |r| r.u32_le().map(drop)),
            (8, |r| r.u64_be().map(drop)),
            (3, |r| r.bytes(3).map(drop)),
            (3, |r| r.skip(3)),
        ];
        for (needed, read) in reads {
            for len in 0..needed {
                for start in 0..=len {
                    let mut r = Reader::new(&BYTES[..len]);
                    r.skip(start).unwrap();
                    let want = Truncated { offset: start, needed, available: len - start };
                    assert_eq!(read(&mut r), Err(want), "needed {needed}, len {len}, start {start}");
                    assert_eq!(r.position(), start);
                }
            }
            let mut r = Reader::new(&BYTES[..needed]);
            assert_eq!(read(&mut r), Ok(()));
        }
        let r = Reader::new(&BYTES[..1]);
        assert_eq!(r.peek(2), Err(Truncated { offset: 0, needed: 2, available: 1 }));
        let mut r = Reader::new(&BYTES);
        assert_eq!(r.bytes(usize::MAX), Err(Truncated { offset: 0, needed: usize::MAX, available: 8 }));
        r.u8().unwrap();
        assert_eq!(r.skip(usize::MAX), Err(Truncated { offset: 1, needed: usize::MAX, available: 7 }));
        assert_eq!(r.array::<8>(), Err(Truncated { offset: 1, needed: 8, available: 7 }));
    }

    #[test]
    fn truncation_message() {
        let e = Reader::new(&BYTES[..3]).u32_be().unwrap_err();
        assert_eq!(e.to_string(), "truncated at offset 0: 4 bytes needed, 3 left");
    }

    #[test]
    fn fixed_offsets() {
        assert_eq!(u16_be_at(&BYTES, 6), Some(0x0708));
        assert_eq!(u16_le_at(&BYTES, 6), Some(0x0807));
        assert_eq!(u32_be_at(&BYTES, 4), Some(0x0506_0708));
        assert_eq!(u32_le_at(&BYTES, 4), Some(0x0807_0605));
        for off in [7, 8, 9, usize::MAX - 1, usize::MAX] {
            assert_eq!(u16_be_at(&BYTES, off), None);
            assert_eq!(u16_le_at(&BYTES, off), None);
        }
        for off in [5, 6, 7, 8, 9, usize::MAX - 3, usize::MAX] {
            assert_eq!(u32_be_at(&BYTES, off), None);
            assert_eq!(u32_le_at(&BYTES, off), None);
        }
        assert_eq!(u16_be_at(&[], 0), None);
    }

    #[test]
    fn writers() {
        let mut out = Vec::new();
        put_u16_be(&mut out, 0x0102);
        put_u16_le(&mut out, 0x0102);
        put_u32_be(&mut out, 0x0304_0506);
        put_u32_le(&mut out, 0x0304_0506);
        assert_eq!(out, [0x01, 0x02, 0x02, 0x01, 0x03, 0x04, 0x05, 0x06, 0x06, 0x05, 0x04, 0x03]);
    }
}
