//! The SQLite store against real database files: reopening a replaced, deleted or changed
//! file, and concurrent queries while it is swapped.

use super::*;

/// A tiny Django-shaped database: `auth_user` and `authtoken_token`, one user per token.
fn make_db(path: &Path, users: &[(i64, &str, &str)]) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE auth_user (id integer PRIMARY KEY, password varchar(128) NOT NULL, \
         username varchar(150) NOT NULL UNIQUE, is_active bool NOT NULL, \
         is_staff bool NOT NULL, is_superuser bool NOT NULL); \
         CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, \
         user_id integer NOT NULL UNIQUE REFERENCES auth_user (id), created datetime);",
    )
    .unwrap();
    for (id, username, token) in users {
        conn.execute(
            "INSERT INTO auth_user VALUES (?1, '!', ?2, 1, 0, 0)",
            rusqlite::params![id, username],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO authtoken_token VALUES (?1, ?2, '2024-01-01')",
            rusqlite::params![token, id],
        )
        .unwrap();
    }
}

fn user_of(store: &SqliteStore, token: &str) -> Option<String> {
    store
        .user_by_token(token)
        .unwrap()
        .map(|u| u.username.to_string())
}

#[test]
fn a_database_replaced_by_rename_is_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    make_db(&db, &[(1, "john", "tok-john"), (2, "mary", "tok-mary")]);
    let store = SqliteStore::open(&db, Schema::default()).unwrap();
    assert_eq!(user_of(&store, "tok-john").as_deref(), Some("john"));
    assert_eq!(user_of(&store, "tok-mary").as_deref(), Some("mary"));

    // The deploy: a new database where john's token is gone and mary's token now belongs
    // to another user, renamed over the old one.
    let new = dir.path().join("new.sqlite3");
    make_db(&new, &[(2, "mary", "tok-mary2"), (3, "ann", "tok-mary")]);
    std::fs::rename(&new, &db).unwrap();

    assert_eq!(user_of(&store, "tok-john"), None);
    assert_eq!(user_of(&store, "tok-mary").as_deref(), Some("ann"));
    assert_eq!(user_of(&store, "tok-mary2").as_deref(), Some("mary"));
    assert_eq!(store.summary().unwrap().users, 2);
    // Only connections to the new file are kept.
    assert!(store.pool.lock().idle.len() <= 1);
}

#[test]
fn a_replacement_with_other_columns_gets_its_own_queries() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    make_db(&db, &[(1, "john", "tok-john")]);
    let store = SqliteStore::open(&db, Schema::default()).unwrap();
    assert_eq!(user_of(&store, "tok-john").as_deref(), Some("john"));
    // A custom user model without is_active (AbstractBaseUser): active, as in Django.
    let new = dir.path().join("new.sqlite3");
    let conn = Connection::open(&new).unwrap();
    conn.execute_batch(
        "CREATE TABLE auth_user (id integer PRIMARY KEY, password varchar(128), \
         username varchar(150)); \
         CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id integer); \
         INSERT INTO auth_user VALUES (7, '!', 'eve'); \
         INSERT INTO authtoken_token VALUES ('tok-eve', 7);",
    )
    .unwrap();
    drop(conn);
    std::fs::rename(&new, &db).unwrap();
    let eve = store.user_by_token("tok-eve").unwrap().unwrap();
    assert_eq!((&*eve.username, eve.is_active), ("eve", true));
}

#[test]
fn a_deleted_database_fails_closed_until_a_file_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    make_db(&db, &[(1, "john", "tok-john")]);
    let store = SqliteStore::open(&db, Schema::default()).unwrap();
    assert_eq!(user_of(&store, "tok-john").as_deref(), Some("john"));

    std::fs::remove_file(&db).unwrap();
    let err = store.user_by_token("tok-john").unwrap_err().to_string();
    assert!(err.contains(&*db.to_string_lossy()), "{err}");
    assert!(err.contains("deleted, or being replaced"), "{err}");
    assert!(store.summary().is_err());
    assert!(store.pool.lock().idle.is_empty());

    make_db(&db, &[(1, "john", "tok-john2")]);
    assert_eq!(user_of(&store, "tok-john"), None);
    assert_eq!(user_of(&store, "tok-john2").as_deref(), Some("john"));
}

#[test]
fn a_replacement_without_the_tables_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    make_db(&db, &[(1, "john", "tok-john")]);
    let store = SqliteStore::open(&db, Schema::default()).unwrap();
    assert_eq!(user_of(&store, "tok-john").as_deref(), Some("john"));

    let new = dir.path().join("new.sqlite3");
    Connection::open(&new)
        .unwrap()
        .execute_batch("CREATE TABLE other (x)")
        .unwrap();
    std::fs::rename(&new, &db).unwrap();
    let err = store.user_by_token("tok-john").unwrap_err().to_string();
    assert!(err.contains("no table \"auth_user\""), "{err}");
}

/// Threads querying while the file is swapped again and again: every answer comes from a
/// whole file, no thread ever goes back to an older one, and after a swap the next query
/// reads the new file.
#[test]
fn swaps_under_concurrent_queries() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    make_db(&db, &[(1, "gen0", "tok")]);
    let store = Arc::new(SqliteStore::open(&db, Schema::default()).unwrap());
    let generation = |user: Option<String>| -> usize {
        user.unwrap().strip_prefix("gen").unwrap().parse().unwrap()
    };
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (store, done) = (store.clone(), done.clone());
            std::thread::spawn(move || {
                let mut last = 0;
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    let now = generation(user_of(&store, "tok"));
                    assert!(now >= last, "went back from generation {last} to {now}");
                    last = now;
                }
            })
        })
        .collect();
    for n in 1..=20 {
        let new = dir.path().join(format!("new{n}.sqlite3"));
        make_db(&new, &[(1, &format!("gen{n}"), "tok")]);
        std::fs::rename(&new, &db).unwrap();
        assert_eq!(generation(user_of(&store, "tok")), n);
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    for reader in readers {
        reader.join().unwrap();
    }
    assert!(store.pool.lock().idle.len() <= POOL_SIZE);
}

#[test]
fn an_unchanged_database_reuses_its_connections() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    make_db(&db, &[(1, "john", "tok-john")]);
    let store = SqliteStore::open(&db, Schema::default()).unwrap();
    let queries = store.pool.lock().queries.clone();
    for _ in 0..3 {
        assert_eq!(user_of(&store, "tok-john").as_deref(), Some("john"));
    }
    let pool = store.pool.lock();
    assert_eq!(pool.idle.len(), 1);
    assert!(Arc::ptr_eq(&pool.queries, &queries));
}
