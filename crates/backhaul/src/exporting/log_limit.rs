//! The exporting instances' log rate limiter, now [`crate::log_limit`]
//! (shared with the plugins.d runner). This path stays until
//! `instance.rs` imports `crate::log_limit::LogLimiter` directly.

pub use crate::log_limit::LogLimiter;
