//! Parser for Laravel (phpdotenv-style) `.env` files: `KEY=value`,
//! `export KEY=value`, `#` comments, single and double quotes (double quotes
//! take `\` escapes and may span lines) and `${NAME}` interpolation.

use std::collections::HashMap;

/// Parses a Laravel `.env` file into `(name, value)` pairs in file order.
///
/// `${NAME}` in double-quoted and unquoted values expands to the process
/// environment's `NAME`, else the last earlier `NAME` of the file, else "".
/// Errors read `line N: …`.
pub(crate) fn parse_dotenv(
    text: &str,
    outer: &HashMap<String, String>,
) -> Result<Vec<(String, String)>, String> {
    let text = text
        .strip_prefix('\u{feff}')
        .unwrap_or(text)
        .replace("\r\n", "\n");
    let mut parser = DotEnv {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
        outer,
        entries: Vec::new(),
    };
    parser.run()?;
    Ok(parser.entries)
}

/// Cursor over a `.env` file.
#[derive(Debug)]
struct DotEnv<'a> {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    outer: &'a HashMap<String, String>,
    entries: Vec<(String, String)>,
}

impl DotEnv<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn skip_while(&mut self, pred: impl Fn(char) -> bool) {
        while self.peek().is_some_and(&pred) {
            self.bump();
        }
    }

    fn take_while(&mut self, pred: impl Fn(char) -> bool) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek().filter(|&c| pred(c)) {
            out.push(c);
            self.bump();
        }
        out
    }

    fn run(&mut self) -> Result<(), String> {
        let blank = |c: char| matches!(c, ' ' | '\t' | '\r');
        let name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.');
        loop {
            self.skip_while(|c| c.is_whitespace());
            match self.peek() {
                None => return Ok(()),
                Some('#') => {
                    self.skip_while(|c| c != '\n');
                    continue;
                }
                Some(_) => {}
            }
            let line = self.line;
            let mut name = self.take_while(name_char);
            if name == "export" && self.peek().is_some_and(blank) {
                self.skip_while(blank);
                name = self.take_while(name_char);
            }
            if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(format!("line {line}: expected a variable name"));
            }
            self.skip_while(blank);
            match self.peek() {
                Some('=') => {
                    self.bump();
                }
                // A bare name without `=` declares nothing.
                None | Some('\n' | '#') => {
                    self.skip_while(|c| c != '\n');
                    continue;
                }
                Some(c) => return Err(format!("line {line}: unexpected {c:?} after {name}")),
            }
            self.skip_while(blank);
            let value = match self.peek() {
                Some(quote @ ('"' | '\'')) => {
                    self.bump();
                    let value = self.quoted(quote, line)?;
                    self.skip_while(blank);
                    match self.peek() {
                        None | Some('\n') => {}
                        Some('#') => self.skip_while(|c| c != '\n'),
                        Some(c) => {
                            return Err(format!(
                                "line {}: unexpected {c:?} after closing quote",
                                self.line
                            ))
                        }
                    }
                    value
                }
                _ => self.unquoted(),
            };
            self.entries.push((name, value));
        }
    }

    /// The rest of the line, up to a `#` that starts it or follows a blank.
    fn unquoted(&mut self) -> String {
        let mut raw = String::new();
        while let Some(c) = self.peek() {
            let comment = c == '#' && (raw.is_empty() || raw.ends_with(char::is_whitespace));
            if c == '\n' || comment {
                break;
            }
            raw.push(c);
            self.bump();
        }
        self.skip_while(|c| c != '\n');
        let raw: Vec<char> = raw.trim().chars().collect();
        let mut out = String::new();
        let mut i = 0;
        while i < raw.len() {
            i = self.expand(&raw, i, &mut out);
        }
        out
    }

    /// A value after its opening quote, up to the closing one (may span
    /// lines). Double quotes take `\` escapes and `${NAME}`.
    fn quoted(&mut self, quote: char, line: usize) -> Result<String, String> {
        let mut body = Vec::new();
        loop {
            match self.bump() {
                None => {
                    let kind = if quote == '"' { "double" } else { "single" };
                    return Err(format!("line {line}: unterminated {kind}-quoted value"));
                }
                Some(c) if c == quote => break,
                Some('\\') if quote == '"' => {
                    body.push('\\');
                    if let Some(next) = self.bump() {
                        body.push(next);
                    }
                }
                Some(c) => body.push(c),
            }
        }
        if quote == '\'' {
            return Ok(body.into_iter().collect());
        }
        let mut out = String::new();
        let mut i = 0;
        while i < body.len() {
            if body[i] == '\\' {
                match body.get(i + 1) {
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some('t') => out.push('\t'),
                    Some('f') => out.push('\u{c}'),
                    Some('v') => out.push('\u{b}'),
                    Some(&c @ ('"' | '\\' | '$')) => out.push(c),
                    Some(&c) => {
                        out.push('\\');
                        out.push(c);
                    }
                    None => out.push('\\'),
                }
                i += 2;
            } else {
                i = self.expand(&body, i, &mut out);
            }
        }
        Ok(out)
    }

    /// Appends `chars[i]`, or the expansion of a `${NAME}` starting there;
    /// returns the index after what was consumed.
    fn expand(&self, chars: &[char], i: usize, out: &mut String) -> usize {
        let reference = chars[i] == '$' && chars.get(i + 1) == Some(&'{');
        let close = || chars[i..].iter().position(|&c| c == '}');
        let Some(end) = reference.then(close).flatten() else {
            out.push(chars[i]);
            return i + 1;
        };
        let name: String = chars[i + 2..i + end].iter().collect();
        let value = self.outer.get(&name).or_else(|| {
            let mut earlier = self.entries.iter().rev();
            earlier.find(|(n, _)| *n == name).map(|(_, v)| v)
        });
        out.push_str(value.map_or("", String::as_str));
        i + end + 1
    }
}
