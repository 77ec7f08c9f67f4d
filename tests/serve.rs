//! `tailrisk serve` against the CLI: every endpoint's figures equal `run`/`whatif` on the
//! same inputs (the edited book after a trade, the edited market after a PUT), bit for bit
//! on the CPU reference (warm scenario states), the CPU f32 kernels and the GPU (paths
//! regenerated from their counters); every error status with its JSON body.

mod common;
mod serve_support;

use serde_json::{Value, json};
use serve_support::*;

const PATHS: u64 = 20_000;

fn run_on(args: &[String]) -> Value {
    let mut full = vec!["run".to_string()];
    full.extend_from_slice(args);
    cli_json(&full)
}

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_endpoint_equals_the_cli() {
    every_endpoint_equals_the_cli_on(&sample_args(PATHS), "f64", "equal-f64");
}

/// The f64 reference keeps its own warm P&L columns (the reference's revalue stage): bit
/// for bit the CLI's `--precision f64-reference` too.
#[test]
fn every_endpoint_equals_the_cli_on_the_f64_reference() {
    let args = with_flag(&sample_args(PATHS), "--precision", "f64-reference");
    every_endpoint_equals_the_cli_on(&args, "f64-reference", "equal-f64-reference");
}

#[test]
fn every_endpoint_equals_the_cli_on_the_f32_kernels() {
    let args = with_flag(&sample_args(PATHS), "--precision", "f32");
    every_endpoint_equals_the_cli_on(&args, "f32", "equal-f32");
}

#[test]
fn every_endpoint_equals_the_cli_on_the_gpu() {
    if common::test_backend().is_none() {
        return;
    }
    let args = with_flag(&sample_args(PATHS), "--backend", "gpu");
    every_endpoint_equals_the_cli_on(&args, "f32", "equal-gpu");
}

fn every_endpoint_equals_the_cli_on(args: &[String], precision: &str, name: &str) {
    let args = args.to_vec();
    let server = Server::start(&args);
    let dir = temp_dir(name);
    snapshot_1_is_run(&server, &args, precision);
    whatif_is_cli_whatif(&server, &args);
    margin_is_run_of_one_account(&server, &args, &dir);
    let edited_args = trade_then_get_is_run_of_edited_book(&server, &args, &dir);
    let want = put_then_get_is_run_of_edited_market(&server, &edited_args, &dir);
    history_has_one_entry_per_live_snapshot(&server, &want);
    every_request_is_logged(server);
}

fn snapshot_1_is_run(server: &Server, args: &[String], precision: &str) {
    // GET /v1/health, /v1/accounts, /v1/accounts/{id}: snapshot 1 = `run`.
    let health = server.get("/v1/health").json();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["snapshot"], 1);
    assert_eq!(health["accounts"], 4);
    assert_eq!(health["paths"], PATHS);
    let backend = &args[args.iter().position(|a| a == "--backend").unwrap() + 1];
    assert_eq!(health["backend"], backend.as_str());
    assert_eq!(health["precision"], precision);
    assert_eq!(health["seed"], 42);
    assert_eq!(health["as_of"], "2026-11-20T08:00:00Z");
    let run = run_on(args);
    let list = server.get("/v1/accounts").json();
    assert_eq!(list["snapshot"], 1);
    for (row, account) in list["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .zip(run["accounts"].as_array().unwrap())
    {
        assert_eq!(row["id"], account["id"]);
        assert_eq!(row["currency"], account["currency"]);
        assert_eq!(row["initial"], account["margin"]["initial"]);
        assert_eq!(row["maintenance"], account["margin"]["maintenance"]);
        let id = account["id"].as_str().unwrap();
        let got = server.get(&format!("/v1/accounts/{id}")).json();
        assert_eq!(got["snapshot"], 1);
        assert_eq!(&got["account"], account, "account {id}");
    }
}

fn whatif_is_cli_whatif(server: &Server, args: &[String]) {
    // POST /v1/whatif = `whatif`, on a USD and a coin-margined account.
    for account in ["pair-trade", "coin-margined"] {
        let body = json!({ "account": account, "add": [
            { "instrument": "BTC-PERPETUAL", "quantity": 1000 },
            { "instrument": "ETH-25DEC26-3000-P", "quantity": -4 } ] });
        let got = server.post("/v1/whatif", &body.to_string()).json();
        let mut cli = vec!["whatif".to_string(), "--account".into(), account.into()];
        let adds = [
            "--add",
            "BTC-PERPETUAL:1000",
            "--add",
            "ETH-25DEC26-3000-P:-4",
        ];
        cli.extend(adds.map(String::from));
        cli.extend_from_slice(args);
        let want = cli_json(&cli);
        assert_eq!(got["snapshot"], 1);
        for key in ["account", "currency", "before", "after", "increment"] {
            assert_eq!(got[key], want[key], "whatif {account} {key}");
        }
    }
}

fn margin_is_run_of_one_account(server: &Server, args: &[String], dir: &std::path::Path) {
    // POST /v1/margin = `run` on a portfolio of that one account.
    let portfolio = read_json(&data("portfolio.json"));
    let vol_seller = portfolio["accounts"][3].clone();
    let adhoc = json!({ "id": "mine", "positions": vol_seller["positions"] });
    let got = server.post("/v1/margin", &adhoc.to_string()).json();
    let mut alone = vol_seller.clone();
    alone["id"] = json!("mine");
    let file = dir.join("adhoc.json");
    std::fs::write(&file, json!({ "accounts": [alone] }).to_string()).unwrap();
    let want = run_on(&with_flag(args, "--portfolio", &file.display().to_string()));
    assert_eq!(got["account"], want["accounts"][0]);
    let unnamed = server
        .post(
            "/v1/margin",
            &json!({ "positions": vol_seller["positions"] }).to_string(),
        )
        .json();
    assert_eq!(unnamed["account"]["id"], "adhoc");
    assert_eq!(unnamed["account"]["margin"], want["accounts"][0]["margin"]);
    assert_eq!(
        server.get("/v1/accounts").json()["accounts"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(server.get("/v1/accounts/adhoc").status, 404);
}

fn trade_then_get_is_run_of_edited_book(
    server: &Server,
    args: &[String],
    dir: &std::path::Path,
) -> Vec<String> {
    let portfolio = read_json(&data("portfolio.json"));
    // POST trades: netted into the same instrument, appended otherwise (S7); then GET =
    // `run` on the edited book. A repeated trade_id gets the first answer (S8).
    let trade = json!({ "trade_id": "t-1", "add": [
        { "instrument": "BTC-4DEC26-100000-C", "quantity": 5 },
        { "instrument": { "kind": "option", "underlying": "BTC", "right": "call", "strike": 92000,
                          "expiry": "2026-12-25T08:00:00Z", "settlement": "inverse" }, "quantity": -8 },
        { "instrument": "SOL_USDC-PERPETUAL", "quantity": 250.5 } ] });
    let first = server.post("/v1/accounts/hedged-options/trades", &trade.to_string());
    assert_eq!(first.status, 200, "{}", first.body);
    let first = first.json();
    assert_eq!(first["snapshot"], 2);
    let again = server.post("/v1/accounts/hedged-options/trades", &trade.to_string());
    assert_eq!(
        again.json(),
        first,
        "a repeated trade_id is not applied again"
    );
    // The same id on another account names another trade: 409, and nothing changes.
    let elsewhere = server.post("/v1/accounts/vol-seller/trades", &trade.to_string());
    assert_eq!(elsewhere.status, 409, "{}", elsewhere.body);
    let message = elsewhere.error();
    assert!(
        message.contains("trade_id") && message.contains("hedged-options"),
        "{message}"
    );
    assert_eq!(server.get("/v1/health").json()["snapshot"], 2);
    let mut edited = portfolio.clone();
    let positions = edited["accounts"][0]["positions"].as_array_mut().unwrap();
    positions[0]["quantity"] = json!(-25.0);
    positions[4]["quantity"] = json!(0.0); // 8 − 8: netted to 0, kept (S7)
    positions.push(json!({ "instrument": "SOL_USDC-PERPETUAL", "quantity": 250.5 }));
    let book = dir.join("edited.json");
    std::fs::write(&book, edited.to_string()).unwrap();
    let edited_args = with_flag(args, "--portfolio", &book.display().to_string());
    let want = run_on(&edited_args);
    let got = server.get("/v1/accounts/hedged-options").json();
    assert_eq!(got["snapshot"], 2);
    assert_eq!(got["account"], *report_account(&want, "hedged-options"));
    assert_eq!(first["account"], got["account"]);
    let quantities: Vec<f64> = got["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["quantity"].as_f64().unwrap())
        .collect();
    assert_eq!(quantities.len(), 10);
    assert_eq!(
        (quantities[0], quantities[4], quantities[9]),
        (-25.0, 0.0, 250.5)
    );

    edited_args
}

fn put_then_get_is_run_of_edited_market(
    server: &Server,
    edited_args: &[String],
    dir: &std::path::Path,
) -> Value {
    // PUT /v1/market: every account = `run` on the edited market (and the edited book).
    let update = json!({ "assets": { "BTC": { "spot": 95000.5, "rate": 0.01 },
                                      "ETH": { "vol": 0.7 } } });
    let put = server.put("/v1/market", &update.to_string());
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.json()["snapshot"], 3);
    assert!(put.json()["seconds"].as_f64().unwrap() >= 0.0);
    let mut market = read_json(&data("market.json"));
    market["assets"]["BTC"]["spot"] = json!(95000.5);
    market["assets"]["BTC"]["rate"] = json!(0.01);
    market["assets"]["ETH"]["vol"] = json!(0.7);
    let market_file = dir.join("market.json");
    std::fs::write(&market_file, market.to_string()).unwrap();
    let want = run_on(&with_flag(
        edited_args,
        "--market",
        &market_file.display().to_string(),
    ));
    for account in want["accounts"].as_array().unwrap() {
        let id = account["id"].as_str().unwrap();
        let got = server.get(&format!("/v1/accounts/{id}")).json();
        assert_eq!(got["snapshot"], 3);
        assert_eq!(&got["account"], account, "after PUT, account {id}");
    }

    want
}

fn history_has_one_entry_per_live_snapshot(server: &Server, want: &Value) {
    // GET history (S24): one entry per snapshot that went live.
    let history = server.get("/v1/accounts/hedged-options/history").json();
    assert_eq!(history["account"], "hedged-options");
    assert_eq!(history["snapshot"], 3);
    let entries = history["entries"].as_array().unwrap();
    let snapshots: Vec<u64> = entries
        .iter()
        .map(|e| e["snapshot"].as_u64().unwrap())
        .collect();
    assert_eq!(snapshots, [1, 2, 3]);
    let last = report_account(want, "hedged-options");
    assert_eq!(entries[2]["initial"], last["margin"]["initial"]);
    assert_eq!(entries[2]["maintenance"], last["margin"]["maintenance"]);
    assert_eq!(entries[2]["es"], last["margin"]["components"]["es"]);
    let at = entries[0]["at"].as_str().unwrap();
    assert!(
        at.len() == 24 && at.ends_with('Z') && at.as_bytes()[19] == b'.',
        "{at}"
    );
    // The query is percent-decoded as any URL query is: `%32` is `2`.
    for query in ["since=2&limit=1", "since=%32&limit=1"] {
        let page = server
            .get(&format!("/v1/accounts/hedged-options/history?{query}"))
            .json();
        let page: Vec<u64> = page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["snapshot"].as_u64().unwrap())
            .collect();
        assert_eq!(page, [2], "{query}");
    }
    // Every live snapshot has an entry for every account (S24): the trade on
    // hedged-options at snapshot 2 leaves pair-trade's figures as they were, at 2's time.
    let other = server.get("/v1/accounts/pair-trade/history").json();
    let other = other["entries"].as_array().unwrap();
    let snapshots: Vec<u64> = other
        .iter()
        .map(|e| e["snapshot"].as_u64().unwrap())
        .collect();
    assert_eq!(snapshots, [1, 2, 3], "pair-trade");
    for key in ["initial", "maintenance", "es"] {
        assert_eq!(other[1][key], other[0][key], "{key}: not recomputed at 2");
    }
    assert_eq!(other[1]["at"], entries[1]["at"], "snapshot 2's time");
}

fn every_request_is_logged(server: Server) {
    // Every request was logged with method, path, status and milliseconds.
    server.signal("TERM");
    let mut server = server;
    assert!(server.wait(std::time::Duration::from_secs(30)).success());
    let log = server.stderr_text();
    assert!(log.contains("tailrisk: GET /v1/health 200 "), "{log}");
    assert!(log.contains("tailrisk: PUT /v1/market 200 "), "{log}");
    assert!(
        log.lines()
            .any(|l| l.starts_with("tailrisk: POST /v1/whatif 200 ") && l.ends_with(" ms"))
    );
}

#[test]
fn history_and_method_flags_are_those_of_run() {
    let h = |name: &str| data(&format!("history/{name}")).display().to_string();
    for method in ["mc", "fhs"] {
        let args: Vec<String> = [
            "--market",
            &h("market_2020-01-17.json"),
            "--portfolio",
            &h("portfolio_2020-01-17.json"),
            "--config",
            &h("config_2020-01-17.json"),
            "--history",
            &h("bitstamp_daily_close.csv"),
            "--method",
            method,
            "--paths",
            "5000",
            "--backend",
            "cpu",
        ]
        .map(String::from)
        .to_vec();
        let server = Server::start(&args);
        let run = run_on(&args);
        let health = server.get("/v1/health").json();
        assert_eq!(health["method"], method);
        for account in run["accounts"].as_array().unwrap() {
            let id = account["id"].as_str().unwrap();
            let got = server.get(&format!("/v1/accounts/{id}")).json();
            assert_eq!(&got["account"], account, "--method {method}, account {id}");
        }
        // The calibration is not redone: its correlation cannot be replaced (S9).
        let reply = server.put(
            "/v1/market",
            r#"{"correlation": {"symbols": ["BTC"], "matrix": [[1.0]]}}"#,
        );
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert!(reply.error().contains("--history"));
    }
}

#[test]
fn threads_flag_is_that_of_run() {
    // --threads sizes the pool the figures are computed on; health's device names it as
    // `run --threads` does.
    let args = with_flag(&sample_args(5_000), "--threads", "1");
    let server = Server::start(&args);
    let run = run_on(&args);
    let health = server.get("/v1/health").json();
    assert_eq!(health["device"], run["run"]["device"], "{health}");
    assert!(
        health["device"].as_str().unwrap().contains("(1 threads)"),
        "{health}"
    );
}

#[test]
fn positions_read_back_can_be_posted_again() {
    // S8: the positions GET returns are a book a client can send back. An explicit object
    // a Deribit name cannot say (a 10:00 expiry, a multiplier) comes back as an explicit
    // object, and the book read back margins as the account does.
    let server = Server::start(&sample_args(5_000));
    let odd = json!({ "kind": "option", "underlying": "BTC", "right": "put", "strike": 88000.5,
                      "expiry": "2026-12-25T10:00:00Z", "settlement": "linear",
                      "multiplier": 0.1 });
    let trade = json!({ "add": [
        { "instrument": odd, "quantity": -30 },
        { "instrument": { "kind": "perpetual", "underlying": "ETH", "settlement": "inverse" },
          "quantity": 5000 } ] });
    let posted = server.post("/v1/accounts/pair-trade/trades", &trade.to_string());
    assert_eq!(posted.status, 200, "{}", posted.body);
    let got = server.get("/v1/accounts/pair-trade").json();
    let positions = got["positions"].as_array().unwrap();
    let n = positions.len();
    assert_eq!(positions[n - 2]["instrument"], odd, "{got}");
    assert_eq!(positions[n - 1]["instrument"], "ETH-PERPETUAL", "{got}");
    let again = json!({ "id": "copy", "margin_currency": "USD", "positions": positions });
    let margin = server.post("/v1/margin", &again.to_string());
    assert_eq!(margin.status, 200, "{}", margin.body);
    assert_eq!(margin.json()["account"]["margin"], got["account"]["margin"]);
}

#[test]
fn positions_netted_to_zero_leave_the_book_when_they_expire() {
    // S7 keeps a position netted to 0; it holds nothing, so an as_of past its expiry does
    // not refuse the update (S9 refuses an expiry *held*): it leaves the book instead. A
    // position still held keeps refusing it.
    let server = Server::start(&sample_args(5_000));
    let flat = r#""assets": {"BTC": {"vol": 0.5}, "ETH": {"vol": 0.6}, "SOL": {"vol": 0.8}}"#;
    let roll = format!(r#"{{"as_of": "2026-12-05T08:00:00Z", {flat}}}"#);
    let close = |quantity: i32, name: &str| {
        let trade = json!({ "add": [{ "instrument": name, "quantity": quantity }] });
        let t = server.post("/v1/accounts/hedged-options/trades", &trade.to_string());
        assert_eq!(t.status, 200, "{}", t.body);
    };
    close(30, "BTC-4DEC26-100000-C");
    let refused = server.put("/v1/market", &roll);
    assert_eq!(refused.status, 400, "BTC-4DEC26-90000-C is still held");
    assert!(
        refused.error().contains("BTC-4DEC26-90000-C"),
        "{}",
        refused.error()
    );
    close(-10, "BTC-4DEC26-90000-C");
    let rolled = server.put("/v1/market", &roll);
    assert_eq!(rolled.status, 200, "{}", rolled.body);
    let account = server.get("/v1/accounts/hedged-options").json();
    let names: Vec<String> = account["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["instrument"].to_string())
        .collect();
    assert!(
        names.iter().all(|n| !n.contains("4DEC26")),
        "the expired zero positions left the book: {names:?}"
    );
    assert_eq!(account["snapshot"], 4);
}
