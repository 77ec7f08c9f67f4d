//! The service's warm compiled book (`tailrisk::book::WarmBook`): the book of any accounts
//! put together from the rows a snapshot compiled gives `Book::compile`'s book field for
//! field, with new instruments, other labels for known instruments, a market without a
//! correlation block, and the same errors.

mod common;

use tailrisk::book::{Book, SourceFiles, WarmBook};
use tailrisk::config::RunConfig;
use tailrisk::input;
use tailrisk::market::Market;
use tailrisk::portfolio::{Origin, Portfolio, Position};

const MARKET: &str = include_str!("../data/market.json");
const CLEARING_BOOK: &str = include_str!("../data/clearing_book.csv");

/// Every field of a book, floats by their shortest round-trip form (so bit for bit, -0
/// included).
fn fields(book: &Book) -> String {
    format!("{book:?}")
}

fn compile(market: &Market, portfolio: &Portfolio, config: &RunConfig) -> Book {
    Book::compile(market, portfolio, config, &SourceFiles::default()).expect("book compiles")
}

fn warm_compile(
    warm: &WarmBook,
    market: &Market,
    portfolio: &Portfolio,
    config: &RunConfig,
) -> Book {
    warm.compile(market, portfolio, config, &SourceFiles::default())
        .expect("book compiles from the warm book")
}

/// A `whatif --add NAME:QUANTITY` position.
fn added(name: &str, quantity: f64) -> Position {
    let arg = format!("{name}:{quantity}");
    let (label, instrument, quantity) = input::parse_added_position(&arg, "--add").unwrap();
    Position {
        label,
        instrument,
        quantity,
        origin: Origin {
            file: "--add".into(),
            field: arg,
        },
    }
}

fn clearing() -> (Market, Portfolio, RunConfig) {
    let market = input::parse_market(MARKET, "market.json").expect("market");
    let portfolio =
        input::parse_portfolio_csv(CLEARING_BOOK, "clearing_book.csv").expect("clearing book");
    (market, portfolio, RunConfig::default())
}

#[test]
fn every_account_alone_equals_compile() {
    let (market, portfolio, config) = clearing();
    let warm = WarmBook::new(&compile(&market, &portfolio, &config));
    assert!(warm.row_count() > 0);
    for account in &portfolio.accounts {
        let one = Portfolio {
            accounts: vec![account.clone()],
        };
        assert_eq!(
            fields(&warm_compile(&warm, &market, &one, &config)),
            fields(&compile(&market, &one, &config)),
            "account {}",
            account.id
        );
    }
}

#[test]
fn the_whole_book_and_a_reordered_part_equal_compile() {
    let (market, portfolio, config) = clearing();
    let warm = WarmBook::new(&compile(&market, &portfolio, &config));
    assert_eq!(
        fields(&warm_compile(&warm, &market, &portfolio, &config)),
        fields(&compile(&market, &portfolio, &config))
    );
    let mut part = Portfolio {
        accounts: portfolio
            .accounts
            .iter()
            .rev()
            .step_by(7)
            .cloned()
            .collect(),
    };
    part.accounts[0].positions.reverse();
    assert_eq!(
        fields(&warm_compile(&warm, &market, &part, &config)),
        fields(&compile(&market, &part, &config))
    );
}

/// A what-if: known instruments under other labels (the row's label is this book's first
/// position's), and instruments the warm book has never compiled.
#[test]
fn added_positions_and_other_labels_equal_compile() {
    let (market, portfolio, config) = clearing();
    let small = Portfolio {
        accounts: portfolio.accounts[..3].to_vec(),
    };
    let warm = WarmBook::new(&compile(&market, &small, &config));
    let rows = warm.row_count();
    let mut changed = small.accounts[1].clone();
    let first = changed.positions[0].clone();
    let mut relabelled = first.clone();
    relabelled.label = format!("{} (again)", first.label);
    changed.positions.insert(0, relabelled);
    for (name, quantity) in [("BTC-25DEC26-120000-C", -3.0), ("ETH-PERPETUAL", 25000.0)] {
        changed.positions.push(added(name, quantity));
    }
    let one = Portfolio {
        accounts: vec![changed],
    };
    let from_warm = warm_compile(&warm, &market, &one, &config);
    assert_eq!(fields(&from_warm), fields(&compile(&market, &one, &config)));
    // The new rows are taken in; the known ones are not added twice.
    let more = warm.with_rows_of(&from_warm).expect("two new instruments");
    assert_eq!(more.row_count(), rows + 2);
    assert!(more.with_rows_of(&from_warm).is_none());
    assert_eq!(
        fields(&warm_compile(&more, &market, &one, &config)),
        fields(&compile(&market, &one, &config))
    );
}

/// Without a correlation block the simulated asset follows the positions: an account on
/// another asset than the warm book's is compiled as `compile` compiles it.
#[test]
fn without_a_correlation_block_the_simulated_asset_follows_the_positions() {
    let market_json = format!(
        r#"{{"as_of":"{}","assets":{{"BTC":{{"spot":91250,"vol":0.55}},"ETH":{{"spot":3050,"vol":0.7}}}}}}"#,
        common::AS_OF
    );
    let market = input::parse_market(&market_json, "market.json").unwrap();
    let config = RunConfig::default();
    let book = |accounts: &[common::TestAccount]| {
        input::parse_portfolio_json(&common::portfolio(accounts), "portfolio.json").unwrap()
    };
    let btc = book(&[("a", "USD", vec![("BTC-PERPETUAL", 1000.0)])]);
    let eth = book(&[("b", "USD", vec![("ETH-PERPETUAL", 1000.0)])]);
    let warm = WarmBook::new(&compile(&market, &btc, &config));
    for part in [&btc, &eth] {
        assert_eq!(
            fields(&warm_compile(&warm, &market, part, &config)),
            fields(&compile(&market, part, &config))
        );
    }
}

/// A position the market cannot price is refused from the warm book with `compile`'s error.
#[test]
fn errors_are_those_of_compile() {
    let (market, portfolio, config) = clearing();
    let warm = WarmBook::new(&compile(&market, &portfolio, &config));
    for name in ["BTC-20NOV25-90000-C", "DOGE-PERPETUAL"] {
        let mut account = portfolio.accounts[0].clone();
        account.positions.push(added(name, 1.0));
        let one = Portfolio {
            accounts: vec![account],
        };
        let files = SourceFiles::default();
        let from_warm = warm.compile(&market, &one, &config, &files).unwrap_err();
        let compiled = Book::compile(&market, &one, &config, &files).unwrap_err();
        assert_eq!(from_warm.to_string(), compiled.to_string(), "{name}");
    }
}
