//! A cold lookup's cost: `user_by_token` straight on the store (what the gate does when its
//! cache has no answer), on any database URL. bench/store_lookup.py runs it beside Django's ORM
//! doing the same lookup on the same database, in the same run (BENCHMARKS.md).
//!
//! Usage: store_lookup DATABASE_URL TOKEN_KEY [ROUNDS PER_ROUND]
//! Prints the median microseconds per lookup over the rounds.

use std::time::Instant;

use drfgate::store::{DatabaseUrl, Schema};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: store_lookup DATABASE_URL TOKEN_KEY [ROUNDS PER_ROUND]");
        std::process::exit(2);
    }
    let number = |i: usize, default: usize| {
        args.get(i)
            .map(|s| s.parse().expect("a whole number"))
            .unwrap_or(default)
    };
    let (rounds, per_round) = (number(3, 7), number(4, 500));
    let url = DatabaseUrl::parse(&args[1], None).unwrap_or_else(|e| panic!("{e}"));
    let store = url
        .open(&Schema::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let user = store.user_by_token(&args[2]).expect("a lookup");
    assert!(user.is_some(), "no user has the token {}", args[2]);
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..per_round {
            std::hint::black_box(store.user_by_token(&args[2]).expect("a lookup"));
        }
        samples.push(start.elapsed().as_secs_f64() / per_round as f64 * 1e6);
    }
    samples.sort_by(f64::total_cmp);
    println!("{:.1}", samples[samples.len() / 2]);
}
