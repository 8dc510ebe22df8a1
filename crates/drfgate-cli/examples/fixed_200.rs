//! The baseline for `drfgate serve`'s requests/s (issue 16: serve ≥ 90 % of it): the least a
//! hyper server can do, built as `serve` is built (tokio's multi-threaded runtime with its
//! default worker count, hyper's HTTP/1.1 connection per accepted socket, keep-alive) but
//! answering every request with a fixed, empty 200 without looking at it.
//!
//! `cargo run --release -p drfgate-cli --example fixed_200 -- 127.0.0.1:PORT`
//! (bench/frontends/serve.sh runs it next to `drfgate serve`). Prints the same
//! "listening on" line as `serve` so the script can wait for either the same way.

use std::convert::Infallible;
use std::io::Write;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

async fn fixed_200(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::new())))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listen = std::env::args()
        .nth(1)
        .ok_or("usage: fixed_200 HOST:PORT")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(&listen).await?;
        println!("fixed_200: listening on http://{}", listener.local_addr()?);
        std::io::stdout().flush()?;
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(async move {
                let service = hyper::service::service_fn(fixed_200);
                // A client closing mid-request is not this server's concern.
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
