//! Identifier newtypes. Remote ids are opaque strings that only their connector builds or parses.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }
    };
}

string_id!(
    /// The stable name of a configured channel (`[[channels]] id`), used in URLs and the links table.
    ChannelId
);
string_id!(
    /// The conversation inside a channel: a WhatsApp id (get.chat) or a room id (Qontak).
    ConversationKey
);
string_id!(
    /// An id given by a remote system (ticket id, user id, message id, media id).
    ExternalId
);
