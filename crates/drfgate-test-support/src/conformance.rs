//! The conformance table (`tests/conformance/cases.json`), real DRF's answers to it
//! (`build/conformance/oracle.json`, `make oracle`) and the gate configs that
//! `tests/conformance/gate_configs.py` wrote for it (`build/conformance/configs/`,
//! `make gate-configs`): what the Rust and C conformance tests compare the gate with.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::bytes::{hex, table_bytes};
use crate::fixtures::fixture_db;
use crate::{repo_root, skip};

/// One generated config and the table's views it routes.
#[derive(Debug)]
pub struct GateConfig {
    pub path: PathBuf,
    pub text: String,
    /// Its AUTHENTICATION_BACKENDS.
    pub backends: Vec<String>,
    pub views: Vec<String>,
}

/// What a case's answer is compared on. An allowed request is 200 here whatever 2xx the
/// view answered, and its body is not compared (the gate lets it through; the view answers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: Option<String>,
    pub www_authenticate: Option<String>,
    pub user: Option<String>,
}

/// The table, DRF's answers and the generated configs, checked to belong together.
pub struct Table {
    cases: Value,
    answers: Map<String, Value>,
    configs: Vec<GateConfig>,
    left_out: BTreeMap<String, String>,
}

fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sha256_of(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    hex(&Sha256::digest(bytes))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

impl Table {
    /// Everything, or `None` when `DRFGATE_SKIP=django`. A missing or stale fixture fails: an
    /// oracle that answers other cases than the table has, or configs written for another
    /// table, generator or database.
    #[track_caller]
    pub fn load() -> Option<Table> {
        let db = fixture_db()?;
        let root = repo_root();
        let oracle_path = root.join("build/conformance/oracle.json");
        let configs_dir = root.join("build/conformance/configs");
        let index_path = configs_dir.join("index.json");
        let what = format!("{} (run `make oracle`)", oracle_path.display());
        if !skip::need("django", oracle_path.is_file(), what) {
            return None;
        }
        let what = format!("{} (run `make gate-configs`)", index_path.display());
        if !skip::need("django", index_path.is_file(), what) {
            return None;
        }
        let cases_path = root.join("tests/conformance/cases.json");
        let cases = read_json(&cases_path);
        let index = read_json(&index_path);
        let stale = |what: &str| {
            format!(
                "{} was written for another {what}: run `make gate-configs`",
                index_path.display()
            )
        };
        assert_eq!(
            index["cases_sha256"].as_str(),
            Some(sha256_of(&cases_path).as_str()),
            "{}",
            stale("tests/conformance/cases.json")
        );
        let generator = root.join("tests/conformance/gate_configs.py");
        assert_eq!(
            index["generator_sha256"].as_str(),
            Some(sha256_of(&generator).as_str()),
            "{}",
            stale("tests/conformance/gate_configs.py")
        );
        let database = Path::new(index["database"].as_str().expect("index.json: database"));
        assert_eq!(
            database.canonicalize().ok(),
            db.canonicalize().ok(),
            "{}",
            stale(&format!("database than {}", db.display()))
        );

        let oracle = read_json(&oracle_path);
        let answers = oracle
            .get("answers")
            .unwrap_or(&oracle)
            .as_object()
            .expect("oracle.json: an object of answers")
            .clone();
        let ids: BTreeSet<&str> = cases["cases"]
            .as_array()
            .expect("cases.json: cases")
            .iter()
            .map(|c| c["id"].as_str().expect("a case id"))
            .collect();
        let answered: BTreeSet<&str> = answers.keys().map(String::as_str).collect();
        let unanswered: Vec<&&str> = ids.difference(&answered).collect();
        let unknown: Vec<&&str> = answered.difference(&ids).collect();
        assert!(
            unanswered.is_empty() && unknown.is_empty(),
            "{} does not answer the table's cases (run `make oracle`): no answer for {unanswered:?}, \
             answers for cases the table lacks {unknown:?}",
            oracle_path.display()
        );

        let configs: Vec<GateConfig> = index["configs"]
            .as_array()
            .expect("index.json: configs")
            .iter()
            .map(|entry| {
                let path = configs_dir.join(entry["file"].as_str().expect("index.json: file"));
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
                GateConfig {
                    path,
                    text,
                    backends: strings(&entry["backends"]),
                    views: strings(&entry["views"]),
                }
            })
            .collect();
        let left_out: BTreeMap<String, String> = index["left_out"]
            .as_object()
            .expect("index.json: left_out")
            .iter()
            .map(|(view, why)| (view.clone(), why.as_str().expect("a reason").to_owned()))
            .collect();
        // Every view of the table is routed by exactly one config, or left out with a reason.
        let mut placed: Vec<&str> = configs
            .iter()
            .flat_map(|c| c.views.iter().map(String::as_str))
            .chain(left_out.keys().map(String::as_str))
            .collect();
        placed.sort_unstable();
        let mut views: Vec<&str> = cases["views"]
            .as_object()
            .expect("cases.json: views")
            .keys()
            .map(String::as_str)
            .collect();
        views.sort_unstable();
        assert_eq!(
            placed,
            views,
            "{}: each view of the table must be in one config or left out",
            index_path.display()
        );
        Some(Table {
            cases,
            answers,
            configs,
            left_out,
        })
    }

    /// The same table answered by Django running on another database engine (`postgres`,
    /// `mysql`): `build/conformance/<engine>/oracle.json` (`make oracle-engines`), whose
    /// comparisons may differ from SQLite's (MariaDB's collations). `None` when
    /// `DRFGATE_SKIP` names the engine; missing, the test fails.
    #[track_caller]
    pub fn load_on(engine: &str) -> Option<Table> {
        if skip::requested_for(engine) {
            eprintln!("skipped (DRFGATE_SKIP={engine})");
            return None;
        }
        let mut table = Table::load()?;
        let oracle_path = repo_root().join(format!("build/conformance/{engine}/oracle.json"));
        let what = format!("{} (run `make oracle-engines`)", oracle_path.display());
        if !skip::need(engine, oracle_path.is_file(), what) {
            return None;
        }
        let oracle = read_json(&oracle_path);
        let answers = oracle
            .get("answers")
            .unwrap_or(&oracle)
            .as_object()
            .expect("oracle.json: an object of answers")
            .clone();
        let ids: BTreeSet<&String> = table.answers.keys().collect();
        assert_eq!(
            answers.keys().collect::<BTreeSet<_>>(),
            ids,
            "{} answers other cases than the table has (run `make oracle-engines`)",
            oracle_path.display()
        );
        table.answers = answers;
        Some(table)
    }

    /// The generated configs, the default backends' first.
    pub fn configs(&self) -> &[GateConfig] {
        &self.configs
    }

    /// `{view: why}` for the views no config routes (a Python `authenticate()` of their own).
    pub fn left_out(&self) -> &BTreeMap<String, String> {
        &self.left_out
    }

    pub fn cases(&self) -> &[Value] {
        self.cases["cases"].as_array().expect("cases.json: cases")
    }

    /// The cases of the views `config` routes, in table order.
    pub fn cases_of<'a>(&'a self, config: &'a GateConfig) -> impl Iterator<Item = &'a Value> {
        self.cases()
            .iter()
            .filter(|case| config.views.iter().any(|v| case["view"] == v.as_str()))
    }

    /// How many cases belong to views left out.
    pub fn left_out_cases(&self) -> usize {
        self.cases()
            .iter()
            .filter(|case| self.left_out.contains_key(case["view"].as_str().unwrap()))
            .count()
    }

    /// The absolute path a case requests: `/` and its view's path.
    pub fn path(&self, case: &Value) -> String {
        let view = case["view"].as_str().expect("a case's view");
        format!(
            "/{}",
            self.cases["views"][view]["path"]
                .as_str()
                .expect("a view's path")
        )
    }

    /// What the gate must answer to `case`, from DRF's answer to it.
    pub fn expected(&self, case: &Value) -> Answer {
        let id = case["id"].as_str().expect("a case id");
        let reference = &self.answers[id];
        let status = reference["status"].as_u64().expect("a status") as u16;
        let allowed = (200..300).contains(&status);
        let text = |key: &str| reference[key].as_str().map(str::to_owned);
        Answer {
            status: if allowed { 200 } else { status },
            body: if allowed || is_head(case) {
                None
            } else {
                text("body")
            },
            www_authenticate: text("www_authenticate"),
            user: if allowed { text("user") } else { None },
        }
    }
}

/// The Django-made fixture database on a server (`make fixture-engines`), as a `DATABASE`
/// URL: `$DRFGATE_TEST_POSTGRES` / `$DRFGATE_TEST_MYSQL`, or the local servers' defaults.
pub fn server_database(engine: &str) -> String {
    match engine {
        "postgres" => std::env::var("DRFGATE_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/drfgate_fixture".into()),
        "mysql" => std::env::var("DRFGATE_TEST_MYSQL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/drfgate_fixture".into()),
        other => panic!("no server engine {other:?}"),
    }
}

/// A generated config with its `DATABASE` line pointing at `database` instead.
pub fn config_on(text: &str, database: &str) -> String {
    let mut replaced = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("DATABASE =") {
                replaced = true;
                format!("DATABASE = {database:?}")
            } else {
                line.to_owned()
            }
        })
        .collect();
    assert!(
        replaced,
        "a generated config without a DATABASE line:\n{text}"
    );
    lines.join("\n") + "\n"
}

pub fn id(case: &Value) -> &str {
    case["id"].as_str().expect("a case id")
}

pub fn method(case: &Value) -> &str {
    case["method"].as_str().expect("a case's method")
}

pub fn is_head(case: &Value) -> bool {
    method(case).eq_ignore_ascii_case("HEAD")
}

/// A case's headers as raw bytes (values in the table's `\xNN` notation), and the
/// oracle's `Host: testserver` unless the case sets a Host.
pub fn headers(case: &Value) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut headers: Vec<(Vec<u8>, Vec<u8>)> = case["headers"]
        .as_array()
        .expect("a case's headers")
        .iter()
        .map(|h| {
            (
                h[0].as_str().expect("a header name").as_bytes().to_vec(),
                table_bytes(h[1].as_str().expect("a header value")),
            )
        })
        .collect();
    // The oracle's requests carry `Host: testserver` (tests/conformance/oracle.py), which the
    // CSRF Origin and Referer checks read.
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(b"host")) {
        headers.push((b"Host".to_vec(), b"testserver".to_vec()));
    }
    headers
}

/// The REMOTE_USER a case sets, as raw bytes.
pub fn remote_user(case: &Value) -> Option<Vec<u8>> {
    case["remote_user"].as_str().map(table_bytes)
}
