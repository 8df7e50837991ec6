//! One rule file: TOML text to routes. Every problem is collected (not just the first) with its
//! file, line and key. `[[broadcast]]` tables are refused as not implemented yet; their keys are
//! still checked (`parse_broadcast`), ready for the scheduler.

use super::load::MappingError;
use super::model::{ANY_CHANNEL, Audience, Broadcast, DEFAULT_RATE_PER_SECOND, Route, RuleOrigin};
use regex::Regex;
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;
use toml_edit::{Document, Item, TableLike, Value};

/// Which channel ids a rule may name; `None` skips the check (validation without a config).
pub(crate) type KnownChannels<'a> = Option<&'a [String]>;

/// Routes and broadcasts of one file, plus its problems.
#[derive(Default)]
pub(crate) struct Parsed {
    pub(crate) routes: Vec<Route>,
    pub(crate) broadcasts: Vec<Broadcast>,
    pub(crate) errors: Vec<MappingError>,
}

/// Collects the problems of one file with their line.
struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
    known: KnownChannels<'a>,
    errors: Vec<MappingError>,
}

impl Ctx<'_> {
    fn line(&self, span: Option<Range<usize>>) -> Option<usize> {
        span.map(|s| {
            let end = s.start.min(self.text.len());
            self.text.get(..end).map_or(0, |t| t.matches('\n').count()) + 1
        })
    }

    fn error(&mut self, span: Option<Range<usize>>, message: String) {
        let line = self.line(span);
        self.errors.push(MappingError::Invalid {
            file: self.file.to_path_buf(),
            line,
            message,
        });
    }

    fn origin(&self, span: Option<Range<usize>>) -> RuleOrigin {
        RuleOrigin {
            file: self.file.to_path_buf(),
            line: self.line(span).unwrap_or(1),
        }
    }
}

/// Parses one file's text.
pub(crate) fn parse_file(text: &str, file: &Path, known: KnownChannels<'_>) -> Parsed {
    let mut ctx = Ctx {
        file,
        text,
        known,
        errors: Vec::new(),
    };
    let mut parsed = Parsed::default();
    let doc = match Document::parse(text.to_owned()) {
        Ok(doc) => doc,
        Err(e) => {
            ctx.error(e.span(), format!("invalid TOML: {}", one_line(e.message())));
            parsed.errors = ctx.errors;
            return parsed;
        }
    };
    for (key, item) in doc.as_table().iter() {
        let at = key_span(doc.as_table(), key);
        match key {
            "route" | "broadcast" => {
                let Some(tables) = tables_of(item) else {
                    ctx.error(at, format!("key {key}: must be [[{key}]] tables"));
                    continue;
                };
                for (index, (table, span)) in tables.into_iter().enumerate() {
                    if key == "route" {
                        if let Some(route) = parse_route(&mut ctx, table, span, index) {
                            parsed.routes.push(route);
                        }
                        continue;
                    }
                    // Nothing sends broadcasts yet: the table is refused, and still checked so
                    // every other mistake in it shows too.
                    ctx.error(
                        span.clone(),
                        format!(
                            "{} key broadcast: [[broadcast]] (scheduled broadcasts) is not implemented yet; remove the table",
                            label("broadcast", table, index)
                        ),
                    );
                    if let Some(broadcast) = parse_broadcast(&mut ctx, table, span, index) {
                        parsed.broadcasts.push(broadcast);
                    }
                }
            }
            other => ctx.error(
                at,
                format!("unknown key {other} (a rule file holds [[route]] tables)"),
            ),
        }
    }
    parsed.errors = ctx.errors;
    parsed
}

type Entry<'a> = (&'a dyn TableLike, Option<Range<usize>>);

fn tables_of(item: &Item) -> Option<Vec<Entry<'_>>> {
    if let Some(aot) = item.as_array_of_tables() {
        return Some(
            aot.iter()
                .map(|t| (t as &dyn TableLike, t.span()))
                .collect(),
        );
    }
    let array = item.as_array()?;
    array
        .iter()
        .map(|v| v.as_inline_table().map(|t| (t as &dyn TableLike, v.span())))
        .collect()
}

/// `route "vip"`, or `route #2` for a rule without a usable name.
fn label(kind: &str, table: &dyn TableLike, index: usize) -> String {
    match table.get("name").and_then(Item::as_str) {
        Some(name) if !name.trim().is_empty() => format!("{kind} {name:?}"),
        _ => format!("{kind} #{}", index + 1),
    }
}

/// Reads typed values out of one rule table, reporting each problem as `<rule> key <key>: …`.
struct Reader<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    label: String,
}

impl Reader<'_, '_> {
    fn error(&mut self, span: Option<Range<usize>>, key: &str, message: impl std::fmt::Display) {
        let label = self.label.clone();
        self.ctx
            .error(span, format!("{label} key {key}: {message}"));
    }

    fn string(&mut self, span: Option<Range<usize>>, key: &str, item: &Item) -> Option<String> {
        match item.as_str() {
            Some(s) if !s.trim().is_empty() => Some(s.to_owned()),
            Some(_) => {
                self.error(span, key, "must not be empty");
                None
            }
            None => {
                self.error(
                    span,
                    key,
                    format!("must be a string, not {}", type_name(item)),
                );
                None
            }
        }
    }

    fn integer(&mut self, span: Option<Range<usize>>, key: &str, item: &Item) -> Option<i64> {
        let n = item.as_integer();
        if n.is_none() {
            self.error(
                span,
                key,
                format!("must be an integer, not {}", type_name(item)),
            );
        }
        n
    }

    fn strings(
        &mut self,
        span: Option<Range<usize>>,
        key: &str,
        item: &Item,
    ) -> Option<Vec<String>> {
        let Some(array) = item.as_array() else {
            self.error(
                span,
                key,
                format!("must be an array of strings, not {}", type_name(item)),
            );
            return None;
        };
        let mut out = Vec::new();
        for value in array.iter() {
            match value.as_str() {
                Some(s) => out.push(s.to_owned()),
                None => {
                    self.error(span, key, "must be an array of strings");
                    return None;
                }
            }
        }
        Some(out)
    }

    fn unknown(&mut self, span: Option<Range<usize>>, key: &str, expected: &str) {
        self.error(
            span,
            key,
            format!("unknown key (expected one of {expected})"),
        );
    }

    fn missing(&mut self, span: Option<Range<usize>>, key: &str) {
        let label = self.label.clone();
        self.ctx.error(span, format!("{label}: missing key {key}"));
    }

    fn name(&mut self, span: Option<Range<usize>>, item: &Item) -> Option<String> {
        let name = self.string(span.clone(), "name", item)?;
        let ok = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !ok {
            self.error(
                span,
                "name",
                "use letters, digits, '_', '-' or '.' (it is used in URLs and logs)",
            );
            return None;
        }
        Some(name)
    }

    fn channel(
        &mut self,
        span: Option<Range<usize>>,
        item: &Item,
        allow_any: bool,
    ) -> Option<String> {
        let channel = self.string(span.clone(), "channel", item)?;
        if channel == ANY_CHANNEL {
            if allow_any {
                return Some(channel);
            }
            self.error(
                span,
                "channel",
                "a broadcast needs one channel id, not \"*\"",
            );
            return None;
        }
        if let Some(known) = self.ctx.known
            && !known.iter().any(|k| k == &channel)
        {
            let list = if known.is_empty() {
                "no channels are configured".to_owned()
            } else {
                format!("configured: {}", known.join(", "))
            };
            let any = if allow_any { " or \"*\"" } else { "" };
            self.error(
                span,
                "channel",
                format!("{channel:?} is not a configured channel id{any} ({list})"),
            );
            return None;
        }
        Some(channel)
    }
}

fn type_name(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) | Item::Value(Value::InlineTable(_)) => "a table",
        Item::ArrayOfTables(_) | Item::Value(Value::Array(_)) => "an array",
        Item::Value(Value::String(_)) => "a string",
        Item::Value(Value::Integer(_)) => "an integer",
        Item::Value(Value::Float(_)) => "a float",
        Item::Value(Value::Boolean(_)) => "a boolean",
        Item::Value(Value::Datetime(_)) => "a date-time",
    }
}

fn key_span(table: &dyn TableLike, key: &str) -> Option<Range<usize>> {
    table
        .get_key_value(key)
        .and_then(|(k, item)| k.span().or_else(|| item.span()))
}

fn parse_route(
    ctx: &mut Ctx<'_>,
    table: &dyn TableLike,
    span: Option<Range<usize>>,
    index: usize,
) -> Option<Route> {
    let errors_before = ctx.errors.len();
    let origin = ctx.origin(span.clone());
    let mut r = Reader {
        label: label("route", table, index),
        ctx,
    };
    let (mut name, mut channel, mut text_matches, mut tags) = (None, None, None, Vec::new());
    let (mut title, mut queue, mut source, mut reopen_within) = (None, None, None, None);
    for (key, item) in table.iter() {
        let at = key_span(table, key);
        match key {
            "name" => name = r.name(at, item),
            "channel" => channel = r.channel(at, item, true),
            "reopen_within" => {
                if let Some(text) = r.string(at.clone(), key, item) {
                    match humantime::parse_duration(&text) {
                        Ok(d) => reopen_within = Some(d),
                        Err(e) => r.error(at, key, format!("invalid duration {text:?} ({e}); use e.g. \"72h\"")),
                    }
                }
            }
            "when" | "ticket" => {
                let Some(sub) = item.as_table_like() else {
                    r.error(at, key, format!("must be a table, not {}", type_name(item)));
                    continue;
                };
                for (sub_key, sub_item) in sub.iter() {
                    let full = format!("{key}.{sub_key}");
                    let at = key_span(sub, sub_key);
                    match full.as_str() {
                        "when.text_matches" => {
                            if let Some(pattern) = r.string(at.clone(), &full, sub_item) {
                                match Regex::new(&pattern) {
                                    Ok(re) => text_matches = Some(re),
                                    Err(e) => r.error(at, &full, format!("invalid regex: {}", regex_message(&e))),
                                }
                            }
                        }
                        "when.tags" => {
                            if let Some(list) = r.strings(at, &full, sub_item) {
                                tags = list.iter().map(|t| t.trim().to_lowercase()).collect();
                            }
                        }
                        "ticket.title" => title = r.string(at, &full, sub_item),
                        "ticket.queue" => queue = r.integer(at, &full, sub_item),
                        "ticket.source" => source = r.integer(at, &full, sub_item),
                        _ if key == "when" => r.unknown(at, &full, "when.text_matches, when.tags"),
                        _ => r.unknown(at, &full, "ticket.title, ticket.queue, ticket.source"),
                    }
                }
            }
            _ => r.unknown(at, key, "name, channel, when.text_matches, when.tags, ticket.title, ticket.queue, ticket.source, reopen_within"),
        }
    }
    for (key, value) in [("name", name.is_some()), ("channel", channel.is_some())] {
        if !value && table.get(key).is_none() {
            r.missing(span.clone(), key);
        }
    }
    if r.ctx.errors.len() > errors_before {
        return None;
    }
    Some(Route {
        name: name?,
        channel: channel?,
        text_matches,
        tags,
        title,
        queue,
        source,
        reopen_within,
        origin,
    })
}

fn parse_broadcast(
    ctx: &mut Ctx<'_>,
    table: &dyn TableLike,
    span: Option<Range<usize>>,
    index: usize,
) -> Option<Broadcast> {
    let errors_before = ctx.errors.len();
    let origin = ctx.origin(span.clone());
    let mut r = Reader {
        label: label("broadcast", table, index),
        ctx,
    };
    let (mut name, mut channel, mut schedule, mut timezone) = (None, None, None, chrono_tz::UTC);
    let (mut template, mut language, mut recipients, mut contact_list) = (None, None, None, None);
    let (mut parameters, mut rate) = (Vec::new(), DEFAULT_RATE_PER_SECOND);
    for (key, item) in table.iter() {
        let at = key_span(table, key);
        match key {
            "name" => name = r.name(at, item),
            "channel" => channel = r.channel(at, item, false),
            "schedule" => {
                if let Some(text) = r.string(at.clone(), key, item) {
                    match cron::Schedule::from_str(&text) {
                        Ok(s) => schedule = Some((s, text)),
                        Err(e) => r.error(at, key, format!(
                            "invalid cron expression {text:?} ({}); use six fields with seconds, e.g. \"0 0 9 * * Mon-Fri\"",
                            cron_message(&e, &text)
                        )),
                    }
                }
            }
            "timezone" => {
                if let Some(text) = r.string(at.clone(), key, item) {
                    match text.parse::<chrono_tz::Tz>() {
                        Ok(tz) => timezone = tz,
                        Err(_) => r.error(at, key, format!("unknown time zone {text:?}; use an IANA name such as \"Asia/Jakarta\"")),
                    }
                }
            }
            "template" => template = r.string(at, key, item),
            "language" => language = r.string(at, key, item),
            "recipients" => recipients = r.string(at, key, item),
            "contact_list" => contact_list = r.string(at, key, item),
            "parameters" => parameters = r.strings(at, key, item).unwrap_or_default(),
            "rate_per_second" => match r.integer(at.clone(), key, item) {
                Some(n) if n >= 1 => rate = u32::try_from(n).unwrap_or(u32::MAX),
                Some(_) => r.error(at, key, "must be at least 1"),
                None => {}
            },
            _ => r.unknown(at, key, "name, channel, schedule, timezone, template, language, recipients, contact_list, parameters, rate_per_second"),
        }
    }
    for key in ["name", "channel", "schedule", "template"] {
        if table.get(key).is_none() {
            r.missing(span.clone(), key);
        }
    }
    let audience = match (recipients, contact_list) {
        (Some(path), None) => Some(Audience::Recipients(path.into())),
        (None, Some(id)) => Some(Audience::ContactList(id)),
        (Some(_), Some(_)) => {
            r.error(
                key_span(table, "contact_list"),
                "contact_list",
                "give either recipients or contact_list, not both",
            );
            None
        }
        (None, None) => {
            if table.get("recipients").is_none() && table.get("contact_list").is_none() {
                r.missing(span, "recipients (or contact_list)");
            }
            None
        }
    };
    if r.ctx.errors.len() > errors_before {
        return None;
    }
    let (schedule, schedule_text) = schedule?;
    Some(Broadcast {
        name: name?,
        channel: channel?,
        schedule,
        schedule_text,
        timezone,
        template: template?,
        language,
        audience: audience?,
        parameters,
        rate_per_second: rate,
        origin,
    })
}

/// The regex error on one line: the `error: …` part of a syntax error.
fn regex_message(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: ").map(str::to_owned))
        .unwrap_or_else(|| one_line(&text))
}

/// The cron error on one line, without the echo of the expression and its caret.
fn cron_message(e: &cron::error::Error, expression: &str) -> String {
    let text = e.to_string();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && *l != expression.trim() && !l.chars().all(|c| c == '^' || c == ' ')
        })
        .collect();
    lines.join(" ")
}

/// Several lines joined into one.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
