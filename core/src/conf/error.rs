//! Why a configuration file was rejected, and where.

use std::fmt;

/// A rejected configuration file.
///
/// `message` uses the reference server's wording, so operators searching for a message
/// they know from `nats-server` find it; `line` and `col` (both counted from 1, `col` in
/// characters) point at the offending character, or at the start of the value or key
/// the message is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl ConfError {
    /// Places `message` at byte `offset` of `text`.
    pub(super) fn at(text: &str, offset: usize, message: impl Into<String>) -> ConfError {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        ConfError {
            line: before.matches('\n').count() + 1,
            col: before[line_start..].chars().count() + 1,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Parse error on line {}, column {}: {}",
            self.line, self.col, self.message
        )
    }
}

impl std::error::Error for ConfError {}
