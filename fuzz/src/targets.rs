//! What every fuzz target does with its input (docs/fuzzing.md): arbitrary bytes go to the
//! parsing entry point the CLI uses for that file, through [`tailrisk::input::text_of`] (the
//! UTF-8 check of every text input), and whatever parses is taken on as the CLI takes it
//! (compiled into a book with the shipped other files, or merged). Each returns normally
//! whether the input is accepted or refused; a panic, a hang or an allocation past the
//! fuzzer's limit is the failure.
//!
//! One definition serves the libFuzzer targets (`fuzz/fuzz_targets/*.rs`) and the replay of
//! the whole corpus in the normal test suite (`tests/fuzz_regressions.rs`, via `#[path]`),
//! so this file uses only `tailrisk` and its own dependencies (`chrono`, `serde_json`, `sha2`).

use std::sync::LazyLock;

use sha2::{Digest, Sha256};
use tailrisk::book::{Book, SourceFiles};
use tailrisk::config::RunConfig;
use tailrisk::import::deribit::positions::{AccountOut, Known, import_positions};
use tailrisk::import::deribit::{self, Document, Notes, Request};
use tailrisk::input;
use tailrisk::market::Market;
use tailrisk::portfolio::Portfolio;
use tailrisk::shard::merge::{merge, read_shard};
use tailrisk::stress::ScenarioSet;

/// The name errors give the fuzzed file.
const FILE: &str = "fuzz-input";

/// The shipped market, portfolio and Deribit responses, against which a fuzzed file of
/// another kind is compiled.
const MARKET: &str = include_str!("../../data/market.json");
const PORTFOLIO: &str = include_str!("../../data/portfolio.json");
const BOOK_SUMMARY_BTC: &str = include_str!("../../data/deribit/book_summary_btc.json");
const BOOK_SUMMARY_ETH: &str = include_str!("../../data/deribit/book_summary_eth.json");
const CORRELATION: &str = include_str!("../../data/deribit/correlation.json");

static SHIPPED_MARKET: LazyLock<Market> =
    LazyLock::new(|| input::parse_market(MARKET, "data/market.json").expect("shipped market"));
static SHIPPED_PORTFOLIO: LazyLock<Portfolio> = LazyLock::new(|| {
    input::parse_portfolio_json(PORTFOLIO, "data/portfolio.json").expect("shipped portfolio")
});

/// The text of `data` as the CLI reads a file: `None` when it is not UTF-8 (an input error).
fn text(data: &[u8]) -> Option<String> {
    input::text_of(data.to_vec(), FILE).ok()
}

/// Compiles a book as `run` does; the result (a book or an input error) is not the point.
fn compile(market: &Market, portfolio: &Portfolio, config: &RunConfig) {
    let _ = Book::compile(market, portfolio, config, &SourceFiles::default());
}

/// `--market FILE`: [`input::parse_market`], then compiled with the shipped portfolio.
pub fn market(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if let Ok(market) = input::parse_market(&text, FILE) {
        compile(&market, &SHIPPED_PORTFOLIO, &RunConfig::default());
    }
}

/// `--portfolio FILE.json`: [`input::parse_portfolio_json`], then compiled with the shipped
/// market.
pub fn portfolio_json(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if let Ok(portfolio) = input::parse_portfolio_json(&text, FILE) {
        compile(&SHIPPED_MARKET, &portfolio, &RunConfig::default());
    }
}

/// `--portfolio FILE.csv`: [`input::parse_portfolio_csv`], then compiled with the shipped
/// market.
pub fn portfolio_csv(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if let Ok(portfolio) = input::parse_portfolio_csv(&text, FILE) {
        compile(&SHIPPED_MARKET, &portfolio, &RunConfig::default());
    }
}

/// `--config FILE`: [`input::parse_config`], then compiled with the shipped market and
/// portfolio.
pub fn config(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if let Ok(config) = input::parse_config(&text, FILE) {
        compile(&SHIPPED_MARKET, &SHIPPED_PORTFOLIO, &config);
    }
}

/// `--scenarios FILE`: [`ScenarioSet::parse`], then resolved against the shipped book.
pub fn scenarios(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let Ok(set) = ScenarioSet::parse(&text, FILE) else {
        return;
    };
    static BOOK: LazyLock<Book> = LazyLock::new(|| {
        Book::compile(
            &SHIPPED_MARKET,
            &SHIPPED_PORTFOLIO,
            &RunConfig::default(),
            &SourceFiles::default(),
        )
        .expect("the shipped book compiles")
    });
    let _ = set.skipped_shocks(&BOOK);
    let _ = set.resolve(&BOOK);
}

/// `--history FILE`: [`input::parse_history`] for the shipped market's assets as of its date
/// (what `input::load_history` passes), and for one unlisted asset.
pub fn history(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let as_of = chrono::DateTime::from_timestamp(SHIPPED_MARKET.as_of, 0)
        .map(|t| t.date_naive())
        .unwrap_or_default();
    let _ = input::parse_history(&text, FILE, &SHIPPED_MARKET.history_symbols(), as_of);
    let _ = input::parse_history(&text, FILE, &["LTC".to_string()], as_of);
}

/// `--correlation FILE` of `import deribit`: [`input::parse_correlation`] for two assets.
pub fn correlation(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let symbols = ["BTC".to_string(), "ETH".to_string()];
    let _ = input::parse_correlation(&text, FILE, &symbols);
}

/// `whatif --add INSTRUMENT:QUANTITY`: [`input::parse_added_position`].
pub fn added_position(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let _ = input::parse_added_position(&text, "--add");
}

/// `import deribit --book-summary FILE`: the whole import of one book summary, validated as
/// the command does.
pub fn deribit_book_summary(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let request = Request {
        book_summaries: vec![document(FILE, &text)],
        account_id: "deribit".into(),
        margin_currency: "USD".into(),
        ..Request::default()
    };
    import_and_validate(&request);
}

/// `import deribit --positions FILE` with the shipped BTC and ETH book summaries and
/// correlation, failing on the first unusable row and listing them (`--skip-unusable`): the
/// positions half of [`deribit::import`] (the market half, the same for every input, is
/// imported once), then validated as [`deribit::Import::validate`] does.
pub fn deribit_positions(data: &[u8]) {
    struct Imported {
        assets: Vec<String>,
        as_of_ms: i64,
        market: Market,
    }
    static IMPORTED: LazyLock<Imported> = LazyLock::new(|| {
        let summaries = [
            document("book_summary_btc.json", BOOK_SUMMARY_BTC),
            document("book_summary_eth.json", BOOK_SUMMARY_ETH),
        ];
        let (market, as_of_ms) =
            deribit::market::import_market(&summaries, &mut Notes::default()).expect("import");
        let whole = deribit::import(&Request {
            book_summaries: summaries.to_vec(),
            correlation: Some(document("correlation.json", CORRELATION)),
            ..Request::default()
        })
        .expect("the shipped responses import");
        Imported {
            assets: market.assets.keys().cloned().collect(),
            as_of_ms,
            market: input::parse_market(&whole.market, "market.json").expect("it reads back"),
        }
    });
    let Some(text) = text(data) else { return };
    let known = Known {
        assets: &IMPORTED.assets,
        as_of_ms: IMPORTED.as_of_ms,
    };
    for skip_unusable in [false, true] {
        let account = AccountOut {
            id: "deribit".into(),
            margin_currency: "USD".into(),
            positions: Vec::new(),
        };
        let files = [document(FILE, &text)];
        let mut notes = Notes::default();
        let Ok(out) = import_positions(&files, account, &known, skip_unusable, &mut notes) else {
            continue;
        };
        let written = serde_json::to_string_pretty(&out).expect("a portfolio serialises");
        if let Ok(portfolio) = input::parse_portfolio_json(&written, "portfolio.json") {
            compile(&IMPORTED.market, &portfolio, &RunConfig::default());
        }
    }
}

fn document(file: &str, text: &str) -> Document {
    Document {
        file: file.to_string(),
        text: text.to_string(),
    }
}

fn import_and_validate(request: &Request) {
    if let Ok(imported) = deribit::import(request) {
        let _ = imported.validate("market.json", "portfolio.json");
    }
}

/// `merge FILE…`: [`read_shard`] of the bytes as given, and of the bytes with their SHA-256
/// appended (so that mutations reach past the checksum into the structure); a shard that
/// reads is merged alone, as `tailrisk merge` would with one file.
pub fn shard(data: &[u8]) {
    let mut sealed = data.to_vec();
    sealed.extend_from_slice(&Sha256::digest(data));
    for bytes in [data, &sealed[..]] {
        if let Ok(shard) = read_shard(FILE, bytes) {
            let _ = merge(vec![shard]);
        }
    }
}

// --- HTTP request bodies ------------------------------------------------------------------

/// `tailrisk serve`'s request bodies (SPEC §13), through the parsers of src/input/requests.rs
/// the routes use: the first byte picks the endpoint (margin, whatif, trades, market update),
/// so that one corpus covers all four bodies.
pub fn http_bodies(data: &[u8]) {
    use tailrisk::input::requests::{
        MarketDocument, parse_margin_request, parse_trades_request, parse_whatif_request,
    };
    let Some((&endpoint, body)) = data.split_first() else {
        return;
    };
    let Some(text) = text(body) else { return };
    match endpoint % 4 {
        0 => drop(parse_margin_request(&text, "POST /v1/margin")),
        1 => drop(parse_whatif_request(&text, "POST /v1/whatif")),
        2 => drop(parse_trades_request(&text, "POST /v1/accounts/a/trades")),
        _ => {
            static DOCUMENT: LazyLock<MarketDocument> = LazyLock::new(|| {
                MarketDocument::read(MARKET, "data/market.json").expect("shipped market")
            });
            drop(DOCUMENT.updated(&text, "PUT /v1/market"));
        }
    }
}
// --- end HTTP request bodies

/// A target's body: returns whatever the input.
pub type Target = fn(&[u8]);

/// Every target by the name of its corpus folder (`fuzz/corpus/NAME`) and its
/// `fuzz/fuzz_targets/NAME.rs`.
pub const TARGETS: &[(&str, Target)] = &[
    ("market", market),
    ("portfolio_json", portfolio_json),
    ("portfolio_csv", portfolio_csv),
    ("config", config),
    ("scenarios", scenarios),
    ("history", history),
    ("correlation", correlation),
    ("added_position", added_position),
    ("deribit_book_summary", deribit_book_summary),
    ("deribit_positions", deribit_positions),
    ("shard", shard),
    ("http_bodies", http_bodies),
];
