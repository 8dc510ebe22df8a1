//! Gives the shared library its SONAME. Without it the cdylib has none, and programs would
//! record the bare file name, so no two ABI versions could be installed side by side.

fn main() {
    let major: u64 = env_number("CARGO_PKG_VERSION_MAJOR");
    let minor: u64 = env_number("CARGO_PKG_VERSION_MINOR");
    // Before 1.0 a minor release may break the ABI, so it is part of the name (cargo-c's rule).
    let soname = if major == 0 {
        format!("libdrfgate.so.0.{minor}")
    } else {
        format!("libdrfgate.so.{major}")
    };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    println!("cargo:rerun-if-changed=build.rs");
}

fn env_number(name: &str) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} is not a number"))
}
