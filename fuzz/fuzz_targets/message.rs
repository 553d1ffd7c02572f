//! Typed message parsing of arbitrary frames, both directions: never
//! panics, and whatever parses survives a round trip through its frame.
#![no_main]

use heimdall_protocol::{ClientMessage, Frame, ServerMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((kind, payload)) = data.split_first() else {
        return;
    };
    let frame = Frame::new(*kind, payload.to_vec());
    if let Ok(m) = ClientMessage::from_frame(&frame) {
        let again = ClientMessage::from_frame(&m.to_frame());
        assert_eq!(again.as_ref(), Ok(&m), "client message round trip");
    }
    // A request id is read from any payload without panicking.
    let _ = heimdall_protocol::message::request_id(payload);
    if let Ok(m) = ServerMessage::from_frame(&frame) {
        let again = ServerMessage::from_frame(&m.to_frame());
        assert_eq!(again.as_ref(), Ok(&m), "server message round trip");
    }
});
