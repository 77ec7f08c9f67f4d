//! Validated newtypes: every range an input value must lie in, written once and used by the
//! JSON files (through serde), the CSV reader and the command-line flags alike.
//!
//! - [`Num<B>`]: a finite number satisfying the bound `B` ([`Positive`], [`OpenUnit`], …);
//! - [`Int<MIN, MAX>`]: an integer in `MIN..=MAX` ([`Paths`], [`Seed`], [`Dof`], …);
//! - [`Entries<T>`]: an object read as its `(key, value)` pairs in file order.
//!
//! Their messages are what users read: "must be a positive number", "must be an integer
//! from 1 to 4294967295", "expected a number, found a string".

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

/// A range a number must lie in.
pub trait Bound {
    /// What the number must be, completing "must be …".
    const WHAT: &'static str;
    fn holds(v: f64) -> bool;
}

macro_rules! bounds {
    ($($(#[$doc:meta])* $name:ident: $what:literal, |$v:ident| $test:expr;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name;
        impl Bound for $name {
            const WHAT: &'static str = $what;
            fn holds($v: f64) -> bool {
                $test
            }
        }
    )*};
}

bounds! {
    /// Any finite number.
    Finite: "a finite number", |_v| true;
    /// Spots, vols, strikes, multipliers, daily volumes.
    Positive: "a positive number", |v| v > 0.0;
    /// The risk horizon.
    PositiveDays: "a positive number of days", |v| v > 0.0;
    /// A duration of the bench command.
    PositiveSeconds: "a positive number of seconds", |v| v > 0.0;
    /// Vol of vol, mean reversion, jump intensity and size.
    NonNegative: "zero or positive", |v| v >= 0.0;
    /// Confidence levels, the grid's price range.
    OpenUnit: "between 0 and 1 (exclusive)", |v| v > 0.0 && v < 1.0;
    /// Anti-procyclicality weights and buffers.
    UnitInterval: "in [0, 1]", |v| (0.0..=1.0).contains(&v);
    /// The maintenance-margin ratio.
    UnitRatio: "in (0, 1]", |v| v > 0.0 && v <= 1.0;
    /// Correlations.
    Correlation: "in [-1, 1]", |v| (-1.0..=1.0).contains(&v);
    /// `calibration.lookback_years`: the window W = ⌊365·years⌋ needs one return at least.
    LookbackYears: "at least 1/365 (a window of one daily return)", |v| 365.0 * v >= 1.0;
    /// Relative moves (vol moves, named shocks): −1 would be a loss of everything.
    RelativeMove: "greater than -1", |v| v > -1.0;
    /// The extended grid's price moves: no move is already on the regular grid.
    ExtendedMove: "greater than -1 and not 0", |v| v > -1.0 && v != 0.0;
}

/// A finite number within the bound `B`.
pub struct Num<B> {
    value: f64,
    bound: PhantomData<B>,
}

impl<B> Clone for Num<B> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<B> Copy for Num<B> {}
impl<B> fmt::Debug for Num<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<B: Bound> Num<B> {
    /// `v` when it is finite and within the bound; else the message ("must be …").
    pub fn new(v: f64) -> Result<Self, String> {
        if !v.is_finite() {
            Err("must be a finite number".into())
        } else if !B::holds(v) {
            Err(format!("must be {}", B::WHAT))
        } else {
            Ok(Num {
                value: v,
                bound: PhantomData,
            })
        }
    }

    /// The value, for a flag or a CSV cell: `v` checked as [`Num::new`] does.
    pub fn check(v: f64) -> Result<f64, String> {
        Self::new(v).map(Self::get)
    }

    pub fn get(self) -> f64 {
        self.value
    }
}

impl<'de, B: Bound> Deserialize<'de> for Num<B> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NumberVisitor;
        impl Visitor<'_> for NumberVisitor {
            type Value = f64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
                Ok(v)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
                Ok(v as f64)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
                Ok(v as f64)
            }
        }
        let v = deserializer.deserialize_f64(NumberVisitor)?;
        Num::new(v).map_err(de::Error::custom)
    }
}

/// An integer in `MIN..=MAX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Int<const MIN: u64, const MAX: u64>(u64);

/// Monte Carlo paths: the path is a 32-bit Philox counter word.
pub type Paths = Int<1, 4_294_967_295>;
/// Time steps per path, paths per chunk, threads, repetitions.
pub type AtLeastOne = Int<1, 4_294_967_295>;
/// The Philox key.
pub type Seed = Int<0, { u64::MAX }>;
/// Student-t degrees of freedom: ν ≥ 3 (finite variance), at most 10 000. The draw layout
/// spends ν normals per path and step on χ²_ν (the fast kernels hold them for a block of
/// lanes, 2 KiB per unit of ν), and beyond 10⁴ the unit-variance t is the normal to within
/// any Monte Carlo's resolution (excess kurtosis 6/(ν − 4) < 10⁻³); `null` is the normal.
pub type Dof = Int<3, 10_000>;
/// Points of the stress grid's price axis: every account revalues each of them at every vol
/// move, and the report keeps the whole grid, so 10 001 (a 0.003 % step at the default
/// ±16 %) bounds memory where 2³² points exhausted it.
pub type PricePoints = Int<3, 10_001>;
/// CPU worker threads: each is an OS thread with its own stack and scratch; 1 024 is far
/// beyond any machine's cores, where 2³² spawned threads without end.
pub type Threads = Int<1, 1_024>;

impl<const MIN: u64, const MAX: u64> Int<MIN, MAX> {
    fn range() -> String {
        format!("must be an integer from {MIN} to {MAX}")
    }

    /// `n` when it is in range; else the message.
    pub fn new(n: u64) -> Result<Self, String> {
        if (MIN..=MAX).contains(&n) {
            Ok(Int(n))
        } else {
            Err(Self::range())
        }
    }

    /// A flag's value checked as [`Int::new`] does.
    pub fn check(n: u64) -> Result<u64, String> {
        Self::new(n).map(Self::get)
    }

    pub fn get(self) -> u64 {
        self.0
    }

    /// The value as a u32; every bound of 32-bit quantities is at most `u32::MAX`.
    pub fn get_u32(self) -> u32 {
        u32::try_from(self.0).unwrap_or(u32::MAX)
    }

    fn from_f64(v: f64) -> Result<Self, String> {
        if !v.is_finite() {
            Err("must be a finite number".into())
        } else if v.fract() != 0.0 {
            Err("must be an integer".into())
        } else if v < MIN as f64 || v >= 18_446_744_073_709_551_616.0 || v as u64 > MAX {
            // 2⁶⁴ and above would saturate the conversion below.
            Err(Self::range())
        } else {
            // Exact: an integral f64 in range.
            Self::new(v as u64)
        }
    }
}

impl<'de, const MIN: u64, const MAX: u64> Deserialize<'de> for Int<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IntVisitor<const MIN: u64, const MAX: u64>;
        impl<const MIN: u64, const MAX: u64> Visitor<'_> for IntVisitor<MIN, MAX> {
            type Value = Int<MIN, MAX>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Int::new(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                match u64::try_from(v) {
                    Ok(n) => Int::new(n).map_err(E::custom),
                    Err(_) => Err(E::custom(Int::<MIN, MAX>::range())),
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Int::from_f64(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(IntVisitor::<MIN, MAX>)
    }
}

/// An object read as its entries in file order (duplicate keys are rejected by the reader's
/// syntax pass, so the keys are distinct).
#[derive(Clone, Debug)]
pub struct Entries<T>(pub Vec<(String, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Entries<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for EntriesVisitor<T> {
            type Value = Entries<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, T>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor(PhantomData))
    }
}

/// An array of at most `MAX` elements: reading stops with an error at element `MAX + 1`, so
/// a file of millions of entries is refused before it is held (the limits of docs/reference.md
/// §8).
#[derive(Clone, Debug)]
pub struct Bounded<T, const MAX: usize>(pub Vec<T>);

impl<'de, T: Deserialize<'de>, const MAX: usize> Deserialize<'de> for Bounded<T, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BoundedVisitor<T, const MAX: usize>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>, const MAX: usize> Visitor<'de> for BoundedVisitor<T, MAX> {
            type Value = Bounded<T, MAX>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "an array of at most {MAX} elements")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    if items.len() == MAX {
                        return Err(de::Error::custom(format!(
                            "has more than {MAX} elements, the limit"
                        )));
                    }
                    items.push(item);
                }
                Ok(Bounded(items))
            }
        }
        deserializer.deserialize_seq(BoundedVisitor(PhantomData))
    }
}

/// Expiries of one surface.
pub const MAX_EXPIRIES: usize = 1_000;
/// Log-moneyness knots of one surface.
pub const MAX_KNOTS: usize = 10_000;

/// A command-line value checked by one of these bounds (`Paths::check(n)`): the error names
/// the flag and the value (exit 65).
pub fn flag<T>(
    name: &str,
    value: impl fmt::Display,
    checked: Result<T, String>,
) -> crate::Result<T> {
    checked.map_err(|why| crate::Error::input("command line", name, value, why))
}

/// A JSON object read as `T`. serde's derived structs also accept an array of their fields
/// in order; input files are written with named fields only, so an array is a type error.
#[derive(Clone, Debug)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Object)
            }
        }
        deserializer.deserialize_map(ObjectVisitor(PhantomData))
    }
}

/// For `#[serde(default, deserialize_with = "given")]`: `Some` when the field is present,
/// holding `None` for `null`, so that absent and `null` differ.
pub fn given<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// For `#[serde(default, deserialize_with = "present")]`: an optional field that, when given,
/// must hold a `T` (`null` is a type error, not "absent").
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_check_their_bounds() {
        assert_eq!(Num::<Positive>::check(2.0), Ok(2.0));
        assert_eq!(
            Num::<Positive>::check(0.0),
            Err("must be a positive number".into())
        );
        assert_eq!(
            Num::<Finite>::check(f64::NAN),
            Err("must be a finite number".into())
        );
        assert!(Num::<OpenUnit>::check(1.0).is_err());
        assert!(Num::<ExtendedMove>::check(0.0).is_err());
    }

    #[test]
    fn integers_check_their_range() {
        assert_eq!(Paths::check(1), Ok(1));
        assert!(Paths::check(0).is_err());
        assert!(Paths::check(1 << 32).is_err());
        assert_eq!(Dof::from_f64(4.0).map(Int::get), Ok(4));
        assert_eq!(Dof::from_f64(4.5), Err("must be an integer".into()));
        assert_eq!(Dof::from_f64(10_000.0).map(Int::get), Ok(10_000));
        assert_eq!(
            Dof::from_f64(10_001.0),
            Err("must be an integer from 3 to 10000".into())
        );
    }
}
