//! The real SQLite store faulted while the gate serves: the file locked by another
//! connection, removed, replaced, truncated, or with a table dropped. Each refuses what
//! needs the database (503, never an allow), is told to the log once, and ends by itself
//! when its cause goes away. Caching is off, so every request reaches the file.

use drfgate_test_support as common;

use std::path::Path;
use std::time::Duration;

use drfgate::store::SqliteStore;
use drfgate::{Config, Decision, Gate, Request};

const ROWS: &str = "
INSERT INTO auth_user (id, username, password, is_active) VALUES (1, 'alice', '!', 1);
INSERT INTO authtoken_token (key, user_id) VALUES ('alicetoken', 1);
";

/// Requests made during each fault.
const REQUESTS: usize = 20;

fn gate(db: &Path) -> Gate {
    let text = format!(
        r#"
[django]
DATABASE = "sqlite://{db}"
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["TokenAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
[cache]
max_entries = 0
"#,
        db = db.display()
    );
    let config = Config::from_str_with_origin(&text, "faults.toml", None).unwrap();
    // A lock is waited for 50 ms, not the default 5 s, to keep the test short.
    let store = SqliteStore::open(db, config.django.schema.clone())
        .unwrap()
        .with_busy_timeout(Duration::from_millis(50))
        .unwrap();
    Gate::with_store(config, Box::new(store)).unwrap()
}

fn get(gate: &Gate, token: &str) -> Decision {
    let header = format!("Token {token}");
    let headers = [(&b"Authorization"[..], header.as_bytes())];
    gate.decide(&Request::new(b"GET", b"/api/x/").with_headers(&headers))
}

/// The fault is on: every request is refused with 503, and the log has one more line.
#[track_caller]
fn assert_refused_and_told_once(gate: &Gate, db: &Path, lines_before: usize, what: &str) {
    for _ in 0..REQUESTS {
        for token in ["alicetoken", "junk"] {
            match get(gate, token) {
                Decision::Deny(deny) => assert_eq!(deny.status, 503, "{what}"),
                other => panic!("{what}: a faulted database must not allow: {other:?}"),
            }
        }
    }
    let lines = common::logs::lines_containing(&db.display().to_string());
    assert_eq!(lines.len(), lines_before + 1, "{what}: {lines:#?}");
    let line = lines.last().unwrap();
    assert!(line.starts_with("error: "), "{what}: {line}");
}

/// The cause is gone: answered again, and the log says so once.
#[track_caller]
fn assert_recovered(gate: &Gate, db: &Path, lines_before: usize, what: &str) {
    for _ in 0..3 {
        let answer = get(gate, "alicetoken");
        assert!(
            answer.is_allow(),
            "{what}: not recovered: {answer:?}; {:#?}",
            common::logs::lines_containing(&db.display().to_string())
        );
        assert!(
            matches!(get(gate, "junk"), Decision::Deny(ref d) if d.status == 401),
            "{what}"
        );
    }
    let lines = common::logs::lines_containing(&db.display().to_string());
    assert_eq!(lines.len(), lines_before + 1, "{what}: {lines:#?}");
    assert!(
        lines.last().unwrap().contains("answered again"),
        "{what}: {lines:#?}"
    );
}

fn lines(db: &Path) -> usize {
    common::logs::lines_containing(&db.display().to_string()).len()
}

#[test]
fn an_exclusive_lock_held_elsewhere_refuses_until_released() {
    common::logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let db = common::scratch_db(dir.path(), ROWS);
    let gate = gate(&db);
    assert!(get(&gate, "alicetoken").is_allow());

    let holder = rusqlite::Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    assert_refused_and_told_once(&gate, &db, 0, "locked");
    holder.execute_batch("ROLLBACK").unwrap();
    assert_recovered(&gate, &db, 1, "lock released");
}

#[test]
fn a_removed_file_refuses_until_one_is_there_again() {
    common::logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let db = common::scratch_db(dir.path(), ROWS);
    let gate = gate(&db);
    assert!(get(&gate, "alicetoken").is_allow());
    let saved = dir.path().join("saved.sqlite3");
    std::fs::copy(&db, &saved).unwrap();

    std::fs::remove_file(&db).unwrap();
    assert_refused_and_told_once(&gate, &db, 0, "removed");
    std::fs::rename(&saved, &db).unwrap();
    assert_recovered(&gate, &db, 1, "put back");
}

/// A new file renamed over the path is read from the next lookup on (the pooled
/// connections to the old one are dropped): a bad new file fails closed, a good one
/// after it is read.
#[test]
fn a_replaced_file_is_the_one_read() {
    common::logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let db = common::scratch_db(dir.path(), ROWS);
    let gate = gate(&db);
    assert!(get(&gate, "alicetoken").is_allow());

    // A new file without Django's tables (a deploy that went wrong).
    let empty = dir.path().join("empty.sqlite3");
    rusqlite::Connection::open(&empty)
        .unwrap()
        .execute_batch("CREATE TABLE unrelated (x)")
        .unwrap();
    std::fs::rename(&empty, &db).unwrap();
    assert_refused_and_told_once(&gate, &db, 0, "replaced by a file without the tables");

    // Then a good one, in which alice's token is another.
    let good = dir.path().join("good");
    std::fs::create_dir(&good).unwrap();
    let good = common::scratch_db(
        &good,
        "INSERT INTO auth_user (id, username, password, is_active)
             VALUES (1, 'alice', '!', 1), (2, 'bob', '!', 1);
         INSERT INTO authtoken_token (key, user_id) VALUES ('alicetoken', 1), ('newtoken', 2);",
    );
    std::fs::rename(&good, &db).unwrap();
    assert_recovered(&gate, &db, 1, "replaced by a good file");
    assert!(get(&gate, "newtoken").is_allow(), "the new file is read");
}

#[test]
fn a_truncated_file_refuses_until_restored() {
    common::logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let db = common::scratch_db(dir.path(), ROWS);
    let gate = gate(&db);
    assert!(get(&gate, "alicetoken").is_allow());
    let content = std::fs::read(&db).unwrap();

    for (len, what) in [
        (0, "truncated to nothing"),
        (1000, "truncated inside page 1"),
    ] {
        let before = lines(&db);
        let file = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
        file.set_len(len as u64).unwrap();
        drop(file);
        assert_refused_and_told_once(&gate, &db, before, what);
        // Written back in place (same inode): SQLite sees the change at the next read.
        std::fs::write(&db, &content).unwrap();
        assert_recovered(&gate, &db, before + 1, what);
    }
}

#[test]
fn a_dropped_table_refuses_until_it_is_back() {
    common::logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let db = common::scratch_db(dir.path(), ROWS);
    let gate = gate(&db);
    assert!(get(&gate, "alicetoken").is_allow());

    let django = rusqlite::Connection::open(&db).unwrap();
    django
        .execute_batch("ALTER TABLE authtoken_token RENAME TO authtoken_token_away")
        .unwrap();
    assert_refused_and_told_once(&gate, &db, 0, "table missing");
    django
        .execute_batch("ALTER TABLE authtoken_token_away RENAME TO authtoken_token")
        .unwrap();
    assert_recovered(&gate, &db, 1, "table back");
}
