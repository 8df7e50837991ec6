//! Vendor-neutral types shared by every module: identifiers, inbound events, messages, media.
//!
//! Connectors translate their wire formats into these types; the sync engine, the store and the
//! mapping rules only ever see these.

mod activity;
pub mod admit;
mod ids;
mod message;
mod outbound;

pub use activity::{
    ActivitySubject, AgentMessage, ConversationUpdate, ReplyAuthor, TicketActivity, TicketState,
};

pub use ids::{ChannelId, ConversationKey, ExternalId};
pub use message::{
    Contact, CustomerMessage, DeliveryStatus, EventKind, InboundEvent, MediaFile, MediaKind,
    MediaRef, MessageBody,
};
pub use outbound::{OutboundBody, Recipient};
