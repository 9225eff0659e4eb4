//! Node state machine.
