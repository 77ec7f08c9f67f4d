//! `tailrisk serve --state FILE`: restarted on its file the server answers exactly as
//! before; SIGKILL in the middle of a stream of trades loses no acknowledged trade and
//! applies none twice; the file is locked, checked against the inputs, and refused when it
//! is not a tailrisk state.

mod serve_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use serve_support::*;

const PATHS: u64 = 20_000;

fn state_args(state: &std::path::Path) -> Vec<String> {
    let mut args = sample_args(PATHS);
    args.extend(["--state".to_string(), state.display().to_string()]);
    args
}

/// Every answer a client can read back: the accounts, each account and its history.
fn everything(server: &Server) -> Vec<Value> {
    let mut all = vec![server.get("/v1/accounts").json()];
    for id in [
        "hedged-options",
        "pair-trade",
        "coin-margined",
        "vol-seller",
    ] {
        all.push(server.get(&format!("/v1/accounts/{id}")).json());
        all.push(server.get(&format!("/v1/accounts/{id}/history")).json());
    }
    all
}

#[test]
fn restarted_on_its_state_it_answers_as_before() {
    let dir = temp_dir("replay");
    let state = dir.join("state.db");
    let args = state_args(&state);
    let mut server = Server::start(&args);
    let trade = |id: &str, q: f64| {
        json!({ "trade_id": id, "add": [{ "instrument": "BTC-PERPETUAL", "quantity": q }] })
            .to_string()
    };
    let first = server
        .post("/v1/accounts/pair-trade/trades", &trade("a", 1000.0))
        .json();
    assert_eq!(
        server
            .put("/v1/market", r#"{"assets": {"ETH": {"spot": 3100}}}"#)
            .status,
        200
    );
    let no_id = json!({ "add": [{ "instrument": "ETH", "quantity": 2 }] }).to_string();
    assert_eq!(
        server.post("/v1/accounts/vol-seller/trades", &no_id).status,
        200
    );
    assert_eq!(
        server
            .post("/v1/accounts/pair-trade/trades", &trade("b", -50.0))
            .status,
        200
    );
    let before = everything(&server);
    assert_eq!(before[0]["snapshot"], 5);

    // A second server on the same file exits 75 naming it.
    let refused = Server::try_start(&args)
        .err()
        .expect("second server started");
    assert_eq!(refused.code, Some(75), "{}", refused.stderr);
    assert!(refused.stderr.contains("state.db"), "{}", refused.stderr);

    server.signal("TERM");
    assert!(server.wait(Duration::from_secs(30)).success());
    drop(server);

    let server = Server::start(&args);
    assert_eq!(
        everything(&server),
        before,
        "the replayed server answers as before"
    );
    let again = server
        .post("/v1/accounts/pair-trade/trades", &trade("a", 1000.0))
        .json();
    assert_eq!(
        again, first,
        "a trade id from before the restart gets its first answer"
    );
    let next = server
        .post("/v1/accounts/pair-trade/trades", &trade("c", 7.0))
        .json();
    assert_eq!(next["snapshot"], 6, "snapshot numbering continues");
    drop(server);

    // Different inputs or flags: 65 naming the first difference.
    let refused = Server::try_start(&with_flag(&args, "--paths", "20001"))
        .err()
        .expect("started");
    assert_eq!(refused.code, Some(65), "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("different flags: --paths: stored 20000, now 20001"),
        "the changed flag is named with both values: {}",
        refused.stderr
    );
    let other = dir.join("portfolio.json");
    let mut book: Value =
        serde_json::from_str(&std::fs::read_to_string(data("portfolio.json")).unwrap()).unwrap();
    book["accounts"][0]["positions"][0]["quantity"] = json!(-31);
    std::fs::write(&other, book.to_string()).unwrap();
    let refused = Server::try_start(&with_flag(&args, "--portfolio", other.to_str().unwrap()))
        .err()
        .expect("started");
    assert_eq!(refused.code, Some(65), "{}", refused.stderr);
    assert!(refused.stderr.contains("--portfolio"), "{}", refused.stderr);
}

#[test]
fn a_file_that_is_not_a_state_is_refused() {
    let dir = temp_dir("notstate");
    let text = dir.join("notes.txt");
    std::fs::write(&text, "these are not the droids\n".repeat(100)).unwrap();
    let foreign = dir.join("other.db");
    let conn = rusqlite::Connection::open(&foreign).unwrap();
    conn.execute_batch("CREATE TABLE orders (id INTEGER); INSERT INTO orders VALUES (1);")
        .unwrap();
    drop(conn);
    // An SQLite database with no tables at all (only its header written) is someone
    // else's file too: only a missing or empty file becomes a new state.
    let bare = dir.join("bare.db");
    let conn = rusqlite::Connection::open(&bare).unwrap();
    conn.pragma_update(None, "user_version", 7).unwrap();
    drop(conn);
    for file in [&text, &foreign, &bare] {
        let before = std::fs::read(file).unwrap();
        let refused = Server::try_start(&state_args(file)).err().expect("started");
        assert_eq!(refused.code, Some(65), "{}", refused.stderr);
        assert!(
            refused.stderr.contains("not a tailrisk state"),
            "{}",
            refused.stderr
        );
        // Refused before anything is written: no WAL, the same bytes.
        assert_eq!(
            std::fs::read(file).unwrap(),
            before,
            "{} changed",
            file.display()
        );
        let wal = format!("{}-wal", file.display());
        assert!(!std::path::Path::new(&wal).exists(), "{wal} created");
    }
}

/// The history (snapshot and figures of every entry; `at` is the wall clock) of every
/// account.
fn histories(server: &Server) -> Vec<Vec<(u64, Value)>> {
    [
        "hedged-options",
        "pair-trade",
        "coin-margined",
        "vol-seller",
    ]
    .iter()
    .map(|id| {
        let h = server.get(&format!("/v1/accounts/{id}/history")).json();
        h["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let figures = json!([e["initial"], e["maintenance"], e["es"]]);
                (e["snapshot"].as_u64().unwrap(), figures)
            })
            .collect()
    })
    .collect()
}

#[test]
fn the_state_file_and_memory_keep_the_same_history() {
    // S24 from the file (SQL) and from memory: one entry per live snapshot for every
    // account, with the figures as they stand at it, whichever account a trade changed.
    let dir = temp_dir("samehistory");
    let memory = Server::start(&sample_args(PATHS));
    let stored = Server::start(&state_args(&dir.join("state.db")));
    for server in [&memory, &stored] {
        let trade = json!({ "add": [{ "instrument": "BTC-PERPETUAL", "quantity": 500 }] });
        let t = server.post("/v1/accounts/pair-trade/trades", &trade.to_string());
        assert_eq!(t.status, 200, "{}", t.body);
        let put = server.put("/v1/market", r#"{"assets": {"BTC": {"spot": 93000}}}"#);
        assert_eq!(put.status, 200, "{}", put.body);
        let t = server.post("/v1/accounts/vol-seller/trades", &trade.to_string());
        assert_eq!(t.status, 200, "{}", t.body);
    }
    let (from_memory, from_file) = (histories(&memory), histories(&stored));
    assert_eq!(from_memory, from_file);
    for entries in &from_memory {
        let snapshots: Vec<_> = entries.iter().map(|e| e.0).collect();
        assert_eq!(snapshots, [1, 2, 3, 4]);
    }
    // vol-seller was recomputed at 1, 3 (the market) and 4 (its trade), not at 2.
    assert_eq!(from_file[3][1].1, from_file[3][0].1);
    assert_ne!(from_file[3][3].1, from_file[3][2].1);
    // since and limit pick live snapshots, not recomputations.
    let page = stored
        .get("/v1/accounts/vol-seller/history?since=2&limit=2")
        .json();
    let snapshots: Vec<_> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["snapshot"].as_u64().unwrap())
        .collect();
    assert_eq!(snapshots, [2, 3]);
}

#[test]
fn a_state_missing_a_table_is_refused() {
    let dir = temp_dir("droptable");
    let state = dir.join("state.db");
    let args = state_args(&state);
    let mut server = Server::start(&args);
    server.signal("TERM");
    assert!(server.wait(Duration::from_secs(30)).success());
    drop(server);
    let conn = rusqlite::Connection::open(&state).unwrap();
    conn.execute_batch("DROP TABLE figures;").unwrap();
    drop(conn);
    let refused = Server::try_start(&args).err().expect("started");
    assert_eq!(refused.code, Some(65), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("the table figures is missing"),
        "{}",
        refused.stderr
    );
}

/// Trades of 1 BTC with ids t-0, t-1, … on `server` until it dies (a connection refused,
/// a request not written or not answered 200: the kill may land between requests or during
/// one); the ids acknowledged.
fn stream_trades(port: u16, acked: Arc<Mutex<Vec<usize>>>, sent: Arc<AtomicUsize>) {
    let probe = Server::probe(port);
    for i in 0.. {
        sent.store(i + 1, Ordering::SeqCst);
        let body = json!({ "trade_id": format!("t-{i}"), "add": [{ "instrument": "BTC", "quantity": 1 }] });
        match probe.try_post("/v1/accounts/pair-trade/trades", &body.to_string()) {
            Some(reply) if reply.status == 200 => acked.lock().unwrap().push(i),
            _ => return,
        }
    }
}

fn btc_quantity(server: &Server) -> f64 {
    let account = server.get("/v1/accounts/pair-trade").json();
    account["positions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["instrument"] == "BTC")
        .map(|p| p["quantity"].as_f64().unwrap())
        .sum()
}

#[test]
fn sigkill_mid_stream_loses_no_acknowledged_trade() {
    let dir = temp_dir("sigkill");
    let state = dir.join("state.db");
    let args = state_args(&state);
    let server = Server::start(&args);
    let acked: Arc<Mutex<Vec<usize>>> = Arc::default();
    let sent = Arc::new(AtomicUsize::new(0));
    let client = {
        let (acked, sent, port) = (acked.clone(), sent.clone(), server.port);
        std::thread::spawn(move || stream_trades(port, acked, sent))
    };
    while acked.lock().unwrap().len() < 25 {
        std::thread::sleep(Duration::from_millis(5));
    }
    server.signal("KILL");
    client.join().unwrap();
    drop(server);
    let acked = acked.lock().unwrap().clone();
    let sent = sent.load(Ordering::SeqCst);
    assert_eq!(acked, (0..acked.len()).collect::<Vec<_>>());

    let server = Server::start(&args);
    let q = btc_quantity(&server);
    // Every acknowledged trade is there; at most the one in flight (committed, never
    // answered) besides.
    assert!(
        q >= acked.len() as f64 && q <= sent as f64,
        "q {q}, acked {}, sent {sent}",
        acked.len()
    );
    // Resending every id applies each at most once.
    for i in 0..sent {
        let body = json!({ "trade_id": format!("t-{i}"), "add": [{ "instrument": "BTC", "quantity": 1 }] });
        assert_eq!(
            server
                .post("/v1/accounts/pair-trade/trades", &body.to_string())
                .status,
            200
        );
    }
    assert_eq!(
        btc_quantity(&server),
        sent as f64,
        "each of the {sent} ids applied once"
    );
    let history = server.get("/v1/accounts/pair-trade/history").json();
    let snapshots: Vec<u64> = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["snapshot"].as_u64().unwrap())
        .collect();
    assert_eq!(
        snapshots,
        (1..=sent as u64 + 1).collect::<Vec<_>>(),
        "one entry per trade, in order"
    );
}
