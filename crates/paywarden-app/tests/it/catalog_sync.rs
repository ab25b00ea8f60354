//! `catalog sync` against the stand-in (being written).
