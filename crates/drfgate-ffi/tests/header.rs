//! `include/drfgate.h` is committed, so C users need no Rust tooling: it must be exactly what
//! the pinned cbindgen makes from the current sources, and its version must be Cargo.toml's.

use std::process::Command;

use drfgate_test_support::repo_root;

fn committed_header() -> String {
    std::fs::read_to_string(repo_root().join("include/drfgate.h")).expect("include/drfgate.h")
}

#[test]
fn the_committed_header_is_what_cbindgen_makes_now() {
    let root = repo_root();
    let fresh = tempfile::tempdir().unwrap();
    let generated = fresh.path().join("drfgate.h");
    // The same command as `make header`.
    let status = Command::new(root.join("scripts/cbindgen.sh"))
        .current_dir(root)
        .args(["--quiet", "--config", "crates/drfgate-ffi/cbindgen.toml"])
        .args(["--crate", "drfgate-ffi", "--output"])
        .arg(&generated)
        .arg("crates/drfgate-ffi")
        .status()
        .expect("scripts/cbindgen.sh runs");
    assert!(status.success(), "cbindgen failed");
    let generated = std::fs::read_to_string(generated).unwrap();
    if generated != committed_header() {
        let first_difference = generated
            .lines()
            .zip(committed_header().lines())
            .position(|(a, b)| a != b)
            .map_or("at the end".to_string(), |n| format!("at line {}", n + 1));
        panic!("include/drfgate.h is stale ({first_difference}): run `make header` and commit it");
    }
}

fn macro_value(header: &str, name: &str) -> String {
    let prefix = format!("#define {name} ");
    header
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{name} is not defined in the header"))
        .trim()
        .to_string()
}

#[test]
fn the_version_macros_are_cargo_tomls_version() {
    let header = committed_header();
    assert_eq!(
        macro_value(&header, "DRFGATE_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MAJOR")
    );
    assert_eq!(
        macro_value(&header, "DRFGATE_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_MINOR")
    );
    assert_eq!(
        macro_value(&header, "DRFGATE_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION_PATCH")
    );
    // The string macro is built from the three numbers; the C tests compare it with
    // drfgate_version() at run time.
    assert!(macro_value(&header, "DRFGATE_VERSION").contains("DRFGATE_VERSION_MAJOR"));
    assert_eq!(
        macro_value(&header, "DRFGATE_DENY_CONTENT_TYPE"),
        format!("\"{}\"", drfgate::Deny::CONTENT_TYPE)
    );
}
