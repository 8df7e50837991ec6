//! Mapping rules: which Inbenta ticket a WhatsApp conversation opens (`[[route]]`), read from
//! `mappings/*.toml` (see `mappings/README.md`). Scheduled broadcasts (`[[broadcast]]`) are
//! modelled and checked but not implemented yet: a file holding one is refused.
//!
//! - `model.rs`: [`RuleSet`], [`Route`], [`Broadcast`].
//! - `parse.rs`: one file to rules, every problem with file, line and key.
//! - `load.rs`: a directory (files sorted by name) or one document; cross-file checks; the
//!   `mappings validate` report.
//! - `matcher.rs`: first matching route wins; ticket title placeholders.
//! - `live.rs`: [`LiveRules`], the rules in force, reloaded when the files change.

mod live;
mod load;
mod matcher;
mod model;
mod parse;
#[cfg(test)]
mod tests;

pub use live::LiveRules;
pub use load::{MappingError, MappingErrors, load_dir, load_str, validate_report};
pub use matcher::{TitleVars, Verdict, default_title, render_title};
pub use model::{
    ANY_CHANNEL, Audience, Broadcast, DEFAULT_RATE_PER_SECOND, DEFAULT_TITLE, Route, RuleFile,
    RuleOrigin, RuleSet,
};
