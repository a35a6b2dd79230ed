//! WEB-03, RS-03 over loopback: the median time of the reset's `次へ` on
//! 【ログイン情報再設定認証】 for a registered address, an address the office has not registered
//! and an unknown office, interleaved (the order rotates each round), with the production argon2
//! parameters. Prints the medians and the ratio of the slowest to the fastest; the ratio is
//! recorded in docs/performance.md.
//!
//! `cargo bench -p kaigo-seikyu-web --bench rs03_http` measures (41 rounds); `cargo test
//! --benches` runs 2 rounds, so the benchmark cannot rot.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{Http, REGISTERED, Server, first_login, grace, portal_with, to_reset_entry};
use kaigo_seikyu::policy::Policy;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let rounds = if measuring { 41 } else { 2 };
    let (web, _) = portal_with(Policy::default());
    let server = Server::start(&web);
    first_login(&web, &server);
    grace(&web, &server);
    let paths = [
        ("registered", "1310000001"),
        ("not registered", "1320000001"),
        ("unknown office", "1399999999"),
    ];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); paths.len()];
    for round in 0..rounds {
        // A new hour: no mail budget (SEC-04) is in the way.
        web.embedded()
            .unwrap()
            .clock
            .advance(chrono::TimeDelta::minutes(61));
        for k in 0..paths.len() {
            let i = (round + k) % paths.len();
            let mut http = Http::new(server.addr);
            to_reset_entry(&mut http);
            let started = Instant::now();
            let resp = http.post(
                "/",
                "next",
                &[("office", paths[i].1), ("address", REGISTERED)],
            );
            let page = http.get("/");
            let took = started.elapsed();
            assert_eq!(resp.status, 303);
            assert!(
                page.body.contains("ワンタイムパスワード入力"),
                "{}",
                page.body
            );
            times[i].push(took);
        }
    }
    let medians: Vec<Duration> = times.into_iter().map(median).collect();
    for ((name, _), m) in paths.iter().zip(&medians) {
        println!(
            "rs03_http {name:>15}: median {:.2} ms",
            m.as_secs_f64() * 1e3
        );
    }
    let max = medians.iter().max().unwrap().as_secs_f64();
    let min = medians.iter().min().unwrap().as_secs_f64();
    println!(
        "rs03_http ratio slowest/fastest: {:.3} ({rounds} rounds, interleaved)",
        max / min
    );
}
