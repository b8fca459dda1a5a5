//! What the README shows of an answer, and whether a real answer matches it.

use super::*;

pub(super) fn is_assignment(line: &str) -> bool {
    line.split(';').all(|p| {
        let p = p.trim();
        p.split_once("=<").is_some_and(|(var, rest)| {
            !var.is_empty() && var.chars().all(|c| c.is_ascii_uppercase()) && rest.ends_with('>')
        })
    })
}

/// The text between the first `open` and the next `close` after it.
pub(super) fn between<'t>(text: &'t str, open: &str, close: &str) -> Option<&'t str> {
    let start = text.find(open)? + open.len();
    let len = text[start..].find(close)?;
    Some(&text[start..start + len])
}

/// A value the README shows: exactly this, or (ending in `...`) anything there and not empty.
#[derive(Debug, PartialEq)]
pub(super) enum Shown {
    Exactly(Value),
    Present,
}

/// The `"key":value` pairs of a JSON object as the README shows it, with `...` for what it
/// leaves out: string and number values only (an object or a list is looked into, not taken).
pub(super) fn shown_pairs(text: &str) -> Vec<(String, Shown)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'"' {
            i += 1;
            continue;
        }
        let (s, end) = read_string(text, i);
        i = end;
        if b.get(i) != Some(&b':') {
            continue; // a value, already read
        }
        i += 1;
        match b.get(i) {
            Some(b'"') => {
                let (v, end) = read_string(text, i);
                i = end;
                let shown = match v.strip_suffix("...") {
                    Some(_) => Shown::Present,
                    None => Shown::Exactly(Value::String(v)),
                };
                out.push((s, shown));
            }
            Some(c) if c.is_ascii_digit() || *c == b'-' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'-') {
                    i += 1;
                }
                let shown = if text[i..].starts_with("...") {
                    i += 3;
                    Shown::Present
                } else {
                    Shown::Exactly(serde_json::from_str(&text[start..i]).unwrap())
                };
                out.push((s, shown));
            }
            _ => {}
        }
    }
    out
}

/// A JSON string starting at `b[at] == '"'`: its value and the index after its closing quote.
pub(super) fn read_string(text: &str, at: usize) -> (String, usize) {
    let b = text.as_bytes();
    let mut i = at + 1;
    while i < b.len() && b[i] != b'"' {
        if b[i] == b'\\' {
            i += 1;
        }
        i += 1;
    }
    let end = (i + 1).min(b.len());
    let value = serde_json::from_str(&text[at..end]).unwrap_or_else(|_| text[at + 1..i].to_owned());
    (value, end)
}

pub(super) fn matches(got: &Value, want: &Shown) -> bool {
    match want {
        Shown::Exactly(v) => got == v,
        Shown::Present => match got {
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => n.as_f64() != Some(0.0),
            _ => false,
        },
    }
}

/// Whether some object in `v`, at any depth, has `key` with the value shown.
pub(super) fn somewhere(v: &Value, key: &str, want: &Shown) -> bool {
    match v {
        Value::Object(m) => {
            m.get(key).is_some_and(|got| matches(got, want))
                || m.values().any(|c| somewhere(c, key, want))
        }
        Value::Array(items) => items.iter().any(|c| somewhere(c, key, want)),
        _ => false,
    }
}

#[test]
pub(super) fn shown_pairs_reads_what_the_readme_shows() {
    let pairs =
        shown_pairs(r#"{"id":"...","seq":0,"content":"a \"b\"","t":1796...,"data":{"x":-1},...}"#);
    assert_eq!(
        pairs,
        vec![
            ("id".to_owned(), Shown::Present),
            ("seq".to_owned(), Shown::Exactly(0.into())),
            ("content".to_owned(), Shown::Exactly("a \"b\"".into())),
            ("t".to_owned(), Shown::Present),
            ("x".to_owned(), Shown::Exactly((-1).into())),
        ]
    );
    assert!(is_assignment("A=<alice's id>; TA=<alice's access_token>"));
    assert!(!is_assignment("curl -s x"));
}
