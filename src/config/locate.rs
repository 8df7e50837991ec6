//! Positions in a TOML document: byte offsets to `line:col`, offsets to key paths
//! (`channels[0].kind`) and key paths back to lines. Used to make every config error name the
//! file, the line and the key.

use std::fmt;
use std::ops::Range;
use toml_edit::{Document, Item, TableLike, Value};

/// One step of a key path: a table key or an array index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A path into the settings tree, displayed as `channels[0].kind`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct KeyPath(pub(crate) Vec<Seg>);

impl KeyPath {
    /// A path from string keys only, e.g. `KeyPath::keys(&["database", "url"])`.
    pub(crate) fn keys(keys: &[&str]) -> Self {
        Self(keys.iter().map(|k| Seg::Key((*k).to_owned())).collect())
    }

    /// `channels[index]`.
    pub(crate) fn channel(index: usize) -> Self {
        Self(vec![Seg::Key("channels".into()), Seg::Index(index)])
    }

    /// This path with one more key.
    pub(crate) fn key(&self, key: &str) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.to_owned()));
        Self(segs)
    }

    /// The last key of the path, if it ends with a key.
    pub(crate) fn leaf(&self) -> Option<&str> {
        match self.0.last() {
            Some(Seg::Key(k)) => Some(k),
            _ => None,
        }
    }

    pub(crate) fn starts_with(&self, prefix: &KeyPath) -> bool {
        self.0.starts_with(&prefix.0)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => f.write_str(k)?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = floor_char_boundary(text, offset);
    text[..end].matches('\n').count() + 1
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let end = floor_char_boundary(text, offset);
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

fn contains(span: &Option<Range<usize>>, offset: usize) -> bool {
    match span {
        Some(s) if s.is_empty() => s.start == offset,
        Some(s) => s.contains(&offset),
        None => false,
    }
}

/// The deepest key whose key, value or table header covers `offset`.
pub(crate) fn path_at(doc: &Document<String>, offset: usize) -> KeyPath {
    let mut path = Vec::new();
    if find_in_table(doc.as_table(), offset, &mut path) {
        KeyPath(path)
    } else {
        KeyPath::default()
    }
}

fn find_in_table(table: &dyn TableLike, offset: usize, path: &mut Vec<Seg>) -> bool {
    for (name, item) in table.iter() {
        path.push(Seg::Key(name.to_owned()));
        if find_in_item(item, offset, path) {
            return true;
        }
        let key_span = table.get_key_value(name).and_then(|(key, _)| key.span());
        if contains(&key_span, offset) || contains(&item.span(), offset) {
            return true;
        }
        path.pop();
    }
    false
}

fn find_in_item(item: &Item, offset: usize, path: &mut Vec<Seg>) -> bool {
    match item {
        Item::Table(t) => find_in_table(t, offset, path),
        Item::ArrayOfTables(aot) => {
            for (i, t) in aot.iter().enumerate() {
                path.push(Seg::Index(i));
                if find_in_table(t, offset, path) || contains(&t.span(), offset) {
                    return true;
                }
                path.pop();
            }
            false
        }
        Item::Value(v) => find_in_value(v, offset, path),
        Item::None => false,
    }
}

fn find_in_value(value: &Value, offset: usize, path: &mut Vec<Seg>) -> bool {
    match value {
        Value::InlineTable(t) => find_in_table(t, offset, path),
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                path.push(Seg::Index(i));
                if find_in_value(v, offset, path) || contains(&v.span(), offset) {
                    return true;
                }
                path.pop();
            }
            false
        }
        _ => false,
    }
}

type Tables<'a> = &'a dyn TableLike;

/// The byte span of the deepest existing part of `path`: the key itself when present, else its
/// closest existing parent (a `[[channels]]` header, for a missing channel key).
pub(crate) fn span_for(doc: &Document<String>, path: &KeyPath) -> Option<Range<usize>> {
    let mut best = None;
    let mut item: Option<&Item> = None;
    let mut table: Option<&dyn TableLike> = Some(doc.as_table());
    for seg in &path.0 {
        match seg {
            Seg::Key(k) => {
                let Some(t) = table else { break };
                let Some((key, found)) = t.get_key_value(k) else {
                    break;
                };
                best = key.span().or_else(|| found.span()).or(best);
                item = Some(found);
                table = found.as_table_like();
            }
            Seg::Index(n) => {
                let next: Option<(Option<Range<usize>>, Option<Tables<'_>>)> = match item {
                    Some(Item::ArrayOfTables(aot)) => {
                        aot.get(*n).map(|t| (t.span(), Some(t as &dyn TableLike)))
                    }
                    Some(Item::Value(Value::Array(a))) => a.get(*n).map(|v| {
                        let tl = v.as_inline_table().map(|t| t as &dyn TableLike);
                        (v.span(), tl)
                    }),
                    _ => None,
                };
                let Some((span, tl)) = next else { break };
                best = span.or(best);
                item = None;
                table = tl;
            }
        }
    }
    best
}
