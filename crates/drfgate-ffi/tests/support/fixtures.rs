//! The Django-made fixtures (database, conformance table, real DRF's answers, the generated
//! configs; `drfgate-test-support`) turned into what the C programs read: a config file, and
//! a case file of requests.
//!
//! Like the core crate's tests: without the fixtures a test fails, unless
//! `DRFGATE_SKIP=django`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use drfgate_test_support::bytes::{hex, unhex};
use drfgate_test_support::conformance::{self, Answer, Table};
use drfgate_test_support::fixture_db;
use serde_json::Value;

use super::toolchain::stage;

/// The config `tests/c/requests.h` is written against.
pub fn known_requests_config() -> Option<PathBuf> {
    known_requests_config_in(stage())
}

/// [`known_requests_config`] written into `dir`: the ThreadSanitizer run keeps its files
/// next to its own library, apart from the normal build's stage.
pub fn known_requests_config_in(dir: &Path) -> Option<PathBuf> {
    let db = fixture_db()?;
    let path = dir.join("known-requests.toml");
    let text = format!(
        r#"[django]
DATABASE = {db}
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["TokenAuthentication", "BasicAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
[[routes]]
path = "api/orders/<int:pk>/"
methods = ["GET", "PUT"]
[[routes]]
path = "api/admin/"
permission_classes = ["IsAdminUser"]
[[routes]]
path = "api/public/"
permission_classes = ["AllowAny"]
"#,
        db = quoted(&format!("sqlite://{}", db.display()))
    );
    std::fs::write(&path, text).unwrap();
    Some(path)
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// A case-file token: hex, `~` when empty.
fn token(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        "~".into()
    } else {
        hex(bytes)
    }
}

/// The bytes of a [`token`] or of an answer field; `-` is absent.
fn untoken(token: &str) -> Option<Vec<u8>> {
    match token {
        "-" => None,
        "~" => Some(Vec::new()),
        _ => Some(unhex(token)),
    }
}

pub struct Conformance {
    table: Table,
}

impl Conformance {
    pub fn load() -> Option<Conformance> {
        Table::load().map(|table| Conformance { table })
    }

    /// How many cases the generated configs route: all but those of the views left out.
    pub fn comparable_cases(&self) -> usize {
        self.table.cases().len() - self.table.left_out_cases()
    }

    /// Writes the case file `tests/c/conformance.c` reads; returns it and the case count.
    /// `cheap_only` leaves out the Basic cases (each costs a real password hash: fine
    /// natively, minutes under Valgrind).
    pub fn write_case_file(&self, name: &str, cheap_only: bool) -> (PathBuf, usize) {
        let mut out = String::new();
        let mut count = 0;
        for (i, config) in self.table.configs().iter().enumerate() {
            if i == 0 {
                // The first config goes through a file, the others as text.
                let _ = writeln!(
                    out,
                    "gate-file {}",
                    token(config.path.to_str().unwrap().as_bytes())
                );
            } else {
                let _ = writeln!(out, "gate-text {}", token(config.text.as_bytes()));
            }
            for case in self.table.cases_of(config) {
                let headers = conformance::headers(case);
                let basic = headers
                    .iter()
                    .any(|(_, value)| value.to_ascii_lowercase().starts_with(b"basic"));
                if cheap_only && basic {
                    continue;
                }
                let _ = write!(
                    out,
                    "case {} {} {} {} {}",
                    token(conformance::id(case).as_bytes()),
                    token(conformance::method(case).as_bytes()),
                    token(self.table.path(case).as_bytes()),
                    conformance::remote_user(case).map_or("-".to_string(), |u| token(&u)),
                    headers.len()
                );
                for (name, value) in &headers {
                    let _ = write!(out, " {} {}", token(name), token(value));
                }
                out.push('\n');
                count += 1;
            }
        }
        let path = stage().join(format!("{name}.cases"));
        std::fs::write(&path, out).unwrap();
        (path, count)
    }

    /// Compares the program's answer lines with DRF's; returns the differences.
    pub fn differences(&self, program_output: &str) -> (usize, Vec<String>) {
        let cases: BTreeMap<&str, &Value> = self
            .table
            .cases()
            .iter()
            .map(|c| (conformance::id(c), c))
            .collect();
        let mut compared = 0;
        let mut differences = Vec::new();
        for line in program_output.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(fields.len(), 8, "answer line: {line}");
            assert_eq!(fields[0], "answer");
            let id = String::from_utf8(untoken(fields[1]).unwrap()).unwrap();
            let case = cases[id.as_str()];
            let head = conformance::is_head(case);
            let text = |t: &str| untoken(t).map(|b| String::from_utf8(b).unwrap());
            let ours = Answer {
                status: fields[2].parse().unwrap(),
                body: if head { None } else { text(fields[3]) },
                www_authenticate: text(fields[4]),
                user: text(fields[6]),
            };
            let theirs = self.table.expected(case);
            compared += 1;
            if ours != theirs {
                differences.push(format!(
                    "{id} ({}, {}):\n  via C {ours:?}\n  DRF   {theirs:?}",
                    case["view"], case["method"]
                ));
            }
        }
        (compared, differences)
    }
}
