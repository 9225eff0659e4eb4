//! Builds values from tokens: nesting, `$variables`, `include`s and size suffixes.

use super::error::ConfError;
use super::lexer::{Kind, Lexer, Token};
use super::path;
use super::value::{Datetime, KeyMeta, Map, Pos, Value};

/// How deeply maps and arrays may nest, counting the file itself. Values are dropped,
/// cloned and compared recursively, so hostile nesting must stop well short of the stack.
pub(super) const MAX_DEPTH: usize = 128;

/// How many includes and environment variables may be in expansion inside each other.
/// Cycles are caught by name; this also stops chains of distinct names.
const MAX_NESTED_SOURCES: usize = 32;

/// Bytes (roughly) that `$variable` copies and included files may add to the result. A
/// few lines of `b = [$a, $a, $a]`, `c = [$b, $b, $b]` ... would otherwise double the
/// memory they take with every line.
const EXPANSION_BUDGET: usize = 64 << 20;

/// What a value costs against [`EXPANSION_BUDGET`] beyond its text.
const NODE_COST: usize = std::mem::size_of::<Value>();

/// State shared by a file and everything it includes or expands.
pub(super) struct Session<'e> {
    include: &'e mut dyn FnMut(&str) -> Result<String, String>,
    var: &'e dyn Fn(&str) -> Option<String>,
    /// Included files being parsed, outermost first.
    files: Vec<String>,
    /// Environment variables being expanded, outermost first.
    env_vars: Vec<String>,
    budget: usize,
}

impl<'e> Session<'e> {
    pub(super) fn new(
        include: &'e mut dyn FnMut(&str) -> Result<String, String>,
        var: &'e dyn Fn(&str) -> Option<String>,
    ) -> Session<'e> {
        Session {
            include,
            var,
            files: Vec::new(),
            env_vars: Vec::new(),
            budget: EXPANSION_BUDGET,
        }
    }

    fn nested(&self) -> usize {
        self.files.len() + self.env_vars.len()
    }

    fn spend(&mut self, cost: usize) -> Result<(), String> {
        self.budget = self.budget.checked_sub(cost).ok_or_else(|| {
            format!("variables and includes expand to more than {EXPANSION_BUDGET} bytes")
        })?;
        Ok(())
    }
}

/// One map or array being filled.
enum Frame {
    /// A map and the key waiting for its value, with the key's offset.
    Map(Map, Option<(String, usize)>),
    Array(Vec<Value>),
}

/// Parses one file's text.
///
/// `dir` is the directory of the file relative to the top-level file's, where its
/// includes are found. `depth` is how deeply the file's keys already sit in the final
/// result (an included file's keys land inside the map that included it).
pub(super) fn parse_document(
    text: &str,
    dir: &str,
    depth: usize,
    session: &mut Session<'_>,
) -> Result<Map, ConfError> {
    Parser {
        text,
        dir,
        depth,
        lexer: Lexer::new(text),
        frames: vec![Frame::Map(Map::default(), None)],
        session,
    }
    .run()
}

struct Parser<'t, 's, 'e> {
    text: &'t str,
    dir: &'t str,
    depth: usize,
    lexer: Lexer<'t>,
    /// The file's own map first, then the maps and arrays open inside it.
    frames: Vec<Frame>,
    session: &'s mut Session<'e>,
}

impl Parser<'_, '_, '_> {
    fn error(&self, offset: usize, message: impl Into<String>) -> ConfError {
        ConfError::at(self.text, offset, message)
    }

    fn no_value(&self, key: &str, offset: usize) -> ConfError {
        self.error(
            offset,
            format!("config is invalid: key '{key}' has no value"),
        )
    }

    fn run(mut self) -> Result<Map, ConfError> {
        loop {
            let token = self
                .lexer
                .next_token()
                .map_err(|e| self.error(e.offset, e.message))?;
            let offset = token.offset;
            match token.kind {
                Kind::Eof => return self.finish(offset),
                Kind::Key => match self.frames.last_mut() {
                    Some(Frame::Map(_, key @ None)) => *key = Some((token.text, offset)),
                    _ => return Err(self.error(offset, "BUG in parser: unexpected key")),
                },
                Kind::MapStart => self.open(Frame::Map(Map::default(), None), offset)?,
                Kind::ArrayStart => self.open(Frame::Array(Vec::new()), offset)?,
                Kind::MapEnd => match self.frames.pop() {
                    Some(Frame::Map(map, None)) if !self.frames.is_empty() => {
                        self.set(Value::Map(map), offset)?
                    }
                    Some(Frame::Map(_, Some((key, at)))) => return Err(self.no_value(&key, at)),
                    _ => return Err(self.error(offset, "BUG in parser: unexpected map end")),
                },
                Kind::ArrayEnd => match self.frames.pop() {
                    Some(Frame::Array(items)) => self.set(Value::Array(items), offset)?,
                    _ => return Err(self.error(offset, "BUG in parser: unexpected array end")),
                },
                Kind::String => self.set(Value::String(token.text), offset)?,
                Kind::Bool => {
                    let truth = ["true", "yes", "on"]
                        .iter()
                        .any(|t| token.text.eq_ignore_ascii_case(t));
                    self.set(Value::Bool(truth), offset)?
                }
                Kind::Integer => {
                    let value = integer(&token.text).map_err(|m| self.error(offset, m))?;
                    self.set(Value::Integer(value), offset)?
                }
                Kind::Float => {
                    let value = float(&token.text).map_err(|m| self.error(offset, m))?;
                    self.set(Value::Float(value), offset)?
                }
                Kind::Datetime => {
                    let value = Datetime::parse(&token.text).ok_or_else(|| {
                        self.error(
                            offset,
                            format!("expected Zulu formatted DateTime, but got '{}'", token.text),
                        )
                    })?;
                    self.set(Value::Datetime(value), offset)?
                }
                Kind::Variable => {
                    let value = self.variable(&token)?;
                    self.set(value, offset)?
                }
                Kind::Include => self.include(&token)?,
            }
        }
    }

    /// How deeply the innermost open map or array sits in the final result.
    fn level(&self) -> usize {
        self.depth + self.frames.len() - 1
    }

    fn open(&mut self, frame: Frame, offset: usize) -> Result<(), ConfError> {
        if self.level() + 1 >= MAX_DEPTH {
            return Err(self.error(
                offset,
                format!("maps and arrays nest more than {MAX_DEPTH} deep"),
            ));
        }
        self.frames.push(frame);
        Ok(())
    }

    /// Stores a finished value in the innermost open map or array.
    fn set(&mut self, value: Value, offset: usize) -> Result<(), ConfError> {
        match self.frames.last_mut() {
            Some(Frame::Map(map, key)) => match key.take() {
                Some((key, at)) => {
                    let place = ConfError::at(self.text, at, "");
                    let pos = Pos {
                        file: self.session.files.last().map(|f| f.as_str().into()),
                        line: place.line,
                        col: place.col,
                    };
                    map.insert_at(key, value, KeyMeta { pos, used: false })
                }
                None => return Err(self.error(offset, "BUG in parser: value without a key")),
            },
            Some(Frame::Array(items)) => items.push(value),
            None => return Err(self.error(offset, "BUG in parser: no open map")),
        }
        Ok(())
    }

    fn finish(mut self, offset: usize) -> Result<Map, ConfError> {
        match (self.frames.pop(), self.frames.is_empty()) {
            // The reference lets a stray `}` end a file, for JSON-style files whose
            // closing brace its lexer reads as a key.
            (Some(Frame::Map(map, None)), true) => Ok(map),
            (Some(Frame::Map(map, Some((key, _)))), true) if key == "}" => Ok(map),
            (Some(Frame::Map(_, Some((key, at)))), true) => Err(self.no_value(&key, at)),
            _ => Err(self.error(offset, "Unexpected EOF.")),
        }
    }

    /// Resolves `$name`: a key set earlier in this map or an enclosing one (the nearest
    /// wins, arrays are skipped), else an environment variable parsed as a value.
    fn variable(&mut self, token: &Token) -> Result<Value, ConfError> {
        let name = token.text.as_str();
        // Bare bcrypt hashes (`$2a$11$...`) are passwords, not references.
        if name.starts_with("2a$") {
            return Ok(Value::String(format!("${name}")));
        }
        let found = self.frames.iter().rposition(|frame| match frame {
            Frame::Map(map, _) => map.get_exact(name).is_some(),
            Frame::Array(_) => false,
        });
        let Some(frame) = found else {
            return self.env_variable(token);
        };
        let Frame::Map(map, _) = &self.frames[frame] else {
            unreachable!("found in a map");
        };
        let (cost, depth) = measure(map.get_exact(name).expect("found above"));
        if self.level() + depth >= MAX_DEPTH {
            return Err(self.error(
                token.offset,
                format!("maps and arrays nest more than {MAX_DEPTH} deep"),
            ));
        }
        self.session
            .spend(cost)
            .map_err(|m| self.error(token.offset, m))?;
        let Frame::Map(map, _) = &mut self.frames[frame] else {
            unreachable!("found in a map");
        };
        map.mark_used(name);
        Ok(map.get_exact(name).expect("found above").clone())
    }

    fn env_variable(&mut self, token: &Token) -> Result<Value, ConfError> {
        let name = token.text.as_str();
        let fail = |parser: &Self, why: String| {
            parser.error(
                token.offset,
                format!("variable reference for '{name}' could not be parsed: {why}"),
            )
        };
        if self.session.env_vars.iter().any(|v| v == name) {
            return Err(fail(self, format!("variable reference cycle for '{name}'")));
        }
        let Some(raw) = (self.session.var)(name) else {
            return Err(self.error(
                token.offset,
                format!("variable reference for '{name}' can not be found"),
            ));
        };
        if self.session.nested() >= MAX_NESTED_SOURCES {
            return Err(fail(
                self,
                format!("more than {MAX_NESTED_SOURCES} nested includes and variables"),
            ));
        }
        self.session.spend(raw.len()).map_err(|m| fail(self, m))?;
        // The reference reads the variable as the value of a one-key file.
        let text = format!("pk={raw}");
        self.session.env_vars.push(name.to_string());
        let parsed = parse_document(&text, "", self.level(), self.session);
        self.session.env_vars.pop();
        let map = parsed.map_err(|e| fail(self, e.to_string()))?;
        map.get_exact("pk").cloned().ok_or_else(|| {
            self.error(
                token.offset,
                format!("variable reference for '{name}' can not be found"),
            )
        })
    }

    /// Parses an included file on its own (it sees none of this file's keys) and sets
    /// its keys in the map the `include` sits in.
    fn include(&mut self, token: &Token) -> Result<(), ConfError> {
        let fail = |parser: &Self, why: String| {
            parser.error(
                token.offset,
                format!("error parsing include file '{}', {why}", token.text),
            )
        };
        let file = path::join(self.dir, &token.text);
        if self.session.files.contains(&file) {
            return Err(fail(self, format!("'{file}' includes itself")));
        }
        if self.session.nested() >= MAX_NESTED_SOURCES {
            return Err(fail(
                self,
                format!("more than {MAX_NESTED_SOURCES} nested includes and variables"),
            ));
        }
        let text = (self.session.include)(&file).map_err(|e| fail(self, e))?;
        self.session.spend(text.len()).map_err(|m| fail(self, m))?;
        let dir = path::parent(&file).to_string();
        self.session.files.push(file);
        let parsed = parse_document(&text, &dir, self.level(), self.session);
        self.session.files.pop();
        let included = parsed.map_err(|e| fail(self, e.to_string()))?;
        match self.frames.last_mut() {
            Some(Frame::Map(map, None)) => {
                for (key, value, meta) in included.into_entries() {
                    map.insert_at(key, value, meta);
                }
                Ok(())
            }
            _ => Err(self.error(token.offset, "BUG in parser: include outside a map")),
        }
    }
}

/// What copying `value` costs, and how many maps and arrays deep it goes.
fn measure(value: &Value) -> (usize, usize) {
    match value {
        Value::Map(map) => map.iter().fold((NODE_COST, 1), |(cost, depth), (k, v)| {
            let (c, d) = measure(v);
            (cost + k.len() + c, depth.max(d + 1))
        }),
        Value::Array(items) => items.iter().fold((NODE_COST, 1), |(cost, depth), v| {
            let (c, d) = measure(v);
            (cost + c, depth.max(d + 1))
        }),
        Value::String(s) => (NODE_COST + s.len(), 0),
        _ => (NODE_COST, 0),
    }
}

/// Reads an integer with an optional size suffix: `k`, `m`, `g`, `t`, `p`, `e` are powers
/// of 1000; with `b`, `i` or `ib` after them (`kb`, `Ki`, `MiB`) powers of 1024.
fn integer(text: &str) -> Result<i64, String> {
    let digits = text
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(digits);
    let number: i64 = number.parse().map_err(|e: std::num::ParseIntError| {
        if matches!(
            e.kind(),
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow
        ) {
            format!("integer '{text}' is out of the range")
        } else {
            format!("expected integer, but got '{text}'")
        }
    })?;
    let suffix = suffix.to_ascii_lowercase();
    let mut chars = suffix.chars();
    let power = match chars.next() {
        None => return Ok(number),
        Some(unit) => "kmgtpe".find(unit).map(|i| i as u32 + 1),
    };
    let base: i64 = match chars.as_str() {
        "" => 1000,
        "b" | "i" | "ib" => 1024,
        _ => 0,
    };
    let (Some(power), true) = (power, base != 0) else {
        return Err(format!("expected integer, but got '{text}'"));
    };
    base.checked_pow(power)
        .and_then(|scale| number.checked_mul(scale))
        .ok_or_else(|| format!("integer '{text}' is out of the range"))
}

fn float(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        Ok(_) => Err(format!("float '{text}' is out of the range")),
        Err(_) => Err(format!("expected float, but got '{text}'")),
    }
}
