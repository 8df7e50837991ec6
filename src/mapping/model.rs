//! The rule model: routes (which ticket a new conversation opens) and scheduled broadcasts, as
//! read from `mappings/*.toml`.

use chrono::{DateTime, Utc};
use regex::Regex;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The channel value that makes a route apply to every channel.
pub const ANY_CHANNEL: &str = "*";

/// Ticket title used when a route has no `ticket.title`, and by callers when no route matches.
pub const DEFAULT_TITLE: &str = "WhatsApp {contact.name} ({contact.wa_id})";

/// Where a rule was defined, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleOrigin {
    pub file: PathBuf,
    /// 1-based line of the rule's `[[route]]`/`[[broadcast]]` header.
    pub line: usize,
}

impl std::fmt::Display for RuleOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A `[[route]]`: conditions on a new conversation and the ticket it opens.
#[derive(Clone, Debug)]
pub struct Route {
    pub name: String,
    /// A channel id, or [`ANY_CHANNEL`].
    pub channel: String,
    /// `when.text_matches`: regex on the first message text.
    pub text_matches: Option<Regex>,
    /// `when.tags`: all must be present on the chat/room; lower-cased.
    pub tags: Vec<String>,
    /// `ticket.title` template; [`DEFAULT_TITLE`] when absent.
    pub title: Option<String>,
    /// `ticket.queue`: Inbenta queue id.
    pub queue: Option<i64>,
    /// `ticket.source`: Inbenta source id.
    pub source: Option<i64>,
    /// A message after a closed ticket reopens it inside this window, else opens a new ticket.
    pub reopen_within: Option<Duration>,
    pub origin: RuleOrigin,
}

impl Route {
    /// True for a route with `channel = "*"` and no `when` conditions.
    pub fn is_catch_all(&self) -> bool {
        self.channel == ANY_CHANNEL && self.text_matches.is_none() && self.tags.is_empty()
    }
}

/// Who a broadcast goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    /// `recipients`: a CSV file `wa_id,name,param1,…`, as written in the rule (relative paths are
    /// relative to the working directory).
    Recipients(PathBuf),
    /// `contact_list`: a Qontak contact list id.
    ContactList(String),
}

/// A `[[broadcast]]`: a template sent on a schedule.
#[derive(Clone, Debug)]
pub struct Broadcast {
    pub name: String,
    /// A configured channel id.
    pub channel: String,
    /// Cron expression with seconds, e.g. `0 0 9 * * Mon-Fri`.
    pub schedule: cron::Schedule,
    /// The schedule as written.
    pub schedule_text: String,
    /// Time zone the schedule is read in; UTC when not given.
    pub timezone: chrono_tz::Tz,
    /// Template name (get.chat) or id/name (Qontak).
    pub template: String,
    pub language: Option<String>,
    pub audience: Audience,
    /// Template parameters; `{name}`, `{param1}`, … come from the recipient row.
    pub parameters: Vec<String>,
    /// Messages sent per second at most.
    pub rate_per_second: u32,
    pub origin: RuleOrigin,
}

/// Default for `rate_per_second`.
pub const DEFAULT_RATE_PER_SECOND: u32 = 10;

impl Broadcast {
    /// The first fire time strictly after `after`.
    pub fn next_fire_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.timezone);
        self.schedule
            .after(&local)
            .next()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// One rule file as read, kept for the admin API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleFile {
    pub path: PathBuf,
    pub text: String,
}

/// Every route and broadcast, in file order (files sorted by name).
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    pub(crate) routes: Vec<Route>,
    pub(crate) broadcasts: Vec<Broadcast>,
    pub(crate) files: Vec<RuleFile>,
}

impl RuleSet {
    /// No rules: every conversation falls back to the caller's default.
    pub fn empty() -> Self {
        Self::default()
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn broadcasts(&self) -> &[Broadcast] {
        &self.broadcasts
    }

    /// The files the rules were read from.
    pub fn files(&self) -> &[RuleFile] {
        &self.files
    }

    pub fn route(&self, name: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.name == name)
    }

    pub fn broadcast(&self, name: &str) -> Option<&Broadcast> {
        self.broadcasts.iter().find(|b| b.name == name)
    }

    /// The first catch-all route, if any.
    pub fn catch_all(&self) -> Option<&Route> {
        self.routes.iter().find(|r| r.is_catch_all())
    }

    /// The file holding `path`, if the rules came from it.
    pub fn file(&self, path: &Path) -> Option<&RuleFile> {
        self.files.iter().find(|f| f.path == path)
    }
}
