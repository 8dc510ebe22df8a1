//! Building and running the C test programs of `tests/c/` against the library cargo built:
//! plainly, under AddressSanitizer + UndefinedBehaviorSanitizer, and under Valgrind memcheck;
//! and, against the library nightly built with ThreadSanitizer (`make test-tsan`), under TSan.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};
use std::time::{Instant, SystemTime};

use drfgate_test_support::{repo_root, skip};

/// `target/<profile>`: the test binary lives in its `deps/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps")
        .to_path_buf()
}

/// The SONAME build.rs gives the library.
fn soname() -> String {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    if major == "0" {
        format!("libdrfgate.so.0.{}", env!("CARGO_PKG_VERSION_MINOR"))
    } else {
        format!("libdrfgate.so.{major}")
    }
}

/// Where the C tests' binaries and files go; holds the library under its SONAME.
pub fn stage() -> &'static Path {
    static STAGE: OnceLock<PathBuf> = OnceLock::new();
    STAGE.get_or_init(|| {
        let profile = profile_dir();
        let library = profile.join("libdrfgate.so");
        assert!(
            library.exists(),
            "{} is missing: build it first (`cargo build -p drfgate-ffi`; `make test` does)",
            library.display()
        );
        // `cargo test` does not build a cdylib (only linkable libraries); a library older
        // than its sources would test the wrong code.
        let built = modified(&library);
        let root = repo_root();
        for sources in ["crates/drfgate-ffi/src", "crates/drfgate/src"] {
            if let Some(newer) = newest_file(&root.join(sources)).filter(|(t, _)| *t > built) {
                panic!(
                    "{} is older than {}: rebuild it (`cargo build -p drfgate-ffi`; `make test` does)",
                    library.display(),
                    newer.1.display()
                );
            }
        }
        let stage = profile.join("c-tests");
        let lib = stage.join("lib");
        std::fs::create_dir_all(&lib).unwrap();
        let link = lib.join(soname());
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&library, &link).unwrap();
        stage
    })
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

fn newest_file(dir: &Path) -> Option<(SystemTime, PathBuf)> {
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let candidate = if path.is_dir() {
            newest_file(&path)
        } else {
            Some((modified(&path), path))
        };
        if let Some(c) = candidate {
            if newest.as_ref().is_none_or(|n| c.0 > n.0) {
                newest = Some(c);
            }
        }
    }
    newest
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// `-O1 -g`; also what Valgrind runs.
    Plain,
    /// `-fsanitize=address,undefined`, stopping at the first report.
    Sanitized,
}

/// Compiles `tests/c/<program>.c` once per variant; returns the binary.
pub fn compile(program: &str, variant: Variant) -> PathBuf {
    static BUILT: Mutex<Option<HashSet<(String, Variant)>>> = Mutex::new(None);
    let stage = stage();
    let suffix = match variant {
        Variant::Plain => "plain",
        Variant::Sanitized => "asan",
    };
    let binary = stage.join(format!("{program}-{suffix}"));
    // Held while compiling, so each binary is built once even when tests run in parallel.
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let key = (program.to_string(), variant);
    if built.get_or_insert_with(HashSet::new).contains(&key) {
        return binary;
    }
    let root = repo_root();
    let mut gcc = Command::new(c_compiler());
    gcc.args([
        "-std=c11",
        "-D_GNU_SOURCE",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-g",
        "-O1",
    ])
    .arg("-I")
    .arg(root.join("include"))
    .arg(root.join(format!("tests/c/{program}.c")))
    .arg("-o")
    .arg(&binary);
    if variant == Variant::Sanitized {
        gcc.args([
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer",
        ]);
    }
    gcc.arg(format!("-L{}", profile_dir().display()))
        .arg("-ldrfgate")
        .arg("-lpthread")
        .arg(format!("-Wl,-rpath,{}", stage.join("lib").display()));
    let output = gcc.output().expect("gcc runs");
    assert!(
        output.status.success(),
        "compiling {program} ({suffix}) failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    built.get_or_insert_with(HashSet::new).insert(key);
    binary
}

/// The library built with ThreadSanitizer instrumentation, standard library included
/// (`make test-tsan`, crates/drfgate-ffi/tsan.mk): its static archive, and the TSan runtime
/// of the nightly rustc that built it.
pub struct ThreadSanitizedLibrary {
    archive: PathBuf,
    runtime: PathBuf,
}

impl ThreadSanitizedLibrary {
    /// From `DRFGATE_TSAN_ARCHIVE` and `DRFGATE_TSAN_RUNTIME`, which `make test-tsan` sets;
    /// fails the test, naming the command, when they are missing.
    pub fn from_env() -> Self {
        let path = |name: &str| {
            let path = PathBuf::from(std::env::var_os(name).unwrap_or_else(|| {
                panic!("{name} is not set: this test needs the library built with ThreadSanitizer, run it with `make test-tsan`")
            }));
            assert!(path.is_file(), "{name}: {} is missing", path.display());
            path
        };
        Self {
            archive: path("DRFGATE_TSAN_ARCHIVE"),
            runtime: path("DRFGATE_TSAN_RUNTIME"),
        }
    }

    /// Where the TSan programs and their files go: beside the TSan build, not in the normal
    /// build's stage.
    pub fn stage(&self) -> PathBuf {
        let stage = self.archive.parent().unwrap().join("c-tests-tsan");
        std::fs::create_dir_all(&stage).unwrap();
        stage
    }

    /// `tests/c/<program>.c` compiled by gcc with `-fsanitize=thread` and linked statically
    /// with the instrumented library. The runtime is rustc's (LLVM's compiler-rt), not gcc's
    /// libtsan: LLVM's instrumentation calls entry points gcc 12's runtime does not have
    /// (`__tsan_memcpy`), and gcc's instrumentation only needs the ones both have. So gcc
    /// compiles with `-fsanitize=thread` but links without it, the runtime given whole.
    pub fn compile(&self, program: &str) -> PathBuf {
        let stage = self.stage();
        let root = repo_root();
        let object = stage.join(format!("{program}-tsan.o"));
        let binary = stage.join(format!("{program}-tsan"));
        let mut compile = Command::new(c_compiler());
        compile
            .args(["-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror"])
            .args(["-g", "-O1", "-fsanitize=thread", "-c"])
            .arg("-I")
            .arg(root.join("include"))
            .arg(root.join(format!("tests/c/{program}.c")))
            .arg("-o")
            .arg(&object);
        checked(compile, program);
        let mut link = Command::new(c_compiler());
        link.arg(&object)
            .arg(&self.archive)
            .arg("-Wl,--whole-archive")
            .arg(&self.runtime)
            .arg("-Wl,--no-whole-archive")
            // What the static archive needs from the system (cargo's native-static-libs).
            .args([
                "-lgcc_s",
                "-lutil",
                "-lrt",
                "-lpthread",
                "-lm",
                "-ldl",
                "-lc",
            ])
            .arg("-o")
            .arg(&binary);
        checked(link, program);
        binary
    }
}

fn checked(mut command: Command, program: &str) {
    let output = command.output().expect("gcc runs");
    assert!(
        output.status.success(),
        "building {program} (tsan) failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runner {
    Direct,
    Valgrind,
}

/// Runs a compiled program; fails the test (with its output) unless it exits 0.
pub fn run(binary: &Path, runner: Runner, args: &[&str]) -> Output {
    let started = Instant::now();
    let mut command = match runner {
        Runner::Direct => Command::new(binary),
        Runner::Valgrind => {
            let mut c = Command::new("valgrind");
            c.args([
                "-q",
                "--error-exitcode=99",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect",
                "--show-leak-kinds=definite,indirect",
            ])
            .arg(binary);
            c
        }
    };
    command
        .args(args)
        // Leaks are errors too; UBSan prints a stack and stops.
        .env(
            "ASAN_OPTIONS",
            "detect_leaks=1:abort_on_error=0:halt_on_error=1",
        )
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        // Every race reported, then exit code 66 (TSan's default): the test fails.
        .env("TSAN_OPTIONS", "second_deadlock_stack=1");
    let output = command.output().expect("the test program runs");
    let name = binary.file_name().unwrap().to_string_lossy();
    eprintln!(
        "{name}{}: {:.1} s",
        if runner == Runner::Valgrind {
            " under valgrind"
        } else {
            ""
        },
        started.elapsed().as_secs_f64()
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{name} {args:?} ({runner:?}) failed with {}:\n{stderr}",
        output.status
    );
    eprint!("{stderr}");
    output
}

fn c_compiler() -> String {
    std::env::var("CC").unwrap_or_else(|_| "gcc".into())
}

/// Whether `program --version` runs and succeeds.
fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether the tools to build a C test and run it under `runner` are here: the C compiler,
/// and Valgrind for its runs. A missing one fails the test unless `DRFGATE_SKIP` names it
/// (`cc`, `valgrind`), when this is `false`.
pub fn tools_for(runner: Runner) -> bool {
    static CC: OnceLock<bool> = OnceLock::new();
    static VALGRIND: OnceLock<bool> = OnceLock::new();
    let cc = *CC.get_or_init(|| runs(&c_compiler()));
    if !skip::need(
        "cc",
        cc,
        format_args!("a C compiler: {} (apt-get install gcc)", c_compiler()),
    ) {
        return false;
    }
    if runner == Runner::Valgrind {
        let valgrind = *VALGRIND.get_or_init(|| runs("valgrind"));
        return skip::need("valgrind", valgrind, "valgrind (apt-get install valgrind)");
    }
    true
}

/// `tests/c/<program>.c` compiled for `variant`, when the tools to build and run it under
/// `runner` are here (see [`tools_for`]).
pub fn program(program: &str, variant: Variant, runner: Runner) -> Option<PathBuf> {
    tools_for(runner).then(|| compile(program, variant))
}
