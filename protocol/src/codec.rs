//! The frame codec: a [`tokio_util::codec`] `Decoder`/`Encoder` for [`Frame`].
//!
//! The mode byte the server writes on connect is not a frame; it is read
//! (or written) before the codec takes over the stream.

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::frame::{Frame, HEADER_LEN, MAX_PAYLOAD};

/// Errors of the frame codec.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// A frame declared a payload longer than the limit. The stream cannot be
    /// resynchronised after this, so the connection must be closed.
    #[error("frame type 0x{kind:02x} declares {len} bytes, more than the {max}-byte limit")]
    TooLarge {
        /// The frame type byte.
        kind: u8,
        /// The declared length.
        len: u32,
        /// The limit in force.
        max: usize,
    },
    /// The underlying transport failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Encodes and decodes `[type u8][len u32 BE][payload]` frames.
#[derive(Debug, Clone, Copy)]
pub struct FrameCodec {
    max_payload: usize,
}

impl Default for FrameCodec {
    fn default() -> Self {
        FrameCodec::new()
    }
}

impl FrameCodec {
    /// A codec enforcing the protocol's 1 MiB payload limit.
    pub fn new() -> Self {
        FrameCodec {
            max_payload: MAX_PAYLOAD,
        }
    }

    /// A codec with a different payload limit.
    pub fn with_max_payload(max_payload: usize) -> Self {
        FrameCodec { max_payload }
    }

    /// The payload limit in force.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }
}

impl Decoder for FrameCodec {
    type Item = Frame;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        if src.len() < HEADER_LEN {
            return Ok(None);
        }
        let kind = src[0];
        let len = u32::from_be_bytes([src[1], src[2], src[3], src[4]]);
        if len as usize > self.max_payload {
            return Err(CodecError::TooLarge {
                kind,
                len,
                max: self.max_payload,
            });
        }
        let total = HEADER_LEN + len as usize;
        if src.len() < total {
            // Reserve only what this frame still needs: never more than the limit.
            src.reserve(total - src.len());
            return Ok(None);
        }
        src.advance(HEADER_LEN);
        let payload = src.split_to(len as usize).freeze();
        Ok(Some(Frame { kind, payload }))
    }
}

impl Encoder<Frame> for FrameCodec {
    type Error = CodecError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        if frame.payload.len() > self.max_payload {
            return Err(CodecError::TooLarge {
                kind: frame.kind,
                len: u32::try_from(frame.payload.len()).unwrap_or(u32::MAX),
                max: self.max_payload,
            });
        }
        dst.reserve(HEADER_LEN + frame.payload.len());
        dst.put_u8(frame.kind);
        dst.put_u32(frame.payload.len() as u32);
        dst.put_slice(&frame.payload);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_frames_wait_for_more() {
        let mut codec = FrameCodec::new();
        let mut buf = BytesMut::from(&[0x01, 0, 0, 0, 3, b'a'][..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b"bc");
        let f = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(f, Frame::new(0x01, &b"abc"[..]));
        assert!(buf.is_empty());
    }

    #[test]
    fn oversized_length_is_an_error() {
        let mut codec = FrameCodec::new();
        let mut buf = BytesMut::from(&[0x01, 0x00, 0x10, 0x00, 0x01][..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(CodecError::TooLarge { len: 0x100001, .. })
        ));
    }

    #[test]
    fn exactly_the_limit_is_accepted() {
        let mut codec = FrameCodec::new();
        let mut buf = BytesMut::new();
        codec
            .encode(Frame::new(0x01, vec![7u8; MAX_PAYLOAD]), &mut buf)
            .unwrap();
        let f = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(f.payload.len(), MAX_PAYLOAD);
    }
}
