//! The configuration file grammar of `nats-server -c file.conf`.
//!
//! Operators move existing files from the reference server, so this reads what the
//! reference's `conf` package reads and gives the same values:
//!
//! - `key = value`, `key: value` or `key value`; keys may be quoted; `;` or `,` may end a
//!   value; `#` and `//` start comments; the whole file may be wrapped in `{ }` (JSON).
//! - Maps `{ }` and arrays `[ ]`, their entries separated by `,` or new lines.
//! - Strings: `"..."` with `\t \n \r \" \\ \xHH` escapes, `'...'` taken literally, bare
//!   words up to white space or `, ; ] }`, and `(` blocks `)` whose `)` stands alone on
//!   its line.
//! - Integers with size suffixes (`1k` = 1000, `1kb` = `1Ki` = `1KiB` = 1024, up to `e`),
//!   floats, booleans (`true yes on` / `false no off`, any case), Zulu datetimes.
//!   Words starting with a digit that are not numbers (`3xyz`, `1Ghz`) stay strings.
//! - `$name` refers to a key set earlier in the same map or an enclosing one, else to an
//!   environment variable whose text is parsed as a value; `$2a$...` (a bare bcrypt
//!   hash) is a plain string.
//! - `include path` parses another file on its own and sets its keys where the include
//!   stands. A key set twice keeps its later value.
//!
//! The core reads no files and no environment, so [`parse_with`] asks the caller for
//! both through [`Env`]. Hostile input gets a [`ConfError`], never a panic: nesting,
//! include chains and the memory `$variable` copies can take are all bounded.
//!
//! Where the reference silently accepts truncated or dangling input (a string quote left
//! open at the end of a file, a map key with no value, a size suffix like `1kbb`, a size
//! that overflows) this rejects it, and a number directly before `]` in an array (`[1]`)
//! is a number rather than the reference's string `"1]"`.

mod error;
mod lexer;
mod parser;
mod path;
mod value;

#[cfg(test)]
mod tests;

pub use error::ConfError;
pub use value::{Datetime, Map, Pos, Value};

/// Where a file's includes and environment variables come from.
pub struct Env<'a> {
    /// Returns the text of an included file. The path is the include's path joined onto
    /// the including file's directory, relative to the top-level file's directory (it may
    /// start with `..`; a leading `/` is joined too, as in the reference).
    pub include: &'a mut dyn FnMut(&str) -> Result<String, String>,
    /// Returns an environment variable, for `$name` references no key answers.
    pub var: &'a dyn Fn(&str) -> Option<String>,
}

/// Parses a file that needs no includes or environment: any `include` is an error and
/// only keys of the file itself answer `$name` references.
pub fn parse(text: &str) -> Result<Map, ConfError> {
    let mut include = |_: &str| Err("includes are not supported here".to_string());
    parse_with(
        text,
        Env {
            include: &mut include,
            var: &|_| None,
        },
    )
}

/// Parses a file, reading includes and environment variables through `env`.
pub fn parse_with(text: &str, env: Env<'_>) -> Result<Map, ConfError> {
    let mut session = parser::Session::new(env.include, env.var);
    parser::parse_document(text, "", 0, &mut session)
}
