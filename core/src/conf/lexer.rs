//! Splits configuration text into tokens.
//!
//! The reference's grammar is defined by its lexer rather than by a formal grammar: what
//! ends an unquoted string, when `1k2` is a number and when `3xyz` is a string, how a
//! bare `}` at the top level is tolerated, all fall out of which state the lexer is in.
//! So this lexer is a state machine with the same states and the same stack of states to
//! return to, and reproduces those decisions one character at a time. Comments produce
//! no tokens.
//!
//! The end of input reads as the character `'\0'`, as in the reference, so a NUL byte in
//! the text behaves like the end of the file wherever the reference's does.

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Key,
    String,
    Bool,
    Integer,
    Float,
    Datetime,
    ArrayStart,
    ArrayEnd,
    MapStart,
    MapEnd,
    /// `$name`; the text is the name without the `$`.
    Variable,
    /// `include path`; the text is the path as written.
    Include,
    Eof,
}

#[derive(Debug)]
pub(super) struct Token {
    pub kind: Kind,
    pub text: String,
    /// Byte offset in the input where the token starts.
    pub offset: usize,
}

#[derive(Debug)]
pub(super) struct LexError {
    pub offset: usize,
    pub message: String,
}

const EOF: char = '\0';

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Top,
    TopValueEnd,
    /// Inside a `{` at the top level, which only wraps keys (JSON-style files).
    BlockStart,
    BlockValueEnd,
    BlockEnd,
    KeyStart,
    QuotedKey {
        quote: char,
        in_map: bool,
    },
    Key,
    KeyEnd,
    IncludeStart,
    Include,
    QuotedInclude(char),
    BareInclude,
    Value,
    ArrayValue,
    ArrayValueEnd,
    MapKeyStart,
    MapKey,
    MapKeyEnd,
    MapValue,
    MapValueEnd,
    SingleQuoted,
    DoubleQuoted,
    Bare,
    Block,
    Escape,
    HexEscape,
    Number,
    Suffix,
    Date,
    NegNumberStart,
    NegNumber,
    FloatStart,
    Float,
    IpAddr,
    Comment,
    Done,
}

pub(super) struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    /// Start of the text not yet emitted or skipped.
    start: usize,
    /// Where the token being lexed began, for error positions.
    token_start: usize,
    /// Width of the character `next` last returned, so `backup` can undo it.
    width: usize,
    state: State,
    stack: Vec<State>,
    /// Text of the string being lexed up to `start`, once it has had an escape (every
    /// escape adds at least one byte). Escapes like `\xc3\xa9` produce bytes, so this
    /// is bytes until the string ends.
    escaped: Vec<u8>,
    /// Which string state an escape returns to.
    string_state: State,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(input: &'a str) -> Lexer<'a> {
        Lexer {
            input,
            pos: 0,
            start: 0,
            token_start: 0,
            width: 0,
            state: State::Top,
            stack: Vec::new(),
            escaped: Vec::new(),
            string_state: State::Bare,
        }
    }

    /// The next token; after [`Kind::Eof`], `Eof` again.
    pub(super) fn next_token(&mut self) -> Result<Token, LexError> {
        loop {
            if let Some(token) = self.step()? {
                return Ok(token);
            }
        }
    }

    fn next(&mut self) -> char {
        match self.input[self.pos..].chars().next() {
            Some(c) => {
                self.width = c.len_utf8();
                self.pos += self.width;
                c
            }
            None => {
                self.width = 0;
                EOF
            }
        }
    }

    /// Undoes the last `next`; at the end of input that consumed nothing, so neither
    /// does this.
    fn backup(&mut self) {
        self.pos -= self.width;
        self.width = 0;
    }

    fn peek(&self) -> char {
        self.input[self.pos..].chars().next().unwrap_or(EOF)
    }

    fn ignore(&mut self) {
        self.start = self.pos;
        self.token_start = self.pos;
    }

    fn push(&mut self, state: State) {
        self.stack.push(state);
    }

    fn pop(&mut self) -> Result<State, LexError> {
        self.stack
            .pop()
            .ok_or_else(|| self.fail_at(self.pos, "BUG in lexer: no states to pop."))
    }

    /// An error about the character `next` just returned.
    fn fail(&self, message: impl Into<String>) -> LexError {
        self.fail_at(self.pos - self.width, message)
    }

    fn fail_at(&self, offset: usize, message: impl Into<String>) -> LexError {
        LexError {
            offset,
            message: message.into(),
        }
    }

    /// Emits the text from `start` to `end` (and any escaped text before it), then skips
    /// to the current position.
    fn emit(&mut self, kind: Kind, end: usize) -> Result<Token, LexError> {
        let raw = &self.input[self.start..end];
        let text = if !self.escaped.is_empty() {
            self.escaped.extend_from_slice(raw.as_bytes());
            let bytes = std::mem::take(&mut self.escaped);
            String::from_utf8(bytes).map_err(|_| {
                self.fail_at(self.token_start, "Escaped bytes do not form valid UTF-8.")
            })?
        } else {
            raw.to_string()
        };
        let token = Token {
            kind,
            text,
            offset: self.token_start,
        };
        self.ignore();
        Ok(token)
    }

    /// A token with no text, for a bracket just consumed.
    fn bracket(&mut self, kind: Kind) -> Token {
        self.ignore();
        Token {
            kind,
            text: String::new(),
            offset: self.pos - 1,
        }
    }

    /// Ends the input where only whitespace and comments were pending; a lone `/` or a
    /// NUL byte pending there is an error.
    fn end_of_input(&mut self) -> Result<Option<Token>, LexError> {
        if self.pos > self.start {
            return Err(self.fail("Unexpected EOF."));
        }
        self.state = State::Done;
        Ok(Some(Token {
            kind: Kind::Eof,
            text: String::new(),
            offset: self.pos,
        }))
    }

    /// Starts a comment if one opens here and comments may stand here. Wherever the
    /// reference allows a comment it checks for one before anything else, so this runs
    /// before the state itself.
    fn comment(&mut self) -> bool {
        let then = match self.state {
            State::Top | State::TopValueEnd => State::Top,
            State::BlockStart | State::BlockEnd => State::BlockStart,
            State::BlockValueEnd => State::BlockValueEnd,
            State::ArrayValue => State::ArrayValue,
            State::ArrayValueEnd => State::ArrayValueEnd,
            State::MapKeyStart => State::MapKeyStart,
            State::MapValueEnd => State::MapValueEnd,
            _ => return false,
        };
        let rest = &self.input[self.pos..];
        let len = if rest.starts_with('#') {
            1
        } else if rest.starts_with("//") {
            2
        } else {
            return false;
        };
        self.pos += len;
        self.width = 0;
        self.push(then);
        self.state = State::Comment;
        true
    }

    /// Whether a number ending here sits directly in an array, where `]` ends it.
    fn in_array(&self) -> bool {
        self.stack.last() == Some(&State::ArrayValueEnd)
    }

    fn add_escaped(&mut self, bytes: &[u8]) {
        self.escaped.extend_from_slice(bytes);
        self.start = self.pos;
        self.state = self.string_state;
    }

    fn step(&mut self) -> Result<Option<Token>, LexError> {
        if self.comment() {
            return Ok(None);
        }
        match self.state {
            State::Done => {
                return Ok(Some(Token {
                    kind: Kind::Eof,
                    text: String::new(),
                    offset: self.pos,
                }))
            }
            State::Top => {
                let c = self.next();
                if c.is_whitespace() {
                    self.ignore();
                } else if c == '{' {
                    self.push(State::Top);
                    self.ignore();
                    self.state = State::BlockStart;
                } else if c == '/' || c == EOF {
                    return self.end_of_input();
                } else {
                    self.backup();
                    self.push(State::TopValueEnd);
                    self.state = State::KeyStart;
                }
            }
            State::TopValueEnd => {
                let c = self.next();
                if matches!(c, '\n' | '\r' | EOF | ';' | ',' | '}') {
                    self.ignore();
                    self.state = State::Top;
                } else if !matches!(c, '/' | ' ' | '\t') {
                    return Err(self.fail(format!(
                        "Expected a top-level value to end with a new line, comment or EOF, \
                         but got '{}' instead.",
                        show(c)
                    )));
                }
            }
            State::BlockStart => {
                let c = self.next();
                if c.is_whitespace() {
                    self.ignore();
                } else if c == '{' {
                    self.push(State::BlockEnd);
                    self.ignore();
                } else if c == '}' {
                    self.ignore();
                    self.state = self.pop()?;
                } else if c == '/' || c == EOF {
                    return self.end_of_input();
                } else {
                    self.backup();
                    self.push(State::BlockValueEnd);
                    self.state = State::KeyStart;
                }
            }
            State::BlockValueEnd => {
                let c = self.next();
                if matches!(c, '\n' | '\r' | ';' | ',') {
                    self.ignore();
                    self.state = State::BlockStart;
                } else if c == '}' {
                    self.backup();
                    self.state = State::BlockEnd;
                } else if !matches!(c, '/' | ' ' | '\t') {
                    return Err(self.fail(format!(
                        "Expected a block-level value to end with a new line, comment or EOF, \
                         but got '{}' instead.",
                        show(c)
                    )));
                }
            }
            State::BlockEnd => {
                let c = self.next();
                if matches!(c, ';' | ',') {
                    self.ignore();
                    self.state = State::BlockStart;
                } else if c == '}' {
                    self.ignore();
                    self.state = self.pop()?;
                } else if !matches!(c, '/' | ' ' | '\t' | '\n' | '\r') {
                    return Err(self.fail(format!(
                        "Expected a block-level to end with a '}}', but got '{}' instead.",
                        show(c)
                    )));
                }
            }
            State::KeyStart => {
                let c = self.peek();
                if is_key_separator(c) {
                    return Err(
                        self.fail_at(self.pos, format!("Unexpected key separator '{}'", show(c)))
                    );
                } else if c.is_whitespace() {
                    self.next();
                    self.ignore();
                } else if c == '"' || c == '\'' {
                    self.next();
                    self.ignore();
                    self.state = State::QuotedKey {
                        quote: c,
                        in_map: false,
                    };
                } else {
                    self.ignore();
                    self.next();
                    self.state = State::Key;
                }
            }
            State::QuotedKey { quote, in_map } => loop {
                let c = self.peek();
                if c == EOF {
                    let message = match (in_map, quote) {
                        (false, _) => "Unexpected EOF.",
                        (true, '\'') => "Unexpected EOF processing quoted map key.",
                        (true, _) => "Unexpected EOF processing double quoted map key.",
                    };
                    return Err(self.fail_at(self.pos, message));
                }
                if c == quote {
                    let token = self.emit(Kind::Key, self.pos)?;
                    self.next();
                    self.ignore();
                    self.state = if in_map {
                        State::MapKeyEnd
                    } else {
                        State::KeyEnd
                    };
                    return Ok(Some(token));
                }
                self.next();
            },
            State::Key => loop {
                let c = self.peek();
                if c.is_whitespace() {
                    if self.input[self.start..self.pos].eq_ignore_ascii_case("include") {
                        self.ignore();
                        self.state = State::IncludeStart;
                        return Ok(None);
                    }
                    self.state = State::KeyEnd;
                    return self.emit(Kind::Key, self.pos).map(Some);
                }
                if is_key_separator(c) || c == EOF {
                    self.state = State::KeyEnd;
                    return self.emit(Kind::Key, self.pos).map(Some);
                }
                self.next();
            },
            State::KeyEnd => {
                let c = self.next();
                if c.is_whitespace() {
                    self.ignore();
                } else if is_key_separator(c) {
                    self.ignore();
                    self.state = State::Value;
                } else if c == EOF {
                    // As in the reference, a NUL here ends the file too.
                    self.state = State::Done;
                } else {
                    self.backup();
                    self.state = State::Value;
                }
            }
            State::IncludeStart => {
                let c = self.next();
                if c == ' ' || c == '\t' {
                    self.ignore();
                } else {
                    self.backup();
                    self.state = State::Include;
                }
            }
            State::Include => {
                let c = self.next();
                let found = match c {
                    '\'' | '"' => {
                        self.ignore();
                        self.state = State::QuotedInclude(c);
                        return Ok(None);
                    }
                    '[' => "start of an array",
                    '{' => "start of a map",
                    '(' => "start of a block",
                    '-' | '0'..='9' => "start of a number",
                    '\\' => "escape sequence",
                    '\n' | '\r' => "new line",
                    _ => {
                        self.backup();
                        self.state = State::BareInclude;
                        return Ok(None);
                    }
                };
                return Err(self.fail(format!("Expected include value but found {found}")));
            }
            State::QuotedInclude(quote) => loop {
                let c = self.next();
                if c == quote {
                    self.state = self.pop()?;
                    return self.emit(Kind::Include, self.pos - 1).map(Some);
                }
                if c == EOF {
                    return Err(self.fail(if quote == '\'' {
                        "Unexpected EOF in quoted include"
                    } else {
                        "Unexpected EOF in double quoted include"
                    }));
                }
            },
            State::BareInclude => loop {
                let c = self.next();
                if matches!(c, '\n' | '\r' | EOF | ';' | '}' | ' ' | '\t') {
                    self.backup();
                    self.state = self.pop()?;
                    return self.emit(Kind::Include, self.pos).map(Some);
                }
                if c == '\'' {
                    self.state = self.pop()?;
                    return self.emit(Kind::Include, self.pos - 1).map(Some);
                }
            },
            State::Value => {
                let c = self.next();
                match c {
                    ' ' | '\t' => self.ignore(),
                    '[' => {
                        self.state = State::ArrayValue;
                        return Ok(Some(self.bracket(Kind::ArrayStart)));
                    }
                    '{' => {
                        self.state = State::MapKeyStart;
                        return Ok(Some(self.bracket(Kind::MapStart)));
                    }
                    '\'' => {
                        self.ignore();
                        self.state = State::SingleQuoted;
                    }
                    '"' => {
                        self.ignore();
                        self.string_state = State::DoubleQuoted;
                        self.state = State::DoubleQuoted;
                    }
                    '-' => self.state = State::NegNumberStart,
                    '(' => {
                        self.ignore();
                        self.state = State::Block;
                    }
                    '0'..='9' => self.state = State::Number,
                    '.' => return Err(self.fail("Floats must start with a digit")),
                    '\n' | '\r' => return Err(self.fail("Expected value but found new line")),
                    _ => {
                        self.backup();
                        self.string_state = State::Bare;
                        self.state = State::Bare;
                    }
                }
            }
            State::ArrayValue => {
                let c = self.next();
                if c.is_whitespace() {
                    self.ignore();
                } else if c == '/' || c == ',' {
                    return Err(self.fail("Unexpected array value terminator ','."));
                } else if c == ']' {
                    self.state = self.pop()?;
                    return Ok(Some(self.bracket(Kind::ArrayEnd)));
                } else {
                    self.backup();
                    self.push(State::ArrayValueEnd);
                    self.state = State::Value;
                }
            }
            State::ArrayValueEnd => {
                let c = self.next();
                if c == ' ' || c == '\t' {
                    self.ignore();
                } else if matches!(c, '/' | ',' | '\n' | '\r') {
                    self.ignore();
                    self.state = State::ArrayValue;
                } else if c == ']' {
                    self.state = self.pop()?;
                    return Ok(Some(self.bracket(Kind::ArrayEnd)));
                } else {
                    return Err(self.fail(format!(
                        "Expected an array value terminator \",\" or an array terminator \"]\", \
                         but got '{}' instead.",
                        show(c)
                    )));
                }
            }
            State::MapKeyStart => {
                let c = self.peek();
                if is_key_separator(c) {
                    return Err(
                        self.fail_at(self.pos, format!("Unexpected key separator '{}'.", show(c)))
                    );
                } else if c == ']' {
                    return Err(self.fail_at(self.pos, "Unexpected array end ']' processing map."));
                } else if c.is_whitespace() {
                    self.next();
                    self.ignore();
                } else if c == '}' {
                    self.next();
                    self.state = self.pop()?;
                    return Ok(Some(self.bracket(Kind::MapEnd)));
                } else if c == EOF {
                    return Err(self.fail_at(self.pos, "Unexpected EOF processing map."));
                } else {
                    self.next();
                    if c == '"' || c == '\'' {
                        self.ignore();
                        self.state = State::QuotedKey {
                            quote: c,
                            in_map: true,
                        };
                    } else {
                        // A lone `/` is dropped from the key, as in the reference.
                        if c == '/' {
                            self.ignore();
                            self.next();
                        } else {
                            self.token_start = self.pos - self.width;
                            self.start = self.token_start;
                        }
                        self.state = State::MapKey;
                    }
                }
            }
            State::MapKey => loop {
                let c = self.peek();
                if c == EOF {
                    return Err(self.fail_at(self.pos, "Unexpected EOF processing map key."));
                }
                if c.is_whitespace() {
                    if self.input[self.start..self.pos].eq_ignore_ascii_case("include") {
                        self.ignore();
                        self.push(State::MapValueEnd);
                        self.state = State::IncludeStart;
                        return Ok(None);
                    }
                    self.state = State::MapKeyEnd;
                    return self.emit(Kind::Key, self.pos).map(Some);
                }
                if is_key_separator(c) {
                    self.state = State::MapKeyEnd;
                    return self.emit(Kind::Key, self.pos).map(Some);
                }
                self.next();
            },
            State::MapKeyEnd => {
                let c = self.next();
                if c.is_whitespace() {
                    self.ignore();
                } else if is_key_separator(c) {
                    self.ignore();
                    self.state = State::MapValue;
                } else {
                    self.backup();
                    self.state = State::MapValue;
                }
            }
            State::MapValue => {
                let c = self.next();
                if c.is_whitespace() {
                    self.ignore();
                } else if c == ',' {
                    return Err(self.fail("Unexpected map value terminator \",\"."));
                } else if c == '}' {
                    self.state = self.pop()?;
                    return Ok(Some(self.bracket(Kind::MapEnd)));
                } else {
                    self.backup();
                    self.push(State::MapValueEnd);
                    self.state = State::Value;
                }
            }
            State::MapValueEnd => {
                let c = self.next();
                if c == ' ' || c == '\t' {
                    self.ignore();
                } else if matches!(c, '/' | ';' | ',' | '\n' | '\r') {
                    self.ignore();
                    self.state = State::MapKeyStart;
                } else if c == '}' {
                    self.state = self.pop()?;
                    return Ok(Some(self.bracket(Kind::MapEnd)));
                } else {
                    return Err(self.fail(format!(
                        "Expected a map value terminator \",\" or a map terminator \"}}\", \
                         but got '{}' instead.",
                        show(c)
                    )));
                }
            }
            State::SingleQuoted => loop {
                match self.next() {
                    '\'' => {
                        self.state = self.pop()?;
                        return self.emit(Kind::String, self.pos - 1).map(Some);
                    }
                    EOF => return Err(self.fail_at(self.token_start, "Unexpected EOF.")),
                    _ => {}
                }
            },
            State::DoubleQuoted => loop {
                match self.next() {
                    '\\' => {
                        self.escaped
                            .extend_from_slice(&self.input.as_bytes()[self.start..self.pos - 1]);
                        self.state = State::Escape;
                        return Ok(None);
                    }
                    '"' => {
                        self.state = self.pop()?;
                        return self.emit(Kind::String, self.pos - 1).map(Some);
                    }
                    EOF => return Err(self.fail_at(self.token_start, "Unexpected EOF.")),
                    _ => {}
                }
            },
            State::Bare => loop {
                let c = self.next();
                if c == '\\' {
                    self.escaped
                        .extend_from_slice(&self.input.as_bytes()[self.start..self.pos - 1]);
                    self.state = State::Escape;
                    return Ok(None);
                }
                if c == '\'' {
                    self.state = self.pop()?;
                    return self.emit(Kind::String, self.pos - 1).map(Some);
                }
                if is_bare_end(c) {
                    self.backup();
                    self.state = self.pop()?;
                    let text = &self.input[self.start..self.pos];
                    let kind = if !self.escaped.is_empty() {
                        Kind::String
                    } else if is_bool(text) {
                        Kind::Bool
                    } else if text.starts_with('$') {
                        self.start += 1;
                        Kind::Variable
                    } else {
                        Kind::String
                    };
                    return self.emit(kind, self.pos).map(Some);
                }
            },
            State::Block => loop {
                match self.next() {
                    ')' => {
                        let bytes = self.input.as_bytes();
                        let paren = self.pos - 1;
                        let own_line = paren > 0
                            && bytes[paren - 1] == b'\n'
                            && matches!(bytes.get(self.pos), None | Some(b'\n') | Some(0));
                        if own_line {
                            self.state = self.pop()?;
                            return self.emit(Kind::String, paren).map(Some);
                        }
                    }
                    EOF => return Err(self.fail("Unexpected EOF processing block.")),
                    _ => {}
                }
            },
            State::Escape => {
                let c = self.next();
                match c {
                    'x' => self.state = State::HexEscape,
                    't' => self.add_escaped(b"\t"),
                    'n' => self.add_escaped(b"\n"),
                    'r' => self.add_escaped(b"\r"),
                    '"' => self.add_escaped(b"\""),
                    '\\' => self.add_escaped(b"\\"),
                    _ => {
                        return Err(self.fail(format!(
                            "Invalid escape character '{}'. Only the following escape \
                             characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.",
                            show(c)
                        )))
                    }
                }
            }
            State::HexEscape => {
                let from = self.pos;
                let mut digits = [0u8; 2];
                for digit in &mut digits {
                    let c = self.next();
                    if c == '\n' || c == '\r' {
                        return Err(self.fail(
                            "Expected two hexadecimal digits after '\\x', but hit end of line",
                        ));
                    }
                    *digit = c.to_digit(16).map_or(u8::MAX, |d| d as u8);
                }
                if digits.contains(&u8::MAX) {
                    return Err(self.fail_at(
                        from,
                        format!(
                            "Expected two hexadecimal digits after '\\x', but got '{}'",
                            &self.input[from..self.pos]
                        ),
                    ));
                }
                self.add_escaped(&[digits[0] << 4 | digits[1]]);
            }
            State::Number => loop {
                let c = self.next();
                match c {
                    '0'..='9' => {}
                    '-' => {
                        if self.pos - self.start != 5 {
                            return Err(self.fail("All ISO8601 dates must be in full Zulu form."));
                        }
                        self.state = State::Date;
                        return Ok(None);
                    }
                    '.' => {
                        self.state = State::FloatStart;
                        return Ok(None);
                    }
                    _ if is_number_suffix(c) => {
                        self.state = State::Suffix;
                        return Ok(None);
                    }
                    _ if is_number_end(c) || (c == ']' && self.in_array()) => {
                        self.backup();
                        self.state = self.pop()?;
                        return self.emit(Kind::Integer, self.pos).map(Some);
                    }
                    // Something like `3xyz`: the reference takes it as a string.
                    _ => {
                        self.string_state = State::Bare;
                        self.state = State::Bare;
                        return Ok(None);
                    }
                }
            },
            State::Suffix => {
                let c = self.next();
                if !matches!(c, 'b' | 'B' | 'i' | 'I') {
                    self.backup();
                    if is_number_end(c) || c.is_ascii_digit() {
                        self.state = self.pop()?;
                        return self.emit(Kind::Integer, self.pos).map(Some);
                    }
                    // Something like `1Ghz`; or `[1k]`, which the reference reads as the
                    // string "1k" (and a caller may rely on), unlike `[1]`, which it rejects.
                    self.string_state = State::Bare;
                    self.state = State::Bare;
                }
            }
            State::Date => {
                for expected in "00-00T00:00:00Z".chars() {
                    let c = self.next();
                    if expected == '0' && !c.is_ascii_digit() {
                        return Err(self.fail(format!(
                            "Expected digit in ISO8601 datetime, but found '{}' instead.",
                            show(c)
                        )));
                    }
                    if expected != '0' && c != expected {
                        return Err(self.fail(format!(
                            "Expected '{expected}' in ISO8601 datetime, but found '{}' instead.",
                            show(c)
                        )));
                    }
                }
                self.state = self.pop()?;
                return self.emit(Kind::Datetime, self.pos).map(Some);
            }
            State::NegNumberStart => {
                let c = self.next();
                if c.is_ascii_digit() {
                    self.state = State::NegNumber;
                } else if c == '.' {
                    return Err(self.fail("Floats must start with a digit, not '.'."));
                } else {
                    return Err(self.fail(format!("Expected a digit but got '{}'.", show(c))));
                }
            }
            State::NegNumber => loop {
                let c = self.next();
                if c.is_ascii_digit() {
                    continue;
                }
                if c == '.' {
                    self.state = State::FloatStart;
                } else if is_number_suffix(c) {
                    self.state = State::Suffix;
                } else {
                    self.backup();
                    self.state = self.pop()?;
                    return self.emit(Kind::Integer, self.pos).map(Some);
                }
                return Ok(None);
            },
            State::FloatStart => {
                let c = self.next();
                if !c.is_ascii_digit() {
                    return Err(self.fail(format!(
                        "Floats must have a digit after the '.', but got '{}' instead.",
                        show(c)
                    )));
                }
                self.state = State::Float;
            }
            State::Float => loop {
                let c = self.next();
                if c.is_ascii_digit() {
                    continue;
                }
                if c == '.' {
                    // A second dot: an address like 127.0.0.1 rather than a float.
                    self.state = State::IpAddr;
                    return Ok(None);
                }
                self.backup();
                self.state = self.pop()?;
                return self.emit(Kind::Float, self.pos).map(Some);
            },
            State::IpAddr => loop {
                let c = self.next();
                if !(c.is_ascii_digit() || matches!(c, '.' | ':' | '-')) {
                    self.backup();
                    self.state = self.pop()?;
                    return self.emit(Kind::String, self.pos).map(Some);
                }
            },
            State::Comment => loop {
                let c = self.peek();
                if matches!(c, '\n' | '\r' | EOF) {
                    self.ignore();
                    self.state = self.pop()?;
                    return Ok(None);
                }
                self.next();
            },
        }
        Ok(None)
    }
}

fn is_key_separator(c: char) -> bool {
    c == '=' || c == ':'
}

fn is_number_suffix(c: char) -> bool {
    matches!(
        c,
        'k' | 'K' | 'm' | 'M' | 'g' | 'G' | 't' | 'T' | 'p' | 'P' | 'e' | 'E'
    )
}

/// What ends a number (outside arrays, the reference does not count `]`).
fn is_number_end(c: char) -> bool {
    matches!(c, '\n' | '\r' | EOF | '}' | ';' | ',' | ' ' | '\t')
}

/// What ends an unquoted string.
fn is_bare_end(c: char) -> bool {
    matches!(c, '\n' | '\r' | EOF | ';' | ',' | ']' | '}' | ' ' | '\t')
}

fn is_bool(text: &str) -> bool {
    ["true", "false", "yes", "no", "on", "off"]
        .iter()
        .any(|b| text.eq_ignore_ascii_case(b))
}

/// A character for an error message: the end of input and line breaks made visible.
fn show(c: char) -> String {
    match c {
        EOF => "EOF".to_string(),
        '\n' => "\\n".to_string(),
        '\r' => "\\r".to_string(),
        '\t' => "\\t".to_string(),
        c => c.to_string(),
    }
}
