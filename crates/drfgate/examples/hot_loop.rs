//! A fixed number of cached decisions, for instruction counting with
//! `valgrind --tool=callgrind` (counts do not depend on machine load).
//!
//! `cargo build --release -p drfgate --example hot_loop &&
//!  valgrind --tool=callgrind target/release/examples/hot_loop build/django/db.sqlite3`

use drfgate::{Gate, Request};

fn main() {
    let db = std::env::args().nth(1).expect("usage: hot_loop DB");
    let config = format!(
        "[django]\nDATABASE = \"sqlite://{db}\"\n[rest_framework]\n\
         DEFAULT_AUTHENTICATION_CLASSES = [\"TokenAuthentication\", \"BasicAuthentication\"]\n\
         DEFAULT_PERMISSION_CLASSES = [\"IsAuthenticated\"]\n\
         [[routes]]\npath = \"api/orders/<int:pk>/\"\nmethods = [\"GET\", \"PUT\"]\n"
    );
    let gate = Gate::from_config_str(&config, None).expect("config");
    let headers = [(&b"Authorization"[..], &b"Token abcd1234"[..])];
    let request = Request::new(b"GET", b"/api/orders/42/").with_headers(&headers);
    let rounds: usize = std::env::args().nth(2).map_or(100_000, |n| n.parse().unwrap());
    let mut allowed = 0;
    for _ in 0..rounds {
        allowed += gate.decide(std::hint::black_box(&request)).is_allow() as usize;
    }
    println!("{allowed} of {rounds} allowed");
}
