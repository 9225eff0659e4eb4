//! The subscription index (being written).
