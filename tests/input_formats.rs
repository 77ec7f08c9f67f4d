//! Good inputs of every form of SPEC §2 parse to the values they say.

use std::path::PathBuf;

use proptest::prelude::*;
use tailrisk::Error;
use tailrisk::config::{DynamicsInput, MarginConfig, RunConfig, StressConfig};
use tailrisk::input::{
    load_config, load_market, load_portfolio, parse_added_position, parse_config, parse_market,
    parse_portfolio_csv, parse_portfolio_json,
};
use tailrisk::instrument::{InstrumentKind, InstrumentSpec, Right, Settlement, parse_deribit};
use tailrisk::market::VolSurface;
use tailrisk::time::{SECONDS_PER_YEAR, parse_rfc3339};

/// The market of SPEC §2.
const SPEC_MARKET: &str = r#"{
  "as_of": "2026-11-20T08:00:00Z",
  "assets": {
    "BTC": { "spot": 91250.0, "rate": 0.0, "vol": 0.55, "adv_usd": 2.5e10 },
    "ETH": {
      "spot": 3050.0,
      "vol": {
        "expiries": ["2026-11-27T08:00:00Z", "2026-12-25T08:00:00Z", "2027-03-26T08:00:00Z"],
        "log_moneyness": [-0.4, -0.2, 0.0, 0.2, 0.4],
        "implied_vols": [[0.78, 0.66, 0.60, 0.63, 0.70],
                         [0.74, 0.65, 0.61, 0.62, 0.67],
                         [0.70, 0.64, 0.62, 0.62, 0.65]]
      }
    }
  },
  "correlation": { "symbols": ["BTC", "ETH"], "matrix": [[1.0, 0.8], [0.8, 1.0]] }
}"#;

/// The positions of SPEC §2.
const SPEC_PORTFOLIO: &str = r#"{ "accounts": [
  { "id": "acct-7", "margin_currency": "USD",
    "positions": [
      { "instrument": "BTC-25DEC26-100000-C", "quantity": -5 },
      { "instrument": "BTC-PERPETUAL", "quantity": 200000 },
      { "instrument": "ETH", "quantity": 40 },
      { "instrument": { "kind": "option", "underlying": "ETH", "right": "put",
                        "strike": 2800, "expiry": "2027-03-26T08:00:00Z",
                        "settlement": "linear", "multiplier": 1 }, "quantity": 10 } ] } ] }"#;

fn ok<T>(result: tailrisk::Result<T>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("rejected a valid input: {e}"),
    }
}

fn ts(text: &str) -> i64 {
    parse_rfc3339(text).unwrap_or_else(|| panic!("bad timestamp {text}"))
}

fn spec(
    kind: InstrumentKind,
    underlying: &str,
    settlement: Settlement,
    expiry: Option<&str>,
    option: Option<(Right, f64)>,
) -> InstrumentSpec {
    InstrumentSpec {
        kind,
        underlying: underlying.to_string(),
        right: option.map(|o| o.0),
        strike: option.map(|o| o.1),
        expiry: expiry.map(ts),
        settlement,
        multiplier: 1.0,
    }
}

fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tailrisk-input-formats-{}", std::process::id()));
    ok(std::fs::create_dir_all(&dir).map_err(|e| Error::unreadable(&dir, e)));
    let path = dir.join(name);
    ok(std::fs::write(&path, contents).map_err(|e| Error::unreadable(&path, e)));
    path
}

#[test]
fn spec_market_parses() {
    let m = ok(parse_market(SPEC_MARKET, "market.json"));
    assert_eq!(m.as_of, ts("2026-11-20T08:00:00Z"));
    let symbols: Vec<&str> = m.assets.iter().map(|a| a.symbol.as_str()).collect();
    assert_eq!(symbols, ["BTC", "ETH"]);

    let btc = &m.assets[0];
    assert_eq!(btc.spot, 91250.0);
    assert_eq!(btc.rate, 0.0);
    assert_eq!(btc.surface, VolSurface::Flat(0.55));
    assert_eq!(btc.adv_usd, Some(2.5e10));

    let eth = &m.assets[1];
    assert_eq!(eth.rate, 0.0, "rate defaults to 0");
    assert_eq!(eth.adv_usd, None);
    let VolSurface::Grid(g) = &eth.surface else {
        panic!("ETH should have a grid surface")
    };
    let week = 7.0 * 86_400.0 / SECONDS_PER_YEAR;
    assert!((g.taus[0] - week).abs() < 1e-15, "{:?}", g.taus);
    assert!((g.taus[1] - 35.0 / 365.0).abs() < 1e-15);
    assert!((g.taus[2] - 126.0 / 365.0).abs() < 1e-15);
    assert_eq!(g.log_moneyness, [-0.4, -0.2, 0.0, 0.2, 0.4]);
    assert_eq!(g.vols.len(), 15);
    assert_eq!(g.vols[5..10], [0.74, 0.65, 0.61, 0.62, 0.67], "row-major");
    assert_eq!(g.vols[14], 0.65);

    let c = m
        .correlation
        .unwrap_or_else(|| panic!("correlation missing"));
    assert_eq!(c.symbols, ["BTC", "ETH"]);
    assert_eq!(c.matrix, [1.0, 0.8, 0.8, 1.0]);
}

#[test]
fn assets_keep_file_order_and_correlation_its_own() {
    let text = r#"{"as_of": "2026-11-20T08:00:00Z",
        "assets": {"SOL": {"spot": 150, "vol": 0.9, "rate": 0.05},
                   "BTC": {"spot": 90000, "vol": 0.5},
                   "ETH": {"spot": 3000, "vol": 0.7}},
        "correlation": {"symbols": ["ETH", "SOL"],
                        "matrix": [[1, -0.25], [-0.25, 1]]}}"#;
    let m = ok(parse_market(text, "m.json"));
    let symbols: Vec<&str> = m.assets.iter().map(|a| a.symbol.as_str()).collect();
    assert_eq!(symbols, ["SOL", "BTC", "ETH"]);
    assert_eq!(m.assets[0].rate, 0.05);
    let c = m
        .correlation
        .unwrap_or_else(|| panic!("correlation missing"));
    assert_eq!(c.symbols, ["ETH", "SOL"]);
    assert_eq!(c.matrix, [1.0, -0.25, -0.25, 1.0]);
}

#[test]
fn one_asset_market_needs_no_correlation() {
    let text =
        r#"{"as_of": "2026-11-20T08:00:00+00:00", "assets": {"BTC": {"spot": 1, "vol": 1}}}"#;
    let m = ok(parse_market(text, "m.json"));
    assert!(m.correlation.is_none());
    assert_eq!(m.assets[0].surface, VolSurface::Flat(1.0));
}

/// Timestamps keep their milliseconds (an imported snapshot's as_of has them, SPEC §15 D6):
/// the grid's τ and an option's τ count them, and they are written back as read.
#[test]
fn timestamps_keep_their_milliseconds() {
    use tailrisk::book::{Book, SourceFiles};
    use tailrisk::time::format_rfc3339;
    assert_eq!(
        ts("2026-11-20T08:00:00.250Z") - ts("2026-11-20T08:00:00Z"),
        250
    );
    assert_eq!(
        ts("2026-11-20T10:00:00.250+02:00"),
        ts("2026-11-20T08:00:00.250Z")
    );
    assert_eq!(
        format_rfc3339(ts("2026-11-20T08:00:00.250Z")),
        "2026-11-20T08:00:00.250Z"
    );
    assert_eq!(
        format_rfc3339(ts("2026-11-20T08:00:00.000Z")),
        "2026-11-20T08:00:00Z"
    );
    let text = SPEC_MARKET.replace("\"2026-11-20T08:00:00Z\"", "\"2026-11-20T07:59:59.500Z\"");
    let m = ok(parse_market(&text, "m.json"));
    let VolSurface::Grid(g) = &m.assets[1].surface else {
        panic!("ETH should have a grid surface")
    };
    let week = (7.0 * 86_400.0 + 0.5) / SECONDS_PER_YEAR;
    assert!((g.taus[0] - week).abs() < 1e-15, "{:?}", g.taus);
    let book = ok(parse_portfolio_json(SPEC_PORTFOLIO, "p.json"));
    let book = ok(Book::compile(
        &m,
        &book,
        &RunConfig::default(),
        &SourceFiles::default(),
    ));
    let put = book
        .instruments
        .iter()
        .find(|r| r.spec.kind == InstrumentKind::Option && r.spec.underlying == "ETH")
        .expect("the ETH put");
    let seconds = (ts("2027-03-26T08:00:00Z") - ts("2026-11-20T08:00:00Z")) as f64 / 1000.0;
    assert!((put.tau0 - (seconds + 0.5) / SECONDS_PER_YEAR).abs() < 1e-15);
}

#[test]
fn near_unit_diagonal_and_near_symmetry_are_accepted() {
    let text = r#"{"as_of": "2026-11-20T08:00:00Z",
        "assets": {"A": {"spot": 1, "vol": 0.5}, "B": {"spot": 2, "vol": 0.5}},
        "correlation": {"symbols": ["A", "B"],
                        "matrix": [[0.9999999999999, 0.3], [0.3000000000001, 1]]}}"#;
    let c = ok(parse_market(text, "m.json"))
        .correlation
        .unwrap_or_else(|| panic!("correlation missing"));
    assert_eq!(c.matrix[0], 1.0, "the diagonal is stored as exactly 1");
}

#[test]
fn one_point_grid_and_bom_are_accepted() {
    let text = "\u{feff}{\"as_of\": \"2026-11-20T08:00:00Z\", \"assets\": {\"BTC\": {\"spot\": 5e4, \
        \"vol\": {\"expiries\": [\"2026-11-21T08:00:00Z\"], \"log_moneyness\": [0], \
        \"implied_vols\": [[0.5]]}}}}";
    let m = ok(parse_market(text, "m.json"));
    let VolSurface::Grid(g) = &m.assets[0].surface else {
        panic!("grid expected")
    };
    assert_eq!(g.taus, [1.0 / 365.0]);
    assert_eq!(g.vols, [0.5]);
}

#[test]
fn spec_portfolio_parses() {
    let p = ok(parse_portfolio_json(SPEC_PORTFOLIO, "book.json"));
    assert_eq!(p.accounts.len(), 1);
    let a = &p.accounts[0];
    assert_eq!(a.id, "acct-7");
    assert_eq!(a.margin_currency, "USD");
    let labels: Vec<&str> = a.positions.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "BTC-25DEC26-100000-C",
            "BTC-PERPETUAL",
            "ETH",
            "ETH_USDC-26MAR27-2800-P"
        ]
    );
    let quantities: Vec<f64> = a.positions.iter().map(|p| p.quantity).collect();
    assert_eq!(quantities, [-5.0, 200000.0, 40.0, 10.0]);
    assert_eq!(
        a.positions[0].instrument,
        spec(
            InstrumentKind::Option,
            "BTC",
            Settlement::Inverse,
            Some("2026-12-25T08:00:00Z"),
            Some((Right::Call, 100000.0))
        )
    );
    assert_eq!(
        a.positions[3].instrument,
        spec(
            InstrumentKind::Option,
            "ETH",
            Settlement::Linear,
            Some("2027-03-26T08:00:00Z"),
            Some((Right::Put, 2800.0))
        )
    );
    assert_eq!(a.positions[2].origin.file, "book.json");
    assert_eq!(
        a.positions[2].origin.field,
        "accounts[0].positions[2].instrument"
    );
}

#[test]
fn every_deribit_name_form() {
    use InstrumentKind::*;
    use Settlement::*;
    let dec25 = Some("2026-12-25T08:00:00Z");
    let cases = [
        ("BTC", spec(Spot, "BTC", Linear, None, None)),
        ("BTC-PERPETUAL", spec(Perpetual, "BTC", Inverse, None, None)),
        (
            "BTC_USDC-PERPETUAL",
            spec(Perpetual, "BTC", Linear, None, None),
        ),
        ("BTC-25DEC26", spec(Future, "BTC", Inverse, dec25, None)),
        ("BTC_USDC-25DEC26", spec(Future, "BTC", Linear, dec25, None)),
        (
            "BTC-25DEC26-100000-C",
            spec(Option, "BTC", Inverse, dec25, Some((Right::Call, 1e5))),
        ),
        (
            "BTC-25DEC26-100000-P",
            spec(Option, "BTC", Inverse, dec25, Some((Right::Put, 1e5))),
        ),
        (
            "SOL_USDC-25DEC26-150-C",
            spec(Option, "SOL", Linear, dec25, Some((Right::Call, 150.0))),
        ),
        (
            "XRP_USDC-5DEC26-0d625-P",
            spec(
                Option,
                "XRP",
                Linear,
                Some("2026-12-05T08:00:00Z"),
                Some((Right::Put, 0.625)),
            ),
        ),
        (
            "1INCH-29FEB28",
            spec(Future, "1INCH", Inverse, Some("2028-02-29T08:00:00Z"), None),
        ),
        (
            "ETH-1JAN30-3250d5-C",
            spec(
                Option,
                "ETH",
                Inverse,
                Some("2030-01-01T08:00:00Z"),
                Some((Right::Call, 3250.5)),
            ),
        ),
    ];
    for (name, expected) in cases {
        assert_eq!(parse_deribit(name).as_ref(), Ok(&expected), "{name}");
        assert_eq!(expected.canonical_name(), name, "canonical name of {name}");
    }
}

#[test]
fn every_kind_as_an_explicit_object() {
    let text = r#"{"accounts": [{"id": "obj", "margin_currency": "BTC", "positions": [
        {"instrument": {"kind": "spot", "underlying": "BTC"}, "quantity": 1.5},
        {"instrument": {"kind": "spot", "underlying": "ETH", "multiplier": 10}, "quantity": 2},
        {"instrument": {"kind": "perpetual", "underlying": "BTC", "settlement": "inverse"},
         "quantity": 1000},
        {"instrument": {"kind": "perpetual", "underlying": "BTC"}, "quantity": 0},
        {"instrument": {"kind": "future", "underlying": "BTC", "expiry": "2026-12-25T08:00:00Z",
                        "settlement": "inverse"}, "quantity": -1e4},
        {"instrument": {"kind": "future", "underlying": "ETH",
                        "expiry": "2027-03-26T10:00:00Z"}, "quantity": 3},
        {"instrument": {"kind": "option", "underlying": "SOL", "right": "call", "strike": 0.625,
                        "expiry": "2026-12-05T08:00:00Z", "multiplier": 100}, "quantity": -2},
        {"instrument": {"kind": "option", "underlying": "BTC", "right": "put", "strike": 80000,
                        "expiry": "2026-12-25T08:00:00Z", "settlement": "inverse"},
         "quantity": 4}
    ]}]}"#;
    let p = ok(parse_portfolio_json(text, "book.json"));
    let a = &p.accounts[0];
    assert_eq!(a.margin_currency, "BTC");
    let labels: Vec<&str> = a.positions.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "BTC",
            "ETHx10",
            "BTC-PERPETUAL",
            "BTC_USDC-PERPETUAL",
            "BTC-25DEC26",
            "ETH_USDC-26MAR27@2027-03-26T10:00:00Z",
            "SOL_USDC-5DEC26-0d625-Cx100",
            "BTC-25DEC26-80000-P",
        ]
    );
    let kinds: Vec<InstrumentKind> = a.positions.iter().map(|p| p.instrument.kind).collect();
    use InstrumentKind::*;
    assert_eq!(
        kinds,
        [
            Spot, Spot, Perpetual, Perpetual, Future, Future, Option, Option
        ]
    );
    assert_eq!(a.positions[1].instrument.multiplier, 10.0);
    assert_eq!(a.positions[2].instrument.settlement, Settlement::Inverse);
    assert_eq!(
        a.positions[3].instrument.settlement,
        Settlement::Linear,
        "linear by default"
    );
    assert_eq!(a.positions[3].quantity, 0.0, "zero quantity is allowed");
    assert_eq!(
        a.positions[5].instrument.expiry,
        Some(ts("2027-03-26T10:00:00Z"))
    );
    // An explicit object equal to a Deribit name is the same instrument.
    assert_eq!(
        Ok(&a.positions[7].instrument),
        parse_deribit("BTC-25DEC26-80000-P").as_ref()
    );
    assert_eq!(
        Ok(&a.positions[4].instrument),
        parse_deribit("BTC-25DEC26").as_ref()
    );
}

#[test]
fn several_accounts_and_empty_positions() {
    let text = r#"{"accounts": [
        {"id": "a", "positions": [{"instrument": "BTC", "quantity": 1}]},
        {"id": "b", "margin_currency": "ETH", "positions": []}]}"#;
    let p = ok(parse_portfolio_json(text, "book.json"));
    assert_eq!(p.accounts.len(), 2);
    assert_eq!(p.accounts[0].margin_currency, "USD");
    assert_eq!(p.accounts[1].margin_currency, "ETH");
    assert!(p.accounts[1].positions.is_empty());
}

#[test]
fn csv_groups_rows_by_account_in_order_of_first_appearance() {
    let text = "account, instrument ,quantity\r\n\
                acct-7,BTC-25DEC26-100000-C,-5\r\n\
                \r\n\
                hedge , BTC-PERPETUAL , 200000\r\n\
                acct-7,ETH,40\r\n\
                \"acct,8\",SOL_USDC-5DEC26-0d625-P,1e2\r\n\
                \"say \"\"hi\"\"\" , \"ETH\" ,\"-1\"";
    let p = ok(parse_portfolio_csv(text, "book.csv"));
    let ids: Vec<&str> = p.accounts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["acct-7", "hedge", "acct,8", "say \"hi\""]);
    assert_eq!(p.accounts[3].positions[0].quantity, -1.0);
    assert_eq!(
        p.accounts[3].positions[0].origin.field,
        "line 7, instrument"
    );
    assert!(p.accounts.iter().all(|a| a.margin_currency == "USD"));
    let acct7 = &p.accounts[0];
    let labels: Vec<&str> = acct7.positions.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(labels, ["BTC-25DEC26-100000-C", "ETH"]);
    assert_eq!(acct7.positions[1].quantity, 40.0);
    assert_eq!(acct7.positions[1].origin.field, "line 5, instrument");
    assert_eq!(acct7.positions[1].origin.file, "book.csv");
    assert_eq!(p.accounts[1].positions[0].quantity, 200000.0);
    assert_eq!(p.accounts[2].positions[0].instrument.strike, Some(0.625));
    assert_eq!(p.accounts[2].positions[0].quantity, 100.0);
}

#[test]
fn csv_with_bom_and_no_trailing_newline() {
    let p = ok(parse_portfolio_csv(
        "\u{feff}account,instrument,quantity\nx,BTC,-0",
        "b.csv",
    ));
    assert_eq!(p.accounts[0].positions[0].quantity, 0.0);
}

#[test]
fn config_defaults() {
    assert_eq!(ok(parse_config("{}", "c.json")), RunConfig::default());
    assert_eq!(ok(parse_config(" \n{ }\n", "c.json")), RunConfig::default());
}

#[test]
fn config_spec_example_and_overrides() {
    let text = r#"{ "horizon_days": 1, "steps": 1, "paths": 1000000, "seed": 42,
      "confidence": [0.99, 0.995],
      "student_t_dof": null,
      "dynamics": { "BTC": { "spot_vol": 0.55, "vol_of_vol": 1.2, "vol_mean_reversion": 4.0,
                             "spot_vol_corr": -0.2, "jump_intensity": 6.0,
                             "jump_mean": -0.04, "jump_std": 0.08 },
                    "ETH": { "jump_intensity": 2 } },
      "margin": { "confidence": 0.99, "mm_ratio": 0.75 } }"#;
    let c = ok(parse_config(text, "c.json"));
    assert_eq!(c.paths, 1_000_000);
    assert_eq!(c.student_t_dof, None);
    assert_eq!(
        c.dynamics.get("BTC"),
        Some(&DynamicsInput {
            spot_vol: Some(0.55),
            vol_of_vol: 1.2,
            vol_mean_reversion: 4.0,
            spot_vol_corr: -0.2,
            jump_intensity: 6.0,
            jump_mean: -0.04,
            jump_std: 0.08,
        })
    );
    assert_eq!(
        c.dynamics.get("ETH"),
        Some(&DynamicsInput {
            jump_intensity: 2.0,
            ..DynamicsInput::default()
        })
    );
    assert_eq!(c.stress, StressConfig::default());

    let text = r#"{ "horizon_days": 0.5, "steps": 24, "paths": 4294967295,
      "seed": 18446744073709551615, "confidence": [0.975], "student_t_dof": 4,
      "margin": { "mm_ratio": 1 },
      "stress": { "price_range": 0.2, "price_points": 5, "vol_moves": [0],
                  "extended_moves": [], "extended_vol_moves": [-0.5] },
      "repair_correlation": true, "chunk_paths": 65536 }"#;
    let c = ok(parse_config(text, "c.json"));
    assert_eq!(
        c,
        RunConfig {
            horizon_days: 0.5,
            steps: 24,
            paths: 4_294_967_295,
            seed: u64::MAX,
            confidence: vec![0.975],
            student_t_dof: Some(4),
            student_t_dof_given: true,
            margin: MarginConfig {
                confidence: 0.99,
                mm_ratio: 1.0,
                apc: None,
            },
            stress: StressConfig {
                price_range: 0.2,
                price_points: 5,
                vol_moves: vec![0.0],
                extended_moves: vec![],
                extended_vol_moves: vec![-0.5],
            },
            repair_correlation: true,
            chunk_paths: Some(65536),
            ..RunConfig::default()
        }
    );
}

#[test]
fn integral_numbers_count_as_integers() {
    let c = ok(parse_config(
        r#"{"paths": 1e6, "steps": 2.0, "seed": 0, "chunk_paths": null}"#,
        "c.json",
    ));
    assert_eq!(
        (c.paths, c.steps, c.seed, c.chunk_paths),
        (1_000_000, 2, 0, None)
    );
}

#[test]
fn added_positions() {
    let (label, spec, q) = ok(parse_added_position("BTC-25DEC26-100000-C:-5", "--add"));
    assert_eq!(label, "BTC-25DEC26-100000-C");
    assert_eq!(spec.strike, Some(100000.0));
    assert_eq!(q, -5.0);
    let (label, spec, q) = ok(parse_added_position(
        " XRP_USDC-5DEC26-0d625-P : 2.5e3 ",
        "--add",
    ));
    assert_eq!(label, "XRP_USDC-5DEC26-0d625-P");
    assert_eq!(spec.strike, Some(0.625));
    assert_eq!(q, 2500.0);
    let (_, spec, q) = ok(parse_added_position("ETH:0", "--add"));
    assert_eq!((spec.kind, q), (InstrumentKind::Spot, 0.0));
}

#[test]
fn files_load_by_extension() {
    let market = temp_file("m.json", SPEC_MARKET.as_bytes());
    assert_eq!(ok(load_market(&market)).assets.len(), 2);
    let json = temp_file("book.json", SPEC_PORTFOLIO.as_bytes());
    assert_eq!(ok(load_portfolio(&json)).accounts[0].positions.len(), 4);
    let csv = temp_file("book.CSV", b"account,instrument,quantity\na,BTC,1\n");
    let p = ok(load_portfolio(&csv));
    assert_eq!(
        p.accounts[0].positions[0].origin.file,
        csv.display().to_string()
    );
    let config = temp_file("c.json", br#"{"seed": 7}"#);
    assert_eq!(ok(load_config(&config)).seed, 7);
}

fn deribit_spec() -> impl Strategy<Value = InstrumentSpec> {
    let symbol = "[A-Z][A-Z0-9]{0,5}";
    // Any date of 2000..=2099 at 08:00 UTC.
    let expiry = (0i64..36_524).prop_map(|day| (946_713_600 + day * 86_400) * 1000);
    let strike = prop_oneof![
        (1u64..10_000_000).prop_map(|k| k as f64),
        (1u64..100_000).prop_map(|k| k as f64 / 1000.0),
        any::<f64>().prop_filter("positive finite", |k| k.is_finite() && *k > 0.0),
    ];
    let settlement = prop_oneof![Just(Settlement::Inverse), Just(Settlement::Linear)];
    let right = prop_oneof![Just(Right::Call), Just(Right::Put)];
    (symbol, 0..4u8, settlement, expiry, strike, right).prop_map(
        |(underlying, kind, settlement, expiry, strike, right)| {
            let (kind, settlement) = match kind {
                0 => (InstrumentKind::Spot, Settlement::Linear),
                1 => (InstrumentKind::Perpetual, settlement),
                2 => (InstrumentKind::Future, settlement),
                _ => (InstrumentKind::Option, settlement),
            };
            let option = kind == InstrumentKind::Option;
            InstrumentSpec {
                kind,
                underlying,
                right: option.then_some(right),
                strike: option.then_some(strike),
                expiry: matches!(kind, InstrumentKind::Future | InstrumentKind::Option)
                    .then_some(expiry),
                settlement,
                multiplier: 1.0,
            }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn deribit_names_round_trip(spec in deribit_spec()) {
        let name = spec.canonical_name();
        prop_assert_eq!(parse_deribit(&name), Ok(spec), "{}", name);
    }
}

/// The sample market's smiles are shaped like listed crypto options (issue #2 item 9): put
/// skew (vol at k = −0.2 above k = +0.2) at every expiry, and at-the-money vol higher at the
/// short end than at the long end.
#[test]
fn sample_market_has_crypto_shaped_smiles() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/market.json")).unwrap();
    let market = tailrisk::input::parse_market(&text, "market.json").unwrap();
    assert_eq!(market.assets.len(), 3);
    for a in &market.assets {
        let tailrisk::market::VolSurface::Grid(g) = &a.surface else {
            panic!("{} has a flat surface", a.symbol)
        };
        for &tau in &g.taus {
            assert!(
                a.surface.vol(tau, -0.2) > a.surface.vol(tau, 0.2),
                "{} skew at {tau}",
                a.symbol
            );
        }
        let (short, long) = (g.taus[0], g.taus[g.taus.len() - 1]);
        assert!(
            a.surface.vol(short, 0.0) > a.surface.vol(long, 0.0),
            "{} term structure",
            a.symbol
        );
    }
}
