//! The `/v1` endpoints, one file per resource.

pub mod customers;
pub mod prices;
pub mod products;
