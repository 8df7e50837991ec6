//! Rule evaluation: which route a new conversation takes, and the ticket title it gets.

use super::model::{ANY_CHANNEL, DEFAULT_TITLE, Route, RuleSet};

/// Values for the `{…}` placeholders of a ticket title.
#[derive(Clone, Copy, Debug)]
pub struct TitleVars<'a> {
    /// `{contact.name}`; when missing or blank, the WhatsApp id is used instead.
    pub contact_name: Option<&'a str>,
    /// `{contact.wa_id}`: the customer's id on the channel (`Contact::id`, the wa_id on WhatsApp).
    pub contact_id: &'a str,
    /// `{channel}`: the channel id.
    pub channel: &'a str,
}

/// Why a route did or did not match, for `mappings explain`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Matches,
    OtherChannel,
    TextDoesNotMatch,
    MissingTag(String),
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Matches => f.write_str("matches"),
            Verdict::OtherChannel => f.write_str("for another channel"),
            Verdict::TextDoesNotMatch => {
                f.write_str("first message does not match when.text_matches")
            }
            Verdict::MissingTag(tag) => write!(f, "tag {tag:?} missing"),
        }
    }
}

impl RuleSet {
    /// The first route, in file order, whose channel is `channel` (or `*`) and whose `when`
    /// conditions all hold. `None` when nothing matches: the caller uses its built-in default.
    pub fn match_route(&self, channel: &str, first_text: &str, tags: &[String]) -> Option<&Route> {
        self.routes
            .iter()
            .find(|r| r.verdict(channel, first_text, tags) == Verdict::Matches)
    }

    /// Every route with its verdict, in evaluation order (the first `Matches` wins).
    pub fn explain(
        &self,
        channel: &str,
        first_text: &str,
        tags: &[String],
    ) -> Vec<(&Route, Verdict)> {
        self.routes
            .iter()
            .map(|r| (r, r.verdict(channel, first_text, tags)))
            .collect()
    }
}

impl Route {
    /// Whether this route applies to a conversation, and if not, the first reason why.
    pub fn verdict(&self, channel: &str, first_text: &str, tags: &[String]) -> Verdict {
        if self.channel != ANY_CHANNEL && self.channel != channel {
            return Verdict::OtherChannel;
        }
        if let Some(re) = &self.text_matches
            && !re.is_match(first_text)
        {
            return Verdict::TextDoesNotMatch;
        }
        for wanted in &self.tags {
            if !tags.iter().any(|t| t.trim().to_lowercase() == *wanted) {
                return Verdict::MissingTag(wanted.clone());
            }
        }
        Verdict::Matches
    }

    /// The ticket title: `ticket.title` (or [`DEFAULT_TITLE`]) with its placeholders filled in.
    pub fn render_title(&self, vars: &TitleVars<'_>) -> String {
        render_title(
            self.title.as_deref().unwrap_or(DEFAULT_TITLE),
            vars,
            &self.name,
        )
    }
}

/// The title for a conversation no route matched.
pub fn default_title(vars: &TitleVars<'_>) -> String {
    render_title(DEFAULT_TITLE, vars, "default")
}

/// Fills `{contact.name}`, `{contact.wa_id}`, `{channel}` and `{route}` in `template`; any other
/// `{…}` is left as written.
pub fn render_title(template: &str, vars: &TitleVars<'_>, route: &str) -> String {
    let name = vars
        .contact_name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(vars.contact_id);
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let Some(end) = after.find('}') else {
            rest = after;
            break;
        };
        let placeholder = &after[1..end];
        match placeholder {
            "contact.name" => out.push_str(name),
            "contact.wa_id" => out.push_str(vars.contact_id),
            "channel" => out.push_str(vars.channel),
            "route" => out.push_str(route),
            _ => out.push_str(&after[..=end]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}
