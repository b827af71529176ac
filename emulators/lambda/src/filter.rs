//! Lambda event filtering: the `FilterCriteria` patterns of an event source mapping.
//!
//! The syntax is the one "Control which events Lambda sends to your function"
//! documents (<https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html#filtering-syntax>),
//! EventBridge's pattern language:
//!
//! - A pattern is a JSON object whose keys name fields of the record. A value that is
//!   an object matches a nested object; a value that is an array is a list of rules,
//!   any one of which must match the field (rules are OR'ed, keys are AND'ed).
//! - Rules: a literal string, number, boolean or `null` (equality; `""` matches an
//!   empty string), `{"prefix": s}`, `{"suffix": s}` (either may be
//!   `{"equals-ignore-case": s}`), `{"equals-ignore-case": s}`, `{"wildcard": "a*b"}`,
//!   `{"anything-but": v | [v…] | {"prefix"|"suffix"|"equals-ignore-case"|"wildcard": …}}`,
//!   `{"numeric": [op, n (, op, n)]}` with `=`, `<`, `<=`, `>`, `>=`, and
//!   `{"exists": true|false}`.
//! - `"$or": [pattern, …]` matches when any of the sub-patterns matches.
//! - When the record's field is an array, a rule matches if it matches any element.
//!
//! A mapping has at most [`MAX_FILTERS`] patterns, OR'ed: a record that matches none
//! is dropped (for SQS, deleted without invoking the function).

use serde_json::{Map, Value};

/// Most filters one mapping may have (Lambda's default quota).
pub const MAX_FILTERS: usize = 5;

/// Compiled `FilterCriteria`: a record passes when it matches any pattern (or there is
/// none).
#[derive(Debug, Clone, Default)]
pub struct FilterSet {
    patterns: Vec<Map<String, Value>>,
}

impl FilterSet {
    /// Parses and checks each pattern (the `Pattern` strings of `FilterCriteria.Filters`).
    /// The error is the message of Lambda's `InvalidParameterValueException`.
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<FilterSet, String> {
        if patterns.len() > MAX_FILTERS {
            return Err(format!(
                "The maximum number of filters per event source mapping is {MAX_FILTERS}; {} were given.",
                patterns.len()
            ));
        }
        let patterns = patterns
            .iter()
            .map(|p| {
                let p = p.as_ref();
                let value: Value = serde_json::from_str(p)
                    .map_err(|e| format!("Invalid filter pattern definition: {p} ({e})"))?;
                let Value::Object(map) = value else {
                    return Err(format!(
                        "Invalid filter pattern definition: {p} (a pattern is a JSON object)"
                    ));
                };
                check_object(&map)
                    .map_err(|e| format!("Invalid filter pattern definition: {p} ({e})"))?;
                Ok(map)
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(FilterSet { patterns })
    }

    /// Whether there are no patterns (every record passes).
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `record` passes the filters.
    pub fn matches(&self, record: &Value) -> bool {
        self.patterns.is_empty()
            || self
                .patterns
                .iter()
                .any(|p| matches_object(p, Some(record)))
    }
}

/// Checks a pattern object's syntax.
fn check_object(pattern: &Map<String, Value>) -> Result<(), String> {
    for (key, value) in pattern {
        match value {
            _ if key == "$or" => {
                let Value::Array(subs) = value else {
                    return Err("`$or` takes an array of patterns".into());
                };
                if subs.len() < 2 {
                    return Err("`$or` needs at least two patterns".into());
                }
                for sub in subs {
                    let Value::Object(sub) = sub else {
                        return Err("`$or` takes an array of patterns".into());
                    };
                    check_object(sub)?;
                }
            }
            Value::Object(sub) => check_object(sub)?,
            Value::Array(rules) => {
                if rules.is_empty() {
                    return Err(format!("`{key}` has an empty list of rules"));
                }
                for rule in rules {
                    check_rule(rule)?;
                }
            }
            _ => {
                return Err(format!(
                    "the value of `{key}` must be an object or an array of rules"
                ))
            }
        }
    }
    Ok(())
}

fn check_rule(rule: &Value) -> Result<(), String> {
    let Value::Object(op) = rule else {
        return match rule {
            Value::Array(_) => Err("rules cannot be nested arrays".into()),
            _ => Ok(()),
        };
    };
    if op.len() != 1 {
        return Err("a rule object has exactly one operator".into());
    }
    let (name, arg) = op.iter().next().expect("one entry");
    match name.as_str() {
        "prefix" | "suffix" => match arg {
            Value::String(_) => Ok(()),
            Value::Object(o) if o.len() == 1 && o.get("equals-ignore-case").is_some_and(Value::is_string) => Ok(()),
            _ => Err(format!("`{name}` takes a string")),
        },
        "equals-ignore-case" | "wildcard" => arg
            .is_string()
            .then_some(())
            .ok_or_else(|| format!("`{name}` takes a string")),
        "exists" => arg
            .is_boolean()
            .then_some(())
            .ok_or_else(|| "`exists` takes true or false".to_string()),
        "anything-but" => match arg {
            Value::Array(items) if items.iter().all(|v| v.is_string() || v.is_number()) => Ok(()),
            Value::String(_) | Value::Number(_) => Ok(()),
            Value::Object(o) if o.len() == 1 => {
                let (inner, v) = o.iter().next().expect("one entry");
                match inner.as_str() {
                    "prefix" | "suffix" | "equals-ignore-case" | "wildcard" if v.is_string() => Ok(()),
                    _ => Err(format!("`anything-but` does not take `{inner}`")),
                }
            }
            _ => Err("`anything-but` takes a value, a list of values or a prefix/suffix/equals-ignore-case".into()),
        },
        "numeric" => numeric_bounds(arg).map(|_| ()),
        other => Err(format!("unknown operator `{other}`")),
    }
}

/// The `(op, n)` pairs of a `numeric` rule.
fn numeric_bounds(arg: &Value) -> Result<Vec<(&str, f64)>, String> {
    let Value::Array(items) = arg else {
        return Err("`numeric` takes an array".into());
    };
    if items.is_empty() || items.len() % 2 != 0 || items.len() > 4 {
        return Err("`numeric` takes one or two (operator, number) pairs".into());
    }
    items
        .chunks(2)
        .map(|pair| match (&pair[0], &pair[1]) {
            (Value::String(op), Value::Number(n))
                if matches!(op.as_str(), "=" | "<" | "<=" | ">" | ">=") =>
            {
                Ok((op.as_str(), n.as_f64().unwrap_or(f64::NAN)))
            }
            _ => Err("`numeric` takes operators =, <, <=, >, >= each followed by a number".into()),
        })
        .collect()
}

/// Whether `event` (an object, or `None` when the field is missing) matches `pattern`.
fn matches_object(pattern: &Map<String, Value>, event: Option<&Value>) -> bool {
    pattern.iter().all(|(key, p)| {
        if key == "$or" {
            return p.as_array().is_some_and(|subs| {
                subs.iter()
                    .filter_map(Value::as_object)
                    .any(|sub| matches_object(sub, event))
            });
        }
        let field = event.and_then(|e| e.as_object()).and_then(|o| o.get(key));
        match p {
            Value::Object(sub) => match field {
                Some(Value::Array(items)) => items.iter().any(|i| matches_object(sub, Some(i))),
                Some(v @ Value::Object(_)) => matches_object(sub, Some(v)),
                // A nested pattern over a missing (or scalar) field can still match
                // through `exists: false`.
                _ => matches_object(sub, None),
            },
            Value::Array(rules) => rules.iter().any(|rule| matches_rule(rule, field)),
            _ => false,
        }
    })
}

fn matches_rule(rule: &Value, field: Option<&Value>) -> bool {
    if let Some(exists) = rule.get("exists").and_then(Value::as_bool) {
        let present = match field {
            None => false,
            Some(Value::Object(_)) => false,
            Some(Value::Array(items)) => !items.is_empty(),
            Some(_) => true,
        };
        return present == exists;
    }
    match field {
        None => false,
        Some(Value::Array(items)) => items.iter().any(|v| matches_value(rule, v)),
        Some(v) => matches_value(rule, v),
    }
}

fn matches_value(rule: &Value, v: &Value) -> bool {
    let Value::Object(op) = rule else {
        return literal_eq(rule, v);
    };
    let Some((name, arg)) = op.iter().next() else {
        return false;
    };
    let s = v.as_str();
    match name.as_str() {
        "prefix" => s.is_some_and(|s| affix(arg, s, true)),
        "suffix" => s.is_some_and(|s| affix(arg, s, false)),
        "equals-ignore-case" => s
            .zip(arg.as_str())
            .is_some_and(|(s, a)| s.to_lowercase() == a.to_lowercase()),
        "wildcard" => s.zip(arg.as_str()).is_some_and(|(s, p)| wildcard(p, s)),
        "numeric" => v.as_f64().is_some_and(|n| {
            numeric_bounds(arg).is_ok_and(|bounds| {
                bounds.iter().all(|(op, b)| match *op {
                    "=" => n == *b,
                    "<" => n < *b,
                    "<=" => n <= *b,
                    ">" => n > *b,
                    ">=" => n >= *b,
                    _ => false,
                })
            })
        }),
        "anything-but" => match arg {
            Value::Array(items) => !items.iter().any(|i| literal_eq(i, v)),
            Value::Object(inner) => {
                let Some(s) = s else { return false };
                let Some((k, a)) = inner.iter().next() else {
                    return false;
                };
                let hit = match k.as_str() {
                    "prefix" => affix(a, s, true),
                    "suffix" => affix(a, s, false),
                    "equals-ignore-case" => a
                        .as_str()
                        .is_some_and(|a| a.to_lowercase() == s.to_lowercase()),
                    "wildcard" => a.as_str().is_some_and(|p| wildcard(p, s)),
                    _ => true,
                };
                !hit
            }
            single => !literal_eq(single, v),
        },
        _ => false,
    }
}

/// `prefix` / `suffix` with a plain string or `{"equals-ignore-case": s}`.
fn affix(arg: &Value, s: &str, prefix: bool) -> bool {
    let (needle, ignore_case) = match arg {
        Value::String(n) => (n.as_str(), false),
        Value::Object(o) => match o.get("equals-ignore-case").and_then(Value::as_str) {
            Some(n) => (n, true),
            None => return false,
        },
        _ => return false,
    };
    if ignore_case {
        let (s, n) = (s.to_lowercase(), needle.to_lowercase());
        if prefix {
            s.starts_with(&n)
        } else {
            s.ends_with(&n)
        }
    } else if prefix {
        s.starts_with(needle)
    } else {
        s.ends_with(needle)
    }
}

/// Equality of a literal rule and a value: strings with strings, numbers by value,
/// booleans, `null`.
fn literal_eq(rule: &Value, v: &Value) -> bool {
    match (rule, v) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

/// `*` matches any run of characters; `\*` a literal star.
fn wildcard(pattern: &str, s: &str) -> bool {
    // Tokens: literal chars or a star.
    let mut tokens: Vec<Option<char>> = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => tokens.push(Some(chars.next().unwrap_or('\\'))),
            '*' => tokens.push(None),
            c => tokens.push(Some(c)),
        }
    }
    let s: Vec<char> = s.chars().collect();
    // Classic glob matching with backtracking to the last star.
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        match tokens.get(p) {
            Some(Some(c)) if *c == s[i] => {
                p += 1;
                i += 1;
            }
            Some(None) => {
                star = Some((p, i));
                p += 1;
            }
            _ => match star {
                Some((sp, si)) => {
                    p = sp + 1;
                    i = si + 1;
                    star = Some((sp, si + 1));
                }
                None => return false,
            },
        }
    }
    tokens[p..].iter().all(Option::is_none)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(pattern: Value, event: Value) -> bool {
        FilterSet::parse(&[pattern.to_string()])
            .unwrap_or_else(|e| panic!("{e}"))
            .matches(&event)
    }

    // The examples of "Filter rule syntax" in the Lambda developer guide.
    #[test]
    fn aws_documented_comparison_operators() {
        // Null / empty.
        assert!(m(json!({"UserID": [null]}), json!({"UserID": null})));
        assert!(!m(json!({"UserID": [null]}), json!({"UserID": "x"})));
        assert!(m(json!({"LastName": [""]}), json!({"LastName": ""})));
        // Equals.
        assert!(m(json!({"Name": ["Alice"]}), json!({"Name": "Alice"})));
        assert!(!m(json!({"Name": ["Alice"]}), json!({"Name": "alice"})));
        // Equals (ignore case).
        assert!(m(
            json!({"Name": [{"equals-ignore-case": "alice"}]}),
            json!({"Name": "ALICE"})
        ));
        // And.
        let p = json!({"Location": ["New York"], "Day": ["Monday"]});
        assert!(m(
            p.clone(),
            json!({"Location": "New York", "Day": "Monday"})
        ));
        assert!(!m(p, json!({"Location": "New York", "Day": "Friday"})));
        // Or.
        let p = json!({"PaymentType": ["Credit", "Debit"]});
        assert!(m(p.clone(), json!({"PaymentType": "Debit"})));
        assert!(!m(p, json!({"PaymentType": "Cash"})));
        // Or (multiple fields).
        let p = json!({"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]});
        assert!(m(p.clone(), json!({"Location": "Paris", "Day": "Monday"})));
        assert!(!m(p, json!({"Location": "Paris", "Day": "Friday"})));
        // Not.
        let p = json!({"Weather": [{"anything-but": ["Raining"]}]});
        assert!(m(p.clone(), json!({"Weather": "Sunny"})));
        assert!(!m(p.clone(), json!({"Weather": "Raining"})));
        assert!(!m(p, json!({})), "anything-but needs the field");
        // Numeric (equals) and (range).
        assert!(m(
            json!({"Price": [{"numeric": ["=", 100]}]}),
            json!({"Price": 100.0})
        ));
        let p = json!({"Price": [{"numeric": [">", 10, "<=", 20]}]});
        assert!(m(p.clone(), json!({"Price": 20})));
        assert!(!m(p.clone(), json!({"Price": 10})));
        assert!(!m(p, json!({"Price": "15"})), "strings are not numbers");
        // Exists / does not exist.
        assert!(m(
            json!({"ProductName": [{"exists": true}]}),
            json!({"ProductName": "x"})
        ));
        assert!(!m(json!({"ProductName": [{"exists": true}]}), json!({})));
        assert!(m(json!({"ProductName": [{"exists": false}]}), json!({})));
        assert!(!m(
            json!({"ProductName": [{"exists": false}]}),
            json!({"ProductName": 1})
        ));
        // Begins with / ends with.
        assert!(m(
            json!({"Region": [{"prefix": "us-"}]}),
            json!({"Region": "us-east-1"})
        ));
        assert!(!m(
            json!({"Region": [{"prefix": "us-"}]}),
            json!({"Region": "eu-west-1"})
        ));
        assert!(m(
            json!({"FileName": [{"suffix": ".png"}]}),
            json!({"FileName": "a.png"})
        ));
        assert!(m(
            json!({"FileName": [{"suffix": {"equals-ignore-case": ".PNG"}}]}),
            json!({"FileName": "a.png"})
        ));
        // Anything-but prefix / suffix / equals-ignore-case.
        let p = json!({"Region": [{"anything-but": {"prefix": "us-"}}]});
        assert!(m(p.clone(), json!({"Region": "eu-west-1"})));
        assert!(!m(p, json!({"Region": "us-east-1"})));
        assert!(!m(
            json!({"Name": [{"anything-but": {"equals-ignore-case": "alice"}}]}),
            json!({"Name": "ALICE"})
        ));
        // Wildcard.
        let p = json!({"Key": [{"wildcard": "dir/*.png"}]});
        assert!(m(p.clone(), json!({"Key": "dir/a/b.png"})));
        assert!(!m(p, json!({"Key": "dir/a.jpg"})));
        assert!(m(
            json!({"K": [{"wildcard": "a\\*b"}]}),
            json!({"K": "a*b"})
        ));
        assert!(!m(
            json!({"K": [{"wildcard": "a\\*b"}]}),
            json!({"K": "axb"})
        ));
    }

    #[test]
    fn sqs_body_examples_nesting_and_arrays() {
        // From "Using event filtering with an Amazon SQS event source".
        let record =
            json!({"body": {"RecordNumber": 1234, "TimeStamp": "t", "RequestCode": "AAAA"}});
        assert!(!m(
            json!({"body": {"RequestCode": ["BBBB"]}}),
            record.clone()
        ));
        assert!(m(
            json!({"body": {"RequestCode": ["AAAA"]}}),
            record.clone()
        ));
        assert!(m(
            json!({"body": {"RecordNumber": [{"numeric": [">", 999]}]}}),
            record.clone()
        ));
        // A plain-string body matches only plain-string rules.
        let plain = json!({"body": "Result: ok"});
        assert!(m(json!({"body": [{"prefix": "Result: "}]}), plain.clone()));
        assert!(!m(json!({"body": {"RequestCode": ["AAAA"]}}), plain));
        assert!(
            !m(json!({"body": ["AAAA"]}), record),
            "an object body never equals a string"
        );
        // Arrays in the record match if any element does.
        let tags = json!({"body": {"tags": ["a", "b"], "items": [{"sku": "x"}, {"sku": "y"}]}});
        assert!(m(json!({"body": {"tags": ["b"]}}), tags.clone()));
        assert!(m(json!({"body": {"items": {"sku": ["y"]}}}), tags.clone()));
        assert!(!m(json!({"body": {"items": {"sku": ["z"]}}}), tags));
    }

    #[test]
    fn filters_are_ored_and_checked() {
        let set =
            FilterSet::parse(&[r#"{"body":{"k":["a"]}}"#, r#"{"body":{"k":["b"]}}"#]).unwrap();
        assert!(set.matches(&json!({"body": {"k": "b"}})));
        assert!(!set.matches(&json!({"body": {"k": "c"}})));
        assert!(FilterSet::parse::<&str>(&[]).unwrap().matches(&json!({})));
        for bad in [
            "not json",
            "[1]",
            r#"{"a": "x"}"#,
            r#"{"a": []}"#,
            r#"{"a": [{"nope": 1}]}"#,
            r#"{"a": [{"numeric": [">"]}]}"#,
            r#"{"a": [{"numeric": ["!", 1]}]}"#,
            r#"{"a": [{"exists": "yes"}]}"#,
            r#"{"$or": [{"a": ["x"]}]}"#,
        ] {
            assert!(FilterSet::parse(&[bad]).is_err(), "{bad} should be refused");
        }
        let six: Vec<&str> = vec![r#"{"a":["x"]}"#; 6];
        assert!(FilterSet::parse(&six).is_err());
    }
}
