//! Bad inputs of every kind are input errors (exit 65) naming the file, the field and the
//! value; unreadable files exit 66; nothing panics.

use proptest::prelude::*;
use serde_json::{Value, json};
use tailrisk::Error;
use tailrisk::error::{EXIT_DATA, EXIT_NO_INPUT};
use tailrisk::input::{
    load_config, load_market, load_portfolio, parse_added_position, parse_config, parse_market,
    parse_portfolio_csv, parse_portfolio_json,
};
use tailrisk::instrument::parse_deribit;

/// The parts of an input error, for assertions.
#[derive(Debug)]
struct Bad {
    file: String,
    field: String,
    value: String,
    message: String,
}

fn bad<T: std::fmt::Debug>(result: tailrisk::Result<T>) -> Bad {
    match result {
        Err(Error::Input {
            file,
            field,
            value,
            message,
        }) => Bad {
            file,
            field,
            value,
            message,
        },
        Err(e) => panic!("expected an input error, got {e:?}"),
        Ok(v) => panic!("expected an input error, got {v:?}"),
    }
}

/// Asserts an input error at exactly `field` whose value contains `value` and whose message
/// contains `why`.
#[track_caller]
fn expect<T: std::fmt::Debug>(result: tailrisk::Result<T>, field: &str, value: &str, why: &str) {
    let b = bad(result);
    assert_eq!(b.field, field, "{b:?}");
    assert!(
        b.value.contains(value),
        "value {:?} lacks {value:?}: {b:?}",
        b.value
    );
    assert!(b.message.contains(why), "message lacks {why:?}: {b:?}");
    assert!(b.value.chars().count() <= 81, "value too long: {b:?}");
}

const RAW: &str = "@@RAW@@";

/// `base` with the value at JSON `pointer` replaced by (or added as) the raw text `raw`,
/// which need not be valid JSON for serde (`NaN`, `1e400`).
fn with(base: &Value, pointer: &str, raw: &str) -> String {
    let mut doc = base.clone();
    let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    match doc.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(key.to_string(), Value::String(RAW.into()));
        }
        Some(Value::Array(items)) => {
            let i: usize = key
                .parse()
                .unwrap_or_else(|_| panic!("bad index in {pointer}"));
            items[i] = Value::String(RAW.into());
        }
        _ => panic!("no parent for {pointer}"),
    }
    doc.to_string().replace(&format!("\"{RAW}\""), raw)
}

/// `base` without the field at `pointer`.
fn without(base: &Value, pointer: &str) -> String {
    let mut doc = base.clone();
    let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    if let Some(Value::Object(map)) = doc.pointer_mut(parent) {
        map.remove(key);
    }
    doc.to_string()
}

fn market() -> Value {
    json!({
        "as_of": "2026-11-20T08:00:00Z",
        "assets": {
            "BTC": { "spot": 91250.0, "rate": 0.0, "vol": 0.55, "adv_usd": 2.5e10 },
            "ETH": { "spot": 3050.0, "vol": {
                "expiries": ["2026-11-27T08:00:00Z", "2026-12-25T08:00:00Z"],
                "log_moneyness": [-0.2, 0.0, 0.2, 0.4],
                "implied_vols": [[0.66, 0.60, 0.63, 0.70], [0.65, 0.61, 0.62, 0.67]] } }
        },
        "correlation": { "symbols": ["BTC", "ETH"], "matrix": [[1.0, 0.8], [0.8, 1.0]] }
    })
}

fn portfolio() -> Value {
    json!({ "accounts": [
        { "id": "acct-7", "margin_currency": "USD", "positions": [
            { "instrument": "BTC-25DEC26-100000-C", "quantity": -5 },
            { "instrument": { "kind": "option", "underlying": "ETH", "right": "put",
                              "strike": 2800, "expiry": "2027-03-26T08:00:00Z" },
              "quantity": 10 } ] },
        { "id": "acct-8", "positions": [] } ] })
}

fn config() -> Value {
    json!({ "horizon_days": 1, "steps": 1, "paths": 1000, "seed": 42,
            "confidence": [0.99, 0.995], "student_t_dof": null,
            "dynamics": { "BTC": { "spot_vol": 0.55, "vol_of_vol": 1.2 } },
            "margin": { "confidence": 0.99, "mm_ratio": 0.75 },
            "stress": { "price_range": 0.16, "price_points": 9, "vol_moves": [-0.25, 0, 0.5],
                        "extended_moves": [-0.66, 0.5], "extended_vol_moves": [0, 0.5] },
            "repair_correlation": false, "chunk_paths": null })
}

#[test]
fn the_bases_are_valid() {
    assert!(parse_market(&market().to_string(), "m.json").is_ok());
    assert!(parse_portfolio_json(&portfolio().to_string(), "p.json").is_ok());
    assert!(parse_config(&config().to_string(), "c.json").is_ok());
}

#[test]
fn errors_name_the_file() {
    let b = bad(parse_market("{}", "data/market.json"));
    assert_eq!(b.file, "data/market.json");
    let e = parse_config("[]", "cfg.json").err();
    assert_eq!(e.map(|e| e.exit_code()), Some(EXIT_DATA));
}

#[test]
fn bad_market_values() {
    let m = market();
    #[rustfmt::skip]
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        // pointer, raw value, field, value shown, message
        ("/as_of", r#""yesterday""#, "as_of", "yesterday", "RFC 3339"),
        ("/as_of", "20261120", "as_of", "20261120", "expected a string"),
        ("/as_of", r#""2026-11-20""#, "as_of", "2026-11-20", "RFC 3339"),
        ("/assets", "{}", "assets", "{}", "no assets"),
        ("/assets/USD", r#"{"spot": 1, "vol": 0.1}"#, "assets.USD", "USD", "not an asset symbol"),
        ("/assets", "[]", "assets", "[]", "expected an object"),
        ("/assets/BTC/spot", "0", "assets.BTC.spot", "0", "positive"),
        ("/assets/BTC/spot", "-91250", "assets.BTC.spot", "-91250", "positive"),
        ("/assets/BTC/spot", r#""91250""#, "assets.BTC.spot", "\"91250\"", "expected a number"),
        ("/assets/BTC/spot", "NaN", "assets.BTC.spot", "NaN", "finite"),
        ("/assets/BTC/spot", "Infinity", "assets.BTC.spot", "Infinity", "finite"),
        ("/assets/BTC/spot", "-Infinity", "assets.BTC.spot", "-Infinity", "finite"),
        ("/assets/BTC/spot", "1e400", "assets.BTC.spot", "1e400", "finite"),
        ("/assets/BTC/spot", "null", "assets.BTC.spot", "null", "expected a number"),
        ("/assets/BTC/spot", "true", "assets.BTC.spot", "true", "expected a number"),
        ("/assets/BTC/rate", "-1e999", "assets.BTC.rate", "-1e999", "finite"),
        ("/assets/BTC/rate", r#""5%""#, "assets.BTC.rate", "5%", "expected a number"),
        ("/assets/BTC/vol", "0", "assets.BTC.vol", "0", "positive"),
        ("/assets/BTC/vol", "-0.55", "assets.BTC.vol", "-0.55", "positive"),
        ("/assets/BTC/vol", r#""0.55""#, "assets.BTC.vol", "0.55", "grid object"),
        ("/assets/BTC/vol", "[0.55]", "assets.BTC.vol", "[0.55]", "grid object"),
        ("/assets/BTC/vol", "1e400", "assets.BTC.vol", "1e400", "finite"),
        ("/assets/BTC/adv_usd", "0", "assets.BTC.adv_usd", "0", "positive"),
        ("/assets/BTC/adv_usd", "null", "assets.BTC.adv_usd", "null", "expected a number"),
        ("/assets/BTC/volatility", "0.5", "assets.BTC.volatility", "0.5", "unknown field"),
        ("/assets/BTC", "0.5", "assets.BTC", "0.5", "expected an object"),
        ("/assets/btc", r#"{"spot": 1, "vol": 1}"#, "assets.btc", "btc", "uppercase"),
        ("/assets/B-TC", r#"{"spot": 1, "vol": 1}"#, "assets.B-TC", "B-TC", "uppercase"),
        ("/assets/ETH/vol/expiries", "[]", "assets.ETH.vol.expiries", "[]", "at least one"),
        ("/assets/ETH/vol/expiries/0", r#""2026-11-20T08:00:00Z""#,
         "assets.ETH.vol.expiries[0]", "2026-11-20T08:00:00Z", "after as_of"),
        ("/assets/ETH/vol/expiries/0", r#""2026-11-20T08:00:00.0004Z""#,
         "assets.ETH.vol.expiries[0]", "08:00:00.0004Z", "read to the millisecond"),
        ("/assets/ETH/vol/expiries/1", r#""2026-11-27T08:00:00Z""#,
         "assets.ETH.vol.expiries[1]", "2026-11-27T08:00:00Z", "strictly increasing"),
        ("/assets/ETH/vol/expiries/1", r#""25DEC26""#,
         "assets.ETH.vol.expiries[1]", "25DEC26", "RFC 3339"),
        ("/assets/ETH/vol/expiries", r#""2026-11-27T08:00:00Z""#,
         "assets.ETH.vol.expiries", "2026-11-27", "expected an array"),
        ("/assets/ETH/vol/log_moneyness", "[]", "assets.ETH.vol.log_moneyness", "[]",
         "at least one"),
        ("/assets/ETH/vol/log_moneyness/2", "0.0", "assets.ETH.vol.log_moneyness[2]", "0.0",
         "strictly increasing"),
        ("/assets/ETH/vol/log_moneyness/3", "NaN", "assets.ETH.vol.log_moneyness[3]", "NaN",
         "finite"),
        ("/assets/ETH/vol/implied_vols/1/3", "0", "assets.ETH.vol.implied_vols[1][3]", "0",
         "positive"),
        ("/assets/ETH/vol/implied_vols/0/2", "-0.6", "assets.ETH.vol.implied_vols[0][2]", "-0.6",
         "positive"),
        ("/assets/ETH/vol/implied_vols/1", "[0.6, 0.6, 0.6]", "assets.ETH.vol.implied_vols[1]",
         "[0.6, 0.6, 0.6]", "one per log_moneyness knot (4)"),
        ("/assets/ETH/vol/implied_vols", "[[0.6, 0.6, 0.6, 0.6]]", "assets.ETH.vol.implied_vols",
         "[[0.6", "one per expiry (2)"),
        ("/assets/ETH/vol/implied_vols/0/0", r#""0.66""#, "assets.ETH.vol.implied_vols[0][0]",
         "0.66", "expected a number"),
        ("/assets/ETH/vol/tenors", "[]", "assets.ETH.vol.tenors", "[]", "unknown field"),
        ("/correlation/symbols", r#"["BTC", "BTC"]"#, "correlation.symbols[1]", "BTC", "twice"),
        ("/correlation/symbols", r#"["BTC", "SOL"]"#, "correlation.symbols[1]", "SOL",
         "not an asset"),
        ("/correlation/symbols", "[]", "correlation.symbols", "[]", "at least one"),
        ("/correlation/symbols", r#"["BTC", 7]"#, "correlation.symbols[1]", "7",
         "expected a string"),
        ("/correlation/matrix", "[[1, 0.8], [0.7, 1]]", "correlation.matrix[1][0]", "0.7",
         "symmetric"),
        ("/correlation/matrix", "[[1, 0.8], [0.8, 0.9]]", "correlation.matrix[1][1]", "0.9",
         "diagonal"),
        ("/correlation/matrix", "[[1, 1.5], [1.5, 1]]", "correlation.matrix[0][1]", "1.5",
         "[-1, 1]"),
        ("/correlation/matrix", "[[1, 0.8]]", "correlation.matrix", "[[1, 0.8]]", "2 (one per"),
        ("/correlation/matrix", "[[1, 0.8], [0.8]]", "correlation.matrix[1]", "[0.8]",
         "expected 2"),
        ("/correlation/matrix", "[[1, NaN], [NaN, 1]]", "correlation.matrix[0][1]", "NaN",
         "finite"),
        ("/correlation/matrix", "[[1, 0.8], [0.8, 1e400]]", "correlation.matrix[1][1]", "1e400",
         "finite"),
        ("/correlation/order", "1", "correlation.order", "1", "unknown field"),
        ("/correlation", "[]", "correlation", "[]", "expected an object"),
        ("/as_at", "1", "as_at", "1", "unknown field"),
    ];
    for &(pointer, raw, field, value, why) in cases {
        let text = with(&m, pointer, raw);
        let b = bad(parse_market(&text, "m.json"));
        assert!(
            b.field == field && b.value.contains(value) && b.message.contains(why),
            "{pointer} = {raw}: expected field {field}, value ~{value}, message ~{why}; got {b:?}"
        );
        assert_eq!(b.file, "m.json");
    }
}

#[test]
fn missing_market_fields() {
    let m = market();
    for (pointer, field) in [
        ("/as_of", "as_of"),
        ("/assets", "assets"),
        ("/assets/BTC/spot", "assets.BTC.spot"),
        ("/assets/BTC/vol", "assets.BTC.vol"),
        ("/assets/ETH/vol/expiries", "assets.ETH.vol.expiries"),
        (
            "/assets/ETH/vol/log_moneyness",
            "assets.ETH.vol.log_moneyness",
        ),
        (
            "/assets/ETH/vol/implied_vols",
            "assets.ETH.vol.implied_vols",
        ),
        ("/correlation/matrix", "correlation.matrix"),
        ("/correlation/symbols", "correlation.symbols"),
    ] {
        expect(
            parse_market(&without(&m, pointer), "m.json"),
            field,
            "(missing)",
            "missing",
        );
    }
    // Without a correlation block a book may refer to one asset only (which alone is then
    // simulated); two are an error naming the missing block, found when the book compiles.
    let no_corr = parse_market(&without(&m, "/correlation"), "m.json").expect("parses");
    let compile = |book: &str| {
        let p = tailrisk::input::parse_portfolio_json(book, "p.json").expect("book parses");
        tailrisk::book::Book::compile(
            &no_corr,
            &p,
            &tailrisk::config::RunConfig::default(),
            &tailrisk::book::SourceFiles {
                market: "m.json".into(),
                config: "c.json".into(),
            },
        )
    };
    let one =
        compile(r#"{"accounts":[{"id":"a","positions":[{"instrument":"ETH","quantity":1}]}]}"#)
            .expect("one asset needs no correlation");
    assert_eq!(one.assets.len(), 1);
    assert_eq!(one.assets[0].symbol, "ETH");
    let two = compile(
        r#"{"accounts":[{"id":"a","positions":[{"instrument":"ETH","quantity":1},
            {"instrument":"BTC","quantity":1}]}]}"#,
    );
    expect(two, "correlation", "(missing)", "correlation block");
}

#[test]
fn duplicate_fields_are_errors() {
    let text = r#"{"as_of": "2026-11-20T08:00:00Z", "as_of": "2026-11-21T08:00:00Z",
                   "assets": {"BTC": {"spot": 1, "vol": 1}}}"#;
    expect(
        parse_market(text, "m.json"),
        "as_of",
        "2026-11-21",
        "duplicate",
    );
    let text = r#"{"as_of": "2026-11-20T08:00:00Z",
                   "assets": {"BTC": {"spot": 1, "vol": 1}, "BTC": {"spot": 2, "vol": 1}}}"#;
    expect(
        parse_market(text, "m.json"),
        "assets.BTC",
        "\"spot\": 2",
        "duplicate",
    );
    expect(
        parse_config(r#"{"seed": 1, "seed": 2}"#, "c.json"),
        "seed",
        "2",
        "duplicate",
    );
}

#[test]
fn bad_portfolio_values() {
    let p = portfolio();
    let pos = "/accounts/0/positions/0";
    let obj = "/accounts/0/positions/1/instrument";
    let at = "accounts[0].positions[0]";
    let obj_at = "accounts[0].positions[1].instrument";
    #[rustfmt::skip]
    let cases: Vec<(String, &str, String, &str, &str)> = vec![
        ("/accounts".into(), "[]", "accounts".into(), "[]", "no accounts"),
        ("/accounts".into(), "{}", "accounts".into(), "{}", "expected an array"),
        ("/accounts/1/id".into(), r#""acct-7""#, "accounts[1].id".into(), "acct-7",
         "duplicate account id (also at accounts[0].id)"),
        ("/accounts/1/id".into(), r#""""#, "accounts[1].id".into(), "\"\"", "empty"),
        ("/accounts/1/id".into(), "8", "accounts[1].id".into(), "8", "expected a string"),
        ("/accounts/1/margin_currency".into(), r#""usd""#, "accounts[1].margin_currency".into(),
         "usd", "USD or an asset symbol"),
        ("/accounts/1/margin_currency".into(), r#""""#, "accounts[1].margin_currency".into(),
         "\"\"", "USD or an asset symbol"),
        ("/accounts/1/positions".into(), "{}", "accounts[1].positions".into(), "{}",
         "expected an array"),
        ("/accounts/1/owner".into(), r#""me""#, "accounts[1].owner".into(), "me",
         "unknown field"),
        ("/accounts/0/positions/0".into(), r#""BTC""#, at.into(), "BTC", "expected an object"),
        (format!("{pos}/instrument"), r#""BTC-05DEC26""#, format!("{at}.instrument"),
         "BTC-05DEC26", "leading zero"),
        (format!("{pos}/instrument"), r#""BTC-31FEB27""#, format!("{at}.instrument"),
         "31FEB27", "not a date"),
        (format!("{pos}/instrument"), r#""BTC-30FEB28-1000-C""#, format!("{at}.instrument"),
         "30FEB28", "not a date"),
        (format!("{pos}/instrument"), r#""BTC-29FEB27""#, format!("{at}.instrument"),
         "29FEB27", "not a date"),
        (format!("{pos}/instrument"), r#""BTC-0DEC26""#, format!("{at}.instrument"),
         "0DEC26", "not a date"),
        (format!("{pos}/instrument"), r#""BTC-25Dec26""#, format!("{at}.instrument"),
         "25Dec26", "uppercase"),
        (format!("{pos}/instrument"), r#""BTC-25DECEMBER26""#, format!("{at}.instrument"),
         "25DECEMBER26", "DMMMYY"),
        (format!("{pos}/instrument"), r#""BTC-25DEC2026""#, format!("{at}.instrument"),
         "25DEC2026", "DMMMYY"),
        (format!("{pos}/instrument"), r#""BTC-125DEC26""#, format!("{at}.instrument"),
         "125DEC26", "DMMMYY"),
        (format!("{pos}/instrument"), r#""BTC-25DEC26-0-C""#, format!("{at}.instrument"),
         "-0-C", "positive"),
        (format!("{pos}/instrument"), r#""BTC-25DEC26-0d0-C""#, format!("{at}.instrument"),
         "0d0", "positive"),
        (format!("{pos}/instrument"), r#""BTC-25DEC26-0.625-C""#, format!("{at}.instrument"),
         "0.625", "0d625"),
        (format!("{pos}/instrument"), r#""BTC-25DEC26-07-C""#, format!("{at}.instrument"),
         "07", "leading zero"),
        (format!("{pos}/instrument"), r#""BTC-25DEC26--C""#, format!("{at}.instrument"),
         "--C", "not a number"),
        (format!("{pos}/instrument"), r#""BTC-25DEC26-1e3-C""#, format!("{at}.instrument"),
         "1e3", "not a number"),
        (format!("{pos}/instrument"), r#""BTC-25DEC26-1d-C""#, format!("{at}.instrument"),
         "1d", "not a number"),
        (format!("{pos}/instrument"), r#""BTC-25DEC26-100000-c""#, format!("{at}.instrument"),
         "100000-c", "C or P"),
        (format!("{pos}/instrument"), r#""BTC-25DEC26-100000""#, format!("{at}.instrument"),
         "100000", "3 parts"),
        (format!("{pos}/instrument"), r#""BTC-25DEC26-100000-C-X""#, format!("{at}.instrument"),
         "-C-X", "5 parts"),
        (format!("{pos}/instrument"), "\"BTC-25DEC26-1000000000000000000000000000000000000\
           0000000000000000000000000000000000000000000000000000000000000000000000000000000000000\
           000000000000000000000000000000000000000000000000000000000000000000000000000000000000\
           00000000000000000000000000000000000000000000000000000000000000000000000000000000000\
           0000000000000000000000000000000000000000000000000000000000000000000000000000000-C\"",
         format!("{at}.instrument"), "BTC-25DEC26-1000", "too large"),
        (format!("{pos}/instrument"), r#""btc-perpetual""#, format!("{at}.instrument"),
         "btc-perpetual", "not an asset symbol"),
        (format!("{pos}/instrument"), r#""BTC-Perpetual""#, format!("{at}.instrument"),
         "BTC-Perpetual", "DMMMYY"),
        (format!("{pos}/instrument"), r#""BTC_USDT-PERPETUAL""#, format!("{at}.instrument"),
         "BTC_USDT", "_USDT"),
        (format!("{pos}/instrument"), r#""BTC_USDC""#, format!("{at}.instrument"),
         "BTC_USDC", "spot holding"),
        (format!("{pos}/instrument"), r#"" BTC""#, format!("{at}.instrument"), " BTC",
         "not an asset symbol"),
        (format!("{pos}/instrument"), r#""""#, format!("{at}.instrument"), "\"\"", "empty"),
        (format!("{pos}/instrument"), r#""-PERPETUAL""#, format!("{at}.instrument"),
         "-PERPETUAL", "not an asset symbol"),
        (format!("{pos}/instrument"), r#""BTC€-PERPETUAL""#, format!("{at}.instrument"),
         "BTC€", "not an asset symbol"),
        (format!("{pos}/instrument"), r#""BTC-25D€C26""#, format!("{at}.instrument"),
         "25D€C26", "expiry"),
        (format!("{pos}/instrument"), "5", format!("{at}.instrument"), "5",
         "Deribit instrument name or an instrument object"),
        (format!("{pos}/instrument"), "null", format!("{at}.instrument"), "null",
         "Deribit instrument name"),
        (format!("{pos}/quantity"), "NaN", format!("{at}.quantity"), "NaN", "finite"),
        (format!("{pos}/quantity"), "1e400", format!("{at}.quantity"), "1e400", "finite"),
        (format!("{pos}/quantity"), "-1e309", format!("{at}.quantity"), "-1e309", "finite"),
        (format!("{pos}/quantity"), r#""-5""#, format!("{at}.quantity"), "\"-5\"",
         "expected a number"),
        (format!("{pos}/quantity"), "[1]", format!("{at}.quantity"), "[1]",
         "expected a number"),
        (format!("{pos}/size"), "1", format!("{at}.size"), "1", "unknown field"),
        (format!("{obj}/kind"), r#""swap""#, format!("{obj_at}.kind"), "swap",
         "spot, perpetual, future or option"),
        (format!("{obj}/kind"), r#""Option""#, format!("{obj_at}.kind"), "Option",
         "spot, perpetual, future or option"),
        (format!("{obj}/right"), r#""CALL""#, format!("{obj_at}.right"), "CALL", "call or put"),
        (format!("{obj}/right"), r#""C""#, format!("{obj_at}.right"), "C", "call or put"),
        (format!("{obj}/strike"), "0", format!("{obj_at}.strike"), "0", "positive"),
        (format!("{obj}/strike"), "-2800", format!("{obj_at}.strike"), "-2800", "positive"),
        (format!("{obj}/strike"), r#""2800""#, format!("{obj_at}.strike"), "2800",
         "expected a number"),
        (format!("{obj}/strike"), "Infinity", format!("{obj_at}.strike"), "Infinity", "finite"),
        (format!("{obj}/expiry"), r#""26MAR27""#, format!("{obj_at}.expiry"), "26MAR27",
         "RFC 3339"),
        (format!("{obj}/expiry"), "1806134400", format!("{obj_at}.expiry"), "1806134400",
         "expected a string"),
        (format!("{obj}/settlement"), r#""quanto""#, format!("{obj_at}.settlement"), "quanto",
         "inverse or linear"),
        (format!("{obj}/multiplier"), "0", format!("{obj_at}.multiplier"), "0", "positive"),
        (format!("{obj}/multiplier"), "-10", format!("{obj_at}.multiplier"), "-10", "positive"),
        (format!("{obj}/multiplier"), "NaN", format!("{obj_at}.multiplier"), "NaN", "finite"),
        (format!("{obj}/underlying"), r#""eth""#, format!("{obj_at}.underlying"), "eth",
         "asset symbol"),
        (format!("{obj}/underlying"), r#""ETH-PERPETUAL""#, format!("{obj_at}.underlying"),
         "ETH-PERPETUAL", "asset symbol"),
        (format!("{obj}/colour"), r#""red""#, format!("{obj_at}.colour"), "red",
         "unknown field"),
        (obj.to_string(), r#"{"kind": "future", "underlying": "BTC", "strike": 1,
           "expiry": "2026-12-25T08:00:00Z"}"#, format!("{obj_at}.strike"), "1",
         "does not apply to a future"),
        (obj.to_string(), r#"{"kind": "perpetual", "underlying": "BTC",
           "expiry": "2026-12-25T08:00:00Z"}"#, format!("{obj_at}.expiry"), "2026-12-25",
         "does not apply to a perpetual"),
        (obj.to_string(), r#"{"kind": "spot", "underlying": "BTC", "settlement": "linear"}"#,
         format!("{obj_at}.settlement"), "linear", "does not apply to a spot"),
        (obj.to_string(), r#"{"kind": "spot", "underlying": "BTC", "right": "call"}"#,
         format!("{obj_at}.right"), "call", "does not apply to a spot"),
        (obj.to_string(), r#"{"kind": "option", "underlying": "BTC", "right": "call",
           "strike": 1}"#, format!("{obj_at}.expiry"), "(missing)", "missing"),
        (obj.to_string(), r#"{"kind": "option", "underlying": "BTC",
           "strike": 1, "expiry": "2026-12-25T08:00:00Z"}"#, format!("{obj_at}.right"),
         "(missing)", "missing"),
        (obj.to_string(), r#"{"kind": "option", "underlying": "BTC", "right": "put",
           "expiry": "2026-12-25T08:00:00Z"}"#, format!("{obj_at}.strike"),
         "(missing)", "missing"),
        (obj.to_string(), r#"{"kind": "future", "underlying": "BTC"}"#,
         format!("{obj_at}.expiry"), "(missing)", "missing"),
        (obj.to_string(), r#"{"underlying": "BTC"}"#, format!("{obj_at}.kind"), "(missing)",
         "missing"),
        (obj.to_string(), r#"{"kind": "spot"}"#, format!("{obj_at}.underlying"), "(missing)",
         "missing"),
        (obj.to_string(), "{}", format!("{obj_at}.kind"), "(missing)", "missing"),
    ];
    for (pointer, raw, field, value, why) in &cases {
        let text = with(&p, pointer, raw);
        let b = bad(parse_portfolio_json(&text, "p.json"));
        assert!(
            &b.field == field && b.value.contains(value) && b.message.contains(why),
            "{pointer} = {raw}: expected field {field}, value ~{value}, message ~{why}; got {b:?}"
        );
    }
}

#[test]
fn missing_portfolio_fields() {
    let p = portfolio();
    for (pointer, field) in [
        ("/accounts", "accounts"),
        ("/accounts/0/id", "accounts[0].id"),
        ("/accounts/1/positions", "accounts[1].positions"),
        (
            "/accounts/0/positions/0/instrument",
            "accounts[0].positions[0].instrument",
        ),
        (
            "/accounts/0/positions/1/quantity",
            "accounts[0].positions[1].quantity",
        ),
    ] {
        expect(
            parse_portfolio_json(&without(&p, pointer), "p.json"),
            field,
            "(missing)",
            "missing",
        );
    }
}

#[test]
fn bad_csv() {
    let header = "account,instrument,quantity\n";
    let cases: &[(String, &str, &str, &str)] = &[
        (String::new(), "(file)", "empty", "header"),
        ("  \n\n".into(), "(file)", "empty", "header"),
        ("\u{feff}".into(), "(file)", "empty", "header"),
        (header.into(), "(file)", "no rows", "no accounts"),
        (
            "account,instrument,qty\na,BTC,1\n".into(),
            "line 1",
            "account,instrument,qty",
            "header",
        ),
        (
            "account;instrument;quantity\n".into(),
            "line 1",
            "account;instrument;quantity",
            "header",
        ),
        (
            "instrument,account,quantity\n".into(),
            "line 1",
            "instrument,account",
            "header",
        ),
        (
            "account,instrument,quantity,note\n".into(),
            "line 1",
            "note",
            "header",
        ),
        ("a,BTC,1\n".into(), "line 1", "a,BTC,1", "header"),
        (format!("{header}a,BTC\n"), "line 2", "a,BTC", "found 2"),
        (
            format!("{header}a,BTC,1\nb,ETH,2,3\n"),
            "line 3",
            "b,ETH,2,3",
            "found 4",
        ),
        (
            format!("{header}a,BTC,1;2\n"),
            "line 2, quantity",
            "1;2",
            "number",
        ),
        (
            format!("{header}a,BTC,\n"),
            "line 2, quantity",
            "",
            "number",
        ),
        (
            format!("{header}a,BTC,abc\n"),
            "line 2, quantity",
            "abc",
            "number",
        ),
        (
            format!("{header}a,BTC,NaN\n"),
            "line 2, quantity",
            "NaN",
            "finite",
        ),
        (
            format!("{header}a,BTC,inf\n"),
            "line 2, quantity",
            "inf",
            "finite",
        ),
        (
            format!("{header}a,BTC,1e400\n"),
            "line 2, quantity",
            "1e400",
            "finite",
        ),
        (
            format!("{header}a,BTC,1\n\na,BTC-05DEC26,1\n"),
            "line 4, instrument",
            "BTC-05DEC26",
            "leading zero",
        ),
        (
            format!("{header}a,\"BTC-PERPETUAL\",1\nb,BTC-31FEB27,1\n"),
            "line 3, instrument",
            "31FEB27",
            "not a date",
        ),
        (format!("{header} ,BTC,1\n"), "line 2, account", "", "empty"),
        (
            format!("{header}a,BTC,1\r\n\r\nb,\"BTC,2\n"),
            "line 4",
            "\"BTC,2",
            "unterminated",
        ),
        (
            format!("{header}\"a\"x,BTC,2\n"),
            "line 2",
            "\"a\"x",
            "after a quoted cell",
        ),
        (
            format!("{header}\"a\nb\",BTC,2\nc,BTC,x\n"),
            "line 4, quantity",
            "x",
            "number",
        ),
        (
            format!("{header}a,BTC,1\rb,ETH,z\r"),
            "line 3, quantity",
            "z",
            "number",
        ),
        (
            format!("{header}a,{{kind:spot}},1\n"),
            "line 2, instrument",
            "{kind:spot}",
            "not an asset symbol",
        ),
    ];
    for (text, field, value, why) in cases {
        let b = bad(parse_portfolio_csv(text, "p.csv"));
        assert!(
            &b.field == field && b.value.contains(value) && b.message.contains(why),
            "{text:?}: expected field {field}, value ~{value}, message ~{why}; got {b:?}"
        );
        assert_eq!(b.file, "p.csv");
    }
}

#[test]
fn bad_config_values() {
    let c = config();
    #[rustfmt::skip]
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        ("/horizon_days", "0", "horizon_days", "0", "positive"),
        ("/horizon_days", "-1", "horizon_days", "-1", "positive"),
        ("/horizon_days", r#""1""#, "horizon_days", "\"1\"", "expected a number"),
        ("/horizon_days", "NaN", "horizon_days", "NaN", "finite"),
        ("/horizon_days", "1e400", "horizon_days", "1e400", "finite"),
        ("/steps", "2.5", "steps", "2.5", "integer"),
        ("/steps", "0", "steps", "0", "from 1"),
        ("/steps", "-1", "steps", "-1", "from 1"),
        ("/steps", "4294967296", "steps", "4294967296", "to 4294967295"),
        ("/steps", r#""2""#, "steps", "\"2\"", "expected an integer"),
        ("/steps", "true", "steps", "true", "expected an integer"),
        ("/paths", "0", "paths", "0", "from 1 to 4294967295"),
        ("/paths", "4294967296", "paths", "4294967296", "from 1 to 4294967295"),
        ("/paths", "1e10", "paths", "1e10", "from 1 to 4294967295"),
        ("/paths", "1.5", "paths", "1.5", "integer"),
        ("/paths", "-0.5", "paths", "-0.5", "integer"),
        ("/paths", "Infinity", "paths", "Infinity", "finite"),
        ("/paths", "99999999999999999999999", "paths", "99999999999999999999999", "to 4294967295"),
        ("/seed", "-1", "seed", "-1", "from 0"),
        ("/seed", "18446744073709551616", "seed", "18446744073709551616", "18446744073709551615"),
        ("/seed", "2e19", "seed", "2e19", "18446744073709551615"),
        ("/seed", "0.5", "seed", "0.5", "integer"),
        ("/seed", "null", "seed", "null", "expected an integer"),
        ("/confidence", "[]", "confidence", "[]", "at least one"),
        ("/confidence", "0.99", "confidence", "0.99", "expected an array"),
        ("/confidence", "[1.0]", "confidence[0]", "1.0", "between 0 and 1"),
        ("/confidence", "[0.99, 0]", "confidence[1]", "0", "between 0 and 1"),
        ("/confidence", "[0.99, 99]", "confidence[1]", "99", "between 0 and 1"),
        ("/confidence", r#"[0.99, "0.995"]"#, "confidence[1]", "0.995", "expected a number"),
        ("/student_t_dof", "2", "student_t_dof", "2", "from 3"),
        ("/student_t_dof", "100000000", "student_t_dof", "100000000", "to 10000"),
        ("/student_t_dof", "4.5", "student_t_dof", "4.5", "integer"),
        ("/student_t_dof", "false", "student_t_dof", "false", "expected an integer"),
        ("/dynamics", "[]", "dynamics", "[]", "expected an object"),
        ("/dynamics/BTC", "0.55", "dynamics.BTC", "0.55", "expected an object"),
        ("/dynamics/BTC/spot_vol", "0", "dynamics.BTC.spot_vol", "0", "positive"),
        ("/dynamics/BTC/vol_of_vol", "-1.2", "dynamics.BTC.vol_of_vol", "-1.2", "zero or positive"),
        ("/dynamics/BTC/vol_mean_reversion", "-4", "dynamics.BTC.vol_mean_reversion", "-4",
         "zero or positive"),
        ("/dynamics/BTC/spot_vol_corr", "-1.5", "dynamics.BTC.spot_vol_corr", "-1.5", "[-1, 1]"),
        ("/dynamics/BTC/jump_intensity", "-6", "dynamics.BTC.jump_intensity", "-6",
         "zero or positive"),
        ("/dynamics/BTC/jump_mean", "NaN", "dynamics.BTC.jump_mean", "NaN", "finite"),
        ("/dynamics/BTC/jump_std", "-0.08", "dynamics.BTC.jump_std", "-0.08", "zero or positive"),
        ("/dynamics/BTC/kappa", "4", "dynamics.BTC.kappa", "4", "unknown field"),
        ("/margin", "0.99", "margin", "0.99", "expected an object"),
        ("/margin/confidence", "1", "margin.confidence", "1", "between 0 and 1"),
        ("/margin/mm_ratio", "0", "margin.mm_ratio", "0", "(0, 1]"),
        ("/margin/mm_ratio", "1.5", "margin.mm_ratio", "1.5", "(0, 1]"),
        ("/margin/im_ratio", "1", "margin.im_ratio", "1", "unknown field"),
        ("/stress/price_range", "1", "stress.price_range", "1", "between 0 and 1"),
        ("/stress/price_range", "0", "stress.price_range", "0", "between 0 and 1"),
        ("/stress/price_points", "4", "stress.price_points", "4", "odd"),
        ("/stress/price_points", "1", "stress.price_points", "1", "from 3"),
        ("/stress/price_points", "9.5", "stress.price_points", "9.5", "integer"),
        ("/stress/vol_moves", "[]", "stress.vol_moves", "[]", "at least one"),
        ("/stress/vol_moves", "[-0.25, -1]", "stress.vol_moves[1]", "-1", "greater than -1"),
        ("/stress/extended_moves", "[-0.66, 0]", "stress.extended_moves[1]", "0", "not 0"),
        ("/stress/extended_moves", "[-1.5]", "stress.extended_moves[0]", "-1.5", "greater than -1"),
        // Inside ±price_range an extended move would count at R/|m| > 1 (16× at 0.01).
        ("/stress/extended_moves", "[-0.66, 0.01]", "stress.extended_moves[1]", "0.01",
         "beyond the regular grid"),
        ("/stress/price_points", "10003", "stress.price_points", "10003", "10001"),
        ("/stress/price_range", "0.6", "stress.extended_moves[1]", "0.5", "beyond the regular grid's ±0.6"),
        ("/stress/extended_vol_moves", "[-2]", "stress.extended_vol_moves[0]", "-2",
         "greater than -1"),
        ("/stress/grid", "[]", "stress.grid", "[]", "unknown field"),
        ("/repair_correlation", r#""yes""#, "repair_correlation", "yes", "true or false"),
        ("/repair_correlation", "1", "repair_correlation", "1", "true or false"),
        ("/chunk_paths", "0", "chunk_paths", "0", "from 1"),
        ("/chunk_paths", "65536.5", "chunk_paths", "65536.5", "integer"),
        ("/backend", r#""gpu""#, "backend", "gpu", "unknown field"),
    ];
    for &(pointer, raw, field, value, why) in cases {
        let text = with(&c, pointer, raw);
        let b = bad(parse_config(&text, "c.json"));
        assert!(
            b.field == field && b.value.contains(value) && b.message.contains(why),
            "{pointer} = {raw}: expected field {field}, value ~{value}, message ~{why}; got {b:?}"
        );
    }
    // A price range that takes in a default extended move names the range and the move.
    let b = bad(parse_config(
        r#"{"stress": {"price_range": 0.4}}"#,
        "c.json",
    ));
    assert!(
        b.field == "stress.price_range" && b.message.contains("default extended move -0.33"),
        "{b:?}"
    );
}

#[test]
fn bad_added_positions() {
    let cases = [
        (
            "BTC-PERPETUAL",
            "INSTRUMENT:QUANTITY",
            "BTC-PERPETUAL",
            "expected",
        ),
        ("", "INSTRUMENT:QUANTITY", "", "expected"),
        ("BTC-05DEC26:1", "instrument", "BTC-05DEC26", "leading zero"),
        (":1", "instrument", "", "empty"),
        ("BTC-PERPETUAL:", "quantity", "", "number"),
        ("BTC-PERPETUAL:ten", "quantity", "ten", "number"),
        ("BTC-PERPETUAL:NaN", "quantity", "NaN", "finite"),
        ("BTC-PERPETUAL:1e400", "quantity", "1e400", "finite"),
        (
            "BTC-PERPETUAL:1:2",
            "instrument",
            "BTC-PERPETUAL:1",
            "expiry",
        ),
    ];
    for (arg, field, value, why) in cases {
        let b = bad(parse_added_position(arg, "--add"));
        assert!(
            b.file == "--add" && b.field == field && b.value.contains(value),
            "{arg}: {b:?}"
        );
        assert!(b.message.contains(why), "{arg}: {b:?}");
    }
}

/// Documents that are not a document of the expected shape, for every JSON parser.
fn garbage() -> Vec<(String, &'static str)> {
    let deep_array = "[".repeat(100_000);
    let deep_object = "{\"a\":".repeat(10_000) + "1" + &"}".repeat(10_000);
    vec![
        (String::new(), "empty"),
        ("   \n\t  \r\n".into(), "empty"),
        ("\u{feff}".into(), "empty"),
        ("\u{feff}\u{feff}{}".into(), "expected a value"),
        ("{".into(), "end of file"),
        ("{\"as_of\":".into(), "end of file"),
        ("{\"as_of\": \"2026-11-20T08:00:00Z\"".into(), "end of file"),
        ("{\"a\": \"unterminated".into(), "unterminated string"),
        ("{\"a\" 1}".into(), "':'"),
        ("{\"a\": 1,}".into(), "field name"),
        ("[1, 2,]".into(), "expected a value"),
        ("{'a': 1}".into(), "field name"),
        ("{a: 1}".into(), "field name"),
        ("{} {}".into(), "after the end"),
        ("{}\u{0}".into(), "after the end"),
        ("// comment\n{}".into(), "expected a value"),
        ("[".into(), "end of file"),
        ("]".into(), "expected a value"),
        ("null".into(), "expected an object"),
        ("true".into(), "expected an object"),
        ("1e400".into(), "expected an object"),
        ("-0".into(), "expected an object"),
        ("\"😀\"".into(), "expected an object"),
        ("[{}]".into(), "expected an object"),
        ("😀".into(), "expected a value"),
        ("{\"a\": 01}".into(), "leading zero"),
        ("{\"a\": 1.}".into(), "decimal point"),
        ("{\"a\": .5}".into(), "expected a value"),
        ("{\"a\": +5}".into(), "expected a value"),
        ("{\"a\": 1e}".into(), "exponent"),
        ("{\"a\": -}".into(), "digit"),
        ("{\"a\": nul}".into(), "expected a value"),
        ("{\"a\": Inf}".into(), "expected a value"),
        ("{\"a\": \"\\x\"}".into(), "escape"),
        ("{\"a\": \"\\u12\"}".into(), "four hex digits"),
        ("{\"a\": \"\\ud800\"}".into(), "surrogate"),
        ("{\"a\": \"\\udc00\\u0041\"}".into(), "surrogate"),
        ("{\"a\": \"tab\there\"}".into(), "control character"),
        ("{\"a\": \"line\nbreak\"}".into(), "control character"),
        (deep_array, "nested deeper"),
        (deep_object, "nested deeper"),
    ]
}

#[test]
fn garbage_is_an_input_error_for_every_json_parser() {
    type Parser = fn(&str, &str) -> tailrisk::Result<()>;
    let parsers: [(&str, Parser); 3] = [
        ("market", |t, f| parse_market(t, f).map(|_| ())),
        ("portfolio", |t, f| parse_portfolio_json(t, f).map(|_| ())),
        ("config", |t, f| parse_config(t, f).map(|_| ())),
    ];
    for (text, why) in garbage() {
        for (name, parse) in parsers {
            let b = bad(parse(&text, "g.json"));
            let shown: String = text.chars().take(40).collect();
            assert!(
                b.message.contains(why),
                "{name} on {shown:?}: message lacks {why:?}: {b:?}"
            );
            assert!(b.value.chars().count() <= 81, "{b:?}");
            if why != "empty" && why != "expected an object" {
                assert!(b.field.starts_with("line "), "{name} on {shown:?}: {b:?}");
            }
        }
    }
}

#[test]
fn syntax_errors_give_line_and_column() {
    let text =
        "{\n  \"as_of\": \"2026-11-20T08:00:00Z\",\n  \"assets\": {\"BTC\": {\"spot\": 1,, }}\n}";
    expect(
        parse_market(text, "m.json"),
        "line 3, column 32",
        ",",
        "invalid JSON",
    );
    let truncated = &market().to_string()[..60];
    let b = bad(parse_market(truncated, "m.json"));
    assert!(b.field.starts_with("line 1, column "), "{b:?}");
    assert_eq!(b.value, "end of file");
}

#[test]
fn long_values_are_truncated() {
    let long = format!("\"{}\"", "X".repeat(10_000));
    let text = with(&market(), "/as_of", &long);
    let b = bad(parse_market(&text, "m.json"));
    assert_eq!(b.field, "as_of");
    assert!(
        b.value.starts_with("\"XXXX") && b.value.ends_with('…'),
        "{b:?}"
    );
    assert_eq!(b.value.chars().count(), 81);
}

#[test]
fn odd_keys_are_quoted_in_paths() {
    let text = with(&market(), "/assets/BTC/my field", "1");
    expect(
        parse_market(&text, "m.json"),
        "assets.BTC[\"my field\"]",
        "1",
        "unknown field",
    );
    let text = with(&market(), "/assets/ЕТН", r#"{"spot": 1, "vol": 1}"#);
    expect(
        parse_market(&text, "m.json"),
        "assets[\"ЕТН\"]",
        "ЕТН",
        "uppercase letters",
    );
}

#[test]
fn files_that_cannot_be_read_exit_66() {
    let dir = std::env::temp_dir().join(format!("tailrisk-bad-inputs-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let missing = dir.join("no-such-file.json");
    for result in [
        load_market(&missing).map(|_| ()),
        load_portfolio(&missing).map(|_| ()),
        load_portfolio(&dir.join("no-such.csv")).map(|_| ()),
        load_config(&missing).map(|_| ()),
        load_market(&dir).map(|_| ()),
    ] {
        match result {
            Err(e @ Error::Unreadable { .. }) => assert_eq!(e.exit_code(), EXIT_NO_INPUT),
            other => panic!("expected an unreadable-file error, got {other:?}"),
        }
    }
}

#[test]
fn files_that_are_not_utf8_exit_65() {
    let dir = std::env::temp_dir().join(format!("tailrisk-bad-inputs-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let bytes: &[(&str, &[u8])] = &[
        ("latin1.json", b"{\"as_of\": \"caf\xe9\"}"),
        ("utf16.json", b"\xff\xfe{\x00}\x00"),
        ("random.csv", b"\x00\x9f\x92\x96\xc3\x28\xa0\xa1"),
    ];
    for (name, contents) in bytes {
        let path = dir.join(name);
        if std::fs::write(&path, contents).is_err() {
            panic!("cannot write {}", path.display());
        }
        let result = if name.ends_with(".csv") {
            load_portfolio(&path).map(|_| ())
        } else {
            load_market(&path).map(|_| ())
        };
        let b = bad(result);
        assert_eq!(b.file, path.display().to_string());
        assert!(b.message.contains("UTF-8"), "{b:?}");
        assert!(b.field.starts_with("line 1, column"), "{b:?}");
        assert!(b.value.starts_with("bytes 0x"), "{b:?}");
    }
    let b = bad(load_config(&{
        let path = dir.join("empty.json");
        let _ = std::fs::write(&path, b"");
        path
    }));
    assert!(b.message.contains("JSON object"), "{b:?}");
}

/// Every JSON value kind, nested a little, for structural fuzzing.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |v| v.is_finite())
            .prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::String),
        "\\PC{0,6}".prop_map(Value::String),
        Just(Value::String("BTC-25DEC26-100000-C".into())),
        Just(Value::String("2026-12-25T08:00:00Z".into())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_A-Z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every JSON pointer of `v`.
fn pointers(v: &Value, prefix: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = format!("{prefix}/{k}");
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let p = format!("{prefix}/{i}");
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        _ => {}
    }
}

fn no_panic_and_only_input_errors(result: tailrisk::Result<()>) -> Result<(), TestCaseError> {
    match result {
        Ok(()) | Err(Error::Input { .. }) => Ok(()),
        Err(e) => Err(TestCaseError::fail(format!("not an input error: {e:?}"))),
    }
}

fn all_parsers(text: &str) -> Result<(), TestCaseError> {
    no_panic_and_only_input_errors(parse_market(text, "f").map(|_| ()))?;
    no_panic_and_only_input_errors(parse_portfolio_json(text, "f").map(|_| ()))?;
    no_panic_and_only_input_errors(parse_portfolio_csv(text, "f").map(|_| ()))?;
    no_panic_and_only_input_errors(parse_config(text, "f").map(|_| ()))?;
    no_panic_and_only_input_errors(parse_added_position(text, "--add").map(|_| ()))?;
    let _ = parse_deribit(text);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn random_strings_never_panic(text in any::<String>()) {
        all_parsers(&text)?;
    }

    #[test]
    fn random_json_like_text_never_panics(text in "[{}\\[\\]\":,0-9eE.+\\-a-zA-Z_ \n\\\\]{0,80}") {
        all_parsers(&text)?;
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        all_parsers(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn random_csv_never_panics(
        rows in prop::collection::vec("[a-zA-Z0-9_ \\-,\"d.]{0,30}", 0..6)
    ) {
        let text = format!("account,instrument,quantity\n{}", rows.join("\n"));
        no_panic_and_only_input_errors(parse_portfolio_csv(&text, "f").map(|_| ()))?;
    }

    #[test]
    fn random_deribit_like_names_never_panic(name in "[A-Z0-9_\\-dCP.]{0,24}") {
        let _ = parse_deribit(&name);
        no_panic_and_only_input_errors(
            parse_added_position(&format!("{name}:1"), "--add").map(|_| ()),
        )?;
    }

    /// A valid document with one value anywhere replaced by any JSON value.
    #[test]
    fn valid_documents_with_a_random_value_never_panic(
        which in 0..3usize, slot in any::<prop::sample::Index>(), value in any_json()
    ) {
        let base = [market(), portfolio(), config()][which].clone();
        let mut all = Vec::new();
        pointers(&base, String::new(), &mut all);
        let pointer = slot.get(&all);
        let text = with(&base, pointer, &value.to_string());
        all_parsers(&text)?;
    }

    /// A valid document with some characters cut or inserted.
    #[test]
    fn mutated_documents_never_panic(
        which in 0..3usize, cut in any::<prop::sample::Index>(), len in 0..6usize,
        insert in "\\PC{0,3}"
    ) {
        let base = [market(), portfolio(), config()][which].to_string();
        let chars: Vec<char> = base.chars().collect();
        let at = cut.index(chars.len());
        let end = (at + len).min(chars.len());
        let text: String = chars[..at].iter().chain(insert.chars().collect::<Vec<_>>().iter())
            .chain(chars[end..].iter()).collect();
        all_parsers(&text)?;
    }
}

/// Impossible calendar dates in timestamps (not only in Deribit names) are input errors.
#[test]
fn impossible_timestamps_are_errors() {
    expect(
        parse_market(
            r#"{"as_of": "2026-02-30T08:00:00Z", "assets": {"BTC": {"spot": 1, "vol": 0.5}}}"#,
            "m.json",
        ),
        "as_of",
        "2026-02-30",
        "RFC 3339",
    );
    let book = r#"{"accounts":[{"id":"a","positions":[{"instrument":{"kind":"future",
        "underlying":"BTC","expiry":"2027-04-31T08:00:00Z"},"quantity":1}]}]}"#;
    let b = bad(tailrisk::input::parse_portfolio_json(book, "p.json"));
    assert!(
        b.field.ends_with("expiry") && b.value.contains("2027-04-31"),
        "{b:?}"
    );
}

/// A surface beyond the documented size (10 000 knots, 1 000 expiries) is refused while it is
/// read, naming the array and the limit, before it is held (issue 14, item 4).
#[test]
fn oversized_surfaces_are_refused_while_read() {
    let knots: Vec<String> = (0..10_001)
        .map(|i| format!("{}", i as f64 * 1e-4))
        .collect();
    let text = with(
        &market(),
        "/assets/ETH/vol/log_moneyness",
        &format!("[{}]", knots.join(",")),
    );
    let b = bad(parse_market(&text, "m.json"));
    assert_eq!(b.field, "assets.ETH.vol.log_moneyness", "{b:?}");
    assert!(b.message.contains("more than 10000"), "{b:?}");
    let expiries = vec!["\"2027-01-01T08:00:00Z\""; 1_001].join(",");
    let text = with(
        &market(),
        "/assets/ETH/vol/expiries",
        &format!("[{expiries}]"),
    );
    let b = bad(parse_market(&text, "m.json"));
    assert_eq!(b.field, "assets.ETH.vol.expiries", "{b:?}");
    assert!(b.message.contains("more than 1000"), "{b:?}");
}
