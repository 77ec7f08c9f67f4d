//! The two walks over a document besides the typed read: the syntax pass ([`Syntax`]) and
//! finding a value's text by its path ([`locate`]).

use std::cell::Cell;
use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer as _, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::Segment;

/// The first pass: any JSON value, walked to the end, with duplicate keys rejected.
pub(super) struct Syntax;

impl<'de> Deserialize<'de> for Syntax {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SyntaxVisitor)
    }
}

struct SyntaxVisitor;

impl<'de> Visitor<'de> for SyntaxVisitor {
    type Value = Syntax;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Syntax, E> {
        Ok(Syntax)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Syntax, E> {
        Ok(Syntax)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Syntax, E> {
        Ok(Syntax)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Syntax, E> {
        Ok(Syntax)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Syntax, E> {
        Ok(Syntax)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Syntax, E> {
        Ok(Syntax)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Syntax, A::Error> {
        while seq.next_element::<Syntax>()?.is_some() {}
        Ok(Syntax)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Syntax, A::Error> {
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if keys.contains(&key) {
                return Err(de::Error::custom(format!("duplicate field `{key}`")));
            }
            map.next_value::<Syntax>()?;
            keys.insert(key);
        }
        Ok(Syntax)
    }
}

/// The text of the value at `path` in `text` (the last one where a key is duplicated), or
/// `None` when there is no such value.
pub(super) fn locate<'t>(text: &'t str, path: &[Segment]) -> Option<&'t str> {
    let Some((first, rest)) = path.split_first() else {
        return Some(text.trim());
    };
    let found = Cell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    // The document may be broken after the value sought: what was found is kept.
    let _ = de.deserialize_any(Finder {
        segment: first,
        found: &found,
    });
    locate(found.get()?, rest)
}

struct Finder<'s, 't> {
    segment: &'s Segment,
    found: &'s Cell<Option<&'t str>>,
}

impl<'de> Visitor<'de> for Finder<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while let Some(value) = seq.next_element::<&'de RawValue>()? {
            if *self.segment == Segment::Index(i) {
                self.found.set(Some(value.get()));
                return Ok(());
            }
            i += 1;
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<&'de RawValue>()?;
            if let Segment::Key(k) = self.segment
                && *k == key
            {
                self.found.set(Some(value.get()));
            }
        }
        Ok(())
    }
}
