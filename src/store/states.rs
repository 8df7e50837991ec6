//! The states and kinds the store keeps as text: each is an enum here, written and read as the
//! same words the columns always held (no migration), so the rest of the code never compares
//! strings.

use crate::domain::OutboundBody;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};
use std::fmt;
use std::str::FromStr;

/// A stored word that names no known variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownState {
    pub what: &'static str,
    pub value: String,
}

/// An enum stored as one of a fixed set of words: `as_str`/`FromStr`, serde and sqlx as text.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident ($what:literal) { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The word stored for it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownState;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                match value {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownState { what: $what, value: value.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl<DB: Database> Type<DB> for $name
        where
            str: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $name
        where
            &'r str: Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
                Ok(<&str as Decode<DB>>::decode(value)?.parse()?)
            }
        }

        impl<'q, DB: Database> Encode<'q, DB> for $name
        where
            &'q str: Encode<'q, DB>,
        {
            fn encode_by_ref(&self, buf: &mut DB::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <&str as Encode<DB>>::encode(self.as_str(), buf)
            }
        }
    };
}

text_enum!(
    /// Where a stored event is in its life (`inbound_events.state`).
    EventState("event state") {
        /// Waiting for its conversation's worker (or backing off).
        Pending = "pending",
        /// Carried out.
        Done = "done",
        /// Looked at; nothing to do.
        Skipped = "skipped",
        /// A dead letter: parked until redriven.
        Failed = "failed",
    }
);

text_enum!(
    /// What the bridge last learnt about a link's ticket (`links.state`).
    LinkState("link state") {
        Open = "open",
        Closed = "closed",
    }
);

text_enum!(
    /// Where a message the bridge sent stands (`outbound_messages.status`). Statuses only move
    /// forward ([`OutboundStatus::rank`]).
    OutboundStatus("outbound status") {
        Sent = "sent",
        Delivered = "delivered",
        Read = "read",
        /// A voice note was listened to.
        Played = "played",
        Failed = "failed",
        /// Not sent: the customer-service window was closed (a parked answer).
        WindowClosed = "window_closed",
    }
);

text_enum!(
    /// What a recorded outbound part is (`outbound_messages.kind`).
    OutboundKind("outbound kind") {
        Text = "text",
        Media = "media",
        Template = "template",
        /// Not a message: marks an answer parked with a dead letter.
        Parked = "parked",
    }
);

text_enum!(
    /// What kind of helpdesk object the bridge created (`bridge_effects.kind`).
    EffectKind("effect kind") {
        Ticket = "ticket",
        /// A customer message added to a ticket.
        Reply = "reply",
        /// A note from the bridge on a ticket.
        Note = "note",
    }
);

impl OutboundStatus {
    /// A channel's delivery status word, if it is one a recorded message can move to
    /// (`pending`, `deleted` and the like are stored with the status event only).
    pub fn of_delivery(status: &str) -> Option<Self> {
        status.parse().ok()
    }

    /// Later statuses never overwrite further-along ones (a `delivered` arriving after `read`).
    pub fn rank(self) -> i32 {
        match self {
            OutboundStatus::Failed | OutboundStatus::WindowClosed => 4,
            OutboundStatus::Read | OutboundStatus::Played => 3,
            OutboundStatus::Delivered => 2,
            OutboundStatus::Sent => 1,
        }
    }
}

impl From<&OutboundBody> for OutboundKind {
    fn from(body: &OutboundBody) -> Self {
        match body {
            OutboundBody::Text { .. } => OutboundKind::Text,
            OutboundBody::Media { .. } => OutboundKind::Media,
            OutboundBody::Template { .. } => OutboundKind::Template,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T>(all: &[T])
    where
        T: Copy + fmt::Debug + PartialEq + FromStr<Err = UnknownState> + serde::Serialize,
        T: serde::de::DeserializeOwned + fmt::Display,
    {
        for value in all {
            let text = value.to_string();
            assert_eq!(text.parse::<T>().as_ref(), Ok(value), "{text}");
            let json = serde_json::to_value(value).unwrap();
            assert_eq!(json, serde_json::Value::String(text.clone()));
            assert_eq!(serde_json::from_value::<T>(json).unwrap(), *value);
        }
    }

    #[test]
    fn every_state_is_stored_as_its_word_and_read_back() {
        round_trips(EventState::ALL);
        round_trips(LinkState::ALL);
        round_trips(OutboundStatus::ALL);
        round_trips(OutboundKind::ALL);
        round_trips(EffectKind::ALL);
    }

    fn words<T: fmt::Display>(all: &[T]) -> String {
        all.iter().map(T::to_string).collect::<Vec<_>>().join(",")
    }

    #[test]
    fn the_stored_words_are_the_ones_the_columns_always_held() {
        assert_eq!(words(EventState::ALL), "pending,done,skipped,failed");
        assert_eq!(words(LinkState::ALL), "open,closed");
        assert_eq!(
            words(OutboundStatus::ALL),
            "sent,delivered,read,played,failed,window_closed"
        );
        assert_eq!(words(OutboundKind::ALL), "text,media,template,parked");
        assert_eq!(words(EffectKind::ALL), "ticket,reply,note");
    }

    #[test]
    fn an_unknown_word_is_refused_with_what_it_should_have_been() {
        let err = "archived".parse::<LinkState>().unwrap_err();
        assert_eq!(err.to_string(), "unknown link state \"archived\"");
        assert!(serde_json::from_str::<EventState>("\"later\"").is_err());
    }

    #[test]
    fn delivery_statuses_only_move_forward() {
        use OutboundStatus::*;
        assert!(Delivered.rank() > Sent.rank());
        assert!(Read.rank() > Delivered.rank());
        assert_eq!(Played.rank(), Read.rank());
        assert!(Failed.rank() > Read.rank());
        assert_eq!(OutboundStatus::of_delivery("pending"), None);
        assert_eq!(OutboundStatus::of_delivery("read"), Some(Read));
    }

    #[test]
    fn a_body_names_its_outbound_kind() {
        let text = OutboundBody::Text { text: "hi".into() };
        assert_eq!(OutboundKind::from(&text), OutboundKind::Text);
        assert_eq!(text.label(), OutboundKind::from(&text).as_str());
    }
}
