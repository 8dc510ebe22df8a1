//! The skip policy: a test whose fixture or tool is missing fails, with what to run, unless
//! the variable `DRFGATE_SKIP` names it. `DRFGATE_SKIP` is a comma-separated list of the names
//! in [`NAMES`]; an unknown name fails too, so a typo cannot skip anything. A named skip
//! skips the tests that need it even where the fixture or tool is present, and each says so on
//! stderr.

use std::fmt::Display;
use std::sync::OnceLock;

/// The names `DRFGATE_SKIP` accepts, and what each stands for.
pub const NAMES: &[(&str, &str)] = &[
    (
        "django",
        "the venv and the fixtures made with it (Django): build/django/ (`make fixture-db`), \
         build/conformance/ (`make oracle gate-configs`) and .demo/ (`make demo-db`)",
    ),
    (
        "cc",
        "the C compiler the C tests are built with (gcc, or $CC)",
    ),
    ("valgrind", "Valgrind, for the C tests' memcheck runs"),
    ("apache", "Apache httpd and mod_wsgi, for tests/apache"),
    (
        "nginx",
        "nginx, for `make test-nginx` and the nginx path differential",
    ),
    (
        "redis",
        "a Redis server at 127.0.0.1:6379, for throttle histories shared between gates",
    ),
    (
        "postgres",
        "the PostgreSQL server (127.0.0.1:5432, `scripts/services.sh`) and the fixture made on \
         it by Django (`make fixture-engines oracle-engines`)",
    ),
    (
        "mysql",
        "the MariaDB/MySQL server (127.0.0.1:3306, `scripts/services.sh`) and the fixture made \
         on it by Django (`make fixture-engines oracle-engines`)",
    ),
];

/// The names in `DRFGATE_SKIP`, checked against [`NAMES`].
fn requested() -> &'static [String] {
    static REQUESTED: OnceLock<Vec<String>> = OnceLock::new();
    REQUESTED.get_or_init(|| {
        let value = std::env::var("DRFGATE_SKIP").unwrap_or_default();
        let names: Vec<String> = value
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect();
        for name in &names {
            assert!(
                NAMES.iter().any(|(known, _)| known == name),
                "DRFGATE_SKIP={value:?}: unknown name {name:?}; the names are {}",
                NAMES
                    .iter()
                    .map(|(known, _)| *known)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        names
    })
}

/// Whether `DRFGATE_SKIP` names `name`.
pub fn requested_for(name: &str) -> bool {
    assert!(
        NAMES.iter().any(|(known, _)| *known == name),
        "{name:?} is not a skip name (add it to drfgate_test_support::skip::NAMES)"
    );
    requested().iter().any(|r| r == name)
}

/// Whether a test may use what `name` stands for: `false` (with a note) when `DRFGATE_SKIP`
/// names it, `true` when `present`; otherwise the test fails, saying what is missing (`what`,
/// with the command that makes it) and how to skip instead.
#[track_caller]
pub fn need(name: &str, present: bool, what: impl Display) -> bool {
    if requested_for(name) {
        eprintln!("skipped (DRFGATE_SKIP={name}): needs {what}");
        return false;
    }
    assert!(
        present,
        "missing {what}; to skip the tests that need it, set DRFGATE_SKIP={name}"
    );
    true
}
