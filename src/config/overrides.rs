//! `OMNIBRIDGE__SECTION__KEY` environment overrides, applied to the parsed TOML table before it
//! is turned into [`Settings`](super::Settings).
//!
//! Names are split on `__` and lower-cased; a numeric segment indexes an array
//! (`OMNIBRIDGE__CHANNELS__0__TOKEN`). An index one past the end appends a new entry, so a whole
//! channel can come from the environment. Values take the type of the value they replace; a new
//! value that looks like a bool, number, array or inline table is read as TOML, else as a string.

use super::locate::{KeyPath, Seg};
use toml::{Table, Value};

/// Prefix of override variables; `OMNIBRIDGE_CONFIG` (one underscore) is not one.
const PREFIX: &str = "OMNIBRIDGE__";

/// One environment override.
#[derive(Clone, Debug)]
pub(crate) struct Override {
    /// The variable's name as given, for error messages.
    pub(crate) var: String,
    pub(crate) path: KeyPath,
    raw: String,
    /// How the raw text is turned into a value; see [`Override::next_repr`].
    repr: Repr,
}

/// Representations tried in turn when the settings type rejects a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Repr {
    /// Typed after the value it replaces, else guessed from its look.
    Auto,
    /// The raw text as a string.
    Text,
    /// A comma-separated list of strings.
    List,
}

impl Override {
    /// Switches to the next representation; false when all were tried.
    pub(crate) fn next_repr(&mut self) -> bool {
        self.repr = match self.repr {
            Repr::Auto => Repr::Text,
            Repr::Text => Repr::List,
            Repr::List => return false,
        };
        true
    }
}

/// The overrides present in `env`, sorted so array entries are created in index order.
pub(crate) fn collect(env: &[(String, String)]) -> Result<Vec<Override>, Vec<String>> {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for (name, raw) in env {
        let Some(rest) = strip_prefix_ignore_case(name, PREFIX) else {
            continue;
        };
        let mut segs = Vec::new();
        for part in rest.split("__") {
            if part.is_empty() {
                problems.push(format!(
                    "environment variable {name}: empty key between double underscores"
                ));
                segs.clear();
                break;
            }
            match part.parse::<usize>() {
                Ok(n) => segs.push(Seg::Index(n)),
                Err(_) => segs.push(Seg::Key(part.to_ascii_lowercase())),
            }
        }
        if segs.is_empty() {
            continue;
        }
        if matches!(segs.first(), Some(Seg::Index(_))) {
            problems.push(format!(
                "environment variable {name}: must start with a section name, e.g. OMNIBRIDGE__DATABASE__URL"
            ));
            continue;
        }
        found.push(Override {
            var: name.clone(),
            path: KeyPath(segs),
            raw: raw.clone(),
            repr: Repr::Auto,
        });
    }
    if problems.is_empty() {
        found.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(found)
    } else {
        Err(problems)
    }
}

fn strip_prefix_ignore_case<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let head = name.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &name[prefix.len()..])
}

/// Applies every override to `root`, in order. Errors name the variable.
pub(crate) fn apply_all(root: &mut Table, overrides: &[Override]) -> Result<(), String> {
    for o in overrides {
        apply(root, o)?;
    }
    Ok(())
}

fn apply(root: &mut Table, o: &Override) -> Result<(), String> {
    let mut wrapper = Value::Table(std::mem::take(root));
    let result = apply_to(&mut wrapper, o);
    if let Value::Table(t) = wrapper {
        *root = t;
    }
    result
}

fn apply_to(root: &mut Value, o: &Override) -> Result<(), String> {
    let segs = o.path.0.clone();
    let Some((last, parents)) = segs.split_last() else {
        return Ok(());
    };
    let mut current = root;
    for (depth, seg) in parents.iter().enumerate() {
        let next_is_index = matches!(segs.get(depth + 1), Some(Seg::Index(_)));
        let shown = KeyPath(segs[..=depth].to_vec());
        current = step(current, seg, next_is_index, &o.var, &shown)?;
    }
    match (current, last) {
        (Value::Table(t), seg) => {
            let key = seg_key(seg);
            let value = typed_value(t.get(&key), o);
            t.insert(key, value);
            Ok(())
        }
        (Value::Array(a), Seg::Index(n)) if *n < a.len() => {
            a[*n] = typed_value(a.get(*n), o);
            Ok(())
        }
        (Value::Array(a), Seg::Index(n)) if *n == a.len() => {
            a.push(typed_value(None, o));
            Ok(())
        }
        (Value::Array(a), Seg::Index(n)) => Err(out_of_range(&o.var, &o.path, *n, a.len())),
        _ => Err(format!(
            "environment variable {}: {} is not a table in the configuration",
            o.var,
            KeyPath(parents.to_vec())
        )),
    }
}

/// One step down the tree, creating a missing table (or array, when an index follows).
fn step<'a>(
    current: &'a mut Value,
    seg: &Seg,
    next_is_index: bool,
    var: &str,
    shown: &KeyPath,
) -> Result<&'a mut Value, String> {
    match current {
        Value::Table(t) => Ok(t.entry(seg_key(seg)).or_insert_with(|| {
            if next_is_index {
                Value::Array(Vec::new())
            } else {
                Value::Table(Table::new())
            }
        })),
        Value::Array(a) => match seg {
            Seg::Index(n) if *n < a.len() => Ok(&mut a[*n]),
            Seg::Index(n) if *n == a.len() => {
                a.push(Value::Table(Table::new()));
                let last = a.len() - 1;
                Ok(&mut a[last])
            }
            Seg::Index(n) => Err(out_of_range(var, shown, *n, a.len())),
            Seg::Key(_) => Err(format!(
                "environment variable {var}: {shown} needs an index, e.g. OMNIBRIDGE__CHANNELS__0__TOKEN"
            )),
        },
        _ => Err(format!(
            "environment variable {var}: {shown} is not a table in the configuration"
        )),
    }
}

fn out_of_range(var: &str, shown: &KeyPath, n: usize, len: usize) -> String {
    format!(
        "environment variable {var}: index {n} in {shown} is out of range: there are {len} entries, so the next new one is {len}"
    )
}

fn seg_key(seg: &Seg) -> String {
    match seg {
        Seg::Key(k) => k.clone(),
        Seg::Index(n) => n.to_string(),
    }
}

/// The override's value in its current representation.
fn typed_value(existing: Option<&Value>, o: &Override) -> Value {
    let raw = o.raw.trim();
    let text = || Value::String(o.raw.clone());
    match (o.repr, existing) {
        (Repr::Text, _) => text(),
        (Repr::List, _) => list(raw),
        (Repr::Auto, Some(Value::String(_))) => text(),
        (Repr::Auto, Some(Value::Integer(_))) => {
            raw.parse().map_or_else(|_| text(), Value::Integer)
        }
        (Repr::Auto, Some(Value::Float(_))) => raw.parse().map_or_else(|_| text(), Value::Float),
        (Repr::Auto, Some(Value::Boolean(_))) => parse_bool(raw).map_or_else(text, Value::Boolean),
        (Repr::Auto, Some(Value::Array(_))) if !raw.starts_with('[') => list(raw),
        (Repr::Auto, _) => guess(raw).unwrap_or_else(text),
    }
}

fn list(raw: &str) -> Value {
    Value::Array(
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Value::String(s.to_owned()))
            .collect(),
    )
}

fn parse_bool(raw: &str) -> Option<bool> {
    match raw.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A value for text that looks like a bool, a number, or an array or inline table in TOML syntax.
fn guess(raw: &str) -> Option<Value> {
    if let Some(b) = parse_bool(raw) {
        return Some(Value::Boolean(b));
    }
    if let Ok(n) = raw.parse::<i64>() {
        return Some(Value::Integer(n));
    }
    let numeric = raw.chars().any(|c| c.is_ascii_digit())
        && raw
            .chars()
            .all(|c| c.is_ascii_digit() || "+-.eE_".contains(c));
    if numeric && let Ok(f) = raw.parse::<f64>() {
        return Some(Value::Float(f));
    }
    if raw.starts_with('[') || raw.starts_with('{') {
        return toml::from_str::<Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"));
    }
    None
}
