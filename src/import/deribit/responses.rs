//! Deribit API responses as saved (SPEC §15, D13): `{"jsonrpc": "2.0", "result": [ … ]}` or
//! the bare `result` array, read through the one input layer ([`Source`]). Deribit's rows
//! carry many fields tailrisk does not use, so unknown fields are ignored (no
//! `deny_unknown_fields` here); every field that is read is typed, and a field of the wrong
//! type is an input error naming the file, the field path and the value (exit 65).

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::input::bounds::{Finite, Int, Num, present};
use crate::input::json::{Path, Source};

/// Milliseconds since the Unix epoch, up to the end of year 9999 (what RFC 3339 can write).
pub type Millis = Int<0, 253_402_300_799_999>;

/// One row of `public/get_book_summary_by_currency` (fields as Deribit documents them).
#[derive(Deserialize)]
#[serde(expecting = "a book summary object")]
pub struct SummaryRow {
    pub instrument_name: String,
    /// When the summary was made, ms since the epoch.
    pub creation_timestamp: Millis,
    /// The index price the instrument would deliver at now: the spot (D6).
    #[serde(default)]
    pub estimated_delivery_price: Option<Num<Finite>>,
    /// Options only: the forward of the option's expiry that `mark_iv` is quoted against.
    #[serde(default)]
    pub underlying_price: Option<Num<Finite>>,
    /// Options only: implied vol of the mark price, in percent; `null` when there is none.
    #[serde(default)]
    pub mark_iv: Option<Num<Finite>>,
    /// Futures and perpetuals: the mark price in USD (the futures basis of D3).
    #[serde(default)]
    pub mark_price: Option<Num<Finite>>,
}

/// One row of `private/get_positions`.
#[derive(Deserialize)]
#[serde(expecting = "a position object")]
pub struct PositionRow {
    pub instrument_name: String,
    /// Signed: USD for inverse futures and perpetuals, coins for options and `_USDC`
    /// contracts (D1).
    pub size: Num<Finite>,
    /// `buy`, `sell` or `zero`; must agree with the sign of `size` (D2).
    pub direction: String,
    /// `future`, `option`, `spot`, `future_combo`, `option_combo`.
    #[serde(default, deserialize_with = "present")]
    pub kind: Option<String>,
}

/// A JSON-RPC error object.
#[derive(Deserialize)]
#[serde(expecting = "a JSON-RPC error object")]
struct RpcError {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
}

/// The envelope's fields that are read; `usIn`, `usOut`, `usDiff`, `id` are ignored.
#[derive(Deserialize)]
#[serde(bound = "T: Deserialize<'de>")]
struct RpcFields<T> {
    #[serde(default, deserialize_with = "present")]
    jsonrpc: Option<String>,
    #[serde(default)]
    result: Option<Vec<T>>,
    #[serde(default)]
    error: Option<RpcError>,
    #[serde(default)]
    testnet: Option<bool>,
}

/// The response as written: an envelope object or the bare array.
enum Envelope<T> {
    Object(RpcFields<T>),
    Bare(Vec<T>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Envelope<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EnvelopeVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for EnvelopeVisitor<T> {
            type Value = Envelope<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON-RPC response object {jsonrpc, result} or its result array")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                RpcFields::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(Envelope::Object)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Envelope::Bare)
            }
        }
        deserializer.deserialize_any(EnvelopeVisitor(PhantomData))
    }
}

/// The rows of one response file, the path of its `result` array (for errors and notes),
/// and whether it says `testnet: true`.
pub struct Rows<T> {
    pub rows: Vec<T>,
    pub at: Path,
    pub testnet: bool,
}

/// Reads a saved response. A JSON-RPC `error` object is an input error quoting its message
/// (D13); an object without `result` is one too.
pub fn read_rows<'a, T: Deserialize<'a>>(src: &Source<'a>) -> Result<Rows<T>> {
    match src.parse::<Envelope<T>>()? {
        Envelope::Bare(rows) => Ok(Rows {
            rows,
            at: Path::root(),
            testnet: false,
        }),
        Envelope::Object(fields) => envelope_rows(src, fields),
    }
}

fn envelope_rows<T>(src: &Source, fields: RpcFields<T>) -> Result<Rows<T>> {
    let root = Path::root();
    if let Some(error) = fields.error {
        let message = error.message.unwrap_or_else(|| "(no message)".into());
        let code = error.code.map_or(String::new(), |c| format!(" (code {c})"));
        return Err(Error::input(
            src.file,
            "error",
            src.written(&root.key("error")),
            format!("the response is a JSON-RPC error: {message:?}{code}"),
        ));
    }
    if let Some(version) = fields.jsonrpc.filter(|v| v != "2.0") {
        return Err(src.fail(
            &root.key("jsonrpc"),
            format!("expected JSON-RPC \"2.0\", found {version:?}"),
        ));
    }
    let Some(rows) = fields.result else {
        return Err(src.missing(&root.key("result")));
    };
    Ok(Rows {
        rows,
        at: root.key("result"),
        testnet: fields.testnet == Some(true),
    })
}

/// One row of `src`, at `at`, read on its own from its text `raw` (a row of
/// `read_rows::<&RawValue>`), so that a row of the wrong shape can be skipped (D12). The
/// whole file has passed the syntax checks already; an error names the file and the field
/// as a path of the whole file (`result[3].size`), as a whole-file parse would.
pub fn parse_row<'a, T: Deserialize<'a>>(
    src: &Source<'a>,
    at: &Path,
    raw: &'a RawValue,
    what: &'static str,
) -> Result<T> {
    let row = Source::new(raw.get(), src.file, what)?;
    row.parse::<T>()
        .map_err(|e| e.relocated(|file, field| Some((file.to_string(), rebased(at, field)))))
}

/// `field` (a path inside the row) as a path of the whole file, the row being at `at`.
fn rebased(at: &Path, field: &str) -> String {
    let at = at.to_string();
    match field {
        "(top level)" => at,
        f if f.starts_with('[') => format!("{at}{f}"),
        f => format!("{at}.{f}"),
    }
}
