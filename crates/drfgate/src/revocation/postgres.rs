//! A PostgreSQL subscription: `LISTEN <channel>` on a connection of its own, driven by a
//! current-thread runtime on the listener thread (as the store's connections are), with TCP
//! keepalives so a connection that died silently is noticed.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use postgres_native_tls::TlsStream;
use tokio::runtime::Runtime;
use tokio_postgres::{AsyncMessage, Client, Connection, Socket};

use super::Subscription;
use crate::store::network::NetworkDatabase;

type PgConnection = Connection<Socket, TlsStream<Socket>>;

pub(super) struct PgSubscription {
    runtime: Runtime,
    // Kept: dropping the client closes the connection.
    _client: Client,
    connection: PgConnection,
}

impl PgSubscription {
    pub(super) fn connect(db: &NetworkDatabase, channel: &str) -> Result<Self, String> {
        let (mut config, tls) = crate::store::postgres_client_config(db)?;
        config
            .application_name("drfgate-revocation")
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(3);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| format!("cannot start a runtime for the listener: {e}"))?;
        let timeout = db.pool.connect_timeout;
        let (client, mut connection) = runtime
            .block_on(async { tokio::time::timeout(timeout, config.connect(tls)).await })
            .map_err(|_| format!("connecting timed out after {timeout:?}"))?
            .map_err(|e| format!("cannot connect: {e}"))?;
        let statement = format!("LISTEN {}", quote_identifier(channel));
        let mut listening = Box::pin(client.batch_execute(&statement));
        runtime
            .block_on(async {
                tokio::time::timeout(
                    timeout,
                    std::future::poll_fn(|cx| {
                        // The connection must be driven for the statement to make progress;
                        // notifications before LISTEN took effect are of no interest.
                        loop {
                            match connection.poll_message(cx) {
                                Poll::Ready(Some(Ok(_))) => continue,
                                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                                Poll::Ready(None) | Poll::Pending => break,
                            }
                        }
                        listening.as_mut().poll(cx)
                    }),
                )
                .await
            })
            .map_err(|_| format!("LISTEN timed out after {timeout:?}"))?
            .map_err(|e| format!("LISTEN failed: {e}"))?;
        drop(listening);
        Ok(PgSubscription {
            runtime,
            _client: client,
            connection,
        })
    }
}

impl Subscription for PgSubscription {
    fn next(&mut self, wait: Duration) -> Result<Option<String>, String> {
        let PgSubscription {
            runtime,
            connection,
            ..
        } = self;
        let message = runtime.block_on(async {
            tokio::time::timeout(
                wait,
                std::future::poll_fn(|cx| {
                    // A connection is a stream of messages; a notice is not what we wait for.
                    loop {
                        match Pin::new(&mut *connection).poll_message(cx) {
                            Poll::Ready(Some(Ok(AsyncMessage::Notification(n)))) => {
                                return Poll::Ready(Ok(n.payload().to_string()))
                            }
                            Poll::Ready(Some(Ok(_))) => continue,
                            Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e.to_string())),
                            Poll::Ready(None) => {
                                return Poll::Ready(Err("the server closed the connection".into()))
                            }
                            Poll::Pending => return Poll::Pending,
                        }
                    }
                }),
            )
            .await
        });
        match message {
            Err(_elapsed) => Ok(None),
            Ok(result) => result.map(Some),
        }
    }
}

/// A channel name as a quoted identifier (`"` doubled).
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
