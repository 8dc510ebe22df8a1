//! Django `re_path()`: the Python-`re` translator on any pattern text — a translation or a
//! clean error pointing inside the pattern — and the translation through `regex-syntax`'s
//! syntax parser, the first step of what `RoutePattern::django_regex` compiles. Input: pattern, a 0 byte,
//! a raw request target (the target part is what the corpus replay matches).
//!
//! Compiling and matching are left to the corpus replay against CPython
//! (`fuzz_corpus_re_path_patterns_match_like_python_re` in
//! crates/drfgate/tests/cpython_parity.rs), which compiles every corpus pattern and
//! compares its matches with `re`'s: compiling a `regex` per input (Unicode classes built into
//! automata) ran at ≈ 300–1,000 inputs/s, too slow to reach the translator's corners, and that
//! part is the `regex` crate's own, fuzzed by that project. For the same reason the
//! translation is parsed to a syntax tree only: lowering it (Unicode case folding of classes)
//! took 9 tenths of the time under the coverage instrumentation.
#![no_main]

use drfgate::routes::RoutePattern;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pattern = match data.iter().position(|&b| b == 0) {
        Some(at) => &data[..at],
        None => data,
    };
    let Ok(pattern) = std::str::from_utf8(pattern) else {
        return;
    };
    match RoutePattern::django_regex_translation(pattern) {
        Ok(translated) => {
            let _ = regex_syntax::ast::parse::Parser::new().parse(&translated);
        }
        Err(error) => assert!(error.offset <= pattern.len(), "{error}"),
    }
});
