//! Django `path()` routes and the matcher: any route text compiles or fails at an offset
//! inside it; a compiled route matches any target without panicking, and a route without
//! converters matches exactly its own path. Input: route, a 0 byte, a raw request target.
#![no_main]

use drfgate::routes::RoutePattern;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (route, target) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b"/"[..]),
    };
    let Ok(route) = std::str::from_utf8(route) else {
        return;
    };
    match RoutePattern::django_path(route) {
        Ok(pattern) => {
            let _ = pattern.matches(target);
            if !route.contains('<') {
                assert!(pattern.matches_path_info(&format!("/{route}")));
            }
        }
        Err(error) => assert!(error.offset <= route.len(), "{error}"),
    }
});
