//! The parsing modules compared with CPython itself on generated inputs: `bytes.split()`,
//! `base64.b64decode`, DRF's text step, Django's cookie parsing rules (on `http.cookies`),
//! Django's `path_info` decoding and `re` matching of `re_path()` patterns.
//!
//! Each test starts one `python3`, sends every input as a hex line and reads one answer line
//! per input. `python3` must be on PATH; the comparison with Django's own route matching uses
//! the venv's Python (see `routes_match_like_django`).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use drfgate::base64::{b64decode_lenient, decode_basic_text};
use drfgate::header::{cookie_value, scheme_credentials, split_ascii_whitespace};
use drfgate::header::{HeaderTextDecoding, SchemeCredentials};
use drfgate::routes::{django_path_info, RoutePattern};
use drfgate_test_support::bytes::{hex, unhex};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

const CASES: usize = 3000;

/// Runs `script` (which reads all of stdin, then answers line by line) on `lines`.
fn ask_cpython(script: &str, lines: &[String]) -> Vec<String> {
    ask_python("python3", script, lines)
}

fn ask_python(interpreter: &str, script: &str, lines: &[String]) -> Vec<String> {
    let mut child = Command::new(interpreter)
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| {
            panic!(
                "these tests compare against CPython and need `{interpreter}` \
                 (could not start it: {error})"
            )
        });
    let mut input = lines.join("\n");
    input.push('\n');
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // A failing script closes its stdin early; its stderr explains more than EPIPE would.
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    let output = child.wait_with_output().expect("python3 ran");
    assert!(
        output.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<String> = String::from_utf8(output.stdout)
        .expect("python3 answers in ASCII")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(answers.len(), lines.len(), "one answer per input line");
    answers
}

fn generate<S: Strategy>(strategy: S) -> Vec<S::Value> {
    let mut runner = TestRunner::deterministic();
    (0..CASES)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .expect("strategy generates")
                .current()
        })
        .collect()
}

/// Byte strings glued from pieces, so interesting sequences appear together often.
fn glued(pieces: Vec<Vec<u8>>, max_pieces: usize) -> impl Strategy<Value = Vec<u8>> {
    let piece = proptest::sample::select(pieces);
    let junk = any::<u8>().prop_map(|byte| vec![byte]);
    prop::collection::vec(prop_oneof![8 => piece, 1 => junk], 0..max_pieces)
        .prop_map(|parts| parts.concat())
}

fn singles(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes.iter().map(|&byte| vec![byte]).collect()
}

fn report_mismatches(what: &str, mismatches: Vec<String>) {
    assert!(
        mismatches.is_empty(),
        "{} {what} cases differ from CPython, e.g.:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

const TOKENIZER_SCRIPT: &str = r#"
import sys
for line in sys.stdin.buffer.read().decode().splitlines():
    value = bytes.fromhex(line)
    fields = value.split()
    if not fields or fields[0].lower() != b"token":
        verdict = "decline"
    elif len(fields) == 1:
        verdict = "none"
    elif len(fields) > 2:
        verdict = "spaces"
    else:
        verdict = "creds:" + fields[1].hex()
    print(",".join(f.hex() for f in fields) + "|" + verdict)
"#;

#[test]
fn tokenizer_matches_bytes_split_and_drf_keyword_logic() {
    let mut pieces = singles(b" \t\n\x0b\x0c\r\xa0\x85\x1c\x1d\x1e\x1fa,:=\x00\xff");
    for word in [
        "Token", "token", "TOKEN", "tOkEn", "Tokens", "Toke", "abcd1234", "Bearer",
    ] {
        pieces.push(word.as_bytes().to_vec());
    }
    let inputs = generate(glued(pieces, 8));
    let lines: Vec<String> = inputs.iter().map(|input| hex(input)).collect();
    let answers = ask_cpython(TOKENIZER_SCRIPT, &lines);
    let mut mismatches = Vec::new();
    for (input, expected) in inputs.iter().zip(answers) {
        let fields: Vec<String> = split_ascii_whitespace(input).map(hex).collect();
        let verdict = match scheme_credentials(input, b"token") {
            SchemeCredentials::NotThisScheme => "decline".to_owned(),
            SchemeCredentials::NoCredentials => "none".to_owned(),
            SchemeCredentials::TooManyParts => "spaces".to_owned(),
            SchemeCredentials::Credentials(credentials) => format!("creds:{}", hex(credentials)),
        };
        let actual = format!("{}|{verdict}", fields.join(","));
        if actual != expected {
            mismatches.push(format!(
                "input {}: ours {actual}, CPython {expected}",
                hex(input)
            ));
        }
    }
    report_mismatches("tokenizer", mismatches);
}

const BASE64_SCRIPT: &str = r#"
import base64, binascii, sys
for line in sys.stdin.buffer.read().decode().splitlines():
    try:
        print("ok:" + base64.b64decode(bytes.fromhex(line)).hex())
    except binascii.Error as error:
        print("error:" + str(error))
"#;

#[test]
fn base64_matches_cpython_b64decode() {
    let mut pieces = singles(b"ABCXYZabcxyz0189+/");
    pieces.extend(singles(b"===== \t\r\n-_.!*\x80\xb8\xff"));
    pieces.push(b"YQ==".to_vec());
    pieces.push(b"am9o".to_vec());
    let inputs = generate(glued(pieces, 24));
    let lines: Vec<String> = inputs.iter().map(|input| hex(input)).collect();
    let answers = ask_cpython(BASE64_SCRIPT, &lines);
    let mut mismatches = Vec::new();
    for (input, expected) in inputs.iter().zip(answers) {
        let actual = match b64decode_lenient(input) {
            Ok(decoded) => format!("ok:{}", hex(&decoded)),
            Err(error) => format!("error:{error}"),
        };
        if actual != expected {
            mismatches.push(format!(
                "input {}: ours {actual}, CPython {expected}",
                hex(input)
            ));
        }
    }
    report_mismatches("base64", mismatches);
}

const TEXT_SCRIPT: &str = r#"
import sys
for line in sys.stdin.buffer.read().decode().splitlines():
    blob = bytes.fromhex(line)
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        text = blob.decode("latin-1")
    print(text.encode("utf-8").hex())
"#;

/// Valid UTF-8 of every length, encoded surrogates, overlongs, truncations, stray bytes.
fn utf8_edge_pieces() -> Vec<Vec<u8>> {
    let mut pieces = singles(b"a:\x00\x7f\x80\xbf\xc0\xc1\xc2\xe0\xed\xf0\xf4\xf5\xff");
    for text in [
        "é",
        "ß",
        "€",
        "ключ",
        "😀",
        "\u{10ffff}",
        "\u{fffd}",
        "\u{a0}",
    ] {
        pieces.push(text.as_bytes().to_vec());
    }
    for bytes in [
        &b"\xed\xa0\x80"[..],
        b"\xed\xbf\xbf",
        b"\xc0\xaf",
        b"\xe0\x80\xaf",
        b"\xf0\x80\x80\xaf",
        b"\xf4\x90\x80\x80",
        b"\xe2\x82",
        b"\xf0\x9f\x98",
    ] {
        pieces.push(bytes.to_vec());
    }
    pieces
}

#[test]
fn basic_text_step_matches_drf() {
    let inputs = generate(glued(utf8_edge_pieces(), 10));
    let lines: Vec<String> = inputs.iter().map(|input| hex(input)).collect();
    let answers = ask_cpython(TEXT_SCRIPT, &lines);
    let mut mismatches = Vec::new();
    for (input, expected) in inputs.iter().zip(answers) {
        let actual = hex(decode_basic_text(input).as_bytes());
        if actual != expected {
            mismatches.push(format!(
                "input {}: ours {actual}, CPython {expected}",
                hex(input)
            ));
        }
    }
    report_mismatches("text step", mismatches);
}

/// Django's parse_cookie rules, written against CPython's own str methods and
/// `http.cookies._unquote`; answers for WSGI (UTF-8, replace) and ASGI (Latin-1) decoding.
const COOKIE_SCRIPT: &str = r#"
import sys
from http.cookies import _unquote
def parse(text):
    found = {}
    for chunk in text.split(";"):
        name, value = chunk.split("=", 1) if "=" in chunk else ("", chunk)
        name, value = name.strip(), value.strip()
        if name or value:
            found[name] = _unquote(value)
    return found
def show(found):
    return ",".join(k.encode().hex() + "=" + v.encode().hex() for k, v in sorted(found.items()))
for line in sys.stdin.buffer.read().decode().splitlines():
    raw = bytes.fromhex(line)
    print(show(parse(raw.decode(errors="replace"))) + "|" + show(parse(raw.decode("latin-1"))))
"#;

#[test]
fn cookie_parsing_matches_django_rules_on_cpython() {
    let mut pieces = singles(b"ab=;; \t\"\\\\0137\n\x1c\x1f\x0b\xa0\x85\xc2\xff");
    pieces.extend(utf8_edge_pieces());
    for text in [
        "sessionid=",
        "csrftoken=",
        "\"",
        "\\\"",
        "\\012",
        "\\377",
        "\u{2003}",
    ] {
        pieces.push(text.as_bytes().to_vec());
    }
    let inputs = generate(glued(pieces, 14));
    let lines: Vec<String> = inputs.iter().map(|input| hex(input)).collect();
    let answers = ask_cpython(COOKIE_SCRIPT, &lines);
    let probes = ["a", "b", "", "sessionid", "csrftoken", "missing"];
    let mut mismatches = Vec::new();
    for (input, expected) in inputs.iter().zip(answers) {
        let (wsgi, asgi) = expected.split_once('|').expect("two answers");
        for (decoding, expected) in [
            (HeaderTextDecoding::Wsgi, wsgi),
            (HeaderTextDecoding::Asgi, asgi),
        ] {
            let mut names: Vec<String> = expected
                .split(',')
                .filter(|pair| !pair.is_empty())
                .map(|pair| pair.split_once('=').expect("name=value").0.to_owned())
                .map(|name_hex| unhex_utf8(&name_hex))
                .collect();
            names.extend(probes.iter().map(|probe| probe.to_string()));
            names.sort();
            names.dedup();
            let actual: Vec<String> = names
                .iter()
                .filter_map(|name| {
                    cookie_value(input, name, decoding)
                        .map(|value| format!("{}={}", hex(name.as_bytes()), hex(value.as_bytes())))
                })
                .collect();
            let actual = actual.join(",");
            if actual != expected {
                mismatches.push(format!(
                    "{decoding:?} input {}: ours {actual}, CPython {expected}",
                    hex(input)
                ));
            }
        }
    }
    report_mismatches("cookie", mismatches);
}

fn unhex_utf8(text: &str) -> String {
    String::from_utf8(unhex(text)).expect("CPython sent UTF-8")
}

/// gunicorn's split of the request target (`urlsplit`, a leading `//` kept as a path), then
/// `repercent_broken_unicode` restated with a codec error handler.
const PATH_INFO_SCRIPT: &str = r#"
import codecs, sys
from urllib.parse import unquote_to_bytes, urlsplit
codecs.register_error("repercent", lambda e: ("".join("%%%02X" % b for b in e.object[e.start:e.end]), e.end))
def target_path(target):
    if target.startswith("//"):
        return urlsplit("." + target).path[1:]
    return urlsplit(target).path
for line in sys.stdin.buffer.read().decode().splitlines():
    try:
        raw = target_path(bytes.fromhex(line).decode("latin-1")).encode("latin-1")
    except ValueError:  # urlsplit's "Invalid IPv6 URL": gunicorn answers 400
        print("-")
        continue
    path_info = unquote_to_bytes(raw).decode("utf-8", errors="repercent") or "/"
    print(path_info.encode().hex())
"#;

#[test]
fn path_info_matches_percent_decoding_and_repercent() {
    let mut pieces = singles(b"/a%?09AFafzg\xe9\xff");
    pieces.extend(utf8_edge_pieces());
    for text in [
        "#",
        "http://h",
        "//",
        "%C3%A9",
        "%c3%a9",
        "%E9",
        "%ED%A0%80",
        "%F0%9F%98",
        "%2F",
        "%25",
        "%0A",
    ] {
        pieces.push(text.as_bytes().to_vec());
    }
    let mut inputs = generate(glued(pieces, 12));
    // gunicorn refuses a target with a control byte or a space (400 before urlsplit, which
    // would strip some of them), so Django never sees one.
    inputs.retain(|input| !input.iter().any(|&byte| byte <= b' ' || byte == 0x7f));
    let lines: Vec<String> = inputs.iter().map(|input| hex(input)).collect();
    let answers = ask_cpython(PATH_INFO_SCRIPT, &lines);
    let mut mismatches = Vec::new();
    for (input, expected) in inputs.iter().zip(answers) {
        if expected == "-" {
            continue;
        }
        let actual = hex(django_path_info(input).as_bytes());
        if actual != expected {
            mismatches.push(format!(
                "input {}: ours {actual}, CPython {expected}",
                hex(input)
            ));
        }
    }
    report_mismatches("path_info", mismatches);
}

/// Django's RegexPattern.match for an endpoint, on CPython's `re`.
const REGEX_SCRIPT: &str = r#"
import re, sys
for line in sys.stdin.buffer.read().decode().splitlines():
    pattern_hex, path_hex = line.split(" ")
    pattern = bytes.fromhex(pattern_hex).decode()
    path = bytes.fromhex(path_hex).decode()
    regex = re.compile(pattern)
    found = regex.fullmatch(path) if pattern.endswith("$") else regex.search(path)
    print("1" if found else "0")
"#;

const REGEX_PATTERNS: &[&str] = &[
    r"^orders/$",
    r"^orders/(?P<pk>[^/.]+)/$",
    r"^orders/(?P<pk>[^/.]+)\.(?P<format>[a-z0-9]+)/?$",
    r"^orders\.(?P<format>[a-z0-9]+)/?$",
    r"^api/",
    r"orders",
    r"^(?:a/$|b)",
    r"^a$|^b/",
    r"(?i)^ORDERS/\d+/$",
    r"^(?i:o)rders/$",
    r"(?s)^a.b",
    r"^a.b",
    r"(?m)^b$",
    r"(?m)^a$",
    r"(?x) ^ orders / (?P<pk> \d+ ) / $",
    r"^\s+$",
    r"^[\S]+/$",
    r"^[^\s/]+$",
    r"^\w+$",
    r"^\W",
    r"^[\W\d]+$",
    r"^[\w.-]+$",
    r"^[]a-]+$",
    r"^a{2}$",
    r"^a{,2}b",
    r"^a{2,}$",
    r"^a{x}$",
    r"^x\Z",
    r"^\x41\u00e9\101$",
    r"^[\x41-\x43]+$",
    r"^(a|ab)(c|bcd)(d*)$",
    r"^.*?/$",
    r"^(?P<rest>.+)\n$",
    r"^caf\u00e9/$",
    r"^%E9/$",
];

#[test]
fn re_path_patterns_match_like_python_re() {
    let mut pieces = singles(b"aboders/./-_0123456789AEx{}\n\x1c \t\xc3");
    for text in [
        "orders/",
        "é",
        "%",
        "%E9",
        "é/",
        "\u{660}",
        "\u{2003}",
        "ab",
        "bcd",
        "\u{1f600}",
        "\u{b2}",
        "\u{300}",
        "\u{203f}",
    ] {
        pieces.push(text.as_bytes().to_vec());
    }
    let mut paths: Vec<String> = generate(glued(pieces, 10))
        .into_iter()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .collect();
    // Trailing newlines decide between Python's '$' and '\Z'; make sure they come up.
    let newline_edges = [
        "a\n",
        "a/\n",
        "b/\n",
        "orders/\n",
        "x\n",
        "\n",
        "a\nb",
        "a\nb\n",
    ];
    paths.extend(newline_edges.iter().map(|path| path.to_string()));
    let mut cases = Vec::new();
    for path in &paths[CASES..] {
        for pattern in 0..REGEX_PATTERNS.len() {
            cases.push((pattern, path));
        }
    }
    let patterns: Vec<RoutePattern> = REGEX_PATTERNS
        .iter()
        .map(|pattern| {
            RoutePattern::django_regex(pattern).unwrap_or_else(|error| panic!("{error}"))
        })
        .collect();
    for (index, path) in paths[..CASES].iter().enumerate() {
        // Every pattern sees some paths; each path is tried on a few patterns.
        for offset in [0, 7, 19] {
            cases.push(((index + offset) % patterns.len(), path));
        }
    }
    let lines: Vec<String> = cases
        .iter()
        .map(|&(pattern, path)| {
            format!(
                "{} {}",
                hex(REGEX_PATTERNS[pattern].as_bytes()),
                hex(path.as_bytes())
            )
        })
        .collect();
    let answers = ask_cpython(REGEX_SCRIPT, &lines);
    let mut mismatches = Vec::new();
    for (&(pattern, path), expected) in cases.iter().zip(answers) {
        // Percent-encode every byte so the raw path decodes back to exactly this path_info.
        let raw: String = std::iter::once("/".to_owned())
            .chain(path.bytes().map(|byte| format!("%{byte:02X}")))
            .collect();
        let actual = if patterns[pattern].matches(raw.as_bytes()) {
            "1"
        } else {
            "0"
        };
        if actual != expected {
            mismatches.push(format!(
                "pattern {:?} path {path:?}: ours {actual}, CPython {expected}",
                REGEX_PATTERNS[pattern]
            ));
        }
    }
    report_mismatches("re_path", mismatches);
}

/// Django's own resolver pieces: WSGI path_info, the root resolver's "^/", then the pattern.
const DJANGO_SCRIPT: &str = r#"
import sys
import django
from django.conf import settings
settings.configure()
django.setup()
from urllib.parse import unquote_to_bytes
from django.core.handlers.wsgi import get_path_info
from django.urls.resolvers import RegexPattern, RoutePattern
for line in sys.stdin.buffer.read().decode().splitlines():
    kind, route_hex, raw_hex = line.split(" ")
    route = bytes.fromhex(route_hex).decode()
    raw = bytes.fromhex(raw_hex).split(b"?", 1)[0]
    path_info = get_path_info({"PATH_INFO": unquote_to_bytes(raw).decode("latin-1")}) or "/"
    pattern = (RoutePattern if kind == "path" else RegexPattern)(route, is_endpoint=True)
    print("1" if path_info.startswith("/") and pattern.match(path_info[1:]) else "0")
"#;

const DJANGO_ROUTES: &[(&str, &str)] = &[
    ("path", "api/orders/"),
    ("path", ""),
    ("path", "api/orders/<int:pk>/"),
    ("path", "api/<str:kind>/<int:pk>"),
    ("path", "users/<name>/"),
    ("path", "tags/<slug:tag>/"),
    ("path", "things/<uuid:id>/"),
    ("path", "files/<path:rest>/raw"),
    ("path", "files/<path:rest>"),
    ("path", "caf\u{e9}/<int:pk>/"),
    ("path", "a>b/<int:pk>"),
    ("path", "a<b/"),
    ("path", "/lead/<int:pk>"),
    ("path", "a.b/(x)/"),
    ("re_path", r"^api/orders/(?P<pk>[^/.]+)/$"),
    ("re_path", r"^api/orders/$"),
    ("re_path", r"^api/"),
    ("re_path", r"^caf\u00e9/(?P<pk>\d+)/$"),
];

/// With the venv's Python (`make python-env`), or `DRFGATE_DJANGO_PYTHON` (any Python with
/// Django installed); without either it fails, unless `DRFGATE_SKIP=django`.
#[test]
fn routes_match_like_django() {
    let interpreter = std::env::var("DRFGATE_DJANGO_PYTHON").unwrap_or_else(|_| {
        let venv = drfgate_test_support::repo_root().join(".venv/bin/python");
        venv.to_str().expect("a UTF-8 path").to_owned()
    });
    let what = format!("{interpreter}, a Python with Django (run `make python-env`)");
    if !drfgate_test_support::skip::need("django", Path::new(&interpreter).exists(), what) {
        return;
    }
    // A route-shaped start, then a few segment-ish pieces, so matches are common.
    let prefixes: Vec<Vec<u8>> = [
        "/",
        "//",
        "/api/",
        "/api/orders/",
        "/api/x/",
        "/users/",
        "/tags/",
        "/things/",
        "/files/",
        "/caf%C3%A9/",
        "/café/",
        "/caf%E9/",
        "/lead/",
        "//lead/",
        "/a>b/",
        "/a<b/",
        "/a%3Cb/",
        "/a.b/(x)/",
        "/aXb/(x)/",
        "",
    ]
    .iter()
    .map(|prefix| prefix.as_bytes().to_vec())
    .collect();
    let mut pieces = singles(b"/a1-_.?\xe9\xff");
    for text in [
        "12",
        "12a",
        "007",
        "%31",
        "%2F",
        "%E9",
        "%C3%A9",
        "%0A",
        "raw",
        "/raw",
        "x",
        "\u{661}",
        "%D9%A1",
        "a-b_C",
        "12345678-9abc-def0-1234-56789abcdef0",
        "12345678-9ABC-DEF0-1234-56789ABCDEF0",
        "orders/",
    ] {
        pieces.push(text.as_bytes().to_vec());
    }
    let raw_path = (
        proptest::sample::select(prefixes),
        prop::collection::vec(proptest::sample::select(pieces), 0..4),
    )
        .prop_map(|(prefix, rest)| [prefix, rest.concat()].concat());
    let raw_paths = generate(raw_path);
    let patterns: Vec<RoutePattern> = DJANGO_ROUTES
        .iter()
        .map(|&(kind, route)| match kind {
            "path" => RoutePattern::django_path(route),
            _ => RoutePattern::django_regex(route),
        })
        .collect::<Result<_, _>>()
        .unwrap_or_else(|error| panic!("{error}"));
    let mut cases = Vec::new();
    for raw in &raw_paths {
        for pattern in 0..patterns.len() {
            cases.push((pattern, raw));
        }
    }
    let lines: Vec<String> = cases
        .iter()
        .map(|&(pattern, raw)| {
            let (kind, route) = DJANGO_ROUTES[pattern];
            format!("{kind} {} {}", hex(route.as_bytes()), hex(raw))
        })
        .collect();
    let answers = ask_python(&interpreter, DJANGO_SCRIPT, &lines);
    let mut mismatches = Vec::new();
    for (&(pattern, raw), expected) in cases.iter().zip(answers) {
        let actual = if patterns[pattern].matches(raw) {
            "1"
        } else {
            "0"
        };
        if actual != expected {
            mismatches.push(format!(
                "route {:?} raw path {:?}: ours {actual}, Django {expected}",
                DJANGO_ROUTES[pattern].1,
                String::from_utf8_lossy(raw)
            ));
        }
    }
    report_mismatches("Django route", mismatches);
}

/// The committed fuzz corpus of one target (`fuzz/corpus/<target>`, TESTING.md), sorted.
fn fuzz_corpus(target: &str) -> Vec<Vec<u8>> {
    let folder = drfgate_test_support::repo_root()
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .unwrap_or_else(|error| panic!("{}: {error}", folder.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|file| std::fs::read(file).expect("a readable corpus file"))
        .collect()
}

/// Like `REGEX_SCRIPT`, but a pattern CPython refuses answers `error` instead of failing.
const FUZZ_REGEX_SCRIPT: &str = r#"
import re, sys
for line in sys.stdin.buffer.read().decode().splitlines():
    pattern_hex, path_hex = line.split(" ")
    try:
        pattern = bytes.fromhex(pattern_hex).decode()
        regex = re.compile(pattern)
    except Exception:
        print("error")
        continue
    path = bytes.fromhex(path_hex).decode()
    found = regex.fullmatch(path) if pattern.endswith("$") else regex.search(path)
    print("1" if found else "0")
"#;

/// The `python_regex` fuzz target's corpus (pattern, 0, request target) replayed through
/// CPython's `re`: every pattern the translator accepts and CPython accepts matches the same
/// paths. A pattern we refuse is a config error at load, never a different answer.
#[test]
fn fuzz_corpus_re_path_patterns_match_like_python_re() {
    let mut cases = Vec::new();
    for input in fuzz_corpus("python_regex") {
        let (pattern, target) = match input.iter().position(|&b| b == 0) {
            Some(at) => (&input[..at], &input[at + 1..]),
            None => (&input[..], &b"/"[..]),
        };
        let Ok(pattern) = std::str::from_utf8(pattern) else {
            continue;
        };
        let Ok(compiled) = RoutePattern::django_regex(pattern) else {
            continue;
        };
        let path_info = django_path_info(target);
        let Some(unrooted) = path_info.strip_prefix('/') else {
            continue;
        };
        let ours = if compiled.matches_path_info(&path_info) {
            "1"
        } else {
            "0"
        };
        cases.push((pattern.to_owned(), unrooted.to_owned(), ours));
    }
    assert!(cases.len() > 20, "the corpus holds patterns we compile");
    let lines: Vec<String> = cases
        .iter()
        .map(|(pattern, path, _)| format!("{} {}", hex(pattern.as_bytes()), hex(path.as_bytes())))
        .collect();
    let answers = ask_cpython(FUZZ_REGEX_SCRIPT, &lines);
    // Every pattern the translator loads, CPython compiles too (a quantifier on an anchor or
    // on another quantifier is refused by both since the fuzzer found them).
    let cpython_refuses = answers.iter().filter(|a| *a == "error").count();
    assert_eq!(
        cpython_refuses, 0,
        "{cpython_refuses} patterns we load are refused by CPython"
    );
    let mismatches: Vec<String> = cases
        .iter()
        .zip(answers)
        .filter(|((_, _, ours), cpython)| cpython != "error" && ours != cpython)
        .map(|((pattern, path, ours), cpython)| {
            format!("pattern {pattern:?} path {path:?}: ours {ours}, CPython {cpython}")
        })
        .collect();
    report_mismatches("fuzz corpus re_path", mismatches);
}
