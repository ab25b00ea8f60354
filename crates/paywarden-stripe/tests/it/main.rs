//! paywarden-stripe against the real stand-in over HTTP: one binary, one
//! module per area.

mod calls;
mod errors;
mod retries;
mod support;
