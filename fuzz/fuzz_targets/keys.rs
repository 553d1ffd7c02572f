//! Named-key parsing (`hm send --keys`) of arbitrary strings: never panics;
//! a name that is a key gives bytes, and `keys_to_bytes` is the
//! concatenation of the keys and single characters, or an error naming the
//! first argument that is neither.
#![no_main]

use heimdall_protocol::keys::{key_bytes, keys_to_bytes, UnknownKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let args: Vec<&str> = text.split('\u{0}').collect();
    for app_cursor in [false, true] {
        let mut expected = Ok(Vec::new());
        for a in &args {
            let Ok(out) = &mut expected else { break };
            match key_bytes(a, app_cursor) {
                Some(b) => {
                    assert!(!b.is_empty(), "key {a:?} gives no bytes");
                    out.extend(b);
                }
                None if a.chars().count() == 1 => out.extend_from_slice(a.as_bytes()),
                None => expected = Err(UnknownKey(a.to_string())),
            }
        }
        assert_eq!(keys_to_bytes(&args, app_cursor), expected);
    }
});
