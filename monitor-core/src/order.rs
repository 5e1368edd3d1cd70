//! The iteration orders of QEMU's hash tables, so that "the first problem"
//! is the same problem QEMU reports (`docs/PROTOCOL.md`, rules 4.2, 6.6,
//! 7.3 and 11.2).
//!
//! - `QDict` (request members, and the order in which QEMU writes an
//!   object it echoes): 512 buckets by `tdb_hash`, newest first in a bucket
//!   ([`qdict_order`], [`in_qdict_order`]).
//! - GLib's `GHashTable` keyed by `g_str_hash` (the leftover members QEMU's
//!   input visitor reports as unexpected): open addressing with quadratic
//!   probing, 8 slots to start, resized in place as GLib 2.74 does
//!   ([`first_leftover`]).

use std::borrow::Cow;

use crate::value::Value;

/// QEMU's `tdb_hash` over a key's (modified UTF-8) bytes.
fn tdb_hash(key: &str) -> u32 {
    let bytes = modified_utf8(key);
    let mut value = 0x238F_13AFu32.wrapping_mul(bytes.len() as u32);
    for (i, &b) in bytes.iter().enumerate() {
        value = value.wrapping_add(u32::from(b) << ((i * 5) % 24));
    }
    1_103_515_243u32.wrapping_mul(value).wrapping_add(12345)
}

/// QEMU stores U+0000 as `\xC0\x80`.
fn modified_utf8(key: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(key.len());
    for b in key.bytes() {
        if b == 0 {
            bytes.extend_from_slice(&[0xC0, 0x80]);
        } else {
            bytes.push(b);
        }
    }
    bytes
}

/// The order in which QEMU's `qdict_first`/`qdict_next` visit the keys
/// (given in insertion order): by bucket, newest first within a bucket.
/// Returns indices into the input.
pub fn qdict_order<'a>(keys: impl Iterator<Item = &'a str>) -> Vec<usize> {
    const QDICT_BUCKET_MAX: u32 = 512;
    let mut order: Vec<(u32, usize)> = keys
        .enumerate()
        .map(|(i, k)| (tdb_hash(k) % QDICT_BUCKET_MAX, i))
        .collect();
    order.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    order.into_iter().map(|(_, i)| i).collect()
}

/// `value` with the members of every object in it, at any depth, in the
/// order QEMU writes them out: QEMU echoes an `id` by serialising the
/// `QDict` it parsed, which iterates [`qdict_order`], not the input order.
/// Borrows when no object in `value` has two members or more.
pub(crate) fn in_qdict_order(value: &Value) -> Cow<'_, Value> {
    if !has_multi_member_object(value) {
        return Cow::Borrowed(value);
    }
    Cow::Owned(reordered(value))
}

fn has_multi_member_object(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.len() > 1 || map.values().any(has_multi_member_object),
        Value::Array(items) => items.iter().any(has_multi_member_object),
        _ => false,
    }
}

fn reordered(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let entries: Vec<(&String, &Value)> = map.iter().collect();
            let order = qdict_order(entries.iter().map(|(k, _)| k.as_str()));
            Value::Object(
                order
                    .into_iter()
                    .map(|i| (entries[i].0.clone(), reordered(entries[i].1)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(reordered).collect()),
        other => other.clone(),
    }
}

/// GLib's `g_str_hash` (djb2 over *signed* chars).
fn g_str_hash(key: &str) -> u32 {
    let mut h: u32 = 5381;
    for b in modified_utf8(key) {
        h = (h << 5).wrapping_add(h).wrapping_add(b as i8 as i32 as u32);
    }
    h
}

const UNUSED: u32 = 0;
const TOMBSTONE: u32 = 1;
const PRIME_MOD: [u32; 32] = [
    1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
    262139, 524287, 1048573, 2097143, 4194301, 8388593, 16777213, 33554393, 67108859, 134217689,
    268435399, 536870909, 1073741789, 2147483647,
];

/// A model of a `GHashTable` with string keys (slot order only).
struct GHash<'a> {
    hashes: Vec<u32>,
    keys: Vec<&'a str>,
    modulo: u32,
    nnodes: usize,
    noccupied: usize,
}

impl<'a> GHash<'a> {
    fn with_shift(shift: usize) -> Self {
        let size = 1usize << shift;
        GHash {
            hashes: vec![UNUSED; size],
            keys: vec![""; size],
            modulo: PRIME_MOD[shift],
            nnodes: 0,
            noccupied: 0,
        }
    }

    fn hash(key: &str) -> u32 {
        let h = g_str_hash(key);
        if h < 2 {
            2
        } else {
            h
        }
    }

    fn lookup(&self, key: &str, hash: u32) -> usize {
        let mask = self.hashes.len() - 1;
        let mut index = (hash.wrapping_mul(11) % self.modulo) as usize;
        let mut step = 0;
        let mut tombstone = None;
        while self.hashes[index] != UNUSED {
            if self.hashes[index] == hash && self.keys[index] == key {
                return index;
            }
            if self.hashes[index] == TOMBSTONE && tombstone.is_none() {
                tombstone = Some(index);
            }
            step += 1;
            index = (index + step) & mask;
        }
        tombstone.unwrap_or(index)
    }

    fn insert(&mut self, key: &'a str) {
        let hash = Self::hash(key);
        let index = self.lookup(key, hash);
        if self.hashes[index] >= 2 {
            return;
        }
        if self.hashes[index] == UNUSED {
            self.noccupied += 1;
        }
        self.hashes[index] = hash;
        self.keys[index] = key;
        self.nnodes += 1;
        self.maybe_resize();
    }

    fn remove(&mut self, key: &str) {
        let hash = Self::hash(key);
        let index = self.lookup(key, hash);
        if self.hashes[index] < 2 {
            return;
        }
        self.hashes[index] = TOMBSTONE;
        self.nnodes -= 1;
        self.maybe_resize();
    }

    fn maybe_resize(&mut self) {
        let size = self.hashes.len();
        if (size > self.nnodes * 4 && size > 8) || size <= self.noccupied + self.noccupied / 16 {
            self.resize();
        }
    }

    /// GLib's `g_hash_table_resize`: the table is rehashed in place. Slots
    /// are visited in order; each entry not yet moved is taken out and put
    /// in the first slot of its probe sequence not yet filled by this
    /// resize, and whatever entry sat there is taken out and placed the
    /// same way, until a free slot ends the chain.
    fn resize(&mut self) {
        let old_size = self.hashes.len();
        let wanted = (self.nnodes as f64 * 1.333) as usize;
        let shift = ((usize::BITS - wanted.leading_zeros()) as usize).clamp(3, PRIME_MOD.len() - 1);
        let size = 1usize << shift;
        self.modulo = PRIME_MOD[shift];
        let mask = size - 1;
        if size > old_size {
            self.hashes.resize(size, UNUSED);
            self.keys.resize(size, "");
        }
        let mut moved = vec![false; size.max(old_size)];
        for i in 0..old_size {
            let mut hash = self.hashes[i];
            if hash < 2 {
                self.hashes[i] = UNUSED;
                continue;
            }
            if moved[i] {
                continue;
            }
            self.hashes[i] = UNUSED;
            let mut key = self.keys[i];
            loop {
                let mut index = (hash.wrapping_mul(11) % self.modulo) as usize;
                let mut step = 0;
                while moved[index] {
                    step += 1;
                    index = (index + step) & mask;
                }
                moved[index] = true;
                let replaced = self.hashes[index];
                self.hashes[index] = hash;
                let evicted = std::mem::replace(&mut self.keys[index], key);
                if replaced < 2 {
                    break;
                }
                hash = replaced;
                key = evicted;
            }
        }
        self.hashes.truncate(size);
        self.keys.truncate(size);
        self.noccupied = self.nnodes;
    }

    fn first(&self) -> Option<&'a str> {
        (0..self.hashes.len())
            .find(|&i| self.hashes[i] >= 2)
            .map(|i| self.keys[i])
    }
}

/// The member QEMU's input visitor reports as unexpected: the first key, in
/// `GHashTable` slot order, of the object's members (`all`, in input order)
/// that the visitor did not consume.
pub(crate) fn first_leftover<'a>(
    all: &[&'a str],
    consumed: impl Fn(&str) -> bool,
) -> Option<&'a str> {
    let mut table = GHash::with_shift(3);
    for i in qdict_order(all.iter().copied()) {
        table.insert(all[i]);
    }
    for key in all.iter().filter(|k| consumed(k)) {
        table.remove(key);
    }
    table.first()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftover_matches_qemu_7_2() {
        // Observed with query-version's arguments on QEMU 7.2.
        assert_eq!(first_leftover(&["a", "b"], |_| false), Some("b"));
        assert_eq!(first_leftover(&["x", "y"], |_| false), Some("y"));
        assert_eq!(
            first_leftover(&["foo", "bar", "baz"], |_| false),
            Some("baz")
        );
        assert_eq!(first_leftover(&["b", "a"], |_| false), Some("b"));
    }

    fn keys(value: &Value) -> Vec<&str> {
        value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn echoed_objects_take_qemu_s_order_at_every_depth() {
        // Observed with query-fdsets' id on QEMU 7.2: {"a": 2, "b": 1}.
        let map = |pairs: &[(&str, Value)]| {
            Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
            )
        };
        let inner = map(&[("b", Value::Int(1)), ("a", Value::Int(2))]);
        assert_eq!(keys(&in_qdict_order(&inner)), ["a", "b"]);
        let outer = Value::Array(vec![map(&[("x", inner.clone()), ("c", Value::Null)])]);
        let Value::Array(items) = in_qdict_order(&outer).into_owned() else {
            panic!("not an array");
        };
        assert_eq!(keys(&items[0].as_object().unwrap()["x"]), ["a", "b"]);
    }

    #[test]
    fn values_without_two_members_are_borrowed() {
        let one = Value::Object([("k".to_owned(), Value::Int(1))].into_iter().collect());
        assert!(matches!(in_qdict_order(&one), Cow::Borrowed(_)));
        assert!(matches!(in_qdict_order(&Value::Int(1)), Cow::Borrowed(_)));
    }

    #[test]
    fn leftover_after_in_place_resizes_matches_qemu_7_2() {
        // Observed on QEMU 7.2 (GLib 2.74) with query-commands' arguments:
        // 12 and 11 members, so the table grew from 8 to 16 slots.
        let twelve = [
            "b", "z", "d", "k0", "\u{e9}", "g", "c", "k3", "foo", "enable2", "bar", "e",
        ];
        assert_eq!(first_leftover(&twelve, |_| false), Some("bar"));
        let eleven = [
            "arguments",
            "\u{1F600}",
            "k0",
            "b",
            "foo",
            "g",
            "e",
            "z",
            "y",
            "c",
            "bar",
        ];
        assert_eq!(first_leftover(&eleven, |_| false), Some("bar"));
    }

    #[test]
    fn consumed_members_are_not_reported() {
        assert_eq!(first_leftover(&["a", "b"], |k| k == "b"), Some("a"));
        assert_eq!(first_leftover(&["a"], |k| k == "a"), None);
    }
}
