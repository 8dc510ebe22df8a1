//! Config loading: what loads, and the errors (file, line, key, suggestion) for what doesn't.

use drfgate::config::{AuthKind, Config, Unmatched};
use drfgate::permissions::Permission;

fn load(text: &str) -> Result<Config, drfgate::ConfigError> {
    Config::from_str_with_origin(text, "drfgate.toml", None)
}

fn error(text: &str) -> String {
    match load(text) {
        Ok(_) => panic!("config loaded but should not have:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const BASE: &str = "[django]\nDATABASE = \"sqlite:///tmp/db.sqlite3\"\n";

#[test]
fn the_issue_example_loads() {
    let text = r#"
[django]
SECRET_KEY = "not-a-real-key"
DATABASE = "sqlite:///srv/app/db.sqlite3"
AUTH_USER_TABLE = "auth_user"
TOKEN_TABLE = "authtoken_token"
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["rest_framework.authentication.TokenAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["rest_framework.permissions.IsAdminUser"]
[authentication_classes."myapp.auth.BearerAuthentication"]
base = "rest_framework.authentication.TokenAuthentication"
keyword = "Bearer"
[cache]
max_entries = 100000
ttl_seconds = 60
negative_ttl_seconds = 5
[[routes]]
path = "api/orders/<int:pk>/"
methods = ["GET", "POST"]
authentication_classes = ["rest_framework.authentication.TokenAuthentication", "BearerAuthentication"]
permission_classes = ["rest_framework.permissions.IsAdminUser | rest_framework.permissions.IsAuthenticatedOrReadOnly"]
model = "shop.order"
"#;
    let config = load(text).unwrap();
    assert_eq!(config.unmatched, Unmatched::Defaults);
    assert_eq!(config.routes.len(), 1);
    let route = &config.routes[0];
    let auth = route.authentication.as_ref().unwrap();
    assert_eq!(
        auth[1].kind,
        AuthKind::Token {
            keyword: "Bearer".into()
        }
    );
    assert_eq!(&*auth[1].name, "myapp.auth.BearerAuthentication");
    let perms = route.permissions.as_ref().unwrap();
    assert!(matches!(perms[0], Permission::Or(_, _)));
    assert_eq!(config.cache.max_entries, 100000);
    assert!(route.pattern.matches(b"/api/orders/12/"));
    assert_eq!(route.line, Some(17));
}

#[test]
fn drf_defaults_apply_when_rest_framework_is_absent() {
    let config = load(BASE).unwrap();
    let names: Vec<&str> = config
        .default_authentication
        .iter()
        .map(|c| &*c.name)
        .collect();
    assert_eq!(
        names,
        [
            "rest_framework.authentication.SessionAuthentication",
            "rest_framework.authentication.BasicAuthentication"
        ]
    );
    assert_eq!(config.default_permissions.len(), 1);
    assert!(config
        .warnings
        .iter()
        .any(|w| w.contains("SessionAuthentication")));
}

#[test]
fn a_misspelt_class_is_named_with_its_line_and_a_suggestion() {
    let text =
        format!("{BASE}[[routes]]\npath = \"api/\"\npermission_classes = [\"IsAuthenticatd\"]\n");
    let e = error(&text);
    assert!(
        e.starts_with("drfgate.toml:5: routes[0].permission_classes[0]: "),
        "{e}"
    );
    assert!(
        e.contains("unknown permission class \"IsAuthenticatd\""),
        "{e}"
    );
    assert!(
        e.contains("did you mean \"rest_framework.permissions.IsAuthenticated\"?"),
        "{e}"
    );

    let text = format!(
        "{BASE}[rest_framework]\nDEFAULT_AUTHENTICATION_CLASSES = [\"rest_framework.authentication.TokenAuthentcation\"]\n"
    );
    let e = error(&text);
    assert!(
        e.starts_with("drfgate.toml:4: rest_framework.DEFAULT_AUTHENTICATION_CLASSES[0]: "),
        "{e}"
    );
    assert!(
        e.contains("did you mean \"rest_framework.authentication.TokenAuthentication\"?"),
        "{e}"
    );
}

#[test]
fn expression_errors_point_at_the_entry() {
    let text = format!(
        "{BASE}[[routes]]\npath = \"x/\"\npermission_classes = [\"IsAdminUser | (AllowAny\"]\n"
    );
    let e = error(&text);
    assert!(e.contains("routes[0].permission_classes[0]"), "{e}");
    assert!(e.contains("never closed"), "{e}");
}

#[test]
fn unknown_keys_and_bad_values_are_refused() {
    let e = error(&format!("{BASE}[cache]\nttl = 5\n"));
    assert!(e.starts_with("drfgate.toml:4:"), "{e}");
    assert!(e.contains("ttl"), "{e}");

    let e = error(&format!("{BASE}[gate]\nunmatched = \"allow\"\n"));
    assert!(e.contains("gate.unmatched"), "{e}");

    let e = error(&format!(
        "{BASE}[rest_framework]\nDEFAULT_PERMISION_CLASSES = []\n"
    ));
    assert!(
        e.contains("did you mean \"DEFAULT_PERMISSION_CLASSES\"?"),
        "{e}"
    );

    let e = error("[django]\n");
    assert!(e.contains("django.DATABASE"), "{e}");

    let e = error(&format!("{BASE}[[routes]]\nmethods = [\"GET\"]\n"));
    assert!(e.contains("needs path"), "{e}");

    let e = error(&format!("{BASE}[[routes]]\npath = \"a/<foo:x>/\"\n"));
    assert!(e.contains("routes[0].path"), "{e}");

    let e = error("[django\n");
    assert!(e.starts_with("drfgate.toml:1:"), "{e}");
}

#[test]
fn ignored_drf_settings_load_with_a_warning() {
    let config = load(&format!(
        "{BASE}[rest_framework]\nDEFAULT_RENDERER_CLASSES = [\"rest_framework.renderers.JSONRenderer\"]\nPAGE_SIZE = 10\n"
    ))
    .unwrap();
    assert!(config
        .warnings
        .iter()
        .any(|w| w.contains("PAGE_SIZE") && w.contains("ignored")));
    // Renderers are read (content negotiation), so no warning for them.
    assert!(!config
        .warnings
        .iter()
        .any(|w| w.contains("DEFAULT_RENDERER_CLASSES")));
}

#[test]
fn custom_classes_resolve_by_short_name_and_check_their_fields() {
    let config = load(&format!(
        "{BASE}[authentication_classes.\"a.b.Realmed\"]\nbase = \"BasicAuthentication\"\nwww_authenticate_realm = \"shop\"\n\
         [rest_framework]\nDEFAULT_AUTHENTICATION_CLASSES = [\"Realmed\"]\n"
    ))
    .unwrap();
    assert_eq!(
        config.default_authentication[0].kind,
        AuthKind::Basic {
            realm: "shop".into()
        }
    );
    let e = error(&format!(
        "{BASE}[authentication_classes.X]\nbase = \"BasicAuthentication\"\nkeyword = \"Bearer\"\n"
    ));
    assert!(
        e.contains("`keyword` only applies to subclasses of TokenAuthentication"),
        "{e}"
    );
    let e = error(&format!(
        "{BASE}[permission_classes.A]\nbase = \"B\"\n[permission_classes.B]\nbase = \"A\"\n"
    ));
    assert!(e.contains("cycle"), "{e}");
}

#[test]
fn model_permissions_need_a_model() {
    let e = error(&format!(
        "{BASE}[rest_framework]\nDEFAULT_PERMISSION_CLASSES = [\"DjangoModelPermissions\"]\n"
    ));
    assert!(e.contains("needs a model"), "{e}");
    let e = error(&format!(
        "{BASE}[[routes]]\npath = \"x/\"\nmodel = \"order\"\n"
    ));
    assert!(e.contains("app_label.model"), "{e}");
    // A route whose permissions need the view's model and that names none: its own
    // permissions, or the defaults it falls back on. The config refuses it, not the gate.
    let e = error(&format!(
        "{BASE}[[routes]]\npath = \"x/\"\nmodel = \"shop.order\"\n\
         permission_classes = [\"DjangoModelPermissions\"]\n\
         [[routes]]\npath = \"y/\"\npermission_classes = [\"IsAdminUser | DjangoModelPermissions\"]\n"
    ));
    assert_eq!(
        e,
        "drfgate.toml:7: routes[1].model: DjangoModelPermissions needs the view's model: \
         add model = \"app_label.model\""
    );
    let e = error(&format!(
        "{BASE}[rest_framework]\nDEFAULT_PERMISSION_CLASSES = [\"DjangoModelPermissions\"]\n\
         [gate]\nunmatched = \"deny\"\n[[routes]]\npath = \"x/\"\n"
    ));
    assert!(
        e.starts_with(
            "drfgate.toml:7: routes[0].model: DjangoModelPermissions needs the view's model"
        ),
        "{e}"
    );
}

#[test]
fn secret_key_file_is_read_relative_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret"), "s3cret\n").unwrap();
    let path = dir.path().join("drfgate.toml");
    std::fs::write(&path, format!("{BASE}SECRET_KEY_FILE = \"secret\"\n")).unwrap();
    let config = Config::from_file(&path).unwrap();
    assert_eq!(config.django.secret_key.unwrap().0, "s3cret");
    assert_eq!(
        format!("{:?}", drfgate::config::SecretKey("x".into())),
        "SecretKey(…)"
    );

    std::fs::write(&path, format!("{BASE}SECRET_KEY_FILE = \"missing\"\n")).unwrap();
    let e = Config::from_file(&path).err().unwrap().to_string();
    assert!(
        e.contains("django.SECRET_KEY_FILE") && e.contains(":3:"),
        "{e}"
    );

    let e = Config::from_file(&dir.path().join("nope.toml"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("nope.toml") && e.contains("cannot read"), "{e}");
}

/// Issue 9: a short name two subclasses share is refused wherever a class is named — in a
/// route, in the defaults, and in a subclass's `base` — whichever way the names sort. (A `base`
/// used to bind to the first `*.IsOwner` already resolved, so `zzz.perms.Derived` loaded while
/// `aaa.perms.Derived`, resolved before either `IsOwner`, was refused.)
#[test]
fn an_ambiguous_short_name_is_refused_everywhere_with_its_candidates() {
    let owners = "[permission_classes.\"app1.perms.IsOwner\"]\nbase = \"IsAuthenticated\"\n\
                  [permission_classes.\"app2.perms.IsOwner\"]\nbase = \"IsAdminUser\"\n";
    let names_both = |e: &str| {
        e.contains("\"IsOwner\" is ambiguous: it could be \"app1.perms.IsOwner\" or \"app2.perms.IsOwner\"; write the full name")
    };
    for derived in ["zzz.perms.Derived", "aaa.perms.Derived"] {
        let e = error(&format!(
            "{BASE}{owners}[permission_classes.\"{derived}\"]\nbase = \"IsOwner\"\n"
        ));
        assert!(
            e.starts_with(&format!(
                "drfgate.toml:8: permission_classes.\"{derived}\".base: "
            )),
            "{e}"
        );
        assert!(names_both(&e), "{e}");
        // Inside an expression too.
        let e = error(&format!(
            "{BASE}{owners}[permission_classes.\"{derived}\"]\nbase = \"AllowAny | IsOwner\"\n"
        ));
        assert!(
            e.starts_with(&format!(
                "drfgate.toml:8: permission_classes.\"{derived}\".base: "
            )),
            "{e}"
        );
        assert!(names_both(&e), "{e}");
    }
    let e = error(&format!(
        "{BASE}{owners}[[routes]]\npath = \"x/\"\npermission_classes = [\"IsOwner\"]\n"
    ));
    assert!(
        e.starts_with("drfgate.toml:9: routes[0].permission_classes[0]: ") && names_both(&e),
        "{e}"
    );
    let e = error(&format!(
        "{BASE}{owners}[rest_framework]\nDEFAULT_PERMISSION_CLASSES = [\"IsOwner\"]\n"
    ));
    assert!(
        e.starts_with("drfgate.toml:8: rest_framework.DEFAULT_PERMISSION_CLASSES[0]: ")
            && names_both(&e),
        "{e}"
    );
    // Authentication classes resolve through the same rule.
    let e = error(&format!(
        "{BASE}[authentication_classes.\"a.Bearer\"]\nbase = \"TokenAuthentication\"\nkeyword = \"Bearer\"\n\
         [authentication_classes.\"b.Bearer\"]\nbase = \"TokenAuthentication\"\n\
         [authentication_classes.\"z.Strict\"]\nbase = \"Bearer\"\n"
    ));
    assert!(
        e.starts_with("drfgate.toml:9: authentication_classes.\"z.Strict\".base: ")
            && e.contains("\"Bearer\" is ambiguous: it could be \"a.Bearer\" or \"b.Bearer\""),
        "{e}"
    );
    // Every candidate is named, and the full name resolves.
    let e = error(&format!(
        "{BASE}{owners}[permission_classes.\"app3.perms.IsOwner\"]\nbase = \"AllowAny\"\n\
         [[routes]]\npath = \"x/\"\npermission_classes = [\"IsOwner\"]\n"
    ));
    assert!(
        e.contains(
            "it could be \"app1.perms.IsOwner\", \"app2.perms.IsOwner\" or \"app3.perms.IsOwner\""
        ),
        "{e}"
    );
    let config = load(&format!(
        "{BASE}{owners}[permission_classes.\"zzz.perms.Derived\"]\nbase = \"app2.perms.IsOwner\"\n"
    ))
    .unwrap();
    assert_eq!(config.default_permissions.len(), 1);
}

#[test]
fn a_pass_route_takes_no_classes_and_needs_no_model() {
    let config = load(&format!(
        "{BASE}[rest_framework]\nDEFAULT_PERMISSION_CLASSES = [\"DjangoModelPermissions\"]\n\
         [gate]\nunmatched = \"deny\"\n[[routes]]\nname = \"custom\"\npath = \"x/\"\npass = true\n"
    ))
    .unwrap();
    assert!(config.routes[0].pass);
    let e = error(&format!(
        "{BASE}[[routes]]\npath = \"x/\"\npass = true\npermission_classes = [\"AllowAny\"]\n"
    ));
    assert_eq!(
        e,
        "drfgate.toml:3: routes[0].permission_classes: a route with pass = true is not judged \
         by the gate: remove this key"
    );
}

#[test]
fn the_handoff_secret_file_is_read_relative_to_the_config_and_must_be_long() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("handoff.key"),
        format!("{}\n", "k".repeat(32)),
    )
    .unwrap();
    std::fs::write(dir.path().join("short.key"), "k\n").unwrap();
    let path = dir.path().join("drfgate.toml");
    std::fs::write(
        &path,
        format!("{BASE}[handoff]\nSECRET_FILE = \"handoff.key\"\n"),
    )
    .unwrap();
    assert!(Config::from_file(&path).unwrap().handoff.is_some());
    std::fs::write(
        &path,
        format!("{BASE}[handoff]\nSECRET_FILE = \"short.key\"\n"),
    )
    .unwrap();
    let e = Config::from_file(&path).err().unwrap().to_string();
    assert!(
        e.contains(":4: handoff.SECRET_FILE") && e.contains("at least 32 bytes"),
        "{e}"
    );
    std::fs::write(
        &path,
        format!("{BASE}[handoff]\nSECRET_FILE = \"missing\"\n"),
    )
    .unwrap();
    let e = Config::from_file(&path).err().unwrap().to_string();
    assert!(
        e.contains("handoff.SECRET_FILE") && e.contains("cannot read"),
        "{e}"
    );
    assert!(load(BASE).unwrap().handoff.is_none());
}

/// The unknown-credential space follows `max_entries` unless it is set on its own: a small
/// cache asked for is small in both spaces.
#[test]
fn the_negative_space_follows_max_entries() {
    let sized = |cache: &str| load(&format!("{BASE}[cache]\n{cache}")).unwrap().cache;
    let default = sized("");
    assert_eq!(
        (default.max_entries, default.negative_max_entries),
        (100_000, 25_000)
    );
    let small = sized("max_entries = 1000\n");
    assert_eq!(
        (small.max_entries, small.negative_max_entries),
        (1000, 1000)
    );
    let large = sized("max_entries = 400000\n");
    assert_eq!(large.negative_max_entries, 100_000);
    let explicit = sized("max_entries = 1000\nnegative_max_entries = 7\n");
    assert_eq!(explicit.negative_max_entries, 7);
    assert_eq!(sized("max_entries = 0\n").negative_max_entries, 0);
}

/// Django's `DATABASES["default"]`, pasted: its keys are read as Django's drivers read them,
/// errors name the line and the key, and the password never shows.
#[test]
#[cfg(all(feature = "postgres", feature = "mysql"))]
fn a_pasted_databases_table_is_read_like_django_and_hides_its_password() {
    use drfgate::store::network::{Engine, Host, TlsMode};
    use drfgate::store::DatabaseUrl;
    let config = load(
        "[django]\n\
         [django.DATABASES.default]\n\
         ENGINE = \"django.db.backends.postgresql\"\n\
         NAME = \"app\"\n\
         USER = \"gate\"\n\
         PASSWORD = \"hunter2-secret\"\n\
         HOST = \"/var/run/postgresql\"\n\
         PORT = \"6432\"\n\
         CONN_MAX_AGE = 60\n\
         OPTIONS = { sslmode = \"require\", application_name = \"x\" }\n\
         STATEMENT_TIMEOUT = 0.5\n",
    )
    .unwrap();
    let DatabaseUrl::Server(db) = &config.django.database else {
        panic!("not a server database");
    };
    assert_eq!(db.engine, Engine::Postgres);
    assert_eq!(db.host, Host::Socket("/var/run/postgresql".into()));
    assert_eq!(db.port, 6432);
    assert_eq!(db.tls, TlsMode::Require);
    assert_eq!(db.pool.statement_timeout.as_millis(), 500);
    assert_eq!(db.location(), "postgres://gate@/var/run/postgresql/app");
    assert!(!format!("{:?}", config.django.database).contains("hunter2"));
    assert!(config
        .warnings
        .iter()
        .any(|w| w.contains("OPTIONS.application_name")));

    let err = error(
        "[django]\n[django.DATABASES.default]\nENGINE = \"django.db.backends.oracle\"\nNAME = \"x\"\n",
    );
    assert!(
        err.contains(":3:") && err.contains("django.DATABASES.default.ENGINE"),
        "{err}"
    );
    let err = error(
        "[django]\nDATABASE = \"mysql://u@h/x\"\n[django.DATABASES.default]\nENGINE = \"django.db.backends.mysql\"\n",
    );
    assert!(err.contains("not both"), "{err}");
    let err = error(
        "[django]\n[django.DATABASES.default]\nENGINE = \"django.db.backends.mysql\"\nNAME = \"x\"\n\
         USER = \"u\"\nPASSWORD_ENV = \"DRFGATE_TEST_NO_SUCH_VARIABLE\"\n",
    );
    assert!(
        err.contains(":6:") && err.contains("DRFGATE_TEST_NO_SUCH_VARIABLE"),
        "{err}"
    );
    let err = error(
        "[django]\n[django.DATABASES.default]\nENGINE = \"django.db.backends.mysql\"\nNAME = \"x\"\n\
         USER = \"u\"\nOPTIONS = { ssl = { cert = \"/c.pem\" } }\n",
    );
    assert!(err.contains("OPTIONS.ssl"), "{err}");
}
