//! The throttling timelines of `tests/conformance/throttle_cases.json` through the gate, at a
//! manual clock, against real DRF's answers (`build/conformance/throttle_oracle.json`, made by
//! `make oracle`): status, body and `Retry-After` of every step.

use drfgate_test_support as common;

use std::sync::Arc;

use drfgate::throttle::ManualClock;
use drfgate::{Config, Decision, Gate, Request};
use serde_json::Value;

/// The scenario's view as a gate config: the same classes, rates and settings the oracle
/// gives its APIView.
fn config_text(db: &std::path::Path, scenario: &Value) -> String {
    let list = |v: &Value| -> String {
        let names: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|n| format!("{:?}", n.as_str().unwrap()))
            .collect();
        format!("[{}]", names.join(", "))
    };
    let rates: Vec<String> = scenario["rates"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(scope, rate)| match rate {
            Value::String(r) => format!("{scope:?} = {r:?}"),
            _ => format!("{scope:?} = false"),
        })
        .collect();
    let mut text = format!(
        "[django]\nDATABASE = \"sqlite://{}\"\n[rest_framework]\nDEFAULT_THROTTLE_RATES = {{ {} }}\n",
        db.display(),
        rates.join(", ")
    );
    if let Some(n) = scenario["num_proxies"].as_i64() {
        text += &format!("NUM_PROXIES = {n}\n");
    }
    if let Some(classes) = scenario["classes"].as_object() {
        for (name, spec) in classes {
            text += &format!("[throttle_classes.\"app.throttles.{name}\"]\n");
            text += &format!("base = {:?}\n", spec["base"].as_str().unwrap());
            for attribute in ["scope", "rate"] {
                if let Some(value) = spec[attribute].as_str() {
                    text += &format!("{attribute} = {value:?}\n");
                }
            }
        }
    }
    text += "[[routes]]\npath = \"throttled/\"\nmethods = [\"GET\"]\n";
    text += "authentication_classes = [\"TokenAuthentication\"]\n";
    let permissions = scenario
        .get("permission_classes")
        .cloned()
        .unwrap_or_else(|| serde_json::json!(["AllowAny"]));
    text += &format!("permission_classes = {}\n", list(&permissions));
    text += &format!(
        "throttle_classes = {}\n",
        list(&scenario["throttle_classes"])
    );
    if let Some(scope) = scenario["throttle_scope"].as_str() {
        text += &format!("throttle_scope = {scope:?}\n");
    }
    text
}

#[test]
fn every_timeline_step_answers_as_drf() {
    let root = common::repo_root();
    let oracle_path = root.join("build/conformance/throttle_oracle.json");
    let what = format!("{} (run `make oracle`)", oracle_path.display());
    if !common::skip::need("django", oracle_path.is_file(), what) {
        return;
    }
    let Some(db) = common::fixture_db() else {
        return;
    };
    let oracle: Value =
        serde_json::from_str(&std::fs::read_to_string(&oracle_path).unwrap()).unwrap();
    let cases: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/conformance/throttle_cases.json")).unwrap(),
    )
    .unwrap();
    let mut compared = 0;
    let mut differences = Vec::new();
    for scenario in cases["scenarios"].as_array().unwrap() {
        let id = scenario["id"].as_str().unwrap();
        let text = config_text(&db, scenario);
        let config = Config::from_str_with_origin(&text, id, None)
            .unwrap_or_else(|e| panic!("{id}: {e}\n{text}"));
        let clock = Arc::new(ManualClock::at(0.0));
        let store = config.django.database.open(&config.django.schema).unwrap();
        let gate = Gate::with_store_and_clock(config, store, clock.clone()).unwrap();
        let expected = oracle[id]
            .as_array()
            .unwrap_or_else(|| panic!("{id}: not in the oracle's answers (run `make oracle`)"));
        for (i, (step, drf)) in scenario["steps"]
            .as_array()
            .unwrap()
            .iter()
            .zip(expected)
            .enumerate()
        {
            clock.set(step["t"].as_f64().unwrap());
            let authorization = step["token"].as_str().map(|t| format!("Token {t}"));
            let mut headers: Vec<(&[u8], &[u8])> = Vec::new();
            if let Some(a) = &authorization {
                headers.push((b"Authorization", a.as_bytes()));
            }
            if let Some(x) = step["xff"].as_str() {
                headers.push((b"X-Forwarded-For", x.as_bytes()));
            }
            let method = step["method"].as_str().unwrap_or("GET");
            let remote_addr = step["remote_addr"].as_str().unwrap_or("127.0.0.1");
            let decision = gate.decide(
                &Request::new(method.as_bytes(), b"/throttled/")
                    .with_headers(&headers)
                    .with_remote_addr(Some(remote_addr.as_bytes())),
            );
            let (status, body, retry_after) = match &decision {
                Decision::Deny(deny) => (
                    deny.status,
                    Some(String::from_utf8_lossy(&deny.body).into_owned()),
                    deny.retry_after.map(|s| s.to_string()),
                ),
                other => (other.status(), None, None),
            };
            let drf_status = drf["status"].as_u64().unwrap() as u16;
            let drf_body = (drf_status >= 400).then(|| drf["body"].as_str().unwrap().to_string());
            let drf_retry = drf["retry_after"].as_str().map(str::to_string);
            // DRF's allowed answers are the view's 200; the gate's is an allow.
            if (status, &body, &retry_after) != (drf_status, &drf_body, &drf_retry) {
                differences.push(format!(
                    "{id} step {i} (t={}): gate {status} {body:?} Retry-After {retry_after:?}; \
                     DRF {drf_status} {drf_body:?} Retry-After {drf_retry:?}",
                    step["t"]
                ));
            }
            compared += 1;
        }
    }
    assert!(compared > 60, "only {compared} steps compared");
    assert!(
        differences.is_empty(),
        "{} of {compared} steps differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
