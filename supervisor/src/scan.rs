//! A look at 64 bytes of output at once: where its escapes (ESC) and
//! shifts (SO, SI) are and which bytes can be a CSI's parameters, one bit
//! per byte — with SSE2 on x86_64 (a few compares per 16 bytes), a byte at
//! a time elsewhere. The readers of every byte of a flood (the flood skim,
//! the search for terminal queries) step from escape to escape with it: a
//! colour flood, an SGR every dozen bytes, costs them one look per block
//! and a few bit operations per sequence instead of a search per sequence.

/// Bytes looked at at once.
pub const BLOCK: usize = 64;

const ESC: u8 = 0x1b;

/// One block's bytes, bit `i` standing for byte `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Masks {
    /// ESC.
    pub esc: u64,
    /// Shift out and shift in (SO, SI).
    pub shift: u64,
    /// 0x20–0x3f: a CSI's parameter and intermediate bytes.
    pub param: u64,
}

/// What `block`'s bytes are.
#[cfg(target_arch = "x86_64")]
pub fn classify(block: &[u8; BLOCK]) -> Masks {
    // SAFETY: SSE2 is part of the x86_64 baseline: every x86_64 CPU has it.
    unsafe { sse2(block) }
}

/// What `block`'s bytes are.
#[cfg(not(target_arch = "x86_64"))]
pub fn classify(block: &[u8; BLOCK]) -> Masks {
    bytewise(block)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn sse2(block: &[u8; BLOCK]) -> Masks {
    use std::arch::x86_64::{
        _mm_and_si128, _mm_cmpeq_epi8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_set_epi64x,
    };
    let word = |b: &[u8]| {
        let mut w = [0; 8];
        w.copy_from_slice(b);
        i64::from_le_bytes(w)
    };
    let mut m = Masks {
        esc: 0,
        shift: 0,
        param: 0,
    };
    for (i, chunk) in block.chunks_exact(16).enumerate() {
        let v = _mm_set_epi64x(word(&chunk[8..]), word(&chunk[..8]));
        let bits = |v| u64::from(_mm_movemask_epi8(v) as u16) << (16 * i);
        m.esc |= bits(_mm_cmpeq_epi8(v, _mm_set1_epi8(ESC as i8)));
        // SO (0x0e) and SI (0x0f) are 0x0f with their low bit set.
        m.shift |= bits(_mm_cmpeq_epi8(
            _mm_or_si128(v, _mm_set1_epi8(1)),
            _mm_set1_epi8(0x0f),
        ));
        // 0x20-0x3f are 0b001x_xxxx.
        m.param |= bits(_mm_cmpeq_epi8(
            _mm_and_si128(v, _mm_set1_epi8(0xe0_u8 as i8)),
            _mm_set1_epi8(0x20),
        ));
    }
    m
}

/// [`classify`], a byte at a time.
#[cfg(any(test, not(target_arch = "x86_64")))]
pub fn bytewise(block: &[u8; BLOCK]) -> Masks {
    let mut m = Masks {
        esc: 0,
        shift: 0,
        param: 0,
    };
    for (i, &b) in block.iter().enumerate() {
        m.esc |= u64::from(b == ESC) << i;
        m.shift |= u64::from(matches!(b, 0x0e | 0x0f)) << i;
        m.param |= u64::from((0x20..=0x3f).contains(&b)) << i;
    }
    m
}

/// Where each ESC in `bytes` is, in order.
pub fn escapes(bytes: &[u8]) -> Escapes<'_> {
    Escapes {
        bytes,
        next: 0,
        base: 0,
        mask: 0,
    }
}

/// The iterator [`escapes`] returns.
#[derive(Debug, Clone)]
pub struct Escapes<'a> {
    bytes: &'a [u8],
    /// Where the next block begins.
    next: usize,
    /// Where the block `mask` is of begins.
    base: usize,
    /// The ESCs of the block not returned yet.
    mask: u64,
}

impl Iterator for Escapes<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            let rest = self.bytes.get(self.next..).filter(|r| !r.is_empty())?;
            self.base = self.next;
            self.next += BLOCK;
            self.mask = match rest.first_chunk::<BLOCK>() {
                Some(block) => match classify(block).esc {
                    // Text alone: on to the next ESC at memchr's pace
                    // (plain output is one search per chunk).
                    0 => {
                        self.next = memchr::memchr(ESC, &rest[BLOCK..])
                            .map_or(self.bytes.len(), |k| self.base + BLOCK + k);
                        continue;
                    }
                    esc => esc,
                },
                // The last bytes, fewer than a block: padded.
                None => {
                    let mut block = [0; BLOCK];
                    block[..rest.len()].copy_from_slice(rest);
                    classify(&block).esc
                }
            };
        }
        let at = self.base + self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_classified_as_byte_by_byte() {
        let every_byte: Vec<u8> = (0..=255).collect();
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let random: Vec<u8> = (0..64 * 1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Mostly the bytes that matter.
                [
                    0x1b,
                    0x0e,
                    0x0f,
                    0x1f,
                    0x20,
                    0x3f,
                    0x40,
                    b'[',
                    (x >> 8) as u8,
                ][(x % 9) as usize]
            })
            .collect();
        for block in every_byte
            .chunks_exact(BLOCK)
            .chain(random.chunks_exact(BLOCK))
        {
            let block = block.try_into().unwrap();
            assert_eq!(classify(block), bytewise(block));
        }
    }

    #[test]
    fn every_escape_is_found_in_order() {
        // Dense (a colour flood), and sparse (blocks of text alone between).
        let dense = |i: usize| i % 7 == 3 || i % 64 == 63;
        let sparse = |i: usize| i % 150 == 149 || i == 70 || i == 200;
        for esc_at in [&dense as &dyn Fn(usize) -> bool, &sparse] {
            for len in 0..400 {
                let bytes: Vec<u8> = (0..len)
                    .map(|i| if esc_at(i) { ESC } else { b'x' })
                    .collect();
                let found: Vec<usize> = escapes(&bytes).collect();
                let expected: Vec<usize> = memchr::memchr_iter(ESC, &bytes).collect();
                assert_eq!(found, expected, "{len} bytes");
            }
        }
    }
}
