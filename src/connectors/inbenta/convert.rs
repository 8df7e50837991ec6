//! Inbenta's vocabulary ↔ the bridge's: reply types, ticket statuses, webhook items, and the
//! dedupe keys of Inbenta events. Nothing outside this folder sees these words.

use crate::connectors::HelpdeskEvent;
use crate::domain::{ActivitySubject, ExternalId, ReplyAuthor, TicketActivity, TicketState};
use chrono::{DateTime, Utc};

/// A reply Inbenta types `answer` goes from the solver to the creator (an agent to the
/// customer); `reply` is the creator's (CONTRACTS §3.2).
pub(super) fn author_of(kind: Option<&str>) -> ReplyAuthor {
    match kind.map(|k| k.trim().to_ascii_lowercase()).as_deref() {
        Some("answer") => ReplyAuthor::Agent,
        Some("reply") => ReplyAuthor::Customer,
        _ => ReplyAuthor::Other,
    }
}

/// The webhook items the bridge follows.
pub(super) fn subject_of(item: &str) -> Option<ActivitySubject> {
    match item {
        "reply" => Some(ActivitySubject::Reply),
        "ticket" => Some(ActivitySubject::Ticket),
        _ => None,
    }
}

fn item_of(subject: ActivitySubject) -> &'static str {
    match subject {
        ActivitySubject::Reply => "reply",
        ActivitySubject::Ticket => "ticket",
    }
}

/// The numeric statuses this deployment uses for open and closed (`inbenta.open_status`,
/// `inbenta.closed_status`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Statuses {
    pub(super) open: i64,
    pub(super) closed: i64,
}

impl Statuses {
    pub(super) fn state_of(self, status: i64) -> TicketState {
        if status == self.closed {
            TicketState::Closed
        } else if status == self.open {
            TicketState::Open
        } else {
            TicketState::Other(status.to_string())
        }
    }

    /// The status to set for a state; `None` for a state the bridge cannot ask for.
    pub(super) fn status_of(self, state: &TicketState) -> Option<i64> {
        match state {
            TicketState::Open => Some(self.open),
            TicketState::Closed => Some(self.closed),
            TicketState::Other(text) => text.trim().parse().ok(),
        }
    }
}

/// The dedupe key of a webhook event. A reply or ticket is added (or removed) once, but a
/// ticket is updated many times: its updates are told apart by their time, so a second status
/// change is not taken for a redelivery of the first.
pub(super) fn webhook_key(
    subject: ActivitySubject,
    id: &ExternalId,
    action: &str,
    timestamp: Option<DateTime<Utc>>,
) -> String {
    let item = item_of(subject);
    match timestamp {
        Some(at) if action != "add" && action != "remove" => {
            format!("inbenta:{item}:{id}:{action}:{}", at.timestamp_millis())
        }
        _ => format!("inbenta:{item}:{id}:{action}"),
    }
}

/// How long after a change a poll may still list a second change of the same second: the
/// engine polls again from a few seconds (5) before its cursor, plus Inbenta's one-second grain.
const UNSETTLED_MS: i64 = 6_000;

/// A ticket Inbenta lists as changed.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct TicketSummary {
    pub(super) id: ExternalId,
    pub(super) status: Option<i64>,
    pub(super) last_update: DateTime<Utc>,
}

/// A polled ticket change as a helpdesk event. Inbenta counts `last_update` in whole seconds,
/// so a second change within the same second (a status change right after a reply) would look
/// like the first: a change that recent is keyed by this poll too and looked at again next
/// round, after which its stable key absorbs repeats. Processing a ticket change is idempotent
/// (only answers not yet sent are sent), so looking twice costs a few reads.
pub(super) fn polled_change(ticket: &TicketSummary, polled_at: DateTime<Utc>) -> HelpdeskEvent {
    let last_update = ticket.last_update.timestamp_millis();
    let polled_at = polled_at.timestamp_millis();
    let status = ticket
        .status
        .map(|s| s.to_string())
        .unwrap_or_else(|| "-".into());
    let stable = format!("inbenta:ticket:{}:update:{last_update}:{status}", ticket.id);
    let dedupe_key = if polled_at - last_update < UNSETTLED_MS {
        format!("{stable}:seen:{polled_at}")
    } else {
        stable
    };
    HelpdeskEvent {
        dedupe_key,
        occurred_at: ticket.last_update,
        activity: TicketActivity {
            ticket: ticket.id.clone(),
            subject: ActivitySubject::Ticket,
            action: "update".into(),
            object_id: ticket.id.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_ms(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).expect("time")
    }

    fn ticket(last_update_ms: i64, status: i64) -> TicketSummary {
        TicketSummary {
            id: ExternalId::new("7"),
            status: Some(status),
            last_update: at_ms(last_update_ms),
        }
    }

    fn key(ticket: &TicketSummary, polled_at_ms: i64) -> String {
        polled_change(ticket, at_ms(polled_at_ms)).dedupe_key
    }

    #[test]
    fn a_recent_change_is_looked_at_again_then_keyed_stably() {
        let t = 1_800_000_000_000;
        // Polled in the same second as the change: a key of its own per poll.
        assert_ne!(key(&ticket(t, 1), t + 300), key(&ticket(t, 1), t + 600));
        // Later polls of the unchanged ticket share one key (dedupe absorbs them).
        assert_eq!(
            key(&ticket(t, 1), t + 60_000),
            key(&ticket(t, 1), t + 120_000)
        );
        // A status change in the same second is a different key even once settled.
        assert_ne!(
            key(&ticket(t, 1), t + 60_000),
            key(&ticket(t, 3), t + 60_000)
        );
    }

    #[test]
    fn a_polled_change_is_a_change_of_the_ticket_at_its_update_time() {
        let event = polled_change(&ticket(1_800_000_000_000, 3), at_ms(1_800_000_060_000));
        assert_eq!(event.dedupe_key, "inbenta:ticket:7:update:1800000000000:3");
        assert_eq!(event.occurred_at, at_ms(1_800_000_000_000));
        assert_eq!(event.activity.subject, ActivitySubject::Ticket);
        assert_eq!(event.activity.ticket.as_str(), "7");
    }

    #[test]
    fn answers_are_the_agents_and_replies_the_customers() {
        assert_eq!(author_of(Some("answer")), ReplyAuthor::Agent);
        assert_eq!(author_of(Some(" Answer ")), ReplyAuthor::Agent);
        assert_eq!(author_of(Some("reply")), ReplyAuthor::Customer);
        assert_eq!(author_of(Some("internal_note")), ReplyAuthor::Other);
        assert_eq!(author_of(None), ReplyAuthor::Other);
    }

    #[test]
    fn the_configured_statuses_are_open_and_closed() {
        let statuses = Statuses { open: 1, closed: 5 };
        assert_eq!(statuses.state_of(5), TicketState::Closed);
        assert_eq!(statuses.state_of(1), TicketState::Open);
        assert_eq!(statuses.state_of(3), TicketState::Other("3".into()));
        assert_eq!(statuses.status_of(&TicketState::Closed), Some(5));
        assert_eq!(statuses.status_of(&TicketState::Open), Some(1));
        assert_eq!(statuses.status_of(&TicketState::Other("2".into())), Some(2));
        assert_eq!(
            statuses.status_of(&TicketState::Other("pending".into())),
            None
        );
    }

    #[test]
    fn only_ticket_updates_carry_their_time_in_the_key() {
        let id = ExternalId::new("9");
        let at = Some(at_ms(1_717_000_050_000));
        assert_eq!(
            webhook_key(ActivitySubject::Ticket, &id, "update", at),
            "inbenta:ticket:9:update:1717000050000"
        );
        assert_eq!(
            webhook_key(ActivitySubject::Reply, &id, "add", at),
            "inbenta:reply:9:add"
        );
        assert_eq!(
            webhook_key(ActivitySubject::Ticket, &id, "update", None),
            "inbenta:ticket:9:update"
        );
    }
}
