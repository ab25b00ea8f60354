//! Storage conformance: every case runs against SQLite and PostgreSQL.

mod smoke;
