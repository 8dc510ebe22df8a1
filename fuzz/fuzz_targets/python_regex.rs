//! Django `re_path()`: the Python-`re` translator on any pattern text (compile or a clean
//! error), then the compiled pattern on any path. Input: pattern, a 0 byte, a raw request
//! target. Whether a match agrees with CPython is checked by replaying this target's corpus
//! through `python3` (crates/drfgate/tests/fuzz_corpus_cpython.rs).
#![no_main]

use drfgate::routes::RoutePattern;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (pattern, target) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b"/"[..]),
    };
    let Ok(pattern) = std::str::from_utf8(pattern) else {
        return;
    };
    match RoutePattern::django_regex(pattern) {
        Ok(compiled) => {
            let _ = compiled.matches(target);
        }
        Err(error) => assert!(error.offset <= pattern.len(), "{error}"),
    }
});
