//! The conformance table (`tests/conformance/cases.json`) run through the gate, compared
//! with what real DRF answered for the same requests over the same database
//! (`build/conformance/oracle.json`, made by `make oracle`) and with the table's own
//! expectations.
//!
//! Without the Django-made fixtures this test says so and passes, unless
//! `DRFGATE_REQUIRE_DJANGO=1` (set by `make test`), when it fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use drfgate::{Decision, Gate, Request};
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Fixtures {
    cases: Value,
    oracle: Value,
    db: PathBuf,
}

fn fixtures() -> Option<Fixtures> {
    let root = repo_root();
    let db = root.join("build/django/db.sqlite3");
    let oracle = root.join("build/conformance/oracle.json");
    if !db.exists() || !oracle.exists() {
        if std::env::var("DRFGATE_REQUIRE_DJANGO").as_deref() == Ok("1") {
            panic!(
                "missing {} or {}: run `make fixture-db oracle` (needs the Python venv)",
                db.display(),
                oracle.display()
            );
        }
        eprintln!("conformance: skipped, no Django fixtures (run `make fixture-db oracle`)");
        return None;
    }
    let read =
        |p: &Path| -> Value { serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap() };
    Some(Fixtures {
        cases: read(&root.join("tests/conformance/cases.json")),
        oracle: read(&oracle),
        db,
    })
}

/// `\xNN` is one raw byte; every other character is its UTF-8.
fn header_bytes(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("\\x") {
        out.extend_from_slice(&rest.as_bytes()[..i]);
        let hex = &rest[i + 2..i + 4];
        out.push(u8::from_str_radix(hex, 16).expect("\\xNN escape"));
        rest = &rest[i + 4..];
    }
    out.extend_from_slice(rest.as_bytes());
    out
}

fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn toml_list(values: &[Value]) -> String {
    let items: Vec<String> = values
        .iter()
        .map(|v| toml_string(v.as_str().unwrap()))
        .collect();
    format!("[{}]", items.join(", "))
}

fn json_to_toml_inline(v: &Value) -> String {
    match v {
        Value::String(s) => toml_string(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{} = {}", toml_string(k), json_to_toml_inline(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(json_to_toml_inline)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Null => "\"None\"".into(),
    }
}

/// The test project's backend that never creates users is what drfgate's RemoteUserBackend does.
fn backend_setting(name: &str) -> &str {
    match name {
        "expapp.backends.RemoteUserNoCreateBackend" => {
            "django.contrib.auth.backends.RemoteUserBackend"
        }
        other => other,
    }
}

/// Custom classes drfgate cannot express (a Python authenticate() of the project's own).
fn unsupported_auth_classes(cases: &Value) -> Vec<String> {
    cases["classes"]["authentication"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, def)| def["base"] == "BaseAuthentication")
        .map(|(name, _)| name.clone())
        .collect()
}

/// One config per distinct AUTHENTICATION_BACKENDS, with every view that uses it as a route.
fn configs(fx: &Fixtures) -> BTreeMap<Vec<String>, (String, Vec<String>)> {
    let unsupported = unsupported_auth_classes(&fx.cases);
    let mut classes = String::new();
    for (name, def) in fx.cases["classes"]["authentication"].as_object().unwrap() {
        if unsupported.contains(name) {
            continue;
        }
        classes.push_str(&format!("[authentication_classes.{}]\n", toml_string(name)));
        for (k, v) in def.as_object().unwrap() {
            classes.push_str(&format!("{k} = {}\n", json_to_toml_inline(v)));
        }
    }
    for (name, def) in fx.cases["classes"]["permission"].as_object().unwrap() {
        classes.push_str(&format!("[permission_classes.{}]\n", toml_string(name)));
        for (k, v) in def.as_object().unwrap() {
            classes.push_str(&format!("{k} = {}\n", json_to_toml_inline(v)));
        }
    }
    let mut groups: BTreeMap<Vec<String>, Vec<(String, &Value)>> = BTreeMap::new();
    for (name, view) in fx.cases["views"].as_object().unwrap() {
        let auth = view["authentication_classes"].as_array().unwrap();
        if auth
            .iter()
            .any(|a| unsupported.iter().any(|u| u == a.as_str().unwrap()))
        {
            continue;
        }
        let backends: Vec<String> = match view.get("backends") {
            Some(list) => list
                .as_array()
                .unwrap()
                .iter()
                .map(|b| backend_setting(b.as_str().unwrap()).to_string())
                .collect(),
            None => vec!["django.contrib.auth.backends.ModelBackend".into()],
        };
        groups
            .entry(backends)
            .or_default()
            .push((name.clone(), view));
    }
    let mut out = BTreeMap::new();
    for (backends, views) in groups {
        let mut text = format!(
            "[django]\nDATABASE = {}\nAUTHENTICATION_BACKENDS = {}\n\
             PASSWORD_HASHERS = [\"PBKDF2PasswordHasher\", \"PBKDF2SHA1PasswordHasher\", \"Argon2PasswordHasher\", \
             \"BCryptSHA256PasswordHasher\", \"BCryptPasswordHasher\", \"ScryptPasswordHasher\", \"MD5PasswordHasher\"]\n\
             [gate]\nunmatched = \"deny\"\n",
            toml_string(&format!("sqlite://{}", fx.db.display())),
            toml_list(&backends.iter().map(|b| Value::String(b.clone())).collect::<Vec<_>>()),
        );
        text.push_str(&classes);
        let mut names = Vec::new();
        for (name, view) in views {
            text.push_str("[[routes]]\n");
            text.push_str(&format!("name = {}\n", toml_string(&name)));
            text.push_str(&format!(
                "path = {}\n",
                toml_string(view["path"].as_str().unwrap())
            ));
            for key in ["authentication_classes", "permission_classes", "methods"] {
                if let Some(list) = view.get(key) {
                    text.push_str(&format!(
                        "{key} = {}\n",
                        toml_list(list.as_array().unwrap())
                    ));
                }
            }
            if let Some(model) = view.get("model") {
                text.push_str(&format!(
                    "model = {}\n",
                    toml_string(model.as_str().unwrap())
                ));
            }
            names.push(name);
        }
        out.insert(backends, (text, names));
    }
    out
}

#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    body: Option<String>,
    www_authenticate: Option<String>,
    user: Option<String>,
}

fn gate_answer(gate: &Gate, case: &Value, view: &Value) -> Answer {
    let headers: Vec<(Vec<u8>, Vec<u8>)> = case["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap().as_bytes().to_vec(),
                header_bytes(h[1].as_str().unwrap()),
            )
        })
        .collect();
    let path = format!("/{}", view["path"].as_str().unwrap());
    let remote_user = case["remote_user"].as_str().map(header_bytes);
    let request = Request::new(case["method"].as_str().unwrap().as_bytes(), path.as_bytes())
        .with_headers(&headers)
        .with_remote_user(remote_user.as_deref());
    let decision = gate.decide(&request);
    // Whenever the caches alone can answer (e.g. now that this request's token is cached),
    // they must give the same answer.
    if let Some(cached) = gate.decide_cached(&request) {
        assert_eq!(
            cached, decision,
            "decide_cached disagrees on {}",
            case["id"]
        );
    }
    // `drfgate explain` walks the same path: same answer, and a story to tell.
    let (explained, trace) = gate.explain(&request);
    assert_eq!(
        explained, decision,
        "explain disagrees with decide for {}",
        case["id"]
    );
    assert!(
        trace.steps.len() >= 2,
        "explain told too little for {}: {trace:?}",
        case["id"]
    );
    match decision {
        Decision::Allow(identity) => Answer {
            status: 200,
            body: None,
            www_authenticate: None,
            user: identity.map(|i| i.user.username.to_string()),
        },
        Decision::Pass => panic!(
            "{}: passed through untouched, but every conformance view has a route",
            case["id"]
        ),
        Decision::Deny(deny) => Answer {
            status: deny.status,
            body: Some(String::from_utf8(deny.body.to_vec()).unwrap()),
            www_authenticate: deny.www_authenticate.map(|w| w.to_string()),
            user: None,
        },
    }
}

fn reference_answer(oracle: &Value, is_head: bool) -> Answer {
    let status = oracle["status"].as_u64().unwrap() as u16;
    let allowed = (200..300).contains(&status);
    Answer {
        // drfgate allows; the view then answers 200 or 201.
        status: if allowed { 200 } else { status },
        body: if allowed || is_head {
            None
        } else {
            oracle["body"].as_str().map(str::to_owned)
        },
        www_authenticate: oracle["www_authenticate"].as_str().map(str::to_owned),
        user: if allowed {
            oracle["user"].as_str().map(str::to_owned)
        } else {
            None
        },
    }
}

#[test]
fn gate_answers_every_case_like_drf() {
    let Some(fx) = fixtures() else { return };
    let oracle = fx.oracle["answers"]
        .as_object()
        .or(fx.oracle.as_object())
        .unwrap();
    let views = fx.cases["views"].as_object().unwrap();
    let mut compared = 0;
    let mut skipped = Vec::new();
    let mut failures = Vec::new();
    for (_, (config, route_names)) in configs(&fx) {
        let gate = Gate::from_config_str(&config, None)
            .unwrap_or_else(|e| panic!("generated config does not load: {e}\n{config}"));
        for case in fx.cases["cases"].as_array().unwrap() {
            let view_name = case["view"].as_str().unwrap();
            if !route_names.iter().any(|n| n == view_name) {
                continue;
            }
            let id = case["id"].as_str().unwrap();
            let Some(reference) = oracle.get(id) else {
                skipped.push(format!("{id}: no oracle answer"));
                continue;
            };
            let is_head = case["method"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case("HEAD");
            let mut ours = gate_answer(&gate, case, &views[view_name]);
            if is_head {
                ours.body = None;
            }
            let theirs = reference_answer(reference, is_head);
            compared += 1;
            if ours != theirs {
                failures.push(format!(
                    "{id} ({view_name}, {}):\n  drfgate {ours:?}\n  DRF     {theirs:?}",
                    case["method"]
                ));
            }
        }
    }
    let total = fx.cases["cases"].as_array().unwrap().len();
    eprintln!(
        "conformance: {compared} of {total} cases compared with DRF; {} skipped",
        total - compared
    );
    assert!(skipped.is_empty() || skipped.len() < total, "{skipped:?}");
    assert!(compared > 250, "too few cases compared: {compared}");
    assert!(
        failures.is_empty(),
        "{} differences from DRF:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
