//! `tailrisk serve` under hostile input: thousands of random and truncated bodies on every
//! POST and PUT route (a seeded generator) get only client errors (or 200 for a body that
//! happens to be valid), never a 5xx or a dropped connection, and the server stays healthy;
//! SIGTERM lets a slow request in flight finish and exits 0.

mod serve_support;

use std::io::Write;
use std::time::Duration;

use serve_support::*;

/// SplitMix64: a seeded, reproducible stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "null",
    "true",
    "-",
    "1e400",
    "NaN",
    "-Infinity",
    "0",
    "-0.0",
    "1e-400",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "é",
    "\u{feff}",
    "\"quantity\"",
    "\"add\"",
    "\"instrument\"",
    "\"BTC\"",
    "\"spot\"",
    "\"vol\"",
    "\"as_of\"",
    "99999999999999999999999",
    "\"BTC-25DEC26-100000-C\"",
    "{\"kind\":\"option\"}",
    "\"correlation\"",
    "\"assets\"",
];

/// A body derived from a valid one: truncated, spliced with tokens, bytes flipped, or noise.
fn mutate(rng: &mut Rng, valid: &str) -> Vec<u8> {
    let mut bytes = valid.as_bytes().to_vec();
    match rng.below(6) {
        0 => bytes.truncate(rng.below(bytes.len())),
        1 => {
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len() + 1);
                let token = TOKENS[rng.below(TOKENS.len())];
                bytes.splice(at..at, token.bytes());
            }
        }
        2 => {
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next() as u8;
            }
        }
        3 => {
            let start = rng.below(bytes.len());
            let end = (start + rng.below(20)).min(bytes.len());
            bytes.drain(start..end);
        }
        4 => bytes = (0..rng.below(200)).map(|_| rng.next() as u8).collect(),
        _ => {
            let depth = 1 + rng.below(5000);
            bytes = "[".repeat(depth).into_bytes();
            bytes.extend(std::iter::repeat_n(b']', rng.below(depth + 1)));
        }
    }
    bytes
}

fn send(server: &Server, method: &str, path: &str, body: &[u8]) -> Reply {
    let mut raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    server.raw(&raw)
}

#[test]
fn random_and_truncated_bodies_get_client_errors() {
    let server = Server::start(&sample_args(2_000));
    let routes: [(&str, &str, &str); 4] = [
        (
            "POST",
            "/v1/whatif",
            r#"{"account": "pair-trade", "add": [{"instrument": "BTC-25DEC26-100000-C", "quantity": -5}, {"instrument": {"kind": "option", "underlying": "ETH", "right": "put", "strike": 2800, "expiry": "2027-03-26T08:00:00Z"}, "quantity": 10}]}"#,
        ),
        (
            "POST",
            "/v1/margin",
            r#"{"id": "x", "margin_currency": "BTC", "positions": [{"instrument": "BTC-PERPETUAL", "quantity": 200000}, {"instrument": "ETH", "quantity": 40}]}"#,
        ),
        (
            "POST",
            "/v1/accounts/vol-seller/trades",
            r#"{"trade_id": "r-1", "add": [{"instrument": "SOL_USDC-25DEC26-150-C", "quantity": 3}]}"#,
        ),
        (
            "PUT",
            "/v1/market",
            r#"{"as_of": "2026-11-20T09:00:00Z", "assets": {"BTC": {"spot": 91000, "vol": 0.5, "rate": 0.01, "adv_usd": 1e10}}, "correlation": {"symbols": ["BTC", "ETH", "SOL"], "matrix": [[1, 0.8, 0.7], [0.8, 1, 0.75], [0.7, 0.75, 1]]}}"#,
        ),
    ];
    let mut rng = Rng(20_261_202);
    let mut seen = std::collections::BTreeMap::<u16, usize>::new();
    for round in 0..3_000 {
        let (method, path, valid) = routes[round % routes.len()];
        let body = mutate(&mut rng, valid);
        let reply = send(&server, method, path, &body);
        *seen.entry(reply.status).or_default() += 1;
        assert!(
            reply.status == 200 || (400..500).contains(&reply.status),
            "{method} {path} {:?}: {} {}",
            String::from_utf8_lossy(&body),
            reply.status,
            reply.body
        );
        if reply.status != 200 {
            reply.error();
        }
    }
    // Garbage at the HTTP level too: the connection may be closed, the server lives on.
    for _ in 0..200 {
        let n = rng.below(300);
        let noise: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        let mut stream = server.connect();
        let _ = stream.write_all(&noise);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let reply = read_reply(&mut stream);
        assert!(
            reply.status == 0 || (400..500).contains(&reply.status),
            "{}",
            reply.status
        );
    }
    assert!(seen.get(&400).copied().unwrap_or(0) > 2_000, "{seen:?}");
    assert_eq!(server.get("/v1/health").json()["status"], "ok");
    server.signal("TERM");
    let mut server = server;
    assert!(server.wait(Duration::from_secs(30)).success());
    assert!(
        !server.stderr_text().contains("panicked"),
        "{}",
        server.stderr_text()
    );
}

#[test]
fn sigterm_finishes_the_request_in_flight_then_exits_0() {
    // Enough paths that a market update takes a while to recompute.
    let mut server = Server::start(&sample_args(600_000));
    let body = r#"{"assets": {"BTC": {"spot": 92000}}}"#;
    let mut stream = server.connect();
    let raw = format!(
        "PUT /v1/market HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(raw.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    server.signal("TERM");
    let reply = read_reply(&mut stream);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["snapshot"], 2);
    let status = server.wait(Duration::from_secs(30));
    assert!(status.success(), "{status:?}: {}", server.stderr_text());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", server.port)).is_err(),
        "no connection is accepted after SIGTERM"
    );
}
