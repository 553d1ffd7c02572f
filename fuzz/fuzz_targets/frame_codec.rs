//! The frame codec fed arbitrary bytes, in arbitrary chunks: it never
//! panics, never returns a frame over the limit, and every frame it returns
//! encodes back to the bytes it came from.
#![no_main]

use bytes::BytesMut;
use heimdall_protocol::{CodecError, FrameCodec, HEADER_LEN};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::{Decoder, Encoder};

/// A small limit as well as the real one, so "too large" is reachable.
const SMALL_LIMIT: usize = 64;

fuzz_target!(|data: &[u8]| {
    let (split, bytes) = match data.split_first() {
        Some((s, rest)) => (usize::from(*s).max(1), rest),
        None => return,
    };
    for limit in [heimdall_protocol::MAX_PAYLOAD, SMALL_LIMIT] {
        let mut codec = FrameCodec::with_max_payload(limit);
        let mut buf = BytesMut::new();
        let mut consumed = Vec::new();
        // Feed the bytes `split` at a time, as a socket might deliver them.
        'feed: for chunk in bytes.chunks(split) {
            buf.extend_from_slice(chunk);
            loop {
                match codec.decode(&mut buf) {
                    Ok(Some(frame)) => {
                        assert!(frame.payload.len() <= limit);
                        let mut out = BytesMut::new();
                        codec
                            .encode(frame, &mut out)
                            .expect("a decoded frame encodes");
                        consumed.extend_from_slice(&out);
                    }
                    Ok(None) => break,
                    Err(CodecError::TooLarge { len, max, .. }) => {
                        assert!(len as usize > max);
                        break 'feed;
                    }
                    Err(e) => panic!("decoding from memory failed: {e}"),
                }
            }
        }
        // What was decoded re-encodes to exactly the bytes consumed.
        assert_eq!(&bytes[..consumed.len()], &consumed[..]);
        assert!(consumed.is_empty() || consumed.len() >= HEADER_LEN);
    }
});
