//! Decimal formatting of metric values.
