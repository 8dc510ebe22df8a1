//! The Django-made fixtures (database, conformance table, real DRF's answers) turned into
//! what the C programs read: a config file, and a case file of requests.
//!
//! Like the core crate's tests: without the fixtures a test says so and passes, unless
//! `DRFGATE_REQUIRE_DJANGO=1` (set by `make test`), when it fails.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::toolchain::{repo_root, stage};

pub fn fixture_db() -> Option<PathBuf> {
    let db = repo_root().join("build/django/db.sqlite3");
    if db.exists() {
        return Some(db);
    }
    if std::env::var("DRFGATE_REQUIRE_DJANGO").as_deref() == Ok("1") {
        panic!("missing {}: run `make fixture-db`", db.display());
    }
    eprintln!("skipped: no Django fixture database (run `make fixture-db`)");
    None
}

/// The config `tests/c/requests.h` is written against.
pub fn known_requests_config() -> Option<PathBuf> {
    let db = fixture_db()?;
    let path = stage().join("known-requests.toml");
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

fn hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "~".into();
    }
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn unhex(token: &str) -> Option<Vec<u8>> {
    match token {
        "-" => None,
        "~" => Some(Vec::new()),
        _ => Some(
            (0..token.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&token[i..i + 2], 16).expect("hex"))
                .collect(),
        ),
    }
}

/// `\xNN` in the table is one raw byte; everything else is UTF-8.
fn table_bytes(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("\\x") {
        out.extend_from_slice(&rest.as_bytes()[..i]);
        out.push(u8::from_str_radix(&rest[i + 2..i + 4], 16).expect("\\xNN"));
        rest = &rest[i + 4..];
    }
    out.extend_from_slice(rest.as_bytes());
    out
}

fn toml_value(v: &Value) -> String {
    match v {
        Value::String(s) => quoted(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => quoted("None"),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(toml_value).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{} = {}", quoted(k), toml_value(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
    }
}

pub struct Conformance {
    cases: Value,
    oracle: Value,
    db: PathBuf,
}

/// What one case's answer is compared on.
#[derive(Debug, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Option<Vec<u8>>,
    pub www_authenticate: Option<String>,
    pub user: Option<String>,
}

impl Conformance {
    pub fn load() -> Option<Conformance> {
        let db = fixture_db()?;
        let oracle = repo_root().join("build/conformance/oracle.json");
        if !oracle.exists() {
            if std::env::var("DRFGATE_REQUIRE_DJANGO").as_deref() == Ok("1") {
                panic!("missing {}: run `make oracle`", oracle.display());
            }
            eprintln!("skipped: no oracle answers (run `make oracle`)");
            return None;
        }
        let read = |p: &Path| -> Value {
            serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
        };
        Some(Conformance {
            cases: read(&repo_root().join("tests/conformance/cases.json")),
            oracle: read(&oracle),
            db,
        })
    }

    /// Classes with a Python `authenticate()` of the project's own cannot be configured.
    fn unsupported_classes(&self) -> Vec<&str> {
        self.cases["classes"]["authentication"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, def)| def["base"] == "BaseAuthentication")
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// One config per AUTHENTICATION_BACKENDS setting, each with the views that use it.
    fn configs(&self) -> BTreeMap<Vec<String>, (String, Vec<&str>)> {
        let unsupported = self.unsupported_classes();
        let mut classes = String::new();
        for kind in ["authentication", "permission"] {
            for (name, def) in self.cases["classes"][kind].as_object().unwrap() {
                if unsupported.contains(&name.as_str()) {
                    continue;
                }
                let _ = writeln!(classes, "[{kind}_classes.{}]", quoted(name));
                for (k, v) in def.as_object().unwrap() {
                    let _ = writeln!(classes, "{k} = {}", toml_value(v));
                }
            }
        }
        let mut groups: BTreeMap<Vec<String>, Vec<(&str, &Value)>> = BTreeMap::new();
        for (name, view) in self.cases["views"].as_object().unwrap() {
            let auth = view["authentication_classes"].as_array().unwrap();
            if auth
                .iter()
                .any(|a| unsupported.contains(&a.as_str().unwrap()))
            {
                continue;
            }
            let backends = match view.get("backends") {
                Some(list) => list
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| match b.as_str().unwrap() {
                        // The test project's never-create backend is drfgate's RemoteUserBackend.
                        "expapp.backends.RemoteUserNoCreateBackend" => {
                            "django.contrib.auth.backends.RemoteUserBackend".to_string()
                        }
                        other => other.to_string(),
                    })
                    .collect(),
                None => vec!["django.contrib.auth.backends.ModelBackend".to_string()],
            };
            groups.entry(backends).or_default().push((name, view));
        }
        let hashers = "[\"PBKDF2PasswordHasher\", \"PBKDF2SHA1PasswordHasher\", \"Argon2PasswordHasher\", \
                       \"BCryptSHA256PasswordHasher\", \"BCryptPasswordHasher\", \"ScryptPasswordHasher\", \
                       \"MD5PasswordHasher\"]";
        groups
            .into_iter()
            .map(|(backends, views)| {
                let mut text = format!(
                    "[django]\nDATABASE = {}\nAUTHENTICATION_BACKENDS = {}\nPASSWORD_HASHERS = {hashers}\n\
                     [gate]\nunmatched = \"deny\"\n{classes}",
                    quoted(&format!("sqlite://{}", self.db.display())),
                    toml_value(&Value::from(backends.clone())),
                );
                for (name, view) in &views {
                    let _ = writeln!(text, "[[routes]]\nname = {}", quoted(name));
                    let _ = writeln!(text, "path = {}", toml_value(&view["path"]));
                    for key in ["authentication_classes", "permission_classes", "methods", "model"] {
                        if let Some(v) = view.get(key) {
                            let _ = writeln!(text, "{key} = {}", toml_value(v));
                        }
                    }
                }
                let names = views.into_iter().map(|(name, _)| name).collect();
                (backends, (text, names))
            })
            .collect()
    }

    /// Writes the case file `tests/c/conformance.c` reads; returns it and the case count.
    /// `cheap_only` leaves out the Basic cases (each costs a real password hash: fine
    /// natively, minutes under Valgrind).
    pub fn write_case_file(&self, name: &str, cheap_only: bool) -> (PathBuf, usize) {
        let mut out = String::new();
        let mut count = 0;
        for (i, (_, (config, views))) in self.configs().into_iter().enumerate() {
            if i == 0 {
                // The first config goes through a file, the others as text.
                let path = stage().join(format!("{name}-config.toml"));
                std::fs::write(&path, &config).unwrap();
                let _ = writeln!(out, "gate-file {}", hex(path.to_str().unwrap().as_bytes()));
            } else {
                let _ = writeln!(out, "gate-text {}", hex(config.as_bytes()));
            }
            for case in self.cases["cases"].as_array().unwrap() {
                let view = case["view"].as_str().unwrap();
                if !views.contains(&view) || self.reference(case).is_none() {
                    continue;
                }
                let headers = case["headers"].as_array().unwrap();
                let basic = headers.iter().any(|h| {
                    h[1].as_str()
                        .unwrap()
                        .to_ascii_lowercase()
                        .starts_with("basic")
                });
                if cheap_only && basic {
                    continue;
                }
                let path = format!("/{}", self.cases["views"][view]["path"].as_str().unwrap());
                let _ = write!(
                    out,
                    "case {} {} {} {} {}",
                    hex(case["id"].as_str().unwrap().as_bytes()),
                    hex(case["method"].as_str().unwrap().as_bytes()),
                    hex(path.as_bytes()),
                    case["remote_user"]
                        .as_str()
                        .map_or("-".to_string(), |u| hex(&table_bytes(u))),
                    headers.len()
                );
                for h in headers {
                    let _ = write!(
                        out,
                        " {} {}",
                        hex(h[0].as_str().unwrap().as_bytes()),
                        hex(&table_bytes(h[1].as_str().unwrap()))
                    );
                }
                out.push('\n');
                count += 1;
            }
        }
        let path = stage().join(format!("{name}.cases"));
        std::fs::write(&path, out).unwrap();
        (path, count)
    }

    fn reference(&self, case: &Value) -> Option<&Value> {
        let answers = self.oracle.get("answers").unwrap_or(&self.oracle);
        answers.get(case["id"].as_str().unwrap())
    }

    /// Compares the program's answer lines with DRF's; returns the differences.
    pub fn differences(&self, program_output: &str) -> (usize, Vec<String>) {
        let cases: BTreeMap<&str, &Value> = self.cases["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["id"].as_str().unwrap(), c))
            .collect();
        let mut compared = 0;
        let mut differences = Vec::new();
        for line in program_output.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(fields.len(), 8, "answer line: {line}");
            assert_eq!(fields[0], "answer");
            let id = String::from_utf8(unhex(fields[1]).unwrap()).unwrap();
            let case = cases[id.as_str()];
            let head = case["method"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case("HEAD");
            let text = |t: &str| unhex(t).map(|b| String::from_utf8(b).unwrap());
            let status: u16 = fields[2].parse().unwrap();
            let ours = Answer {
                status,
                body: if head { None } else { unhex(fields[3]) },
                www_authenticate: text(fields[4]),
                user: text(fields[6]),
            };
            let theirs = self.expected(case, head);
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

    fn expected(&self, case: &Value, head: bool) -> Answer {
        let reference = self.reference(case).expect("an oracle answer");
        let status = reference["status"].as_u64().unwrap() as u16;
        let allowed = (200..300).contains(&status);
        Answer {
            // drfgate allows; the view then answers 200 or 201.
            status: if allowed { 200 } else { status },
            body: if allowed || head {
                None
            } else {
                reference["body"].as_str().map(|b| b.as_bytes().to_vec())
            },
            www_authenticate: reference["www_authenticate"].as_str().map(str::to_owned),
            user: if allowed {
                reference["user"].as_str().map(str::to_owned)
            } else {
                None
            },
        }
    }
}
