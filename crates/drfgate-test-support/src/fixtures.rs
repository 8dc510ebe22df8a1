//! The databases the tests read: the Django-made fixture and demo databases (missing ones
//! fail unless `DRFGATE_SKIP=django`), and scratch databases a test fills itself.

use std::path::{Path, PathBuf};

use crate::{repo_root, skip};

/// `build/django/db.sqlite3`, made by Django (`make fixture-db`): `None` only when
/// `DRFGATE_SKIP=django`; missing, the test fails.
#[track_caller]
pub fn fixture_db() -> Option<PathBuf> {
    let db = repo_root().join("build/django/db.sqlite3");
    let what = format!("{} (run `make fixture-db`)", db.display());
    skip::need("django", db.is_file(), what).then_some(db)
}

/// A private copy of the fixture database in `dir`, for a test that changes it.
#[track_caller]
pub fn fixture_copy(dir: &Path) -> Option<PathBuf> {
    let db = fixture_db()?;
    let copy = dir.join("db.sqlite3");
    std::fs::copy(db, &copy).expect("copying the fixture database");
    Some(copy)
}

/// `.demo/db.sqlite3`, the demo's database (`make demo-db`), as [`fixture_db`].
#[track_caller]
pub fn demo_db() -> Option<PathBuf> {
    let db = repo_root().join(".demo/db.sqlite3");
    let what = format!("{} (run `make demo-db`)", db.display());
    skip::need("django", db.is_file(), what).then_some(db)
}

/// The tables and columns of Django's auth and DRF's authtoken that the gate reads, for a
/// database made here with the rows a test needs (the Django fixture lacks some, e.g. an
/// outdated iteration count); such tests never need `make fixture-db`.
const DJANGO_AUTH_SCHEMA: &str = "
CREATE TABLE auth_user (id INTEGER PRIMARY KEY, password VARCHAR(128) NOT NULL,
    username VARCHAR(150) NOT NULL UNIQUE, is_superuser BOOL NOT NULL DEFAULT 0,
    is_staff BOOL NOT NULL DEFAULT 0, is_active BOOL NOT NULL DEFAULT 1);
CREATE TABLE authtoken_token (key VARCHAR(40) PRIMARY KEY,
    user_id INTEGER NOT NULL UNIQUE REFERENCES auth_user (id), created DATETIME);
CREATE TABLE django_content_type (id INTEGER PRIMARY KEY, app_label VARCHAR(100) NOT NULL,
    model VARCHAR(100) NOT NULL);
CREATE TABLE auth_permission (id INTEGER PRIMARY KEY, content_type_id INTEGER NOT NULL,
    codename VARCHAR(100) NOT NULL, name VARCHAR(255) NOT NULL DEFAULT '');
CREATE TABLE auth_group (id INTEGER PRIMARY KEY, name VARCHAR(150) NOT NULL UNIQUE);
CREATE TABLE auth_group_permissions (id INTEGER PRIMARY KEY, group_id INTEGER NOT NULL,
    permission_id INTEGER NOT NULL);
CREATE TABLE auth_user_groups (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL,
    group_id INTEGER NOT NULL);
CREATE TABLE auth_user_user_permissions (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL,
    permission_id INTEGER NOT NULL);
";

/// `dir/db.sqlite3` with Django's auth tables (see [`DJANGO_AUTH_SCHEMA`]) and `rows`, SQL
/// inserting what the test needs.
pub fn scratch_db(dir: &Path, rows: &str) -> PathBuf {
    let db = dir.join("db.sqlite3");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(DJANGO_AUTH_SCHEMA).unwrap();
    conn.execute_batch(rows).unwrap();
    db
}
