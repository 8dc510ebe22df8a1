//! The `drfgate` command over the Django-made fixture database.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use drfgate_test_support::fixture_db;

fn write_config(dir: &Path, db: &Path) -> PathBuf {
    let path = dir.join("drfgate.toml");
    std::fs::write(
        &path,
        format!(
            r#"[django]
DATABASE = "sqlite://{}"
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["TokenAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
[[routes]]
name = "orders"
path = "api/orders/"
methods = ["GET", "POST"]
[[routes]]
path = "api/admin/"
permission_classes = ["IsAdminUser"]
"#,
            db.display()
        ),
    )
    .unwrap();
    path
}

fn drfgate(args: &[&OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_drfgate"))
        .args(args)
        .env("DRFGATE_LOG", "off")
        .output()
        .unwrap()
}

fn explain_json(config: &Path, extra: &[&OsStr]) -> serde_json::Value {
    let mut args: Vec<&OsStr> = vec![
        OsStr::new("explain"),
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--json"),
    ];
    args.extend_from_slice(extra);
    let out = drfgate(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn check_prints_the_route_table() {
    let Some(db) = fixture_db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &db);
    let out = drfgate(&[
        OsStr::new("check"),
        OsStr::new("--config"),
        config.as_os_str(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("config: ok"), "{text}");
    assert!(text.contains("[0] api/orders/  (orders)"), "{text}");
    assert!(text.contains("401, WWW-Authenticate: Token"), "{text}");
    assert!(text.contains("methods: GET, POST, HEAD, OPTIONS"), "{text}");
    assert!(text.contains("tokens)"), "{text}");
}

#[test]
fn a_bad_config_exits_2_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[django]\nDATABASE = \"sqlite:///nowhere.sqlite3\"\n[[routes]]\npath = \"x/\"\npermission_classes = [\"IsAdmin\"]\n").unwrap();
    let out = drfgate(&[
        OsStr::new("check"),
        OsStr::new("--config"),
        config.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:5: routes[0].permission_classes[0]"),
        "{err}"
    );
    assert!(err.contains("did you mean"), "{err}");

    std::fs::write(
        &config,
        "[django]\nDATABASE = \"sqlite:///nowhere.sqlite3\"\n",
    )
    .unwrap();
    let out = drfgate(&[
        OsStr::new("check"),
        OsStr::new("--config"),
        config.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}

/// `explain` takes the target a client sends: the query, a fragment and an absolute-form
/// authority are cut as gunicorn cuts them, so `/api/orders/#x` is not another path.
#[test]
fn explain_judges_the_target_as_gunicorn_splits_it() {
    let Some(db) = fixture_db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &db);
    for target in [
        "/api/orders/?page=2",
        "/api/orders/#fragment",
        "http://example.com/api/orders/?page=2#x",
        "HTTPS://example.com/api/orders/",
    ] {
        let v = explain_json(&config, &[OsStr::new(target)]);
        assert_eq!(v["request"]["target"], target);
        assert_eq!(v["request"]["path_info"], "/api/orders/", "{target}");
        assert_eq!(v["status"], 401, "{target}");
    }
}

#[test]
fn explain_json_has_the_decision_and_trace() {
    let Some(db) = fixture_db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &db);

    let v = explain_json(&config, &[OsStr::new("/api/orders/")]);
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["status"], 401);
    assert_eq!(
        v["body"],
        r#"{"detail":"Authentication credentials were not provided."}"#
    );
    assert_eq!(v["www_authenticate"], "Token");
    assert_eq!(v["user"], serde_json::Value::Null);
    let hints = v["trace"]["hints"].to_string();
    assert!(hints.contains("WSGIPassAuthorization"), "{hints}");

    let v = explain_json(
        &config,
        &[
            OsStr::new("-H"),
            OsStr::new("Authorization: Token abcd1234"),
            OsStr::new("/api/orders/"),
        ],
    );
    assert_eq!(v["decision"], "allow");
    assert_eq!(v["user"]["username"], "john");
    assert_eq!(v["body"], serde_json::Value::Null);
    assert_eq!(v["www_authenticate"], serde_json::Value::Null);

    // Raw bytes reach the gate untouched: \xB8 is not UTF-8.
    let raw = OsStr::from_bytes(b"Authorization: Token abcd1234\xB8");
    let v = explain_json(
        &config,
        &[OsStr::new("-H"), raw, OsStr::new("/api/orders/")],
    );
    assert_eq!(
        v["body"],
        r#"{"detail":"Invalid token header. Token string should not contain invalid characters."}"#
    );

    let v = explain_json(
        &config,
        &[
            OsStr::new("-X"),
            OsStr::new("brew"),
            OsStr::new("-H"),
            OsStr::new("Authorization: Token abcd1234"),
            OsStr::new("/api/orders/"),
        ],
    );
    assert_eq!(
        (v["status"].as_u64(), v["body"].as_str()),
        (
            Some(405),
            Some(r#"{"detail":"Method \"BREW\" not allowed."}"#)
        )
    );

    let v = explain_json(
        &config,
        &[
            OsStr::new("-H"),
            OsStr::new("Authorization: Token super123"),
            OsStr::new("/api/admin/"),
        ],
    );
    assert_eq!(v["status"], 403);
    assert!(v["trace"]["hints"]
        .to_string()
        .contains("superuser but not staff"));
}

#[test]
fn explain_text_reads_like_a_story() {
    let Some(db) = fixture_db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &db);
    let out = drfgate(&[
        OsStr::new("explain"),
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("-H"),
        OsStr::new("Authorization: Bearer abcd1234"),
        OsStr::new("/api/orders/"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("route \"api/orders/\" (orders)"), "{text}");
    assert!(text.contains("TokenAuthentication: declined"), "{text}");
    assert!(text.contains("IsAuthenticated: refused"), "{text}");
    assert!(text.contains("status: 401"), "{text}");
    assert!(text.contains("\"Bearer\""), "{text}");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(drfgate(&[]).status.code(), Some(2));
    assert_eq!(drfgate(&[OsStr::new("frobnicate")]).status.code(), Some(2));
    assert_eq!(
        drfgate(&[OsStr::new("explain"), OsStr::new("--bogus")])
            .status
            .code(),
        Some(2)
    );
    assert!(drfgate(&[OsStr::new("--version")]).status.success());
}

/// Each subcommand's own flags (long form, short form if any).
const FLAGS: [(&str, &[&str]); 3] = [
    ("check", &["--config", "-c"]),
    (
        "explain",
        &[
            "--config",
            "-c",
            "--method",
            "-X",
            "--header",
            "-H",
            "--remote-user",
            "--secure",
            "--json",
        ],
    ),
    ("serve", &["--config", "-c", "--listen", "-l"]),
];

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_flag_of_another_subcommand_is_refused_naming_it() {
    // (command line, the refused flag, the subcommand that has it)
    let cases: [(&[&str], &str, &str); 7] = [
        (&["check", "-X", "POST", "--json", "/x"], "-X", "explain"),
        (&["check", "--json"], "--json", "explain"),
        (&["check", "--listen", "127.0.0.1:1"], "--listen", "serve"),
        (&["serve", "-H", "Authorization: Token x"], "-H", "explain"),
        (&["serve", "--secure"], "--secure", "explain"),
        (
            &["explain", "--listen", "127.0.0.1:1", "/x"],
            "--listen",
            "serve",
        ),
        (&["explain", "/x", "-l127.0.0.1:1"], "-l", "serve"),
    ];
    for (args, flag, owner) in cases {
        // The config exists nowhere: the command line is refused before it is read.
        let mut argv: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        argv.splice(1..1, [OsStr::new("--config"), OsStr::new("/nowhere.toml")]);
        let out = drfgate(&argv);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
        assert!(
            err.contains(&format!("unexpected argument '{flag}'")),
            "{args:?}: {err}"
        );
        assert!(
            err.contains(&format!("'{flag}' is an option of 'drfgate {owner}' only")),
            "{args:?}: {err}"
        );
        assert!(!err.contains("cannot read"), "{args:?}: {err}");
    }
}

#[test]
fn every_subcommand_has_help_listing_its_own_flags() {
    for (command, flags) in FLAGS {
        for help in ["--help", "-h"] {
            let out = drfgate(&[OsStr::new(command), OsStr::new(help)]);
            let usage = text(&out.stdout);
            assert_eq!(out.status.code(), Some(0), "{command} {help}: {usage}");
            assert!(
                usage.contains(&format!("Usage: drfgate {command}")),
                "{command} {help}: {usage}"
            );
            for flag in flags {
                assert!(
                    usage.contains(flag),
                    "{command} {help} lacks {flag}: {usage}"
                );
            }
            // No other subcommand's flag is offered.
            let others = FLAGS.iter().filter(|(c, _)| *c != command);
            for flag in others.flat_map(|(_, f)| f.iter()) {
                if !flags.contains(flag) {
                    assert!(
                        !usage.contains(&format!("{flag} "))
                            && !usage.contains(&format!("{flag},")),
                        "{command} {help} offers {flag}: {usage}"
                    );
                }
            }
        }
    }

    let out = drfgate(&[OsStr::new("--help")]);
    let usage = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{usage}");
    for command in ["check", "explain", "serve", "DRFGATE_LOG"] {
        assert!(usage.contains(command), "--help lacks {command}: {usage}");
    }
    // Without a command: the same text on stderr, and the usage-error status.
    let out = drfgate(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("explain"),
        "{}",
        text(&out.stderr)
    );

    let version = format!("drfgate {}\n", env!("CARGO_PKG_VERSION"));
    for args in [&["--version"][..], &["-V"], &["version"]] {
        let argv: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        let out = drfgate(&argv);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert_eq!(text(&out.stdout), version, "{args:?}");
    }
}

#[test]
fn explain_refuses_a_bad_header_or_path_before_reading_the_config() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["-H", "Authorization Token x", "/x"],
            "expected 'Name: value'",
        ),
        (&["-H", " : x", "/x"], "the header name is empty"),
        (&["api/orders/"], "must start with '/'"),
        (&[], "<TARGET>"),
    ];
    for (args, expected) in cases {
        let mut argv: Vec<&OsStr> = ["explain", "--config", "/nowhere.toml"]
            .iter()
            .map(OsStr::new)
            .collect();
        argv.extend(args.iter().map(OsStr::new));
        let out = drfgate(&argv);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("cannot read"), "{args:?}: {err}");
    }
}

#[test]
fn explain_says_when_a_path_is_passed_through_rather_than_allowed() {
    let Some(db) = fixture_db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &db);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("[gate]\nunmatched = \"pass\"\n{text}")).unwrap();
    let json = explain_json(&config, &[OsStr::new("/elsewhere/")]);
    assert_eq!(json["decision"], "pass", "{json}");
    let out = drfgate(&[
        OsStr::new("explain"),
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("/elsewhere/"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("decision: pass"), "{stdout}");
    assert!(!stdout.contains("AnonymousUser"), "{stdout}");
}

/// A server database's password, given inline (`PASSWORD`, or in the URL), in a file
/// (`PASSWORD_FILE`) or in the environment (`PASSWORD_ENV`), never appears in what `check`
/// and `explain` print nor in the log — when the server accepts the login (PostgreSQL here
/// trusts loopback, whatever the password), and when connecting fails (MariaDB's root has no
/// password, so one given is refused; a port with nothing listening).
#[test]
fn a_database_password_is_never_printed_nor_logged() {
    use drfgate_test_support::conformance::server_database;
    use drfgate_test_support::skip;

    let dir = tempfile::tempdir().unwrap();
    let secret = |how: &str| format!("s3cret-{how}-Pa55word");
    let file = dir.path().join("db.password");
    std::fs::write(&file, format!("{}\n", secret("file"))).unwrap();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    // (engine the case needs, how, the [django] lines, whether the server answers)
    let mut cases: Vec<(&str, String, String, bool)> = Vec::new();
    let table = |engine: &str, url: &str, password_line: &str| {
        let url = url.split('?').next().unwrap().to_string();
        let (_, rest) = url.split_once("://").unwrap();
        let (user, rest) = rest.split_once('@').unwrap();
        let (host_port, name) = rest.split_once('/').unwrap();
        let (host, port) = host_port.rsplit_once(':').unwrap();
        let django_engine = match engine {
            "postgres" => "django.db.backends.postgresql",
            _ => "django.db.backends.mysql",
        };
        format!(
            "[django.DATABASES.default]\nENGINE = \"{django_engine}\"\nNAME = \"{name}\"\n\
             USER = \"{user}\"\nHOST = \"{host}\"\nPORT = \"{port}\"\n{password_line}\n\
             CONNECT_TIMEOUT = 1\nSTATEMENT_TIMEOUT = 2\n"
        )
    };
    for engine in ["postgres", "mysql"] {
        let url = server_database(engine);
        // PostgreSQL over loopback trusts any password: the lookups answer.
        let answers = engine == "postgres";
        cases.push((
            engine,
            secret("inline"),
            table(
                engine,
                &url,
                &format!("PASSWORD = \"{}\"", secret("inline")),
            ),
            answers,
        ));
        cases.push((
            engine,
            secret("file"),
            table(
                engine,
                &url,
                &format!("PASSWORD_FILE = \"{}\"", file.display()),
            ),
            answers,
        ));
        cases.push((
            engine,
            secret("env"),
            table(engine, &url, "PASSWORD_ENV = \"DRFGATE_TEST_DB_PASSWORD\""),
            answers,
        ));
        let (scheme, rest) = url.split_once("://").unwrap();
        let (user, rest) = rest.split_once('@').unwrap();
        let name = rest.split_once('/').unwrap().1;
        cases.push((
            engine,
            secret("url"),
            format!(
                "[django]\nDATABASE = \"{scheme}://{user}:{}@127.0.0.1:{closed_port}/{name}\
                 ?connect_timeout=1\"\n",
                secret("url")
            ),
            false,
        ));
    }

    let mut ran = 0;
    for (engine, password, django, answers) in cases {
        if skip::requested_for(engine) {
            continue;
        }
        let config = dir.path().join("drfgate.toml");
        std::fs::write(
            &config,
            format!(
                "{django}[rest_framework]\n\
                 DEFAULT_AUTHENTICATION_CLASSES = [\"TokenAuthentication\", \"BasicAuthentication\"]\n\
                 DEFAULT_PERMISSION_CLASSES = [\"IsAuthenticated\"]\n\
                 [[routes]]\npath = \"api/orders/\"\n"
            ),
        )
        .unwrap();
        let run = |args: &[&str]| -> Output {
            Command::new(env!("CARGO_BIN_EXE_drfgate"))
                .args(args)
                .arg("--config")
                .arg(&config)
                .env("DRFGATE_LOG", "debug")
                .env("DRFGATE_TEST_DB_PASSWORD", secret("env"))
                .output()
                .unwrap()
        };
        let basic = "Authorization: Basic am9objp3cm9uZw=="; // john:wrong
        for (args, expect_success) in [
            (vec!["check"], answers),
            (
                vec![
                    "explain",
                    "/api/orders/",
                    "-H",
                    "Authorization: Token abcd1234",
                ],
                true,
            ),
            (vec!["explain", "/api/orders/", "-H", basic, "--json"], true),
        ] {
            let out = run(&args);
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let what = format!("{engine} {password:?}: drfgate {args:?}");
            assert_eq!(
                out.status.success(),
                expect_success,
                "{what}\n{stdout}\n{stderr}"
            );
            if !answers {
                // The failure is said (refused, and logged), without the password.
                if args[0] == "explain" {
                    assert!(stdout.contains("503"), "{what}: not refused\n{stdout}");
                }
                assert!(
                    stderr.contains("does not answer now"),
                    "{what}: the outage is not logged\n{stderr}"
                );
            }
            for (stream, text) in [("stdout", &stdout), ("stderr", &stderr)] {
                assert!(
                    !text.contains(&password),
                    "{what}: the password is in {stream}:\n{text}"
                );
            }
        }
        ran += 1;
    }
    eprintln!("{ran} configurations checked");
}
