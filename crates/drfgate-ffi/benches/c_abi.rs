//! What the C ABI adds to a cached decision: the same request (`GET /api/orders/42/` with
//! `Authorization: Token abcd1234`, the token's user in the cache) decided by Rust code
//! calling `Gate::decide`, and by a C program calling `drfgate_gate_decide` through
//! libdrfgate.so (request struct, decide, read allow/deny, free the decision), in the same
//! run. The C program times its own loop; criterion's `iter_custom` takes those times.
//!
//! `make bench-c-abi` (it builds the release library first); results in BENCHMARKS.md.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::Criterion;
use drfgate::{Decision, Gate, Request};
use drfgate_test_support::{fixture_db, repo_root};

/// `target/release` (the bench binary is in its `deps/`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn config(db: &Path) -> String {
    format!(
        r#"[django]
DATABASE = "sqlite://{}"
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["TokenAuthentication", "BasicAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
[[routes]]
path = "api/orders/<int:pk>/"
methods = ["GET", "PUT"]
"#,
        db.display()
    )
}

fn compile_decide_loop(profile: &Path) -> PathBuf {
    let library = profile.join("libdrfgate.so");
    assert!(
        library.exists(),
        "{} is missing: `cargo build --release -p drfgate-ffi` first (make bench-c-abi does)",
        library.display()
    );
    let out = profile.join("c-abi-bench");
    std::fs::create_dir_all(out.join("lib")).unwrap();
    let soname = out.join("lib").join(format!(
        "libdrfgate.so.0.{}",
        env!("CARGO_PKG_VERSION_MINOR")
    ));
    let _ = std::fs::remove_file(&soname);
    std::os::unix::fs::symlink(&library, &soname).unwrap();
    let binary = out.join("decide_loop");
    let status = Command::new("gcc")
        .args(["-O2", "-std=c11", "-D_GNU_SOURCE"])
        .arg("-I")
        .arg(repo_root().join("include"))
        .arg(repo_root().join("crates/drfgate-ffi/benches/decide_loop.c"))
        .arg("-o")
        .arg(&binary)
        .arg(format!("-L{}", profile.display()))
        .arg("-ldrfgate")
        .arg(format!("-Wl,-rpath,{}", out.join("lib").display()))
        .status()
        .expect("gcc runs");
    assert!(status.success(), "compiling decide_loop.c failed");
    binary
}

fn estimate_ns(profile: &Path, name: &str) -> Option<f64> {
    let estimates = profile
        .parent()?
        .join("criterion")
        .join(name)
        .join("new/estimates.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(estimates).ok()?).ok()?;
    // The slope of the linear fit is what criterion reports as "time"; flat sampling has none.
    json["slope"]["point_estimate"]
        .as_f64()
        .or_else(|| json["mean"]["point_estimate"].as_f64())
}

fn main() {
    // Missing, the fixture fails the bench, unless DRFGATE_SKIP=django.
    let Some(db) = fixture_db() else { return };
    let profile = profile_dir();
    let decide_loop = compile_decide_loop(&profile);
    let config_text = config(&db.canonicalize().unwrap());
    let config_file = profile.join("c-abi-bench/bench.toml");
    std::fs::write(&config_file, &config_text).unwrap();

    let gate = Gate::from_config_str(&config_text, None).expect("bench config");
    let headers = [(&b"Authorization"[..], &b"Token abcd1234"[..])];
    let decide = || {
        let request = Request::new(b"GET", b"/api/orders/42/").with_headers(&headers);
        matches!(gate.decide(black_box(&request)), Decision::Allow(Some(_)))
    };
    assert!(decide(), "fixture user john");

    // For instruction counts (benches/instructions.sh): just the loop, as decide_loop.c does.
    if let Some(iterations) = std::env::var("DRFGATE_BENCH_RUST_LOOP")
        .ok()
        .and_then(|n| n.parse::<u64>().ok())
    {
        let allowed = (0..iterations).filter(|_| decide()).count() as u64;
        assert_eq!(allowed, iterations);
        println!("{}", decide_loop.display());
        return;
    }

    let mut c = Criterion::default().configure_from_args();
    c.bench_function("c_abi/rust Gate::decide, cached Token allow", |b| {
        b.iter(decide)
    });

    c.bench_function("c_abi/C drfgate_gate_decide, cached Token allow", |b| {
        b.iter_custom(|iterations| {
            let output = Command::new(&decide_loop)
                .arg(&config_file)
                .arg(iterations.to_string())
                .output()
                .expect("decide_loop runs");
            assert!(
                output.status.success(),
                "decide_loop failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let ns: u64 = String::from_utf8_lossy(&output.stdout)
                .trim()
                .parse()
                .unwrap();
            Duration::from_nanos(ns)
        })
    });
    c.final_summary();

    let rust = estimate_ns(&profile, "c_abi_rust Gate__decide, cached Token allow");
    let ffi = estimate_ns(&profile, "c_abi_C drfgate_gate_decide, cached Token allow");
    if let (Some(rust), Some(ffi)) = (rust, ffi) {
        println!(
            "c_abi: Rust {rust:.0} ns, C ABI {ffi:.0} ns per cached decision: ratio {:.2}",
            ffi / rust
        );
    }
}
