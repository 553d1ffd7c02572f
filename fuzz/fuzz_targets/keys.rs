//! Named-key parsing (`hm send --keys`) of arbitrary strings: never panics;
//! a name that is a key gives bytes, and `keys_to_bytes` is the
//! concatenation of the keys or the literal text.
#![no_main]

use heimdall_protocol::keys::{key_bytes, keys_to_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let args: Vec<&str> = text.split('\u{0}').collect();
    for app_cursor in [false, true] {
        let mut expected = Vec::new();
        for a in &args {
            match key_bytes(a, app_cursor) {
                Some(b) => {
                    assert!(!b.is_empty(), "key {a:?} gives no bytes");
                    expected.extend(b);
                }
                None => expected.extend_from_slice(a.as_bytes()),
            }
        }
        assert_eq!(keys_to_bytes(&args, app_cursor), expected);
    }
});
