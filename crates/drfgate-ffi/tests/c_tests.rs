//! The C programs of `tests/c/`, compiled with gcc against the libdrfgate.so cargo built and
//! run three ways: plainly, under AddressSanitizer + UndefinedBehaviorSanitizer (leaks
//! included), and under Valgrind memcheck (zero errors, zero definite or indirect leaks); the
//! thread test also under ThreadSanitizer, by hand (`make test-tsan`).
//! Valgrind runs are kept small: it is ~50 times slower. A missing compiler, Valgrind or
//! fixture fails a test unless `DRFGATE_SKIP` names it (`cc`, `valgrind`, `django`).

mod support;

use support::fixtures::{known_requests_config, known_requests_config_in, Conformance};
use support::toolchain::{program, run, tools_for, Runner, ThreadSanitizedLibrary, Variant};

fn conformance(variant: Variant, runner: Runner) {
    let Some(table) = Conformance::load() else {
        return;
    };
    let cheap_only = runner == Runner::Valgrind;
    let name = match (variant, runner) {
        (Variant::Plain, Runner::Direct) => "conformance-plain",
        (Variant::Sanitized, _) => "conformance-asan",
        (Variant::Plain, Runner::Valgrind) => "conformance-valgrind",
    };
    let Some(binary) = program("conformance", variant, runner) else {
        return;
    };
    let (cases, count) = table.write_case_file(name, cheap_only);
    if !cheap_only {
        assert_eq!(
            count,
            table.comparable_cases(),
            "every comparable case was written"
        );
    }
    let output = run(&binary, runner, &[cases.to_str().unwrap()]);
    let (compared, differences) = table.differences(&String::from_utf8(output.stdout).unwrap());
    eprintln!("{name}: {compared} cases compared with DRF's answers");
    assert_eq!(compared, count, "every case written was answered");
    assert!(
        compared > if cheap_only { 150 } else { 250 },
        "too few cases: {compared}"
    );
    assert!(
        differences.is_empty(),
        "{} differences from DRF through the C ABI:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

#[test]
fn conformance_cases_through_the_c_abi() {
    conformance(Variant::Plain, Runner::Direct);
}

#[test]
fn conformance_cases_under_asan_and_ubsan() {
    conformance(Variant::Sanitized, Runner::Direct);
}

#[test]
fn conformance_cases_under_valgrind() {
    conformance(Variant::Plain, Runner::Valgrind);
}

#[test]
fn many_threads_share_one_gate() {
    let Some(config) = known_requests_config() else {
        return;
    };
    let Some(binary) = program("threads", Variant::Plain, Runner::Direct) else {
        return;
    };
    run(
        &binary,
        Runner::Direct,
        &[config.to_str().unwrap(), "8", "20000"],
    );
}

#[test]
fn many_threads_under_asan_and_ubsan() {
    let Some(config) = known_requests_config() else {
        return;
    };
    let Some(binary) = program("threads", Variant::Sanitized, Runner::Direct) else {
        return;
    };
    run(
        &binary,
        Runner::Direct,
        &[config.to_str().unwrap(), "8", "5000"],
    );
}

#[test]
fn many_threads_under_valgrind() {
    let Some(config) = known_requests_config() else {
        return;
    };
    let Some(binary) = program("threads", Variant::Plain, Runner::Valgrind) else {
        return;
    };
    run(
        &binary,
        Runner::Valgrind,
        &[config.to_str().unwrap(), "4", "500"],
    );
}

/// The thread test with the whole library (its standard library too) instrumented by
/// ThreadSanitizer, so its locks, atomics and `Once`s are seen and a race inside it is
/// reported. Needs nightly with `rust-src`: `make test-tsan` builds that library and runs this.
#[test]
#[ignore = "needs the library built with ThreadSanitizer by nightly: run `make test-tsan`"]
fn many_threads_under_thread_sanitizer() {
    let library = ThreadSanitizedLibrary::from_env();
    let Some(config) = known_requests_config_in(&library.stage()) else {
        return;
    };
    if !tools_for(Runner::Direct) {
        return;
    }
    let binary = library.compile("threads");
    run(
        &binary,
        Runner::Direct,
        &[config.to_str().unwrap(), "8", "20000"],
    );
}

#[test]
fn a_million_decisions_do_not_grow_memory() {
    let Some(config) = known_requests_config() else {
        return;
    };
    let Some(binary) = program("memory", Variant::Plain, Runner::Direct) else {
        return;
    };
    run(
        &binary,
        Runner::Direct,
        &[config.to_str().unwrap(), "1000000", "1"],
    );
}

#[test]
fn repeated_decisions_under_asan_and_ubsan() {
    let Some(config) = known_requests_config() else {
        return;
    };
    let Some(binary) = program("memory", Variant::Sanitized, Runner::Direct) else {
        return;
    };
    run(
        &binary,
        Runner::Direct,
        &[config.to_str().unwrap(), "100000", "0"],
    );
}

#[test]
fn repeated_decisions_under_valgrind() {
    let Some(config) = known_requests_config() else {
        return;
    };
    let Some(binary) = program("memory", Variant::Plain, Runner::Valgrind) else {
        return;
    };
    run(
        &binary,
        Runner::Valgrind,
        &[config.to_str().unwrap(), "10000", "0"],
    );
}

/// NULL and garbage arguments; with `DRFGATE_SKIP=django`, only the parts that need no
/// database.
fn abuse(variant: Variant, runner: Runner, garbage_rounds: &str) {
    let Some(binary) = program("abuse", variant, runner) else {
        return;
    };
    let config = known_requests_config();
    let config = config
        .as_deref()
        .map_or("-", |p| p.to_str().unwrap())
        .to_string();
    run(&binary, runner, &[&config, garbage_rounds]);
}

#[test]
fn null_and_garbage_arguments() {
    abuse(Variant::Plain, Runner::Direct, "20000");
}

#[test]
fn null_and_garbage_arguments_under_asan_and_ubsan() {
    abuse(Variant::Sanitized, Runner::Direct, "20000");
}

#[test]
fn null_and_garbage_arguments_under_valgrind() {
    abuse(Variant::Plain, Runner::Valgrind, "1000");
}

/// A gate loaded, used and freed 200 times, as a reloading server's parent does: the heap in
/// use comes back to where it was (mallinfo2, which fragmentation does not move).
#[test]
fn reloading_gates_leaves_nothing_behind() {
    let Some(config) = known_requests_config() else {
        return;
    };
    let Some(binary) = program("reloads", Variant::Plain, Runner::Direct) else {
        return;
    };
    run(
        &binary,
        Runner::Direct,
        &[config.to_str().unwrap(), "200", "1"],
    );
}

#[test]
fn reloading_gates_under_valgrind() {
    let Some(config) = known_requests_config() else {
        return;
    };
    let Some(binary) = program("reloads", Variant::Plain, Runner::Valgrind) else {
        return;
    };
    run(
        &binary,
        Runner::Valgrind,
        &[config.to_str().unwrap(), "8", "0"],
    );
}

/// A decision the caller owns, refilled by `drfgate_gate_decide_into` (tests/c/reuse.c).
fn reuse(variant: Variant, runner: Runner) {
    let Some(config) = known_requests_config() else {
        return;
    };
    let Some(binary) = program("reuse", variant, runner) else {
        return;
    };
    run(&binary, runner, &[config.to_str().unwrap()]);
}

#[test]
fn a_reused_decision_answers_as_a_new_one() {
    reuse(Variant::Plain, Runner::Direct);
}

#[test]
fn a_reused_decision_under_asan_and_ubsan() {
    reuse(Variant::Sanitized, Runner::Direct);
}

#[test]
fn a_reused_decision_under_valgrind() {
    reuse(Variant::Plain, Runner::Valgrind);
}
