//! JSON helpers for the API endpoints: objects whose keys keep the order
//! they were given in (serde_json's own map sorts them).

use serde::ser::{Serialize, SerializeMap, Serializer};

/// A JSON object written in the order of its entries.
#[derive(Debug, Clone, PartialEq)]
pub struct Ordered<V>(pub Vec<(String, V)>);

impl<V: Serialize> Serialize for Ordered<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// `value` as pretty-printed JSON with a final line end (what the
/// endpoints send; serializing plain data to memory does not fail, and a
/// failure would give `{}`).
pub fn to_body<T: Serialize>(value: &T) -> Vec<u8> {
    let mut body = serde_json::to_vec_pretty(value).unwrap_or_else(|_| b"{}".to_vec());
    body.push(b'\n');
    body
}
