//! A loopback port where a database server appears late: nothing listens on it until
//! [`LateRelay::start`], which then forwards every connection to the real server. A gate
//! pointed at it starts during an outage (connections refused) and must recover by itself
//! once the server is reachable.

use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;

pub struct LateRelay {
    port: u16,
}

impl LateRelay {
    /// A free loopback port, with nothing listening on it.
    pub fn reserve() -> LateRelay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        let port = listener.local_addr().expect("its address").port();
        LateRelay { port }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Listens on the port from now on, forwarding each connection to `upstream` both ways
    /// until either end closes. The relay lives as long as the test process.
    pub fn start(&self, upstream: (String, u16)) {
        let listener =
            TcpListener::bind(("127.0.0.1", self.port)).expect("the reserved port, still free");
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect((upstream.0.as_str(), upstream.1)) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let (Ok(client_in), Ok(server_in)) = (client.try_clone(), server.try_clone())
                else {
                    continue;
                };
                thread::spawn(move || copy(client_in, server));
                thread::spawn(move || copy(server_in, client));
            }
        });
    }
}

fn copy(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Both);
}
