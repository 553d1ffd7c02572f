//! The search of a terminal's output for the end of plain ASCII text, the
//! one thing [`super::VtGaps`] does to every byte of a flood of text: at
//! memory speed, with AVX2 where the processor has it (one pass), else
//! with memchr's search for the controls and the standard library's ASCII
//! check (two).

/// Where the first byte of `bytes` that is ESC, shift out or in, or beyond
/// ASCII (from 0x80) is; `bytes.len()` if none is.
pub(super) fn plain_ascii(bytes: &[u8]) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2.
        return unsafe { avx2::plain_ascii(bytes) };
    }
    portable(bytes)
}

fn portable(bytes: &[u8]) -> usize {
    let end = memchr::memchr3(0x1b, 0x0e, 0x0f, bytes).unwrap_or(bytes.len());
    if bytes[..end].is_ascii() {
        return end;
    }
    bytes[..end]
        .iter()
        .position(|b| !b.is_ascii())
        .unwrap_or(end)
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8,
    };

    /// Each byte of `v` with its high bit set if it is ESC, SO, SI or
    /// beyond ASCII.
    #[target_feature(enable = "avx2")]
    fn marks(v: __m256i) -> __m256i {
        // SO and SI are 0x0e and 0x0f: both 0x0f with the low bit set.
        let so_si = _mm256_cmpeq_epi8(
            _mm256_or_si256(v, _mm256_set1_epi8(1)),
            _mm256_set1_epi8(0x0f),
        );
        let esc = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(0x1b));
        _mm256_or_si256(_mm256_or_si256(so_si, esc), v)
    }

    /// 32 bytes of `bytes` from `at` (which has them).
    #[target_feature(enable = "avx2")]
    unsafe fn load(bytes: &[u8], at: usize) -> __m256i {
        debug_assert!(at + 32 <= bytes.len());
        // SAFETY: `bytes` has 32 bytes from `at`; the load is unaligned.
        unsafe { _mm256_loadu_si256(bytes.as_ptr().add(at).cast()) }
    }

    /// [`super::plain_ascii`], 128 then 32 bytes at a time (from 32 bytes
    /// on, the loads are aligned: none spans two cache lines).
    ///
    /// # Safety
    ///
    /// The processor has AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn plain_ascii(bytes: &[u8]) -> usize {
        if bytes.len() < 32 {
            return super::portable(bytes);
        }
        // SAFETY: 32 bytes from 0.
        let mask = _mm256_movemask_epi8(marks(unsafe { load(bytes, 0) }));
        if mask != 0 {
            return mask.trailing_zeros() as usize;
        }
        // The first aligned byte after them (the 32 checked cover it).
        let mut at = match bytes.as_ptr().align_offset(32) {
            0 => 32,
            n => n.min(32),
        };
        while at + 128 <= bytes.len() {
            // SAFETY: 128 bytes from `at`.
            let (a, b, c, d) = unsafe {
                (
                    load(bytes, at),
                    load(bytes, at + 32),
                    load(bytes, at + 64),
                    load(bytes, at + 96),
                )
            };
            let any = _mm256_or_si256(
                _mm256_or_si256(marks(a), marks(b)),
                _mm256_or_si256(marks(c), marks(d)),
            );
            if _mm256_movemask_epi8(any) != 0 {
                break;
            }
            at += 128;
        }
        while at + 32 <= bytes.len() {
            // SAFETY: 32 bytes from `at`.
            let mask = _mm256_movemask_epi8(marks(unsafe { load(bytes, at) }));
            if mask != 0 {
                return at + mask.trailing_zeros() as usize;
            }
            at += 32;
        }
        at + super::portable(&bytes[at..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_control_or_byte_beyond_ascii() {
        let mut text = vec![b'a'; 300];
        assert_eq!(plain_ascii(&text), 300);
        assert_eq!(portable(&text), 300);
        // From each alignment, the byte at each place of the loops.
        for from in 0..32 {
            for at in [0, 1, 31, 32, 33, 63, 64, 127, 128, 159, 200, 260, 267] {
                for b in [0x1b, 0x0e, 0x0f, 0x80, 0xc3, 0xff] {
                    text[from + at] = b;
                    assert_eq!(plain_ascii(&text[from..]), at, "{b:#x} at {from}+{at}");
                    assert_eq!(portable(&text[from..]), at, "{b:#x} at {from}+{at}");
                    text[from + at] = b'a';
                }
            }
        }
        text[250] = 0xc3;
        text[260] = 0x1b;
        assert_eq!(plain_ascii(&text[..5]), 5);
        assert_eq!(plain_ascii(&text[251..]), 9);
        assert_eq!(portable(&text[10..]), 240);
        let controls: Vec<u8> = (0..0x80)
            .filter(|b| ![0x1b, 0x0e, 0x0f].contains(b))
            .collect();
        assert_eq!(plain_ascii(&controls.repeat(3)), 3 * controls.len());
    }
}
