//! What a configuration file parses into.

use std::fmt;
use std::sync::Arc;

use crate::hash::FixedMap;

/// One value of a configuration file.
///
/// Sizes such as `1MB` are already multiplied out into [`Value::Integer`]; anything the
/// grammar does not recognise as a number, boolean or datetime stays a [`Value::String`],
/// so the options layer decides what a string like `"2m"` or `127.0.0.1:4222` means.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Map(Map),
    Array(Vec<Value>),
    String(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
    Datetime(Datetime),
}

impl Value {
    fn without_variables(&self) -> Value {
        match self {
            Value::Map(map) => Value::Map(map.without_variables()),
            Value::Array(items) => {
                Value::Array(items.iter().map(Value::without_variables).collect())
            }
            other => other.clone(),
        }
    }
}

/// A Zulu timestamp written bare in a file, e.g. `2016-05-04T18:53:41Z`.
///
/// Kept as its calendar fields rather than a clock type because the core owns no clock and
/// no option of the reference reads one; the fields are already validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Datetime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl Datetime {
    /// Reads exactly `YYYY-MM-DDTHH:MM:SSZ`, rejecting impossible dates as Go's
    /// `time.Parse` does (a 30th of February fails, a 29th only in leap years).
    pub(super) fn parse(text: &str) -> Option<Datetime> {
        let b = text.as_bytes();
        if b.len() != 20 || [b[4], b[7], b[10], b[13], b[16], b[19]] != *b"--T::Z" {
            return None;
        }
        let num = |from: usize, to: usize| -> Option<u16> {
            b[from..to].iter().try_fold(0u16, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + u16::from(c - b'0'))
            })
        };
        let year = num(0, 4)?;
        let [month, day, hour, minute, second] = [
            num(5, 7)?,
            num(8, 10)?,
            num(11, 13)?,
            num(14, 16)?,
            num(17, 19)?,
        ]
        .map(|v| v as u8);
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        ((1..=days).contains(&day) && hour < 24 && minute < 60 && second < 60).then_some(Datetime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }
}

impl fmt::Display for Datetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// The keys of one `{ }` block (or of the whole file), in the order they were last set.
///
/// Keys keep the case they were written in, because `$variable` references match them
/// exactly as the reference does; [`Map::get`] ignores case because the options layer
/// does. When a key is set twice the later value wins and moves to the later position,
/// so walking [`Map::iter`] and applying every entry gives the same result as looking
/// each key up.
#[derive(Clone, Default)]
pub struct Map {
    /// Entries in assignment order; `None` where a later assignment replaced the entry.
    slots: Vec<Option<(String, Value)>>,
    /// Where each slot's key was written, and whether it served as a `$variable`.
    meta: Vec<KeyMeta>,
    /// Exact key to its live slot.
    exact: FixedMap<String, usize>,
    /// Lower-cased key to the slot of the latest assignment among its spellings.
    folded: FixedMap<String, usize>,
    len: usize,
}

/// Where a key was written: the included file it came from (`None` for the top-level
/// file), and its line and column, both counted from 1.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub file: Option<Arc<str>>,
    pub line: usize,
    pub col: usize,
}

#[derive(Clone, Debug, Default)]
pub(super) struct KeyMeta {
    pub pos: Pos,
    /// Referred to as `$key`: a variable, not an option, so never an unknown field.
    pub used: bool,
}

impl Map {
    /// The value of `key`, compared without regard to case; when several spellings of
    /// one key were set, the last one set.
    pub fn get(&self, key: &str) -> Option<&Value> {
        let slot = *self.folded.get(&key.to_lowercase())?;
        self.slots[slot].as_ref().map(|(_, v)| v)
    }

    /// The entries in the order they were (last) set.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.slots.iter().flatten().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Where `key` (compared without regard to case) was written.
    pub fn position(&self, key: &str) -> Option<&Pos> {
        let slot = *self.folded.get(&key.to_lowercase())?;
        self.meta.get(slot).map(|m| &m.pos)
    }

    /// The map without the keys that served as `$variables`, at every depth: what the
    /// options are read from. The reference skips used variables the same way, so
    /// `PASS: x` referred to as `$PASS` inside `authorization` is not its `pass`.
    pub fn without_variables(&self) -> Map {
        let mut clean = Map::default();
        for (slot, meta) in self.slots.iter().zip(&self.meta) {
            if let (Some((key, value)), false) = (slot, meta.used) {
                clean.insert_at(key.clone(), value.without_variables(), meta.clone());
            }
        }
        clean
    }

    /// Records that `key` was referred to as `$key`.
    pub(super) fn mark_used(&mut self, key: &str) {
        if let Some(&slot) = self.exact.get(key) {
            self.meta[slot].used = true;
        }
    }

    /// The entries with where they were written, emptying the map (for includes).
    pub(super) fn into_entries(self) -> impl Iterator<Item = (String, Value, KeyMeta)> {
        self.slots
            .into_iter()
            .zip(self.meta)
            .filter_map(|(slot, meta)| slot.map(|(k, v)| (k, v, meta)))
    }

    /// Case-sensitive lookup, as `$variable` references resolve.
    pub(super) fn get_exact(&self, key: &str) -> Option<&Value> {
        let slot = *self.exact.get(key)?;
        self.slots[slot].as_ref().map(|(_, v)| v)
    }

    /// Sets `key`, replacing (and moving to the end) an earlier value of the same spelling.
    #[cfg(test)]
    pub(super) fn insert(&mut self, key: String, value: Value) {
        self.insert_at(key, value, KeyMeta::default());
    }

    /// Sets `key` as written at `meta.pos`.
    pub(super) fn insert_at(&mut self, key: String, value: Value, meta: KeyMeta) {
        let slot = self.slots.len();
        self.meta.push(meta);
        match self.exact.insert(key.clone(), slot) {
            Some(old) => self.slots[old] = None,
            None => self.len += 1,
        }
        self.folded.insert(key.to_lowercase(), slot);
        self.slots.push(Some((key, value)));
    }
}

impl PartialEq for Map {
    fn eq(&self, other: &Map) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl IntoIterator for Map {
    type Item = (String, Value);
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Option<(String, Value)>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.slots.into_iter().flatten()
    }
}
