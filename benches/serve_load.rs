//! Load test of `tailrisk serve` on loopback (docs/benchmarks.md): the clearing book
//! (data/clearing_book.csv, 1,000 accounts) plus a 20-position desk account at 100,000
//! paths; 8 concurrent keep-alive clients (hyper's HTTP/1 client) send what-ifs on the desk
//! for `SECONDS` (default 20) while the market is updated every 2 s.
//!
//! Checks: zero errors; every what-if answer is consistent with one snapshot (its `before`
//! equals the desk's figures at that snapshot as read after the PUT that made it, and every
//! answer of one snapshot has the same `after`). Reports p50/p99/max latency, the
//! recomputation time of every market update and the start-up time.
//!
//! `cargo bench --bench serve_load [-- --precision f32] [--seconds N] [--paths N]`

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

const DESK: &str = "desk-20";

/// The desk account: 20 positions over the sample market's three assets.
fn desk_positions() -> Vec<Value> {
    let names = [
        ("BTC-25DEC26-100000-C", -5.0),
        ("BTC-25DEC26-85000-P", 8.0),
        ("BTC-29JAN27-90000-P", 3.0),
        ("BTC-29JAN27-110000-C", -4.0),
        ("BTC-26MAR27-95000-C", 2.0),
        ("BTC-4DEC26-92000-C", -6.0),
        ("BTC-PERPETUAL", 250_000.0),
        ("BTC_USDC-25DEC26", -1.5),
        ("ETH-25DEC26-3000-P", 40.0),
        ("ETH-25DEC26-3400-C", -60.0),
        ("ETH-29JAN27-2800-P", 25.0),
        ("ETH-26MAR27-3600-C", -30.0),
        ("ETH-PERPETUAL", -90_000.0),
        ("ETH", 120.0),
        ("SOL_USDC-25DEC26-150-C", -500.0),
        ("SOL_USDC-25DEC26-130-P", 400.0),
        ("SOL_USDC-29JAN27-160-C", -300.0),
        ("SOL_USDC-PERPETUAL", 900.0),
        ("SOL", 1500.0),
        ("BTC", 2.0),
    ];
    names
        .iter()
        .map(|(n, q)| json!({ "instrument": n, "quantity": q }))
        .collect()
}

/// The clearing book as JSON accounts, plus the desk.
fn portfolio() -> Value {
    let csv = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/clearing_book.csv"
    ))
    .unwrap();
    let mut accounts: Vec<(String, Vec<Value>)> = Vec::new();
    for line in csv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        let position =
            json!({ "instrument": cells[1], "quantity": cells[2].parse::<f64>().unwrap() });
        match accounts.last_mut() {
            Some((id, p)) if id == cells[0] => p.push(position),
            _ => accounts.push((cells[0].to_string(), vec![position])),
        }
    }
    accounts.push((DESK.to_string(), desk_positions()));
    let accounts: Vec<Value> = accounts
        .into_iter()
        .map(|(id, positions)| json!({ "id": id, "positions": positions }))
        .collect();
    json!({ "accounts": accounts })
}

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(portfolio: &std::path::Path, paths: u64, precision: &str) -> (Guard, u16, f64) {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/data");
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tailrisk"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--backend",
            "cpu",
            "--precision",
            precision,
        ])
        .args([
            "--market",
            &format!("{data}/market.json"),
            "--config",
            &format!("{data}/config.json"),
        ])
        .args([
            "--portfolio",
            portfolio.to_str().unwrap(),
            "--paths",
            &paths.to_string(),
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let port = loop {
        let line = lines.next().expect("server exited").unwrap();
        if let Some(addr) = line.split("listening on http://").nth(1) {
            break addr.rsplit(':').next().unwrap().parse().unwrap();
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    std::thread::spawn(move || for _ in lines {});
    (Guard(child), port, seconds)
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(port: u16) -> Sender {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream.set_nodelay(true).unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

async fn call(sender: &mut Sender, method: &str, path: &str, body: Option<String>) -> (u16, Value) {
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1");
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = request
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .unwrap();
    sender.ready().await.unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// One answer of a what-if: (latency s, snapshot, before, after).
type Sample = (f64, u64, Value, Value);

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seconds: u64 = arg("--seconds", "20").parse().unwrap();
    let paths: u64 = arg("--paths", "100000").parse().unwrap();
    let precision = arg("--precision", "f64");
    let file = std::env::temp_dir().join(format!("tailrisk-load-{}.json", std::process::id()));
    std::fs::write(&file, portfolio().to_string()).unwrap();
    let (_server, port, startup) = start_server(&file, paths, &precision);
    let whatif = json!({ "account": DESK, "add": [
        { "instrument": "BTC-25DEC26-95000-C", "quantity": 3 },
        { "instrument": "ETH-25DEC26-3000-P", "quantity": -10 } ] })
    .to_string();
    // Phase 1: one client alone, no market updates: the latency of one warm what-if.
    let mut alone = Vec::new();
    let mut sender = connect(port).await;
    for _ in 0..60 {
        let t = Instant::now();
        let (status, v) = call(&mut sender, "POST", "/v1/whatif", Some(whatif.clone())).await;
        assert_eq!(status, 200, "{v}");
        alone.push(t.elapsed().as_secs_f64() * 1e3);
    }
    alone.sort_by(f64::total_cmp);
    // One market update alone: every account recomputed, nothing else running.
    let t = Instant::now();
    let body = json!({ "assets": { "BTC": { "spot": 91_300.0 } } }).to_string();
    let (status, v) = call(&mut sender, "PUT", "/v1/market", Some(body)).await;
    assert_eq!(status, 200, "{v}");
    let update_alone = t.elapsed().as_secs_f64();
    drop(sender);
    // Phase 2: 8 clients while the market moves.
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (samples, errors, body) = (samples.clone(), errors.clone(), whatif.clone());
        clients.push(tokio::spawn(async move {
            let mut sender = connect(port).await;
            while Instant::now() < deadline {
                let t = Instant::now();
                let (status, v) = call(&mut sender, "POST", "/v1/whatif", Some(body.clone())).await;
                let latency = t.elapsed().as_secs_f64();
                if status != 200 {
                    errors
                        .lock()
                        .unwrap()
                        .push(format!("what-if {status}: {v}"));
                    continue;
                }
                let snapshot = v["snapshot"].as_u64().unwrap_or(0);
                samples.lock().unwrap().push((
                    latency,
                    snapshot,
                    v["before"].clone(),
                    v["after"].clone(),
                ));
            }
        }));
    }
    // The market: BTC spot alternating around the sample's 91,250, every 2 s; after each PUT
    // the desk's figures at the new snapshot.
    let mut desk: BTreeMap<u64, Value> = BTreeMap::new();
    let mut updates: Vec<f64> = Vec::new();
    let mut sender = connect(port).await;
    let (_, first) = call(&mut sender, "GET", &format!("/v1/accounts/{DESK}"), None).await;
    desk.insert(
        first["snapshot"].as_u64().unwrap(),
        first["account"]["margin"].clone(),
    );
    let mut tick = 0;
    while Instant::now() + Duration::from_secs(2) < deadline {
        tokio::time::sleep(Duration::from_secs(2)).await;
        tick += 1;
        let spot = 91_250.0 * (1.0 + 0.002 * if tick % 2 == 0 { 1.0 } else { -1.0 } * tick as f64);
        let body = json!({ "assets": { "BTC": { "spot": spot } } }).to_string();
        let t = Instant::now();
        let (status, v) = call(&mut sender, "PUT", "/v1/market", Some(body)).await;
        if status != 200 {
            errors.lock().unwrap().push(format!("PUT {status}: {v}"));
            continue;
        }
        updates.push(t.elapsed().as_secs_f64());
        let (_, a) = call(&mut sender, "GET", &format!("/v1/accounts/{DESK}"), None).await;
        assert_eq!(a["snapshot"], v["snapshot"], "only PUTs change the state");
        desk.insert(
            a["snapshot"].as_u64().unwrap(),
            a["account"]["margin"].clone(),
        );
    }
    for c in clients {
        c.await.unwrap();
    }
    let samples = samples.lock().unwrap().clone();
    let errors = errors.lock().unwrap().clone();
    // Consistency: `before` is the desk at the answer's snapshot; one `after` per snapshot.
    let mut inconsistent = 0;
    let mut after_of: BTreeMap<u64, Value> = BTreeMap::new();
    for (_, snapshot, before, after) in &samples {
        let known = desk.get(snapshot);
        let same_before = known.is_some_and(|m| {
            m["initial"] == before["initial"] && m["components"]["es"] == before["es"]
        });
        let same_after = after_of.entry(*snapshot).or_insert_with(|| after.clone()) == after;
        if !same_before || !same_after {
            inconsistent += 1;
        }
    }
    let mut latencies: Vec<f64> = samples.iter().map(|s| s.0 * 1e3).collect();
    latencies.sort_by(f64::total_cmp);
    println!(
        "tailrisk serve load test: {paths} paths, CPU {precision}, 1,001 accounts, 8 clients, {seconds} s"
    );
    println!("  start-up (snapshot 1 of 1,001 accounts): {startup:.2} s");
    println!(
        "  one client alone, 60 what-ifs: p50 {:.1} ms, p99 {:.1} ms",
        percentile(&alone, 0.5),
        percentile(&alone, 0.99)
    );
    println!(
        "  what-ifs: {} answered, {} errors, {} inconsistent; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        errors.len(),
        inconsistent,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0.0)
    );
    println!(
        "  one market update alone (PUT → live, 1,001 accounts recomputed): {update_alone:.2} s"
    );
    let shown: Vec<String> = updates.iter().map(|s| format!("{s:.2}")).collect();
    println!(
        "  market updates (PUT → live, every account recomputed): {} s",
        shown.join(", ")
    );
    println!(
        "  snapshots seen by what-ifs: {:?}",
        after_of.keys().collect::<Vec<_>>()
    );
    for e in errors.iter().take(5) {
        println!("  error: {e}");
    }
    let _ = std::fs::remove_file(&file);
    assert!(errors.is_empty() && inconsistent == 0, "load test failed");
}
