//! The conformance table (`tests/conformance/cases.json`) run through the gate, compared
//! with what real DRF answered for the same requests over the same database
//! (`build/conformance/oracle.json`, made by `make oracle`), with the configs
//! `tests/conformance/gate_configs.py` writes for the table (`make gate-configs`).
//!
//! Without those fixtures this test fails, unless `DRFGATE_SKIP=django`.

use drfgate::{Decision, Gate, Request};
use drfgate_test_support::conformance::{self, Answer, Table};
use serde_json::Value;

fn gate_answer(gate: &Gate, table: &Table, case: &Value) -> Answer {
    let headers = conformance::headers(case);
    let path = table.path(case);
    let remote_user = conformance::remote_user(case);
    let request = Request::new(conformance::method(case).as_bytes(), path.as_bytes())
        .with_headers(&headers)
        .with_remote_user(remote_user.as_deref());
    let id = conformance::id(case);
    let decision = gate.decide(&request);
    // Whenever the caches alone can answer (e.g. now that this request's token is cached),
    // they must give the same answer.
    if let Some(cached) = gate.decide_cached(&request) {
        assert_eq!(cached, decision, "decide_cached disagrees on {id}");
    }
    // `drfgate explain` walks the same path: same answer, and a story to tell.
    let (explained, trace) = gate.explain(&request);
    assert_eq!(
        explained, decision,
        "explain disagrees with decide for {id}"
    );
    assert!(
        trace.steps.len() >= 2,
        "explain told too little for {id}: {trace:?}"
    );
    let is_head = conformance::is_head(case);
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
            body: (!is_head).then(|| String::from_utf8(deny.body.to_vec()).unwrap()),
            www_authenticate: deny.www_authenticate.map(|w| w.to_string()),
            user: None,
        },
    }
}

#[test]
fn gate_answers_every_case_like_drf() {
    let Some(table) = Table::load() else { return };
    compare_with_drf(&table, None);
}

/// The same table with the gate reading PostgreSQL, compared with Django on PostgreSQL
/// (both databases made by Django's `migrate` and the same fixture script).
#[test]
#[cfg(feature = "postgres")]
fn gate_answers_every_case_like_drf_on_postgres() {
    let Some(table) = Table::load_on("postgres") else {
        return;
    };
    compare_with_drf(&table, Some(&conformance::server_database("postgres")));
}

/// The same on MariaDB, whose default collation compares keys and usernames
/// case-insensitively and ignores trailing spaces: the reference is Django on MariaDB.
#[test]
#[cfg(feature = "mysql")]
fn gate_answers_every_case_like_drf_on_mariadb() {
    let Some(table) = Table::load_on("mysql") else {
        return;
    };
    compare_with_drf(&table, Some(&conformance::server_database("mysql")));
    // The collation cases are only a test of the collation when DRF on this MariaDB let them
    // in: a fixture whose columns compare in binary (where DRF refuses them, as on SQLite)
    // would otherwise pass here without showing anything.
    for (id, user) in [
        ("r16", "john"),
        ("collation_basic_trailing_space_username", "john"),
        ("collation_basic_unaccented_username", "walterwhité"),
        ("collation_session_upper_key", "john"),
    ] {
        let case = table
            .cases()
            .iter()
            .find(|case| conformance::id(case) == id)
            .unwrap_or_else(|| panic!("no case {id} in cases.json"));
        let drf = table.expected(case);
        assert_eq!(
            (drf.status, drf.user.as_deref()),
            (200, Some(user)),
            "{id}: DRF on MariaDB did not let {user} in, so the fixture's columns do not use \
             MariaDB's default case- and accent-insensitive collation"
        );
    }
}

/// Every case through the gate (its configs reading `database` when given) against DRF's
/// answers in `table`.
fn compare_with_drf(table: &Table, database: Option<&str>) {
    let mut compared = 0;
    let mut failures = Vec::new();
    for config in table.configs() {
        let gate = match database {
            None => Gate::from_config_file(&config.path),
            Some(database) => Gate::from_config_str(
                &conformance::config_on(&config.text, database),
                config.path.parent(),
            ),
        }
        .unwrap_or_else(|e| panic!("generated config does not load: {e}\n{}", config.text));
        for case in table.cases_of(config) {
            let ours = gate_answer(&gate, table, case);
            let theirs = table.expected(case);
            compared += 1;
            // Where Django fails on the database itself (PostgreSQL refuses a NUL byte in a
            // text parameter) it answers its HTML 500 page; the gate's refusal for a failed
            // store is its own JSON (docs/differences.md, "Database failure"). Both refuse.
            let both_failed = database.is_some() && ours.status >= 500 && theirs.status >= 500;
            if ours != theirs && !both_failed {
                failures.push(format!(
                    "{} ({}, {}):\n  drfgate {ours:?}\n  DRF     {theirs:?}",
                    conformance::id(case),
                    case["view"],
                    case["method"]
                ));
            }
        }
    }
    let total = table.cases().len();
    let left_out = table.left_out_cases();
    eprintln!(
        "conformance{}: {compared} of {total} cases compared with DRF; {left_out} left out: {:?}",
        database.map(|d| format!(" on {d}")).unwrap_or_default(),
        table.left_out()
    );
    // Every case is compared but those of the views no config can express.
    assert_eq!(
        compared + left_out,
        total,
        "cases neither compared nor left out"
    );
    assert!(compared > 250, "too few cases compared: {compared}");
    assert!(
        failures.is_empty(),
        "{} differences from DRF:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
