//! Subject validation (being written).
