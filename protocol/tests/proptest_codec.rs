//! Property tests: frames and messages round-trip through the codec, and no
//! byte stream makes the decoder or the message parsers panic.

use bytes::BytesMut;
use heimdall_protocol::frame::{client, server};
use heimdall_protocol::{
    ClientMessage, Frame, FrameCodec, Hello, ScreenFormat, ScreenRequest, ServerMessage,
    SignalRequest, SignalSpec, SignalTarget, State, StatusResp, SubmitRequest, SubscribeOptions,
    WaitCondition, WaitRequest, MAX_PAYLOAD,
};
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

fn arb_state() -> impl Strategy<Value = State> {
    prop::sample::select(State::ALL.to_vec())
}

fn arb_client_message() -> impl Strategy<Value = ClientMessage> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2048).prop_map(|v| ClientMessage::Input(v.into())),
        any::<bool>().prop_map(|hold| ClientMessage::Subscribe(SubscribeOptions { hold })),
        Just(ClientMessage::Status),
        (1u16..=1000, 1u16..=500).prop_map(|(cols, rows)| ClientMessage::Resize { cols, rows }),
        Just(ClientMessage::Kill),
        (any::<Option<String>>(), any::<Option<u32>>(), any::<bool>()).prop_map(
            |(client, protocol, viewer)| ClientMessage::Hello(Hello {
                client,
                protocol,
                viewer
            })
        ),
        (any::<Option<u64>>(), any::<bool>(), 0usize..10_000).prop_map(|(id, ansi, n)| {
            ClientMessage::Screen(ScreenRequest {
                id,
                format: if ansi {
                    ScreenFormat::Ansi
                } else {
                    ScreenFormat::Text
                },
                scrollback_lines: n,
                redraw: ansi,
            })
        }),
        (any::<i32>(), ".*", any::<bool>()).prop_map(|(n, s, by_num)| {
            ClientMessage::Signal(SignalRequest {
                id: None,
                target: if by_num {
                    SignalTarget::Group
                } else {
                    SignalTarget::Foreground
                },
                signal: if by_num {
                    SignalSpec::Number(n)
                } else {
                    SignalSpec::Name(s)
                },
            })
        }),
        Just(ClientMessage::Events),
        (any::<u64>(), any::<bool>()).prop_map(|(offset, hold)| ClientMessage::SubscribeFrom {
            offset,
            options: SubscribeOptions { hold },
        }),
        (".*", any::<Option<u64>>()).prop_map(|(text, timeout_ms)| {
            ClientMessage::Submit(SubmitRequest {
                id: Some(3),
                text,
                timeout_ms,
            })
        }),
        (
            0u64..100_000,
            ".*",
            arb_state(),
            any::<Option<u64>>(),
            0u8..4
        )
            .prop_map(|(ms, pat, state, timeout_ms, which)| {
                let condition = match which {
                    0 => WaitCondition::Idle { idle_ms: ms },
                    1 => WaitCondition::Regex {
                        pattern: pat,
                        source: Default::default(),
                    },
                    2 => WaitCondition::State { state },
                    _ => WaitCondition::Exit,
                };
                ClientMessage::Wait(WaitRequest {
                    id: None,
                    condition,
                    timeout_ms,
                })
            }),
    ]
}

fn arb_server_message() -> impl Strategy<Value = ServerMessage> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..4096).prop_map(|v| ServerMessage::Output(v.into())),
        (
            any::<u32>(),
            any::<u32>(),
            any::<bool>(),
            arb_state(),
            any::<u32>()
        )
            .prop_map(
                |(pid, idle_ms, alive, state, state_ms)| ServerMessage::Status(StatusResp {
                    pid,
                    idle_ms,
                    alive,
                    state,
                    state_ms
                })
            ),
        any::<i32>().prop_map(|code| ServerMessage::Exit { code }),
        (any::<u64>(), any::<u64>()).prop_map(|(missed_bytes, offset)| ServerMessage::Event(
            heimdall_protocol::Event::Lagged {
                missed_bytes,
                offset
            }
        )),
    ]
}

/// `msgs` encoded one after the other through the codec decode to
/// themselves, and to nothing more.
fn round_trip<M: PartialEq + std::fmt::Debug, E: std::fmt::Debug>(
    msgs: &[M],
    to_frame: impl Fn(&M) -> Frame,
    from_frame: impl Fn(&Frame) -> Result<M, E>,
) -> Result<(), TestCaseError> {
    let mut codec = FrameCodec::new();
    let mut buf = BytesMut::new();
    for m in msgs {
        codec.encode(to_frame(m), &mut buf).unwrap();
    }
    for m in msgs {
        let f = codec.decode(&mut buf).unwrap().unwrap();
        prop_assert_eq!(&from_frame(&f).unwrap(), m);
    }
    prop_assert!(codec.decode(&mut buf).unwrap().is_none());
    Ok(())
}

proptest! {
    #[test]
    fn client_messages_round_trip(msgs in prop::collection::vec(arb_client_message(), 1..8)) {
        round_trip(&msgs, ClientMessage::to_frame, ClientMessage::from_frame)?;
    }

    #[test]
    fn server_messages_round_trip(msgs in prop::collection::vec(arb_server_message(), 1..8)) {
        round_trip(&msgs, ServerMessage::to_frame, ServerMessage::from_frame)?;
    }

    #[test]
    fn frames_survive_arbitrary_splits(
        frames in prop::collection::vec((any::<u8>(), prop::collection::vec(any::<u8>(), 0..600)), 1..6),
        cut in 1usize..64,
    ) {
        let mut codec = FrameCodec::new();
        let mut wire = BytesMut::new();
        for (k, p) in &frames {
            codec.encode(Frame::new(*k, p.clone()), &mut wire).unwrap();
        }
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in wire.chunks(cut) {
            buf.extend_from_slice(chunk);
            while let Some(f) = codec.decode(&mut buf).unwrap() {
                out.push((f.kind, f.payload.to_vec()));
            }
        }
        prop_assert_eq!(out, frames);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..4096)) {
        let mut codec = FrameCodec::new();
        let mut buf = BytesMut::from(&data[..]);
        while let Ok(Some(f)) = codec.decode(&mut buf) {
            prop_assert!(f.payload.len() <= MAX_PAYLOAD);
            let _ = ClientMessage::from_frame(&f);
            let _ = ServerMessage::from_frame(&f);
        }
    }

    #[test]
    fn arbitrary_payloads_of_every_type_never_panic(
        kind in prop_oneof![0x01u8..=0x0C, 0x81u8..=0x87, Just(server::ERROR), any::<u8>()],
        payload in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let f = Frame::new(kind, payload);
        let _ = ClientMessage::from_frame(&f);
        let _ = ServerMessage::from_frame(&f);
    }
}

#[test]
fn json_payloads_of_garbage_are_malformed_not_panics() {
    for kind in [
        client::HELLO,
        client::SCREEN,
        client::SIGNAL,
        client::SUBMIT,
        client::WAIT,
    ] {
        for junk in [&b"{"[..], b"[1,2]", b"\"x\"", b"\xc3\x28"] {
            let r = ClientMessage::from_frame(&Frame::new(kind, junk));
            assert!(r.is_err(), "{kind:#x} {junk:?} gave {r:?}");
        }
    }
    let bad_wait = Frame::new(client::WAIT, &br#"{"until":"nope"}"#[..]);
    assert!(ClientMessage::from_frame(&bad_wait).is_err());
}

/// Found by the `message` fuzz target: a long decimal number in a RESULT
/// changed in its last digit when the message was re-encoded and parsed again
/// (serde_json's default float parser is not exact).
#[test]
fn numbers_in_json_payloads_survive_a_round_trip_exactly() {
    let payload = format!("{{\"n\":[{}{}]}}", "4".repeat(103), "7".repeat(20));
    let frame = Frame::new(server::RESULT, payload.into_bytes());
    let first = ServerMessage::from_frame(&frame).expect("a RESULT with a number parses");
    let again = ServerMessage::from_frame(&first.to_frame()).expect("its re-encoding parses");
    assert_eq!(again, first);
}
