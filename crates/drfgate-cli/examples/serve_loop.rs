//! A fixed number of HTTP/1.1 requests answered in-process, for instruction counting with
//! `valgrind --tool=callgrind`: `drfgate serve`'s own connection handling (its module,
//! compiled in here), or the `fixed_200` baseline's, over an in-memory stream instead of a
//! socket. Counts do not move with the machine's load, unlike `make bench-serve` (wrk, CPU
//! time), and they leave out what both servers pay the kernel. Run it with N and 2N rounds:
//! the difference ÷ N is one request, start-up and the first (uncached) decision cancelling
//! out. `bench/instructions.sh table` does that for both modes.
//!
//! `cargo build --release -p drfgate-cli --example serve_loop &&
//!  valgrind --tool=callgrind target/release/examples/serve_loop 10000 serve`
//!
//! The modes (the last argument):
//! * `serve`: `GET /api/token-ia/` with `Authorization: Token abcd1234` as wrk sends it, a
//!   cached Token allow (TokenAuthentication, IsAuthenticated: bench/lib.sh's route) from
//!   users in a scratch SQLite database: 200 with the `X-Drfgate-*` identity;
//! * `fixed`: the same request to a hyper service answering an empty 200 without looking at
//!   it (examples/fixed_200.rs), on the same runtime and stream.
//!
//! `serve − fixed` is what `serve` adds to hyper's own work for a request; issue 16's target
//! is serve ≥ 90 % of fixed_200's rate. One client at a time, as each wrk connection is.

#[path = "../src/serve/mod.rs"]
#[allow(dead_code, unused_imports)]
mod serve;

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

const REQUEST: &[u8] =
    b"GET /api/token-ia/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token abcd1234\r\n\r\n";

async fn fixed_200(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::new())))
}

/// Sends the request `rounds` times, one at a time, each after the previous answer's head
/// (no body: both answers are empty); how many were `200` with `expect` in their head.
async fn client(mut stream: DuplexStream, rounds: usize, expect: &[u8]) -> usize {
    let mut buf = Vec::with_capacity(4096);
    let mut ok = 0;
    for _ in 0..rounds {
        stream.write_all(REQUEST).await.expect("write");
        buf.clear();
        let end = loop {
            let mut chunk = [0u8; 1024];
            let n = stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "the server closed the connection");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
        };
        assert_eq!(end + 4, buf.len(), "more than one head");
        let head = &buf[..end];
        ok += (head.starts_with(b"HTTP/1.1 200 ")
            && head
                .windows(expect.len())
                .any(|w| w.eq_ignore_ascii_case(expect))) as usize;
    }
    ok
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(10_000, |n| {
        n.parse().expect("usage: serve_loop [ROUNDS] [MODE]")
    });
    let mode = args.next().unwrap_or_else(|| "serve".into());
    let dir = tempfile::tempdir().expect("tempdir");
    let db = drfgate_test_support::scratch_db(
        dir.path(),
        "INSERT INTO auth_user (id, username, password, is_active) VALUES (1, 'john', '!', 1);
         INSERT INTO authtoken_token (key, user_id) VALUES ('abcd1234', 1);",
    );
    let config = dir.path().join("drfgate.toml");
    std::fs::write(
        &config,
        format!(
            "[django]\nDATABASE = \"sqlite://{}\"\n[[routes]]\npath = \"api/token-ia/\"\n\
             methods = [\"GET\", \"POST\", \"PUT\", \"DELETE\"]\n\
             authentication_classes = [\"TokenAuthentication\"]\n\
             permission_classes = [\"IsAuthenticated\"]\n",
            db.display()
        ),
    )
    .expect("config");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let peer = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let ok = runtime.block_on(async {
        let (client_end, server_end) = tokio::io::duplex(64 * 1024);
        let expect: &[u8] = match mode.as_str() {
            "serve" => {
                let serve = serve::InProcess::load(&config).expect("serve's config");
                let connection = serve.connection(server_end, peer);
                tokio::spawn(async move { connection.await.expect("serve's connection") });
                b"x-drfgate-user: john"
            }
            "fixed" => {
                let connection = http1::Builder::new().serve_connection(
                    TokioIo::new(server_end),
                    hyper::service::service_fn(fixed_200),
                );
                tokio::spawn(async move { connection.await.expect("fixed_200's connection") });
                b"content-length: 0"
            }
            other => panic!("unknown mode {other:?}: serve or fixed"),
        };
        // One more than counted: the first looks the token up (cancelled out by N and 2N).
        client(client_end, rounds + 1, expect).await
    });
    assert_eq!(ok, rounds + 1, "{mode}: some answers were not as expected");
    println!("{mode}: {rounds} requests answered 200");
}
