//! The NATS configuration file grammar (being written).
