//! Named joint stress scenarios (SPEC §5): the `--scenarios` file and the built-in set.
//!
//! A scenario moves every asset it names at once: S' = S·(1 + spot) and σ' = σ_surface(τ₁, k₁)
//! ·(1 + vol) on the whole surface, with no tenor scaling ([`VolRule::Uniform`]); assets it does
//! not name stay unshocked. It is repriced at as_of + horizon like a Monte Carlo scenario.
//!
//! File format: a JSON array `[{"name": "crash", "shocks": {"BTC": {"spot": -0.5, "vol": 0.5}}}]`.
//! Validation (every error names the file, the field and the value, exit 65): names non-empty
//! and unique; `spot` and `vol` finite and > −1 (each optional, default 0); an asset at most once
//! per scenario; no fields other than `name`, `shocks`, `spot` and `vol`. When the book is
//! compiled, a shock on an asset that is not simulated (not in `correlation.symbols`) is
//! skipped with a warning. An empty array is allowed and means "no named scenarios".
//!
//! # The built-in set
//!
//! Used when no `--scenarios` file is given. **Hypothetical** scenarios, modelled on crypto
//! stress episodes but not calibrated to them, one day of moves (relative spot move / relative
//! move of every implied vol):
//!
//! | name | BTC | ETH | SOL | any other asset |
//! |---|---|---|---|---|
//! | `black-thursday-crash` | −40% / +100% | −45% / +100% | −50% / +100% | −50% / +100% |
//! | `exchange-collapse-contagion` | −15% / +40% | −20% / +50% | −50% / +120% | −25% / +60% |
//! | `correlation-break` | −25% / +100% | −25% / +100% | −25% / +100% | −25% / +100% |
//! | `short-squeeze` | +25% / −20% | +30% / −20% | +40% / −15% | +35% / −20% |
//!
//! - `black-thursday-crash`: a one-day crash with a vol spike, in the manner of 12 March 2020,
//!   when BTC lost close to 40% in a day and its implied vols roughly doubled; altcoins fall
//!   further.
//! - `exchange-collapse-contagion`: the failure of a large exchange, in the manner of November
//!   2022, hitting hardest the altcoin closest to it (SOL, which lost about half its value within
//!   days) and spreading to the majors.
//! - `correlation-break`: diversification fails: every asset falls together by the same amount
//!   and every vol doubles.
//! - `short-squeeze`: a violent up-move as shorts are forced to cover, with implied vols falling
//!   (sellers of vol return), the scenario that hurts short calls and short-delta books.
//!
//! The "any other asset" column applies to every simulated asset the scenario does not list by
//! name: a deliberate choice for the built-in set only (a file's scenarios leave unnamed assets
//! unshocked, as SPEC §5 says), so that a book on another coin is never left unshocked by the
//! built-in set; a listed asset that is not simulated is skipped.

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};

use crate::book::Book;
use crate::engine::{AssetState, StressScenario, VolRule};
use crate::error::{Error, Result};

/// The relative moves of one asset in a named scenario.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Shock {
    /// S' = S·(1 + spot), > −1.
    pub spot: f64,
    /// σ' = σ·(1 + vol), > −1.
    pub vol: f64,
}

/// A named scenario as written, before it is matched to the book's assets.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedScenario {
    pub name: String,
    /// Shocks by asset symbol, in the order written.
    pub shocks: Vec<(String, Shock)>,
    /// The shock of every simulated asset not in `shocks` (built-in set only; `None`: those
    /// assets stay unshocked).
    pub others: Option<Shock>,
}

/// Where a set of named scenarios came from.
#[derive(Clone, Debug, PartialEq)]
pub enum ScenarioOrigin {
    BuiltIn,
    /// The file name, as errors name it.
    File(String),
}

/// The named scenarios of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioSet {
    pub origin: ScenarioOrigin,
    pub scenarios: Vec<NamedScenario>,
}

/// A named scenario matched to the book: the state of every simulated asset.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedScenario {
    pub name: String,
    /// One per simulated asset: log return ln(1 + spot), log vol factor ln(1 + vol).
    pub states: Vec<AssetState>,
    /// The shock applied to each simulated asset (zero where unshocked), for reports.
    pub shocks: Vec<Shock>,
}

impl ResolvedScenario {
    /// The scenario the revalue stage runs.
    pub fn stress_scenario(&self) -> StressScenario {
        StressScenario {
            states: self.states.clone(),
            vol_rule: VolRule::Uniform,
            only_asset: None,
        }
    }
}

fn shock(spot: f64, vol: f64) -> Shock {
    Shock { spot, vol }
}

impl ScenarioSet {
    /// The built-in hypothetical scenarios (module docs).
    pub fn built_in() -> Self {
        let named = |name: &str, btc: Shock, eth: Shock, sol: Shock, others: Shock| NamedScenario {
            name: name.to_string(),
            shocks: vec![
                ("BTC".into(), btc),
                ("ETH".into(), eth),
                ("SOL".into(), sol),
            ],
            others: Some(others),
        };
        ScenarioSet {
            origin: ScenarioOrigin::BuiltIn,
            scenarios: vec![
                named(
                    "black-thursday-crash",
                    shock(-0.40, 1.00),
                    shock(-0.45, 1.00),
                    shock(-0.50, 1.00),
                    shock(-0.50, 1.00),
                ),
                named(
                    "exchange-collapse-contagion",
                    shock(-0.15, 0.40),
                    shock(-0.20, 0.50),
                    shock(-0.50, 1.20),
                    shock(-0.25, 0.60),
                ),
                named(
                    "correlation-break",
                    shock(-0.25, 1.00),
                    shock(-0.25, 1.00),
                    shock(-0.25, 1.00),
                    shock(-0.25, 1.00),
                ),
                named(
                    "short-squeeze",
                    shock(0.25, -0.20),
                    shock(0.30, -0.20),
                    shock(0.40, -0.15),
                    shock(0.35, -0.20),
                ),
            ],
        }
    }

    /// Reads and validates a scenarios file (module docs).
    pub fn load(path: &std::path::Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::unreadable(path, e))?;
        let file = path.display().to_string();
        let text = String::from_utf8(bytes).map_err(|e| {
            Error::input(
                &file,
                "(file)",
                format!("invalid byte at offset {}", e.utf8_error().valid_up_to()),
                "the file is not UTF-8 text",
            )
        })?;
        Self::parse(&text, &file)
    }

    /// Validates the text of a scenarios file named `file` (module docs).
    pub fn parse(text: &str, file: &str) -> Result<Self> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let fail = |field: &str, value: &dyn fmt::Display, message: &str| {
            Error::input(file, field, value, message)
        };
        if text.trim().is_empty() {
            return Err(fail(
                "(file)",
                &"an empty file",
                "expected a JSON array of scenarios",
            ));
        }
        let root: Node = serde_json::from_str(text).map_err(|e| {
            fail(
                &format!("line {}, column {}", e.line(), e.column()),
                &"invalid JSON",
                &format!("not valid JSON: {e}"),
            )
        })?;
        let Node::Array(items) = root else {
            return Err(fail(
                "(top level)",
                &root,
                "expected an array of scenarios [{\"name\": ..., \"shocks\": {...}}]",
            ));
        };
        let mut names = HashSet::new();
        let mut scenarios = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let at = format!("[{i}]");
            let fields = object(item, &at, &["name", "shocks"], file)?;
            let name = match field(fields, "name") {
                Some(Node::String(s)) if !s.trim().is_empty() => s.clone(),
                Some(Node::String(s)) => {
                    return Err(fail(
                        &format!("{at}.name"),
                        &format!("{s:?}"),
                        "must not be empty",
                    ));
                }
                Some(other) => {
                    return Err(fail(&format!("{at}.name"), other, "expected a string"));
                }
                None => {
                    return Err(fail(
                        &format!("{at}.name"),
                        &"missing",
                        "every scenario needs a name",
                    ));
                }
            };
            if !names.insert(name.clone()) {
                return Err(fail(
                    &format!("{at}.name"),
                    &format!("{name:?}"),
                    "duplicate scenario name; names must be unique",
                ));
            }
            let shocks_at = format!("{at}.shocks");
            let Some(shocks_node) = field(fields, "shocks") else {
                return Err(fail(
                    &shocks_at,
                    &"missing",
                    "every scenario needs shocks, e.g. {\"BTC\": {\"spot\": -0.5, \"vol\": 0.5}}",
                ));
            };
            let Node::Object(entries) = shocks_node else {
                return Err(fail(
                    &shocks_at,
                    shocks_node,
                    "expected an object of shocks by asset",
                ));
            };
            let mut shocks: Vec<(String, Shock)> = Vec::with_capacity(entries.len());
            for (asset, node) in entries {
                let asset_at = format!("{shocks_at}.{asset}");
                if shocks.iter().any(|(a, _)| a == asset) {
                    return Err(fail(
                        &asset_at,
                        asset,
                        "the asset is shocked twice in this scenario",
                    ));
                }
                let moves = object(node, &asset_at, &["spot", "vol"], file)?;
                let mut s = Shock::default();
                for (key, slot) in [("spot", &mut s.spot), ("vol", &mut s.vol)] {
                    if let Some(v) = field(moves, key) {
                        let path = format!("{asset_at}.{key}");
                        let Node::Number(x) = v else {
                            return Err(fail(
                                &path,
                                v,
                                "expected a number (a relative move, -0.5 = -50%)",
                            ));
                        };
                        if !x.is_finite() || *x <= -1.0 {
                            return Err(fail(
                                &path,
                                v,
                                "must be a finite relative move greater than -1 (-1 = -100%)",
                            ));
                        }
                        *slot = *x;
                    }
                }
                shocks.push((asset.clone(), s));
            }
            scenarios.push(NamedScenario {
                name,
                shocks,
                others: None,
            });
        }
        Ok(ScenarioSet {
            origin: ScenarioOrigin::File(file.to_string()),
            scenarios,
        })
    }

    /// Matches the scenarios to the book's simulated assets. An asset that is not simulated
    /// (not in the market's `correlation.symbols`, so no position can be on it) is skipped; for
    /// a file, with a warning on stderr naming the file, the field and the asset, so that one
    /// scenario file serves markets of different coverage without a typo passing unseen.
    pub fn resolve(&self, book: &Book) -> Result<Vec<ResolvedScenario>> {
        let n = book.assets.len();
        self.scenarios
            .iter()
            .enumerate()
            .map(|(i, scenario)| {
                let mut shocks = vec![scenario.others; n];
                for (symbol, s) in &scenario.shocks {
                    match (book.asset_index(symbol), &self.origin) {
                        (Some(a), _) => shocks[a] = Some(*s),
                        (None, ScenarioOrigin::BuiltIn) => {}
                        (None, ScenarioOrigin::File(file)) => eprintln!(
                            "tailrisk: warning: {file}: [{i}].shocks.{symbol}: {symbol} is not \
                             a simulated asset (not in the market's correlation.symbols); \
                             this shock is skipped"
                        ),
                    }
                }
                let shocks: Vec<Shock> =
                    shocks.into_iter().map(Option::unwrap_or_default).collect();
                Ok(ResolvedScenario {
                    name: scenario.name.clone(),
                    states: shocks
                        .iter()
                        .map(|s| AssetState {
                            log_return: s.spot.ln_1p(),
                            log_vol: s.vol.ln_1p(),
                        })
                        .collect(),
                    shocks,
                })
            })
            .collect()
    }
}

/// The fields of an object node, rejecting duplicates and fields not in `allowed`.
fn object<'n>(
    node: &'n Node,
    at: &str,
    allowed: &[&str],
    file: &str,
) -> Result<&'n [(String, Node)]> {
    let Node::Object(fields) = node else {
        return Err(Error::input(file, at, node, "expected an object"));
    };
    for (j, (key, _)) in fields.iter().enumerate() {
        if !allowed.contains(&key.as_str()) {
            return Err(Error::input(
                file,
                format!("{at}.{key}"),
                key,
                format!("unknown field; expected one of: {}", allowed.join(", ")),
            ));
        }
        if fields[..j].iter().any(|(k, _)| k == key) {
            return Err(Error::input(
                file,
                format!("{at}.{key}"),
                key,
                "duplicate field",
            ));
        }
    }
    Ok(fields)
}

fn field<'n>(fields: &'n [(String, Node)], key: &str) -> Option<&'n Node> {
    fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// A JSON value that keeps what validation needs and `serde_json::Value` loses: duplicate keys
/// (an error here, not "last one wins") and the order of fields.
#[derive(Clone, Debug, PartialEq)]
enum Node {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

/// The value as an error shows it, at most 80 characters.
impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Node::Null => "null".to_string(),
            Node::Bool(b) => b.to_string(),
            Node::Number(x) => x.to_string(),
            Node::String(s) => format!("{s:?}"),
            Node::Array(items) => {
                let parts: Vec<String> = items.iter().map(Node::to_string).collect();
                format!("[{}]", parts.join(", "))
            }
            Node::Object(fields) => {
                let parts: Vec<String> =
                    fields.iter().map(|(k, v)| format!("{k:?}: {v}")).collect();
                format!("{{{}}}", parts.join(", "))
            }
        };
        let mut chars = text.chars();
        let shown: String = chars.by_ref().take(80).collect();
        if chars.next().is_some() {
            write!(f, "{shown}…")
        } else {
            f.write_str(&shown)
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Number(v as f64))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Number(v as f64))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Number(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::String(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut fields = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Node>()? {
            fields.push((key, value));
        }
        Ok(Node::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in set has the shapes issue #4 asks for: a crash with a vol spike, a
    /// contagion that hits the altcoin hardest, everything falling together with vol doubled,
    /// and a squeeze up with vol down.
    #[test]
    fn built_in_scenarios_have_their_shapes() {
        let set = ScenarioSet::built_in();
        let get = |name: &str| {
            let s = set.scenarios.iter().find(|s| s.name == name).expect(name);
            let mut all: Vec<Shock> = s.shocks.iter().map(|(_, x)| *x).collect();
            all.extend(s.others);
            (s.clone(), all)
        };
        let (_, crash) = get("black-thursday-crash");
        assert!(crash.iter().all(|x| x.spot <= -0.3 && x.vol >= 0.5));
        let (contagion, _) = get("exchange-collapse-contagion");
        let by = |sym: &str| contagion.shocks.iter().find(|(a, _)| a == sym).unwrap().1;
        assert!(by("SOL").spot < by("ETH").spot && by("SOL").spot < by("BTC").spot);
        let (_, together) = get("correlation-break");
        assert!(
            together
                .iter()
                .all(|x| x.spot == together[0].spot && x.spot < 0.0)
        );
        assert!(together.iter().all(|x| x.vol == 1.0), "vol doubles");
        let (_, squeeze) = get("short-squeeze");
        assert!(squeeze.iter().all(|x| x.spot > 0.0 && x.vol < 0.0));
        assert_eq!(set.scenarios.len(), 4);
    }

    #[test]
    fn built_in_names_are_unique_and_moves_valid() {
        let set = ScenarioSet::built_in();
        let names: HashSet<&str> = set.scenarios.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names.len(), set.scenarios.len());
        for s in &set.scenarios {
            for (_, x) in &s.shocks {
                assert!(x.spot > -1.0 && x.vol > -1.0);
            }
        }
    }

    #[test]
    fn parses_the_spec_example_with_defaults() {
        let set = ScenarioSet::parse(
            r#"[{"name":"crash","shocks":{"BTC":{"spot":-0.5,"vol":0.5},"ETH":{"vol":1}}}]"#,
            "s.json",
        )
        .unwrap();
        assert_eq!(set.scenarios[0].shocks[0], ("BTC".into(), shock(-0.5, 0.5)));
        assert_eq!(set.scenarios[0].shocks[1], ("ETH".into(), shock(0.0, 1.0)));
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = ScenarioSet::parse(
            r#"[{"name":"a","shocks":{"BTC":{"spot":-0.1,"spot":0.2}}}]"#,
            "s.json",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("[0].shocks.BTC.spot") && err.contains("duplicate"),
            "{err}"
        );
    }
}
