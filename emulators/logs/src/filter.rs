//! CloudWatch Logs filter patterns, as `FilterLogEvents` takes them.
//!
//! Two of AWS's three syntaxes are supported (see "Filter pattern syntax for metric
//! filters, subscription filters, filter log events" in the CloudWatch Logs user
//! guide):
//!
//! - **Terms** for unstructured events: space-separated terms that must all appear
//!   (`ERROR ARGUMENTS`), `"quoted phrases"` for terms with spaces or symbols,
//!   `-term` to exclude, `?term` for "any of these" (`?ERROR ?WARN`). Matching is
//!   case-sensitive and by substring, as on AWS. An empty pattern matches everything.
//! - **JSON** for JSON events: `{ $.field op value }` with selectors such as
//!   `$.user.id` and `$.list[0].name`, `=` / `!=` on strings (with `*` wildcards) or
//!   numbers, `<`, `<=`, `>`, `>=` on numbers, `IS TRUE`, `IS FALSE`, `IS NULL`,
//!   `NOT EXISTS`, joined by `&&` and `||` (`&&` binds tighter) with parentheses.
//!
//! Space-delimited patterns (`[ip, user, ...]`) and regular expressions (`%…%`) are
//! refused with a [`PatternError`] naming them, so a caller never gets silently
//! wrong results.
//!
//! ```
//! use slcl_logs::filter::Pattern;
//! let p = Pattern::parse(r#"{ $.level = "error" && $.latency > 100 }"#).unwrap();
//! assert!(p.matches(r#"{"level": "error", "latency": 250}"#));
//! assert!(!Pattern::parse("ERROR -timeout").unwrap().matches("ERROR timeout"));
//! ```

use serde_json::Value;

/// A filter pattern that does not parse, with AWS-style wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid filter pattern: {0}")]
pub struct PatternError(pub String);

/// A parsed filter pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// Matches every event (the empty pattern).
    All,
    /// Term matching on the raw message.
    Terms {
        /// Terms that must all appear.
        required: Vec<String>,
        /// Terms of which one must appear (`?term`), when any are given.
        any: Vec<String>,
        /// Terms that must not appear (`-term`).
        excluded: Vec<String>,
    },
    /// A JSON pattern; only events whose message is a JSON object can match.
    Json(Expr),
}

/// A JSON pattern's expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Both sides match.
    And(Box<Expr>, Box<Expr>),
    /// Either side matches.
    Or(Box<Expr>, Box<Expr>),
    /// One comparison of the value a selector picks.
    Test(Vec<Step>, Test),
}

/// One step of a selector: `.name` or `[index]`.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// An object member.
    Field(String),
    /// An array element.
    Index(usize),
}

/// What a comparison checks.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// `= "text"` / `!= "text"` (`*` is a wildcard); the bool is "equal".
    Text(bool, String),
    /// A numeric comparison.
    Number(CmpOp, f64),
    /// `IS TRUE` / `IS FALSE`.
    Bool(bool),
    /// `IS NULL`.
    Null,
    /// `NOT EXISTS`.
    Missing,
}

/// Numeric comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Pattern {
    /// Parses a pattern.
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(Pattern::All);
        }
        if t.starts_with('{') {
            let mut p = Parser {
                chars: t.chars().collect(),
                pos: 1,
            };
            let expr = p.expr()?;
            p.skip_ws();
            if !p.eat("}") {
                return Err(p.error("expected `}`"));
            }
            p.skip_ws();
            if p.pos != p.chars.len() {
                return Err(p.error("unexpected text after `}`"));
            }
            return Ok(Pattern::Json(expr));
        }
        if t.starts_with('[') {
            return Err(PatternError(
                "space-delimited patterns (`[...]`) are not supported by slcl yet".into(),
            ));
        }
        if t.starts_with('%') && t.len() > 1 && t.ends_with('%') {
            return Err(PatternError(
                "regular expression patterns (`%...%`) are not supported by slcl yet".into(),
            ));
        }
        terms(t)
    }

    /// Whether an event's message matches.
    pub fn matches(&self, message: &str) -> bool {
        match self {
            Pattern::All => true,
            Pattern::Terms {
                required,
                any,
                excluded,
            } => {
                required.iter().all(|t| message.contains(t.as_str()))
                    && (any.is_empty() || any.iter().any(|t| message.contains(t.as_str())))
                    && !excluded.iter().any(|t| message.contains(t.as_str()))
            }
            Pattern::Json(expr) => match serde_json::from_str::<Value>(message) {
                Ok(doc @ Value::Object(_)) => eval(expr, &doc),
                _ => false,
            },
        }
    }
}

fn terms(text: &str) -> Result<Pattern, PatternError> {
    let (mut required, mut any, mut excluded) = (Vec::new(), Vec::new(), Vec::new());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let kind = chars[i];
        if kind == '-' || kind == '?' {
            i += 1;
        }
        let term = if chars.get(i) == Some(&'"') {
            let (s, next) = quoted(&chars, i)?;
            i = next;
            s
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() {
                i += 1;
            }
            chars[start..i].iter().collect()
        };
        if term.is_empty() {
            return Err(PatternError(format!("empty term in `{text}`")));
        }
        match kind {
            '-' => excluded.push(term),
            '?' => any.push(term),
            _ => required.push(term),
        }
    }
    Ok(Pattern::Terms {
        required,
        any,
        excluded,
    })
}

/// A `"…"` string starting at `start`; returns it and the index after the quote.
fn quoted(chars: &[char], start: usize) -> Result<(String, usize), PatternError> {
    let mut s = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                s.push(chars[i + 1]);
                i += 2;
            }
            '"' => return Ok((s, i + 1)),
            c => {
                s.push(c);
                i += 1;
            }
        }
    }
    Err(PatternError("unterminated quoted string".into()))
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn error(&self, what: &str) -> PatternError {
        PatternError(format!("{what} at position {}", self.pos))
    }

    fn skip_ws(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn peek_is(&self, s: &str) -> bool {
        s.chars()
            .enumerate()
            .all(|(k, c)| self.chars.get(self.pos + k) == Some(&c))
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.peek_is(s) {
            self.pos += s.chars().count();
            true
        } else {
            false
        }
    }

    /// A keyword, case-insensitive, followed by a non-word character.
    fn eat_keyword(&mut self, word: &str) -> bool {
        let n = word.len();
        let got: String = self.chars.iter().skip(self.pos).take(n).collect();
        let boundary = self
            .chars
            .get(self.pos + n)
            .is_none_or(|c| !c.is_alphanumeric());
        if got.eq_ignore_ascii_case(word) && boundary {
            self.pos += n;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Result<Expr, PatternError> {
        let mut left = self.and()?;
        loop {
            self.skip_ws();
            if self.eat("||") {
                let right = self.and()?;
                left = Expr::Or(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }

    fn and(&mut self) -> Result<Expr, PatternError> {
        let mut left = self.unary()?;
        loop {
            self.skip_ws();
            if self.eat("&&") {
                let right = self.unary()?;
                left = Expr::And(Box::new(left), Box::new(right));
            } else {
                return Ok(left);
            }
        }
    }

    fn unary(&mut self) -> Result<Expr, PatternError> {
        self.skip_ws();
        if self.eat("(") {
            let e = self.expr()?;
            self.skip_ws();
            if !self.eat(")") {
                return Err(self.error("expected `)`"));
            }
            return Ok(e);
        }
        let selector = self.selector()?;
        self.skip_ws();
        if self.eat_keyword("IS") {
            self.skip_ws();
            let test = if self.eat_keyword("TRUE") {
                Test::Bool(true)
            } else if self.eat_keyword("FALSE") {
                Test::Bool(false)
            } else if self.eat_keyword("NULL") {
                Test::Null
            } else {
                return Err(self.error("expected TRUE, FALSE or NULL after IS"));
            };
            return Ok(Expr::Test(selector, test));
        }
        if self.eat_keyword("NOT") {
            self.skip_ws();
            if !self.eat_keyword("EXISTS") {
                return Err(self.error("expected EXISTS after NOT"));
            }
            return Ok(Expr::Test(selector, Test::Missing));
        }
        let op = if self.eat("!=") {
            CmpOp::Ne
        } else if self.eat("<=") {
            CmpOp::Le
        } else if self.eat(">=") {
            CmpOp::Ge
        } else if self.eat("=") {
            CmpOp::Eq
        } else if self.eat("<") {
            CmpOp::Lt
        } else if self.eat(">") {
            CmpOp::Gt
        } else {
            return Err(self.error("expected a comparison operator"));
        };
        self.skip_ws();
        let (text, was_quoted) = if self.chars.get(self.pos) == Some(&'"') {
            let (s, next) = quoted(&self.chars, self.pos)?;
            self.pos = next;
            (s, true)
        } else {
            let start = self.pos;
            while self
                .chars
                .get(self.pos)
                .is_some_and(|c| !c.is_whitespace() && !matches!(c, ')' | '}' | '&' | '|'))
            {
                self.pos += 1;
            }
            (
                self.chars[start..self.pos].iter().collect::<String>(),
                false,
            )
        };
        if text.is_empty() && !was_quoted {
            return Err(self.error("expected a value"));
        }
        let number = if was_quoted {
            None
        } else {
            text.parse::<f64>().ok()
        };
        let test = match (number, op) {
            (Some(n), op) => Test::Number(op, n),
            (None, CmpOp::Eq) => Test::Text(true, text),
            (None, CmpOp::Ne) => Test::Text(false, text),
            (None, _) => return Err(self.error("`<`, `<=`, `>` and `>=` need a number")),
        };
        Ok(Expr::Test(selector, test))
    }

    fn selector(&mut self) -> Result<Vec<Step>, PatternError> {
        if !self.eat("$") {
            return Err(self.error("expected a selector starting with `$`"));
        }
        let mut steps = Vec::new();
        loop {
            if self.eat(".") {
                let start = self.pos;
                while self
                    .chars
                    .get(self.pos)
                    .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '@' | ':'))
                {
                    self.pos += 1;
                }
                if start == self.pos {
                    return Err(self.error("expected a field name after `.`"));
                }
                steps.push(Step::Field(self.chars[start..self.pos].iter().collect()));
            } else if self.eat("[") {
                let start = self.pos;
                while self.chars.get(self.pos).is_some_and(char::is_ascii_digit) {
                    self.pos += 1;
                }
                let index: String = self.chars[start..self.pos].iter().collect();
                let index = index
                    .parse()
                    .map_err(|_| self.error("expected an array index"))?;
                if !self.eat("]") {
                    return Err(self.error("expected `]`"));
                }
                steps.push(Step::Index(index));
            } else {
                break;
            }
        }
        if steps.is_empty() {
            return Err(self.error("expected a field after `$`"));
        }
        Ok(steps)
    }
}

fn select<'a>(doc: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    steps.iter().try_fold(doc, |v, step| match step {
        Step::Field(name) => v.get(name.as_str()),
        Step::Index(i) => v.get(*i),
    })
}

fn eval(expr: &Expr, doc: &Value) -> bool {
    match expr {
        Expr::And(a, b) => eval(a, doc) && eval(b, doc),
        Expr::Or(a, b) => eval(a, doc) || eval(b, doc),
        Expr::Test(steps, test) => {
            let value = select(doc, steps);
            match test {
                Test::Missing => value.is_none(),
                Test::Null => matches!(value, Some(Value::Null)),
                Test::Bool(b) => value == Some(&Value::Bool(*b)),
                Test::Text(equal, pattern) => match value {
                    Some(Value::String(s)) => wildcard(pattern, s) == *equal,
                    Some(Value::Number(n)) => wildcard(pattern, &n.to_string()) == *equal,
                    Some(Value::Bool(b)) => wildcard(pattern, &b.to_string()) == *equal,
                    _ => false,
                },
                Test::Number(op, n) => {
                    let Some(v) = value.and_then(Value::as_f64) else {
                        return false;
                    };
                    match op {
                        CmpOp::Eq => v == *n,
                        CmpOp::Ne => v != *n,
                        CmpOp::Lt => v < *n,
                        CmpOp::Le => v <= *n,
                        CmpOp::Gt => v > *n,
                        CmpOp::Ge => v >= *n,
                    }
                }
            }
        }
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matching(pattern: &str, events: &[&str]) -> Vec<usize> {
        let p = Pattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        events
            .iter()
            .enumerate()
            .filter(|(_, e)| p.matches(e))
            .map(|(i, _)| i)
            .collect()
    }

    // The unstructured examples of AWS's "Using filter patterns to match terms in
    // unstructured log events".
    const TEXT: &[&str] = &[
        "[ERROR 400] BAD REQUEST",
        "[ERROR 401] UNAUTHORIZED REQUEST",
        "[ERROR 419] MISSING ARGUMENTS",
        "[ERROR 420] INVALID ARGUMENTS",
        "[WARN] Exiting with status 0",
    ];

    #[test]
    fn terms() {
        assert_eq!(matching("", TEXT), vec![0, 1, 2, 3, 4]);
        assert_eq!(matching("ERROR", TEXT), vec![0, 1, 2, 3]);
        assert_eq!(matching("ERROR ARGUMENTS", TEXT), vec![2, 3]);
        assert_eq!(matching("\"INVALID ARGUMENTS\"", TEXT), vec![3]);
        assert_eq!(matching("ERROR -ARGUMENTS", TEXT), vec![0, 1]);
        assert_eq!(matching("?UNAUTHORIZED ?WARN", TEXT), vec![1, 4]);
        assert_eq!(matching("?\"BAD REQUEST\" ?Exiting", TEXT), vec![0, 4]);
        assert_eq!(matching("-ERROR", TEXT), vec![4]);
        // Case-sensitive.
        assert_eq!(matching("error", TEXT), Vec::<usize>::new());
        assert!(Pattern::parse("\"open").is_err());
    }

    // The JSON examples of AWS's "Using filter patterns to match terms in JSON log
    // events".
    const JSON_EVENT: &str = r#"{
        "eventType": "UpdateTrail",
        "sourceIPAddress": "111.111.111.111",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": null,
        "cluster.name": "c1",
        "ThisFlag": true,
        "latency": 250,
        "user": {"id": 1, "email": "John.Doe@example.com"},
        "actions": ["GET", "PUT", "DELETE"]
    }"#;

    #[test]
    fn json() {
        let yes = |p: &str| assert_eq!(matching(p, &[JSON_EVENT]), vec![0], "{p}");
        let no = |p: &str| assert!(matching(p, &[JSON_EVENT]).is_empty(), "{p}");
        yes(r#"{ $.eventType = "UpdateTrail" }"#);
        no(r#"{ $.eventType = "DeleteTrail" }"#);
        yes("{ $.sourceIPAddress != 123.123.* }");
        no("{ $.sourceIPAddress = 123.123.* }");
        yes("{ $.sourceIPAddress = 111.* }");
        yes(r#"{ $.eventType = "Update*" }"#);
        yes(r#"{ $.arrayKey[0] = "value" }"#);
        yes("{ $.objectList[1].id = 2 }");
        no("{ $.objectList[1].id = 1 }");
        yes("{ $.SomeObject IS NULL }");
        yes("{ $.SomeOtherObject NOT EXISTS }");
        no("{ $.SomeObject NOT EXISTS }");
        yes("{ $.ThisFlag IS TRUE }");
        no("{ $.ThisFlag IS FALSE }");
        yes("{ $.latency > 100 }");
        yes("{ $.latency >= 250 }");
        no("{ $.latency < 100 }");
        yes("{ $.latency != 100 }");
        yes(r#"{ ($.user.id = 1) && ($.user.email = "John.Doe@example.com") }"#);
        no(r#"{ ($.user.id = 2) && ($.user.email = "John.Doe@example.com") }"#);
        yes(r#"{ ($.user.id = 2 && $.user.email = "nonmatch") || $.actions[2] = "DELETE" }"#);
        no(r#"{ $.user.id = 2 && $.user.email = "nonmatch" || $.actions[2] = "GET" }"#);
        // Not JSON: never matches a JSON pattern.
        assert!(matching("{ $.a = 1 }", &["a = 1"]).is_empty());
    }

    #[test]
    fn errors() {
        for bad in [
            "{ $.a = 1",
            "{ a = 1 }",
            "{ $.a ~ 1 }",
            "{ $.a > x }",
            "{ $.a IS MAYBE }",
            "[ip, user]",
            "%ERR.*%",
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("a*c", "abbbc"));
        assert!(wildcard("*", ""));
        assert!(!wildcard("a*d", "abc"));
        assert!(wildcard("*.111", "111.111"));
    }
}
