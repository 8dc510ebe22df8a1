//! TOML text → `Config`: never a panic, and every error names the file it came from and, when
//! it names a line, a line of that file.
#![no_main]

use drfgate::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // No base folder: relative paths (a SQLite file, SECRET_KEY_FILE) point nowhere useful,
    // and loading a config only reads files, it never creates them.
    match Config::from_str_with_origin(text, "fuzz.toml", None) {
        Ok(config) => {
            let _ = format!("{:?}", config.routes.len());
        }
        Err(error) => {
            assert_eq!(error.origin, "fuzz.toml");
            if let Some(line) = error.line {
                assert!(
                    line >= 1 && line <= text.lines().count() + 1,
                    "line {line}: {error}"
                );
            }
            let _ = error.to_string();
        }
    }
});
