//! Custom variables: the named numbers plugins and streaming children set
//! with netdata's `VARIABLE` command, on a host or on one of its charts.
//!
//! A host keeps one table of its variables in the order they were first
//! set; a chart variable is also entered there twice, as netdata does, as
//! `CHART_ID.NAME` and (when the chart's name differs from its id)
//! `CHART_NAME.NAME`, which is how `/api/v1/allmetrics?variables=yes`
//! lists them. Names are stored as given: callers sanitize them.
//!
//! ```
//! use rrd::CustomVariables;
//! let mut vars = CustomVariables::default();
//! assert!(vars.set("pidmax", 32768.0));
//! assert!(!vars.set("pidmax", 32768.0)); // unchanged
//! assert_eq!(vars.get("pidmax"), Some(32768.0));
//! ```

use std::collections::HashMap;

/// Named values in the order they were first set.
#[derive(Debug, Default, Clone)]
pub struct CustomVariables {
    entries: Vec<(Box<str>, f64)>,
    index: HashMap<Box<str>, usize>,
    /// Bumped by every change (a new name or a new value).
    generation: u64,
}

impl CustomVariables {
    /// Sets `name` to `value`; `true` when that is a change (a new name,
    /// or a value that differs bit for bit: a NaN set again is no change).
    pub fn set(&mut self, name: &str, value: f64) -> bool {
        if let Some(&at) = self.index.get(name) {
            let slot = &mut self.entries[at].1;
            if slot.to_bits() == value.to_bits() {
                return false;
            }
            *slot = value;
        } else {
            let name: Box<str> = name.into();
            self.index.insert(name.clone(), self.entries.len());
            self.entries.push((name, value));
        }
        self.generation += 1;
        true
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.index.get(name).map(|&at| self.entries[at].1)
    }

    /// Whether `name` is set.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// The variables, in the order they were first set.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> + '_ {
        self.entries.iter().map(|(name, value)| (&**name, *value))
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Changes so far: a reader that remembers it sees whether anything
    /// changed since.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Heap bytes held (for accounting).
    pub fn heap_bytes(&self) -> usize {
        let names: usize = self.entries.iter().map(|(name, _)| name.len() * 2).sum();
        names
            + self.entries.capacity() * std::mem::size_of::<(Box<str>, f64)>()
            + self.index.capacity() * (std::mem::size_of::<(Box<str>, usize)>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_set_order_is_kept_and_changes_are_counted() {
        let mut vars = CustomVariables::default();
        assert!(vars.set("b", 1.0));
        assert!(vars.set("a", 2.0));
        assert!(vars.set("b", 3.0));
        assert!(!vars.set("b", 3.0));
        assert!(vars.set("nan", f64::NAN));
        assert!(!vars.set("nan", f64::NAN));
        assert_eq!(vars.generation(), 4);
        let all: Vec<(&str, f64)> = vars.iter().filter(|(_, v)| !v.is_nan()).collect();
        assert_eq!(all, [("b", 3.0), ("a", 2.0)]);
        assert_eq!(vars.len(), 3);
        assert!(vars.contains("a") && !vars.contains("c"));
    }
}
