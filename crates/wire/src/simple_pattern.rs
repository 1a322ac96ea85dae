//! netdata "simple patterns".
