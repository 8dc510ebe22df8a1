//! From a raw request target (gunicorn) or WSGI `PATH_INFO` (mod_wsgi) to Django's
//! `path_info`: any bytes; valid UTF-8 is kept as is, the target's path is a part of it.
#![no_main]

use drfgate::routes::{django_path_info, target_path, wsgi_path_info};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = target_path(data);
    assert!(path.len() <= data.len());
    let _ = django_path_info(data);
    let wsgi = wsgi_path_info(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if !text.is_empty() {
            assert_eq!(wsgi, text);
        }
    }
});
