//! The web API: what netdata's web port serves, as functions from a request
//! to a response (the server that calls them is elsewhere).

pub mod allmetrics;
