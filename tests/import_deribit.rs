//! `tailrisk import deribit` (SPEC §15, D1–D14) on the sample responses of data/deribit/:
//! the imported market and positions field by field (spot, as_of, knots, a smile value
//! and the fitted rate recomputed here), each error of D1–D14 (exit 65 naming file, field
//! and value), and import → `tailrisk run` end to end through the binary.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{Value, json};
use tailrisk::import::deribit::{Document, Request, import};
use tailrisk::instrument::Settlement;

const YEAR_MS: f64 = 365.0 * 86_400.0 * 1000.0;
/// 2026-11-20T08:00:00Z, the samples' latest creation_timestamp.
const AS_OF_MS: i64 = 1_795_161_600_000;

fn sample(file: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data/deribit")
        .join(file)
        .display()
        .to_string()
}

fn doc(file: &str) -> Document {
    Document {
        file: file.to_string(),
        text: std::fs::read_to_string(file).unwrap(),
    }
}

fn request(summaries: &[&str], positions: &[&str]) -> Request {
    Request {
        book_summaries: summaries.iter().map(|f| doc(&sample(f))).collect(),
        positions: positions.iter().map(|f| doc(&sample(f))).collect(),
        correlation: Some(doc(&sample("correlation.json"))),
        history: None,
        account_id: "deribit".into(),
        margin_currency: "USD".into(),
        skip_unusable: false,
    }
}

fn samples() -> Request {
    request(
        &["book_summary_btc.json", "book_summary_eth.json"],
        &["positions.json"],
    )
}

fn rows(file: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(sample(file)).unwrap()).unwrap();
    match v {
        Value::Array(rows) => rows,
        v => v["result"].as_array().unwrap().clone(),
    }
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

/// Expiry of a Deribit name's DMMMYY at 08:00 UTC, ms.
fn expiry_ms(code: &str) -> i64 {
    let date = chrono::NaiveDate::parse_from_str(code, "%d%b%y").unwrap();
    date.and_hms_opt(8, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis()
}

/// D3 recomputed from the raw rows: per option expiry among `expiries`, the mean
/// underlying_price; per future, its mark_price; rate = Σ T·ln(F/S) / Σ T².
fn fitted_rate(rows: &[Value], asset: &str, expiries: &[&str], spot: f64) -> f64 {
    let mut points: Vec<(f64, f64)> = Vec::new();
    for code in expiries {
        let prefix = format!("{asset}-{code}-");
        let forwards: Vec<f64> = rows
            .iter()
            .filter(|r| r["instrument_name"].as_str().unwrap().starts_with(&prefix))
            .filter(|r| r["mark_iv"].as_f64().is_some_and(|v| v > 0.0))
            .map(|r| f(&r["underlying_price"]))
            .collect();
        let forward = forwards.iter().sum::<f64>() / forwards.len() as f64;
        let t = (expiry_ms(code) - AS_OF_MS) as f64 / YEAR_MS;
        points.push((t, (forward / spot).ln()));
    }
    for r in rows {
        let name = r["instrument_name"].as_str().unwrap();
        let parts: Vec<&str> = name.split('-').collect();
        if parts.len() == 2 && parts[0] == asset {
            let t = match parts[1] {
                "PERPETUAL" => 0.0,
                code => (expiry_ms(code) - AS_OF_MS) as f64 / YEAR_MS,
            };
            points.push((t, (f(&r["mark_price"]) / spot).ln()));
        }
    }
    let tt: f64 = points.iter().map(|p| p.0 * p.0).sum();
    points.iter().map(|p| p.0 * p.1).sum::<f64>() / tt
}

/// One expiry's smile from the raw rows: per strike the mean mark_iv/100 of call and put,
/// at k = ln(K/S) − rate·T, strikes ascending.
fn smile(rows: &[Value], asset: &str, code: &str, spot: f64, rate: f64) -> Vec<(f64, f64)> {
    let prefix = format!("{asset}-{code}-");
    let t = (expiry_ms(code) - AS_OF_MS) as f64 / YEAR_MS;
    let mut by_strike: std::collections::BTreeMap<u64, Vec<f64>> = Default::default();
    for r in rows {
        let name = r["instrument_name"].as_str().unwrap();
        if let (Some(rest), Some(iv)) = (name.strip_prefix(&prefix), r["mark_iv"].as_f64()) {
            let strike: u64 = rest.split('-').next().unwrap().parse().unwrap();
            by_strike.entry(strike).or_default().push(iv / 100.0);
        }
    }
    by_strike
        .into_iter()
        .map(|(k, ivs)| {
            let k = (k as f64 / spot).ln() - rate * t;
            (k, ivs.iter().sum::<f64>() / ivs.len() as f64)
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

#[test]
fn samples_import_field_by_field() {
    let imported = import(&samples()).unwrap();
    let market: Value = serde_json::from_str(&imported.market).unwrap();
    assert_eq!(market["as_of"], "2026-11-20T08:00:00.000Z");
    let btc = &market["assets"]["BTC"];
    assert_eq!(f(&btc["spot"]), 91250.0);
    assert_eq!(f(&market["assets"]["ETH"]["spot"]), 3050.0);
    // Sorted assets, expiries ascending; 4DEC26 (2 strikes) and 20NOV26 (expires at as_of)
    // are not rows.
    let keys: Vec<&String> = market["assets"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["BTC", "ETH"]);
    let expiries = ["27NOV26", "25DEC26", "26MAR27"];
    assert_eq!(
        btc["vol"]["expiries"],
        json!([
            "2026-11-27T08:00:00Z",
            "2026-12-25T08:00:00Z",
            "2027-03-26T08:00:00Z"
        ])
    );

    let raw = rows("book_summary_btc.json");
    let rate = fitted_rate(&raw, "BTC", &expiries, 91250.0);
    assert!(close(f(&btc["rate"]), rate), "{} vs {rate}", btc["rate"]);

    let smiles: Vec<Vec<(f64, f64)>> = expiries
        .iter()
        .map(|c| smile(&raw, "BTC", c, 91250.0, rate))
        .collect();
    let all_k = smiles.iter().flatten().map(|p| p.0);
    let lo = all_k.clone().fold(f64::INFINITY, f64::min).max(-1.5);
    let hi = all_k.fold(f64::NEG_INFINITY, f64::max).min(1.5);
    let knots: Vec<f64> = btc["vol"]["log_moneyness"]
        .as_array()
        .unwrap()
        .iter()
        .map(f)
        .collect();
    assert_eq!(knots.len(), 21);
    for (i, k) in knots.iter().enumerate() {
        assert!(close(*k, lo + (hi - lo) * i as f64 / 20.0), "knot {i}: {k}");
    }
    // 25DEC26 at knot 12, inside its strikes: linear between the two strikes around it.
    let row = &smiles[1];
    let k = knots[12];
    let j = row.iter().position(|p| p.0 > k).unwrap();
    let ((k0, v0), (k1, v1)) = (row[j - 1], row[j]);
    let expected = v0 + (v1 - v0) * (k - k0) / (k1 - k0);
    assert!(close(f(&btc["vol"]["implied_vols"][1][12]), expected));
    // Beyond the row's strikes: flat at the end strike's vol.
    assert!(close(f(&btc["vol"]["implied_vols"][0][0]), smiles[0][0].1));
    assert!(close(
        f(&btc["vol"]["implied_vols"][0][20]),
        smiles[0].last().unwrap().1
    ));
    assert_eq!(market["correlation"]["symbols"], json!(["BTC", "ETH"]));
    assert!(market["assets"]["BTC"].get("adv_usd").is_none());
}

#[test]
fn positions_keep_size_and_its_units() {
    let imported = import(&samples()).unwrap();
    let text = imported.portfolio.as_deref().unwrap();
    let portfolio = tailrisk::input::parse_portfolio_json(text, "p.json").unwrap();
    let account = &portfolio.accounts[0];
    assert_eq!(
        (account.id.as_str(), account.margin_currency.as_str()),
        ("deribit", "USD")
    );
    let got: Vec<(&str, f64, Settlement)> = account
        .positions
        .iter()
        .map(|p| (p.label.as_str(), p.quantity, p.instrument.settlement))
        .collect();
    // Inverse futures and perpetuals: USD notional; options and _USDC: coins (D1).
    assert_eq!(
        got,
        [
            ("BTC-25DEC26-100000-C", -5.0, Settlement::Inverse),
            ("BTC-26MAR27-80000-P", 10.0, Settlement::Inverse),
            ("BTC-PERPETUAL", 200000.0, Settlement::Inverse),
            ("BTC-25DEC26", -50000.0, Settlement::Inverse),
            ("BTC_USDC-PERPETUAL", 0.5, Settlement::Linear),
            ("ETH-25DEC26-3000-C", 40.0, Settlement::Inverse),
        ]
    );
}

#[test]
fn unused_rows_are_noted_with_the_reason() {
    let notes: Vec<String> = import(&samples())
        .unwrap()
        .notes
        .iter()
        .map(ToString::to_string)
        .collect();
    let has = |needle: &str| notes.iter().any(|n| n.contains(needle));
    for needle in [
        "result[25].mark_iv: BTC-25DEC26-150000-C skipped: mark_iv is null",
        "1 combo row(s) skipped",
        "BTC-FS-25DEC26_PERP",
        "1 spot row(s) skipped, they feed no figure: ETH_USDC",
        "result[24]: BTC-20NOV26-92000-C skipped: the instrument expires within 1 hour of as_of",
        "BTC 2026-12-04T08:00:00Z: expiry skipped: 2 usable strike(s)",
        "assets.BTC.rate",
        "adv_usd: not imported",
        "positions.json: result[6]: ETH-PERPETUAL skipped: no position (size 0)",
    ] {
        assert!(has(needle), "no notice {needle:?} in {notes:#?}");
    }
}

#[test]
fn reruns_are_byte_identical_and_file_order_does_not_matter() {
    let a = import(&samples()).unwrap();
    let b = import(&request(
        &["book_summary_eth.json", "book_summary_btc.json"],
        &["positions.json"],
    ))
    .unwrap();
    assert_eq!(a.market, b.market);
    assert_eq!(a.portfolio, b.portfolio);
}

// ---- the binary: errors (exit 65 naming file, field and value) and end to end ----

fn tailrisk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tailrisk"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("the binary runs")
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tailrisk-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn scratch(name: &str, value: &Value) -> String {
    let path = scratch_dir().join(name);
    std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    path.display().to_string()
}

fn out(name: &str) -> String {
    scratch_dir().join(name).display().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A BTC option row of 25DEC26.
fn option_row(strike: u32, right: &str, iv: Value, created: i64) -> Value {
    json!({ "instrument_name": format!("BTC-25DEC26-{strike}-{right}"),
            "creation_timestamp": created, "estimated_delivery_price": 91250.0,
            "underlying_price": 91500.0, "mark_iv": iv, "mark_price": 0.01,
            "base_currency": "BTC", "volume": 0.0 })
}

/// A usable one-expiry BTC book summary (3 strikes), as a JSON-RPC envelope.
fn small_book(created: i64) -> Value {
    let rows: Vec<Value> = [80000, 90000, 100000]
        .iter()
        .map(|&k| option_row(k, "C", json!(55.0), created))
        .collect();
    json!({ "jsonrpc": "2.0", "result": rows, "usIn": 1, "usOut": 2, "usDiff": 1 })
}

fn position(name: &str, size: f64, direction: &str, kind: &str) -> Value {
    json!({ "instrument_name": name, "size": size, "direction": direction, "kind": kind,
            "average_price": 1.0, "mark_price": 1.0, "size_currency": null })
}

/// Imports `book` and `positions` (scratch files named after `tag`); the output.
fn import_small(tag: &str, book: &Value, positions: Option<&Value>, extra: &[&str]) -> Output {
    let book_file = scratch(&format!("{tag}-book.json"), book);
    let market_out = out(&format!("{tag}-market.json"));
    let mut args = vec![
        "import",
        "deribit",
        "--book-summary",
        &book_file,
        "--market-out",
        &market_out,
    ];
    let positions_file;
    let portfolio_out = out(&format!("{tag}-portfolio.json"));
    if let Some(p) = positions {
        positions_file = scratch(&format!("{tag}-positions.json"), p);
        args.extend([
            "--positions",
            &positions_file,
            "--portfolio-out",
            &portfolio_out,
        ]);
    }
    args.extend(extra);
    tailrisk(&args)
}

/// Exit 65 and an error naming the file, the field and the value.
fn assert_input_error(o: &Output, file: &str, field: &str, value: &str) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(65), "stderr: {e}");
    for part in [file, field, value] {
        assert!(e.contains(part), "{part:?} missing from: {e}");
    }
}

#[test]
fn size_must_agree_with_direction() {
    let p =
        json!({ "jsonrpc": "2.0", "result": [position("BTC-PERPETUAL", -100.0, "buy", "future")] });
    let o = import_small("d2", &small_book(AS_OF_MS), Some(&p), &[]);
    assert_input_error(&o, "d2-positions.json", "result[0].size", "-100");
    let p = json!([position("BTC-PERPETUAL", 100.0, "long", "future")]);
    let o = import_small("d2b", &small_book(AS_OF_MS), Some(&p), &[]);
    assert_input_error(&o, "d2b-positions.json", "[0].direction", "\"long\"");
}

#[test]
fn an_unusable_position_fails_unless_skipped() {
    let p = json!([
        position("BTC-PERPETUAL", 100.0, "buy", "future"),
        position("BTC-FS-25DEC26_PERP", 10.0, "buy", "future_combo"),
        position("SOL_USDC-25DEC26-150-C", 3.0, "buy", "option"),
    ]);
    let o = import_small("d12", &small_book(AS_OF_MS), Some(&p), &[]);
    assert_input_error(
        &o,
        "d12-positions.json",
        "[1].instrument_name",
        "BTC-FS-25DEC26_PERP",
    );
    let o = import_small(
        "d12s",
        &small_book(AS_OF_MS),
        Some(&p),
        &["--skip-unusable"],
    );
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("[1].instrument_name: skipped"), "{e}");
    assert!(e.contains("SOL is not in the imported market"), "{e}");
    let written = std::fs::read_to_string(out("d12s-portfolio.json")).unwrap();
    assert!(written.contains("BTC-PERPETUAL") && !written.contains("SOL"));
}

#[test]
fn a_json_rpc_error_is_an_input_error_quoting_its_message() {
    let error = json!({ "jsonrpc": "2.0", "id": 3, "usIn": 1, "usOut": 2, "usDiff": 1,
                        "error": { "code": 13009, "message": "unauthorized" } });
    let o = import_small("d13", &error, None, &[]);
    assert_input_error(&o, "d13-book.json", "error", "unauthorized");
    let o = import_small("d13p", &small_book(AS_OF_MS), Some(&error), &[]);
    assert_input_error(&o, "d13p-positions.json", "error", "13009");
}

#[test]
fn the_same_instrument_twice_keeps_the_later_and_rejects_equal_times() {
    let older = json!([option_row(90000, "C", json!(70.0), AS_OF_MS - 1000)]);
    let newer = small_book(AS_OF_MS);
    let mut req = Request {
        book_summaries: vec![
            Document {
                file: "old.json".into(),
                text: older.to_string(),
            },
            Document {
                file: "new.json".into(),
                text: newer.to_string(),
            },
        ],
        account_id: "deribit".into(),
        margin_currency: "USD".into(),
        ..Request::default()
    };
    let market: Value = serde_json::from_str(&import(&req).unwrap().market).unwrap();
    let row = market["assets"]["BTC"]["vol"]["implied_vols"][0]
        .as_array()
        .unwrap();
    assert!(
        row.iter().all(|v| f(v) == 0.55),
        "the later quote wins: {row:?}"
    );
    req.book_summaries[0].text = json!([option_row(90000, "C", json!(70.0), AS_OF_MS)]).to_string();
    let e = import(&req)
        .expect_err("equal creation_timestamp is an error")
        .to_string();
    assert!(
        e.contains("new.json") && e.contains("old.json") && e.contains("creation_timestamp"),
        "{e}"
    );
}

#[test]
fn several_assets_need_a_correlation() {
    let o = tailrisk(&[
        "import",
        "deribit",
        "--book-summary",
        &sample("book_summary_btc.json"),
        "--book-summary",
        &sample("book_summary_eth.json"),
        "--market-out",
        &out("d9-market.json"),
    ]);
    assert_input_error(&o, "command line", "--correlation", "(missing)");
    assert!(
        !std::path::Path::new(&out("d9-market.json")).exists(),
        "nothing written"
    );
}

#[test]
fn wrong_types_and_unreadable_files_are_named() {
    let mut book = small_book(AS_OF_MS);
    book["result"][1]["mark_iv"] = json!("fifty");
    let o = import_small("types", &book, None, &[]);
    assert_input_error(&o, "types-book.json", "result[1].mark_iv", "\"fifty\"");
    let mut book = small_book(AS_OF_MS);
    book["result"][0]["creation_timestamp"] = json!(-5);
    let o = import_small("ts", &book, None, &[]);
    assert_input_error(&o, "ts-book.json", "result[0].creation_timestamp", "-5");
    let o = tailrisk(&[
        "import",
        "deribit",
        "--book-summary",
        "/nonexistent/b.json",
        "--market-out",
        &out("x.json"),
    ]);
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
}

#[test]
fn portfolio_out_and_positions_need_each_other() {
    let book = scratch("usage-book.json", &small_book(AS_OF_MS));
    let m = out("usage-market.json");
    let o = tailrisk(&[
        "import",
        "deribit",
        "--book-summary",
        &book,
        "--market-out",
        &m,
        "--portfolio-out",
        &out("p.json"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = tailrisk(&[
        "import",
        "deribit",
        "--book-summary",
        &book,
        "--market-out",
        &m,
        "--positions",
        &book,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn stale_rows_testnet_and_bad_quotes_are_noted() {
    let mut book = small_book(AS_OF_MS);
    book["testnet"] = json!(true);
    let rows = book["result"].as_array_mut().unwrap();
    rows.push(option_row(85000, "P", json!(0.0), AS_OF_MS));
    rows.push(option_row(95000, "P", json!(56.0), AS_OF_MS - 301_000));
    let o = import_small("notes", &book, None, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    for needle in [
        "notes-book.json: testnet: the response is from Deribit's testnet",
        "result[3].mark_iv: BTC-25DEC26-85000-P skipped: mark_iv is null or not positive (got 0.0)",
        "result[4]: 301 s older than as_of",
    ] {
        assert!(e.contains(needle), "{needle:?} missing from: {e}");
    }
}

#[test]
fn imported_files_run_end_to_end() {
    let (market, portfolio) = (out("e2e-market.json"), out("e2e-portfolio.json"));
    let o = tailrisk(&[
        "import",
        "deribit",
        "--book-summary",
        &sample("book_summary_btc.json"),
        "--book-summary",
        &sample("book_summary_eth.json"),
        "--positions",
        &sample("positions.json"),
        "--correlation",
        &sample("correlation.json"),
        "--account-id",
        "desk-1",
        "--market-out",
        &market,
        "--portfolio-out",
        &portfolio,
    ]);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert!(o.stdout.is_empty(), "data goes to files, notices to stderr");
    assert_no_temporary_files(".e2e-");
    let o = tailrisk(&[
        "run",
        "--market",
        &market,
        "--portfolio",
        &portfolio,
        "--backend",
        "cpu",
        "--paths",
        "20000",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let account = &report["accounts"][0];
    assert_eq!(account["id"], "desk-1");
    assert!(f(&account["measures"][0]["es"]) > 0.0);
    assert!(f(&account["margin"]["initial"]) > 0.0);
}

#[test]
fn flags_and_outputs_that_do_not_validate_are_named() {
    let p = json!([position("BTC-PERPETUAL", 100.0, "buy", "future")]);
    let o = import_small(
        "d11",
        &small_book(AS_OF_MS),
        Some(&p),
        &["--account-id", " "],
    );
    assert_input_error(&o, "command line", "--account-id", "\" \"");
    // A coin margin currency that is not an imported asset is the flag's error, not the
    // output file's; nothing is written.
    for currency in ["SOL", "EUR"] {
        let o = import_small(
            "d14",
            &small_book(AS_OF_MS),
            Some(&p),
            &["--margin-currency", currency],
        );
        assert_input_error(&o, "command line", "--margin-currency", currency);
        assert!(!stderr(&o).contains("d14-portfolio.json"), "{}", stderr(&o));
        assert!(!std::path::Path::new(&out("d14-market.json")).exists());
    }
    // D9: the correlation must list every imported asset.
    let c = scratch(
        "d9c.json",
        &json!({ "symbols": ["ETH"], "matrix": [[1.0]] }),
    );
    let o = tailrisk(&[
        "import",
        "deribit",
        "--book-summary",
        &sample("book_summary_btc.json"),
        "--book-summary",
        &sample("book_summary_eth.json"),
        "--correlation",
        &c,
        "--market-out",
        &out("d9c-market.json"),
    ]);
    assert_input_error(&o, "d9c.json", "symbols", "ETH");
}

// ---- outputs: never one file twice, never an input; both written or neither ----

/// No temporary file of the outputs named `prefix…` is left in the scratch directory (only
/// this test's: the other tests write into the same directory concurrently).
fn assert_no_temporary_files(prefix: &str) {
    let leftovers: Vec<_> = std::fs::read_dir(scratch_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix) && n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// `import deribit` of `book` and `positions` into `market` and `portfolio`.
fn import_paths(book: &str, positions: &str, market: &str, portfolio: &str) -> Output {
    tailrisk(&[
        "import",
        "deribit",
        "--book-summary",
        book,
        "--positions",
        positions,
        "--market-out",
        market,
        "--portfolio-out",
        portfolio,
    ])
}

#[test]
fn outputs_that_are_one_file_or_an_input_are_usage_errors() {
    let book = scratch("same-book.json", &small_book(AS_OF_MS));
    let positions = scratch(
        "same-positions.json",
        &json!([position("BTC-PERPETUAL", 100.0, "buy", "future")]),
    );
    let before = std::fs::read_to_string(&positions).unwrap();
    let same = out("same.json");
    // The same file, also when spelled differently (`dir/./same.json`).
    let spelled = scratch_dir().join(".").join("same.json");
    for other in [same.clone(), spelled.display().to_string()] {
        let o = import_paths(&book, &positions, &same, &other);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{e}");
        assert!(
            e.contains("--market-out") && e.contains("--portfolio-out"),
            "{e}"
        );
        assert!(!std::path::Path::new(&same).exists(), "nothing written");
    }
    // An output that is an input: the input stays as it was.
    let o = import_paths(&book, &positions, &out("same-m.json"), &positions);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("--portfolio-out") && e.contains("--positions"),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&positions).unwrap(), before);
    let o = import_paths(&book, &positions, &book, &out("same-p.json"));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--book-summary"), "{}", stderr(&o));
}

#[test]
fn an_output_that_cannot_be_written_leaves_the_other_untouched() {
    let book = scratch("pair-book.json", &small_book(AS_OF_MS));
    let positions = scratch(
        "pair-positions.json",
        &json!([position("BTC-PERPETUAL", 100.0, "buy", "future")]),
    );
    let market = out("pair-market.json");
    let _ = std::fs::remove_file(&market);
    let o = import_paths(&book, &positions, &market, "/nonexistent/p.json");
    assert_eq!(o.status.code(), Some(73), "{}", stderr(&o));
    assert!(stderr(&o).contains("/nonexistent/p.json"), "{}", stderr(&o));
    assert!(
        !std::path::Path::new(&market).exists(),
        "market written alone"
    );
    std::fs::write(&market, "old").unwrap();
    let o = import_paths(&book, &positions, &market, "/nonexistent/p.json");
    assert_eq!(o.status.code(), Some(73), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&market).unwrap(), "old");
    assert_no_temporary_files(".pair-");
}

// ---- the correlation file's own errors; unusable rows of the wrong shape ----

/// A usable one-expiry SOL book summary (SOL_USDC options, 3 strikes).
fn sol_book() -> Value {
    let rows: Vec<Value> = [130, 150, 170]
        .iter()
        .map(|k| {
            json!({ "instrument_name": format!("SOL_USDC-25DEC26-{k}-C"),
                    "creation_timestamp": AS_OF_MS, "estimated_delivery_price": 150.0,
                    "underlying_price": 150.2, "mark_iv": 90.0, "mark_price": 5.0 })
        })
        .collect();
    json!({ "jsonrpc": "2.0", "result": rows })
}

#[test]
fn a_correlation_that_is_not_psd_names_its_file_and_field() {
    let sol = scratch("psd-sol.json", &sol_book());
    let c = scratch(
        "psd-c.json",
        &json!({ "symbols": ["BTC", "ETH", "SOL"],
                 "matrix": [[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]] }),
    );
    let market = out("psd-market.json");
    let o = tailrisk(&[
        "import",
        "deribit",
        "--book-summary",
        &sample("book_summary_btc.json"),
        "--book-summary",
        &sample("book_summary_eth.json"),
        "--book-summary",
        &sol,
        "--correlation",
        &c,
        "--market-out",
        &market,
    ]);
    assert_input_error(&o, "psd-c.json", "matrix", "smallest eigenvalue");
    let e = stderr(&o);
    assert!(e.contains("positive semi-definite"), "{e}");
    assert!(
        !e.contains("psd-market.json") && !e.contains("repair_correlation"),
        "{e}"
    );
}

#[test]
fn rows_of_the_wrong_shape_are_unusable_rows() {
    let mut no_size = position("BTC-25DEC26-90000-C", 1.0, "buy", "option");
    no_size.as_object_mut().unwrap().remove("size");
    let mut text_size = position("BTC-25DEC26-80000-C", 1.0, "buy", "option");
    text_size["size"] = json!("-5");
    let mut no_name = position("BTC-25DEC26-100000-C", 1.0, "buy", "option");
    no_name.as_object_mut().unwrap().remove("instrument_name");
    let p = json!({ "jsonrpc": "2.0", "result": [
        no_size, text_size, no_name, position("BTC-PERPETUAL", 100.0, "buy", "future")] });
    let o = import_small("shape", &small_book(AS_OF_MS), Some(&p), &[]);
    assert_input_error(&o, "shape-positions.json", "result[0].size", "(missing)");
    let o = import_small(
        "shapes",
        &small_book(AS_OF_MS),
        Some(&p),
        &["--skip-unusable"],
    );
    let e = stderr(&o);
    assert!(o.status.success(), "{e}");
    for needle in [
        "result[0].size: skipped: required field `size` is missing",
        "result[1].size: skipped: expected a number, found a string (got \"-5\")",
        "result[2].instrument_name: skipped: required field `instrument_name` is missing",
    ] {
        assert!(e.contains(needle), "{needle:?} missing from: {e}");
    }
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(out("shapes-portfolio.json")).unwrap())
            .unwrap();
    let positions = written["accounts"][0]["positions"].as_array().unwrap();
    assert_eq!(positions.len(), 1, "{positions:?}");
    assert_eq!(positions[0]["instrument"], "BTC-PERPETUAL");
}

// ---- notices: an empty response, an instrument held twice ----

#[test]
fn an_empty_response_and_a_repeated_instrument_are_noted() {
    let positions = |file: &str, rows: Value| Document {
        file: file.into(),
        text: json!({ "jsonrpc": "2.0", "result": rows }).to_string(),
    };
    let perp = || position("BTC-PERPETUAL", 100.0, "buy", "future");
    let req = Request {
        book_summaries: vec![Document {
            file: "book.json".into(),
            text: small_book(AS_OF_MS).to_string(),
        }],
        positions: vec![
            positions("a.json", json!([perp(), perp()])),
            positions("empty.json", json!([])),
            positions("b.json", json!([perp()])),
        ],
        account_id: "deribit".into(),
        margin_currency: "USD".into(),
        ..Request::default()
    };
    let imported = import(&req).unwrap();
    let notes: Vec<String> = imported.notes.iter().map(ToString::to_string).collect();
    for needle in [
        "empty.json: result: the response holds no positions",
        "a.json: result[1].instrument_name: BTC-PERPETUAL is also at a.json: result[0]",
        "b.json: result[0].instrument_name: BTC-PERPETUAL is also at a.json: result[0]",
    ] {
        assert!(
            notes.iter().any(|n| n.contains(needle)),
            "no notice {needle:?} in {notes:#?}"
        );
    }
    let portfolio: Value = serde_json::from_str(imported.portfolio.as_deref().unwrap()).unwrap();
    let kept = portfolio["accounts"][0]["positions"].as_array().unwrap();
    assert_eq!(kept.len(), 3, "every row kept: {kept:?}");
}

#[test]
fn notices_found_before_a_failure_are_shown() {
    // ETH with futures only is not imported (no option expiry), which is why the
    // correlation's ETH is then refused: the notice saying so comes out with the error.
    let futures: Vec<Value> = rows("book_summary_eth.json")
        .into_iter()
        .filter(|r| r["instrument_name"].as_str().unwrap().matches('-').count() <= 1)
        .collect();
    let eth = scratch("notices-eth.json", &json!(futures));
    let o = tailrisk(&[
        "import",
        "deribit",
        "--book-summary",
        &sample("book_summary_btc.json"),
        "--book-summary",
        &eth,
        "--correlation",
        &sample("correlation.json"),
        "--market-out",
        &out("notices-market.json"),
    ]);
    assert_input_error(&o, "correlation.json", "symbols", "ETH");
    let e = stderr(&o);
    assert!(
        e.contains("tailrisk: import: ") && e.contains("ETH: not imported"),
        "{e}"
    );
}
