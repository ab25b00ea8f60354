//! Use-case tests: the retry worker and manual retries, on both backends.

mod retry;
mod webhooks;
