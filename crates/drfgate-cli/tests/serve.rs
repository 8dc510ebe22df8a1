//! `drfgate serve` as a process: refusing to start, forward-auth answers over real sockets,
//! trusted forwarded headers, the health endpoint, and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use drfgate_test_support::fixture_db;

fn config(dir: &Path, db: &Path, serve_section: &str) -> PathBuf {
    let path = dir.join("drfgate.toml");
    std::fs::write(
        &path,
        format!(
            r#"[django]
DATABASE = "sqlite://{}"
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["TokenAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
{serve_section}
[[routes]]
path = "api/orders/"
methods = ["GET", "POST"]
[[routes]]
path = "api/admin/"
permission_classes = ["IsAdminUser"]
[[routes]]
path = "api/open/"
permission_classes = ["AllowAny"]
[[routes]]
path = "api/notes/"
permission_classes = ["IsAuthenticatedOrReadOnly"]
"#,
            db.display()
        ),
    )
    .unwrap();
    path
}

struct Server {
    child: Child,
    address: String,
    stderr: PathBuf,
}

impl Server {
    /// Starts `serve`; its stderr goes to `serve.stderr` next to the config.
    fn start(config: &Path) -> Server {
        let stderr = config.with_file_name("serve.stderr");
        let mut child = Command::new(env!("CARGO_BIN_EXE_drfgate"))
            .args(["serve", "--config"])
            .arg(config)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .trim()
            .strip_prefix("drfgate serve: listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server {
            child,
            address,
            stderr,
        }
    }

    /// What `serve` has logged so far.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap()
    }

    /// Sends raw request bytes; returns status, lower-cased headers and body.
    fn send(&self, head: &[u8]) -> (u16, Vec<(String, String)>, String) {
        let mut stream = TcpStream::connect(&self.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(head).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap()[9..12].parse().unwrap();
        let headers = lines
            .map(|l| {
                let (n, v) = l.split_once(": ").unwrap();
                (n.to_ascii_lowercase(), v.to_string())
            })
            .collect();
        (status, headers, body.to_string())
    }

    fn get(&self, path: &str, extra: &str) -> (u16, Vec<(String, String)>, String) {
        self.send(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n")
                .as_bytes(),
        )
    }

    fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn refuses_to_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[django]\nDATABASE = \"sqlite:///x\"\n[serve]\ntrusted_forwarded = [\"x-real\"]\n",
    )
    .unwrap();
    let missing_db = config(dir.path(), &dir.path().join("absent.sqlite3"), "");
    for (config, expected) in [
        (bad.as_path(), "serve.trusted_forwarded[0]"),
        (missing_db.as_path(), "absent.sqlite3"),
        (
            dir.path().join("nope.toml").as_path(),
            "cannot read the config file",
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_drfgate"))
            .args(["serve", "--config"])
            .arg(config)
            .args(["--listen", "127.0.0.1:0"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("cannot start") && stderr.contains(expected),
            "{stderr}"
        );
    }
    let Some(db) = fixture_db() else { return };
    let good = config(dir.path(), &db, "");
    let output = Command::new(env!("CARGO_BIN_EXE_drfgate"))
        .args(["serve", "--config"])
        .arg(&good)
        .args(["--listen", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--listen"));
}

#[test]
fn answers_like_drf_and_stops_on_sigterm() {
    let Some(db) = fixture_db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&config(dir.path(), &db, ""));

    let (status, headers, body) = server.get("/api/orders/", "");
    assert_eq!(status, 401);
    assert_eq!(header(&headers, "www-authenticate"), Some("Token"));
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    assert_eq!(header(&headers, "allow"), Some("GET, POST, HEAD, OPTIONS"));
    assert_eq!(
        body,
        r#"{"detail":"Authentication credentials were not provided."}"#
    );

    let (status, headers, body) = server.get("/api/orders/", "Authorization: Token abcd1234\r\n");
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "x-drfgate-user"), Some("john"));
    assert_eq!(header(&headers, "x-drfgate-user-id"), Some("1"));
    assert_eq!(header(&headers, "x-drfgate-auth"), Some("token"));
    assert_eq!(header(&headers, "x-drfgate-route"), Some("api/orders/"));
    assert_eq!(header(&headers, "x-drfgate-signature"), None); // no [handoff]
    assert_eq!(body, "");

    let (status, headers, _) = server.get("/api/open/", "");
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "x-drfgate-auth"), Some("anonymous"));
    assert_eq!(header(&headers, "x-drfgate-user"), None);

    // Raw bytes reach the gate as sent.
    let (status, _, body) = server.send(
        b"GET /api/orders/ HTTP/1.1\r\nHost: x\r\nAuthorization: Token abcd1234\xb8\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 401);
    assert_eq!(
        body,
        r#"{"detail":"Invalid token header. Token string should not contain invalid characters."}"#
    );

    // Forwarded headers are not trusted by default: the request itself is decided.
    let (status, _, _) = server.get(
        "/api/open/",
        "X-Original-URI: /api/admin/\r\nX-Forwarded-Uri: /api/admin/\r\n",
    );
    assert_eq!(status, 200);

    let (status, _, body) = server.get("/.drfgate/health", "");
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));

    let exit = server.stop();
    assert!(exit.success(), "{exit:?}");
}

/// `[handoff]`: allowed requests carry the signature GateAuthentication checks (the Python side
/// verifies one from a real `serve` in python/drfgate-django/tests/test_authentication.py).
#[test]
fn with_a_handoff_key_allowed_requests_are_signed() {
    let Some(db) = fixture_db() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("handoff.key"), "k".repeat(32)).unwrap();
    let server = Server::start(&config(
        dir.path(),
        &db,
        "[handoff]\nSECRET_FILE = \"handoff.key\"\n",
    ));
    let signed = |headers: &[(String, String)]| {
        let value = header(headers, "x-drfgate-signature")
            .unwrap_or_default()
            .to_string();
        let (t, v1) = value.split_once(",v1=").unwrap_or_default();
        t.starts_with("t=") && v1.len() == 64 && v1.bytes().all(|b| b.is_ascii_hexdigit())
    };
    let (status, headers, _) = server.get("/api/orders/", "Authorization: Token abcd1234\r\n");
    assert_eq!(status, 200);
    assert!(signed(&headers), "{headers:?}");
    assert!(header(&headers, "x-drfgate-user-flags").is_some());
    let (status, headers, _) = server.get("/api/open/", "");
    assert_eq!(status, 200);
    assert!(signed(&headers), "{headers:?}");
    assert_eq!(header(&headers, "x-drfgate-user-flags"), None);
    let (status, headers, _) = server.get("/api/orders/", "");
    assert_eq!(status, 401);
    assert_eq!(header(&headers, "x-drfgate-signature"), None);
    assert!(server.stop().success());
}

#[test]
fn trusted_forwarded_headers_name_the_original_request() {
    let Some(db) = fixture_db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&config(
        dir.path(),
        &db,
        "[serve]\ntrusted_forwarded = [\"x-original\"]\n",
    ));
    let auth = "Authorization: Token abcd1234\r\n";
    // nginx auth_request: the subrequest's own URI is not the one decided.
    let (status, _, body) = server.get(
        "/_drfgate",
        &format!("{auth}X-Original-Method: GET\r\nX-Original-URI: /api/admin/\r\n"),
    );
    assert_eq!(status, 403);
    assert_eq!(
        body,
        r#"{"detail":"You do not have permission to perform this action."}"#
    );
    let (status, _, body) = server.get(
        "/_drfgate",
        &format!("{auth}X-Original-Method: PATCH\r\nX-Original-URI: /api/orders/?page=2\r\n"),
    );
    assert_eq!(status, 405);
    assert_eq!(body, r#"{"detail":"Method \"PATCH\" not allowed."}"#);
    let (status, headers, _) = server.get(
        "/_drfgate",
        &format!("{auth}X-Original-Method: POST\r\nX-Original-URI: /api/orders/\r\n"),
    );
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "x-drfgate-user"), Some("john"));
    // The family that is not trusted changes nothing.
    let (status, _, _) = server.get(
        "/_drfgate",
        "X-Original-Method: GET\r\nX-Original-URI: /api/open/\r\n\
         X-Forwarded-Method: GET\r\nX-Forwarded-Uri: /api/admin/\r\n",
    );
    assert_eq!(status, 200);
    // A forwarded request for the health path is decided, not answered as health.
    let (status, _, _) = server.get(
        "/.drfgate/health",
        "X-Original-Method: GET\r\nX-Original-URI: /api/orders/\r\n",
    );
    assert_eq!(status, 401);
    // Malformed: 400 in DRF's JSON shape.
    let (status, _, body) = server.get(
        "/_drfgate",
        "X-Original-Method: GET\r\nX-Original-URI: api/orders/\r\n",
    );
    assert_eq!(status, 400);
    assert!(
        body.starts_with(r#"{"detail":"X-Original-URI is not a request target"#),
        "{body}"
    );
    server.stop();
}

/// nginx's own `auth_request` example sets `X-Original-URI` only. The subrequest is a GET,
/// so a DELETE on an `IsAuthenticatedOrReadOnly` route was decided as a GET and allowed.
#[test]
fn a_half_forwarded_request_is_refused_not_decided_as_the_subrequest() {
    let Some(db) = fixture_db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&config(
        dir.path(),
        &db,
        "[serve]\ntrusted_forwarded = [\"x-original\", \"x-forwarded\"]\n",
    ));
    // The client's DELETE /api/notes/, anonymous, through nginx with X-Original-URI only.
    let (status, headers, body) = server.get("/_drfgate", "X-Original-URI: /api/notes/\r\n");
    assert_eq!(status, 400, "{body}");
    assert_eq!(header(&headers, "x-drfgate-auth"), None);
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    assert!(
        body.starts_with(r#"{"detail":"X-Original-Method is missing: X-Original-URI is present"#),
        "{body}"
    );
    // The same DELETE described completely: DRF's 401; its GET is read-only and passes.
    let (status, _, _) = server.get(
        "/_drfgate",
        "X-Original-Method: DELETE\r\nX-Original-URI: /api/notes/\r\n",
    );
    assert_eq!(status, 401);
    let (status, headers, _) = server.get(
        "/_drfgate",
        "X-Original-Method: GET\r\nX-Original-URI: /api/notes/\r\n",
    );
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "x-drfgate-auth"), Some("anonymous"));
    // Half of one family next to the other, complete: still refused.
    let (status, _, body) = server.get(
        "/_drfgate",
        "X-Forwarded-Method: GET\r\nX-Forwarded-Uri: /api/notes/\r\n\
         X-Original-URI: /api/notes/\r\n",
    );
    assert_eq!(status, 400, "{body}");
    // No forwarded header at all: not `GET /_drfgate` decided in place of the request.
    let (status, _, body) = server.get("/_drfgate", "");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("no forwarded request"), "{body}");
    // The health check still answers.
    let (status, _, _) = server.get("/.drfgate/health", "");
    assert_eq!(status, 200);
    // Logged as an error naming the missing header (the proxy needs fixing).
    let log = server.log();
    assert!(
        log.lines().any(
            |l| l.starts_with("drfgate: error: ") && l.contains("X-Original-Method is missing")
        ),
        "{log}"
    );
    server.stop();
}

/// Reads one response from a kept-alive connection: its status, headers and
/// `Content-Length` body.
fn read_response(stream: &mut TcpStream) -> (u16, Vec<(String, String)>, String) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 "), "{line:?}");
    let status = line[9..12].parse().unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (n, v) = line.split_once(": ").unwrap();
        headers.push((n.to_ascii_lowercase(), v.to_string()));
    }
    let length: usize = header(&headers, "content-length").unwrap().parse().unwrap();
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    assert!(reader.buffer().is_empty(), "more than one response");
    (status, headers, String::from_utf8(body).unwrap())
}

/// Waits up to `within` for the server to close `stream`: true when it did (end of
/// stream, or a reset), false when the connection was still open.
fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => panic!("unexpected data"),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            false
        }
        Err(_) => true,
    }
}

const KEEP_ALIVE_REQUEST: &[u8] = b"GET /api/open/ HTTP/1.1\r\nHost: x\r\n\r\n";

/// A client that sends its request head a byte at a time, never finishing it, is cut off
/// after `header_read_timeout_seconds`: it cannot hold a connection for minutes.
#[test]
fn a_slow_loris_connection_is_closed_after_the_header_timeout() {
    let Some(db) = fixture_db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&config(
        dir.path(),
        &db,
        "[serve]\nheader_read_timeout_seconds = 1\nkeep_alive_timeout_seconds = 600\n",
    ));
    let mut stream = TcpStream::connect(&server.address).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        for byte in b"GET /api/open/ HTTP/1.1\r\nHost: x\r\nX-Slow: "
            .iter()
            .chain(&[b'a'; 400])
        {
            if writer.write_all(&[*byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    assert!(
        closed_by_server(&mut stream, Duration::from_secs(20)),
        "a request head still incomplete after 20 s, and the connection is open"
    );
    drop(stream);
    trickle.join().unwrap();
    // A connection that sends nothing at all is cut off the same way.
    let mut silent = TcpStream::connect(&server.address).unwrap();
    assert!(closed_by_server(&mut silent, Duration::from_secs(20)));
    // Prompt clients are served as before.
    assert_eq!(server.get("/api/open/", "").0, 200);
    server.stop();
}

/// A kept-alive connection serves request after request, then is closed once it has been
/// idle for `keep_alive_timeout_seconds`.
#[test]
fn an_idle_keep_alive_connection_is_closed_after_its_timeout() {
    let Some(db) = fixture_db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&config(
        dir.path(),
        &db,
        "[serve]\nheader_read_timeout_seconds = 600\nkeep_alive_timeout_seconds = 1\n",
    ));
    let mut stream = TcpStream::connect(&server.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for _ in 0..3 {
        stream.write_all(KEEP_ALIVE_REQUEST).unwrap();
        let (status, headers, _) = read_response(&mut stream);
        assert_eq!(status, 200);
        assert_eq!(header(&headers, "x-drfgate-auth"), Some("anonymous"));
    }
    assert!(
        closed_by_server(&mut stream, Duration::from_secs(20)),
        "an idle connection still open after 20 s"
    );
    server.stop();
}

/// Beyond `max_connections`, a new connection is not served while the others stay open;
/// it is served as soon as one closes.
#[test]
fn connections_beyond_the_cap_wait_for_a_place() {
    let Some(db) = fixture_db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&config(dir.path(), &db, "[serve]\nmax_connections = 1\n"));
    let mut first = TcpStream::connect(&server.address).unwrap();
    first
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    first.write_all(KEEP_ALIVE_REQUEST).unwrap();
    assert_eq!(read_response(&mut first).0, 200);
    // The first connection is kept alive, idle: the second gets no answer meanwhile.
    let mut second = TcpStream::connect(&server.address).unwrap();
    second.write_all(KEEP_ALIVE_REQUEST).unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut byte = [0u8; 1];
    let early = second.read(&mut byte);
    assert!(
        matches!(&early, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
        "a second connection was served while the only place was taken: {early:?}"
    );
    drop(first);
    second
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(read_response(&mut second).0, 200);
    server.stop();
}

/// With the database locked, decisions that need it wait (up to the SQLite busy timeout);
/// beyond `max_blocking_decisions` of them a request is answered 503 at once rather than
/// queued without bound, and the ones waiting are decided when the lock goes.
#[test]
fn a_full_blocking_queue_is_answered_503() {
    let Some(db) = fixture_db() else { return };
    let dir = tempfile::tempdir().unwrap();
    // A copy: the lock must not stall the other tests.
    let copy = dir.path().join("db.sqlite3");
    std::fs::copy(&db, &copy).unwrap();
    let server = Server::start(&config(
        dir.path(),
        &copy,
        "[serve]\nmax_blocking_decisions = 1\n",
    ));
    let lock = rusqlite::Connection::open(&copy).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();

    // Two requests that need the database (tokens not cached yet), at once: one takes
    // the only place and waits for the lock, the other is refused.
    let (done, answers) = std::sync::mpsc::channel();
    let clients: Vec<_> = ["abcd1234", "admin123"]
        .into_iter()
        .map(|token| {
            let address = server.address.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(&address).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                let request = format!(
                    "GET /api/orders/ HTTP/1.1\r\nHost: x\r\nAuthorization: Token {token}\r\n\r\n"
                );
                stream.write_all(request.as_bytes()).unwrap();
                done.send((token, read_response(&mut stream))).unwrap();
            })
        })
        .collect();
    let (refused, (status, headers, body)) = answers.recv().unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(header(&headers, "retry-after"), Some("1"));
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    assert_eq!(
        body,
        r#"{"detail":"Service temporarily unavailable, try again later."}"#
    );
    // The lock goes: the waiting request is decided, well within the busy timeout.
    lock.execute_batch("ROLLBACK").unwrap();
    let (decided, (status, _, body)) = answers.recv().unwrap();
    assert_ne!(refused, decided);
    assert_eq!(status, 200, "{body}");
    for client in clients {
        client.join().unwrap();
    }
    // The place is free again.
    let (status, _, _) = server.get(
        "/api/orders/",
        &format!("Authorization: Token {refused}\r\n"),
    );
    assert_eq!(status, 200);
    assert!(
        server.log().contains("503 Service Unavailable"),
        "{}",
        server.log()
    );
    server.stop();
}

/// Three `serve` processes over one Redis: one window (issue 15). A fresh key prefix and
/// client per run, and a window of an hour, so the test never depends on how long it takes.
#[test]
fn three_serve_processes_sharing_redis_see_one_window() {
    let Some(db) = fixture_db() else { return };
    let up = TcpStream::connect("127.0.0.1:6379").is_ok();
    if !drfgate_test_support::skip::need("redis", up, "a Redis server at 127.0.0.1:6379") {
        return;
    }
    let run = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let servers: Vec<Server> = dirs
        .iter()
        .map(|dir| {
            let section = format!(
                "[serve]\nremote_addr_header = \"X-Real-IP\"\n[throttle]\n\
                 REDIS_URL = \"redis://127.0.0.1:6379/0\"\nKEY_PREFIX = \"throttling-serve:{run}:\"\n"
            );
            let path = config(dir.path(), &db, &section);
            // The defaults' throttles: added after [serve] so the routes keep their place.
            let text = std::fs::read_to_string(&path).unwrap().replace(
                "DEFAULT_PERMISSION_CLASSES = [\"IsAuthenticated\"]\n",
                "DEFAULT_PERMISSION_CLASSES = [\"IsAuthenticated\"]\n\
                 DEFAULT_THROTTLE_CLASSES = [\"AnonRateThrottle\"]\n\
                 DEFAULT_THROTTLE_RATES = { anon = \"4/h\" }\n",
            );
            std::fs::write(&path, text).unwrap();
            Server::start(&path)
        })
        .collect();
    let client = format!("X-Real-IP: client-{run}\r\n");
    for i in 0..4 {
        let (status, _, _) = servers[i % 3].get("/api/open/", &client);
        assert_eq!(status, 200, "request {i} through server {}", i % 3);
    }
    for server in &servers {
        let (status, headers, body) = server.get("/api/open/", &client);
        assert_eq!(status, 429);
        let seconds: u64 = header(&headers, "retry-after").unwrap().parse().unwrap();
        assert!((3000..=3600).contains(&seconds), "Retry-After {seconds}");
        assert_eq!(
            body,
            format!(
                r#"{{"detail":"Request was throttled. Expected available in {seconds} seconds."}}"#
            )
        );
    }
    // Another client has its own window; a request without the header the proxy must set is
    // a 400, never a decision on the proxy's address.
    let (status, _, _) = servers[1].get("/api/open/", &format!("X-Real-IP: other-{run}\r\n"));
    assert_eq!(status, 200);
    let (status, _, body) = servers[2].get("/api/open/", "");
    assert_eq!(status, 400, "{body}");
}

/// Without `remote_addr_header`, the client is the peer (here 127.0.0.1 for every request).
#[test]
fn the_peer_address_is_remote_addr_by_default() {
    let Some(db) = fixture_db() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), &db, "");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "DEFAULT_PERMISSION_CLASSES = [\"IsAuthenticated\"]\n",
        "DEFAULT_PERMISSION_CLASSES = [\"IsAuthenticated\"]\n\
         DEFAULT_THROTTLE_CLASSES = [\"AnonRateThrottle\"]\n\
         DEFAULT_THROTTLE_RATES = { anon = \"2/h\" }\nNUM_PROXIES = 0\n",
    );
    std::fs::write(&path, text).unwrap();
    let server = Server::start(&path);
    // NUM_PROXIES = 0: X-Forwarded-For is ignored, so changing it changes nothing.
    assert_eq!(
        server.get("/api/open/", "X-Forwarded-For: 1.1.1.1\r\n").0,
        200
    );
    assert_eq!(
        server.get("/api/open/", "X-Forwarded-For: 2.2.2.2\r\n").0,
        200
    );
    let (status, headers, _) = server.get("/api/open/", "X-Forwarded-For: 3.3.3.3\r\n");
    assert_eq!(status, 429);
    assert!(header(&headers, "retry-after").is_some());
}

/// SIGHUP reloads the config: a bad file is logged with its line and the policy loaded
/// before keeps answering; a good one is in force for the requests after it. A database
/// that fails under `serve` is answered 503 and told to the log once, until it is back.
#[test]
fn sighup_reloads_and_a_bad_config_keeps_the_old_policy() {
    let dir = tempfile::tempdir().unwrap();
    let db = drfgate_test_support::scratch_db(
        dir.path(),
        "INSERT INTO auth_user (id, username, password, is_active) VALUES (1, 'alice', '!', 1);
         INSERT INTO authtoken_token (key, user_id) VALUES ('alicetoken', 1);",
    );
    let path = config(dir.path(), &db, "");
    let good = std::fs::read_to_string(&path).unwrap();
    let server = Server::start(&path);
    let hup = |server: &Server| {
        let pid = server.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success());
    };
    // Waits (bounded) until `serve` has logged `needle` `times` times in all.
    let wait_for_log = |server: &Server, needle: &str, times: usize| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while server.log().matches(needle).count() < times {
            assert!(
                Instant::now() < deadline,
                "never logged {needle:?}: {}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    assert_eq!(server.get("/api/open/", "").0, 200);

    // A syntax error, then a config naming a class that does not exist.
    std::fs::write(&path, format!("{good}\n[[routes]\n")).unwrap();
    hup(&server);
    wait_for_log(&server, "not reloaded", 1);
    std::fs::write(
        &path,
        good.replace(
            "permission_classes = [\"AllowAny\"]",
            "permission_classes = [\"AlowAny\"]",
        ),
    )
    .unwrap();
    hup(&server);
    wait_for_log(&server, "not reloaded", 2);
    let log = server.log();
    assert!(log.contains("drfgate.toml"), "{log}");
    assert!(log.contains("AlowAny"), "{log}");
    // The old policy answers.
    assert_eq!(server.get("/api/open/", "").0, 200);
    assert_eq!(server.get("/api/orders/", "").0, 401);

    // A good new policy: /api/open/ now needs authentication.
    std::fs::write(
        &path,
        good.replace(
            "permission_classes = [\"AllowAny\"]",
            "permission_classes = [\"IsAuthenticated\"]",
        ),
    )
    .unwrap();
    hup(&server);
    wait_for_log(&server, "SIGHUP: reloaded", 1);
    assert_eq!(server.get("/api/open/", "").0, 401);
    let token = "Authorization: Token alicetoken\r\n";
    assert_eq!(server.get("/api/open/", token).0, 200);

    // The database goes away: 503 with DRF's JSON, one log line, and back when it returns.
    let saved = dir.path().join("saved.sqlite3");
    std::fs::rename(&db, &saved).unwrap();
    for _ in 0..20 {
        let (status, _, body) = server.get("/api/orders/", "Authorization: Token other\r\n");
        assert_eq!(status, 503);
        assert_eq!(
            body,
            r#"{"detail":"Service temporarily unavailable, try again later."}"#
        );
    }
    std::fs::rename(&saved, &db).unwrap();
    assert_eq!(
        server
            .get("/api/orders/", "Authorization: Token other2\r\n")
            .0,
        401
    );
    let log = server.log();
    assert_eq!(log.matches("are failing").count(), 1, "{log}");
    assert_eq!(log.matches("answered again").count(), 1, "{log}");
    assert!(server.stop().success());
}

/// Started while its PostgreSQL server is unreachable (nothing listens on the configured
/// port yet), `serve` starts anyway, answers 503 for what needs the database and logs the
/// outage once; once the server is reachable the same process answers as DRF does.
#[test]
fn starts_while_its_database_is_down_and_recovers() {
    use drfgate_test_support::conformance::server_database;
    use drfgate_test_support::{skip, LateRelay};
    if skip::requested_for("postgres") {
        eprintln!("skipped (DRFGATE_SKIP=postgres)");
        return;
    }
    let url = server_database("postgres");
    let (upstream_host, upstream_port) = {
        let authority = url
            .split('@')
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("{url}: no host:port"));
        let (host, port) = authority
            .rsplit_once(':')
            .unwrap_or_else(|| panic!("{url}: no port"));
        (host.to_string(), port.parse::<u16>().unwrap())
    };
    let relay = LateRelay::reserve();
    let relayed = url.replace(
        &format!("{upstream_host}:{upstream_port}"),
        &format!("127.0.0.1:{}", relay.port()),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("drfgate.toml");
    std::fs::write(
        &path,
        format!(
            r#"[django]
DATABASE = "{relayed}?connect_timeout=1&statement_timeout=2"
[rest_framework]
DEFAULT_AUTHENTICATION_CLASSES = ["TokenAuthentication"]
DEFAULT_PERMISSION_CLASSES = ["IsAuthenticated"]
[[routes]]
path = "api/orders/"
"#
        ),
    )
    .unwrap();
    let server = Server::start(&path);
    for _ in 0..3 {
        let (status, _, body) = server.get("/api/orders/", "Authorization: Token abcd1234\r\n");
        assert_eq!(status, 503, "{body}");
        assert_eq!(
            body,
            r#"{"detail":"Service temporarily unavailable, try again later."}"#
        );
    }
    let (status, _, _) = server.get("/.drfgate/health", "");
    assert_eq!(status, 200, "the process is up, only its database is not");
    // Read after answering: the stderr line follows the stdout one, before the first request.
    let log = server.log();
    assert!(log.contains("not answering yet"), "{log}");
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("token lookups") && l.contains("are failing"))
            .count(),
        1,
        "one error line for the outage:\n{log}"
    );

    relay.start((upstream_host, upstream_port));
    let (status, headers, _) = server.get("/api/orders/", "Authorization: Token abcd1234\r\n");
    assert_eq!(status, 200, "{}", server.log());
    assert_eq!(header(&headers, "x-drfgate-user"), Some("john"));
    let (status, _, body) = server.get("/api/orders/", "Authorization: Token nope\r\n");
    assert_eq!(
        (status, body.as_str()),
        (401, r#"{"detail":"Invalid token."}"#)
    );
    assert!(server.log().contains("answered again"), "{}", server.log());
    let exit = server.stop();
    assert!(exit.success(), "{exit:?}");
}
