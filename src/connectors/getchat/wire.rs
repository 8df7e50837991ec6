//! Serde shapes of what get.chat sends and answers. They never leave this folder.
//!
//! Webhook DTOs are deliberately lenient: every field is optional so that a missing field becomes a
//! precise error (or a readable rendering) in `convert.rs` rather than a generic serde failure.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A number or a string holding one: WhatsApp timestamps and coordinates come in both forms.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub(super) enum NumberOrText {
    Int(i64),
    Float(f64),
    Text(String),
}

impl NumberOrText {
    pub(super) fn as_f64(&self) -> Option<f64> {
        match self {
            NumberOrText::Int(i) => Some(*i as f64),
            NumberOrText::Float(f) => Some(*f),
            NumberOrText::Text(t) => t.trim().parse().ok(),
        }
    }

    /// Text form without a spurious `.0` for whole numbers.
    pub(super) fn to_text(&self) -> String {
        match self {
            NumberOrText::Int(i) => i.to_string(),
            NumberOrText::Float(f) => f.to_string(),
            NumberOrText::Text(t) => t.clone(),
        }
    }
}

/// `contacts[]` entry of an on-prem or Cloud API webhook (`user_id` and friends are ignored).
#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaContact {
    pub(super) wa_id: Option<String>,
    pub(super) profile: Option<WaProfile>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaProfile {
    pub(super) name: Option<String>,
}

/// One WhatsApp message (`messages[]`, or a get.chat Message's `waba_payload`).
#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaMessage {
    pub(super) id: Option<String>,
    pub(super) from: Option<String>,
    pub(super) timestamp: Option<NumberOrText>,
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
    pub(super) text: Option<WaText>,
    pub(super) image: Option<WaMedia>,
    pub(super) video: Option<WaMedia>,
    pub(super) audio: Option<WaMedia>,
    pub(super) voice: Option<WaMedia>,
    pub(super) document: Option<WaMedia>,
    pub(super) sticker: Option<WaMedia>,
    pub(super) location: Option<WaLocation>,
    pub(super) contacts: Option<Vec<WaContactCard>>,
    pub(super) interactive: Option<WaInteractive>,
    pub(super) button: Option<WaButton>,
    pub(super) reaction: Option<WaReaction>,
    pub(super) order: Option<WaOrder>,
    pub(super) system: Option<WaSystem>,
    pub(super) unsupported: Option<WaUnsupported>,
    /// Business-sent templates (`outgoing_messages`, `GET messages/` with `from_us`).
    pub(super) template: Option<WaTemplate>,
    pub(super) context: Option<WaContext>,
    pub(super) referral: Option<WaReferral>,
    pub(super) errors: Option<Vec<WaError>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaText {
    pub(super) body: Option<String>,
}

/// A media object: `id` on inbound messages, `link` on some on-prem and outgoing ones.
#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaMedia {
    pub(super) id: Option<String>,
    pub(super) mime_type: Option<String>,
    pub(super) sha256: Option<String>,
    pub(super) caption: Option<String>,
    pub(super) filename: Option<String>,
    pub(super) link: Option<String>,
    pub(super) url: Option<String>,
    /// `audio.voice = true` marks a voice note on the Cloud API.
    pub(super) voice: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaLocation {
    pub(super) latitude: Option<NumberOrText>,
    pub(super) longitude: Option<NumberOrText>,
    pub(super) name: Option<String>,
    pub(super) address: Option<String>,
    pub(super) url: Option<String>,
}

/// A shared contact card (`contacts` message type).
#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaContactCard {
    pub(super) name: Option<WaCardName>,
    #[serde(default)]
    pub(super) phones: Vec<WaCardPhone>,
    #[serde(default)]
    pub(super) emails: Vec<WaCardEmail>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaCardName {
    pub(super) formatted_name: Option<String>,
    pub(super) first_name: Option<String>,
    pub(super) last_name: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaCardPhone {
    pub(super) phone: Option<String>,
    pub(super) wa_id: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaCardEmail {
    pub(super) email: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaInteractive {
    pub(super) button_reply: Option<WaReplyChoice>,
    pub(super) list_reply: Option<WaReplyChoice>,
    pub(super) nfm_reply: Option<WaFormReply>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaReplyChoice {
    pub(super) id: Option<String>,
    pub(super) title: Option<String>,
    pub(super) description: Option<String>,
}

/// A WhatsApp Flow answer.
#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaFormReply {
    pub(super) name: Option<String>,
    pub(super) body: Option<String>,
    pub(super) response_json: Option<String>,
}

/// A template quick-reply button press.
#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaButton {
    pub(super) text: Option<String>,
    pub(super) payload: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaReaction {
    pub(super) emoji: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaOrder {
    pub(super) catalog_id: Option<String>,
    pub(super) text: Option<String>,
    #[serde(default)]
    pub(super) product_items: Vec<WaOrderItem>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaOrderItem {
    pub(super) product_retailer_id: Option<String>,
    pub(super) quantity: Option<NumberOrText>,
    pub(super) item_price: Option<NumberOrText>,
    pub(super) currency: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaSystem {
    pub(super) body: Option<String>,
}

/// A template message as sent (`template{name, language{code}, components[]}`).
#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaTemplate {
    pub(super) name: Option<String>,
    pub(super) language: Option<WaLanguage>,
    pub(super) components: Option<Vec<WaTemplateComponent>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaLanguage {
    pub(super) code: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaTemplateComponent {
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
    pub(super) parameters: Option<Vec<WaTemplateParameter>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaTemplateParameter {
    pub(super) text: Option<String>,
}

impl WaTemplate {
    /// The texts of the body component's parameters, in order.
    pub(super) fn body_parameters(&self) -> Vec<&str> {
        self.components
            .iter()
            .flatten()
            .filter(|c| {
                c.kind
                    .as_deref()
                    .is_some_and(|k| k.eq_ignore_ascii_case("body"))
            })
            .flat_map(|c| c.parameters.iter().flatten())
            .map(|p| p.text.as_deref().unwrap_or(""))
            .collect()
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaUnsupported {
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaContext {
    pub(super) id: Option<String>,
    pub(super) from: Option<String>,
    pub(super) forwarded: Option<bool>,
    pub(super) frequently_forwarded: Option<bool>,
}

/// Click-to-WhatsApp ad or post the customer came from.
#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaReferral {
    pub(super) headline: Option<String>,
    pub(super) body: Option<String>,
    pub(super) source_url: Option<String>,
    pub(super) source_type: Option<String>,
}

/// A WhatsApp error (`errors[]` of a message, status or value).
#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaError {
    pub(super) code: Option<NumberOrText>,
    pub(super) title: Option<String>,
    pub(super) message: Option<String>,
    /// On-prem puts details here.
    pub(super) details: Option<String>,
    /// Cloud API puts them here.
    pub(super) error_data: Option<WaErrorData>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaErrorData {
    pub(super) details: Option<String>,
}

/// `statuses[]` entry (on-prem, Cloud API or get.chat with `getchat_id`).
#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct WaStatus {
    pub(super) id: Option<String>,
    pub(super) getchat_id: Option<String>,
    pub(super) recipient_id: Option<String>,
    pub(super) status: Option<String>,
    pub(super) timestamp: Option<NumberOrText>,
    pub(super) errors: Option<Vec<WaError>>,
}

/// A get.chat Message object (`incoming_messages[]`, `outgoing_messages[]`, `GET messages/`).
#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct GcMessage {
    /// get.chat's own UUID of the message.
    pub(super) id: Option<String>,
    pub(super) waba_payload: Option<Value>,
    pub(super) contact: Option<GcContact>,
    pub(super) customer_wa_id: Option<String>,
    /// True for messages written by inbox users or automation.
    pub(super) from_us: Option<bool>,
    /// The inbox User who wrote it (`null` for customers); kept raw, read leniently.
    pub(super) sender: Option<Value>,
    pub(super) tags: Option<Vec<GcTag>>,
    pub(super) chat_tags: Option<Vec<GcTag>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct GcContact {
    pub(super) wa_id: Option<String>,
    pub(super) waba_payload: Option<WaContact>,
}

/// A tag: an object with a `name`, or (defensively) a bare name.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum GcTag {
    Named { name: String },
    Bare(String),
    Other(serde::de::IgnoredAny),
}

impl GcTag {
    pub(super) fn name(&self) -> Option<&str> {
        match self {
            GcTag::Named { name } | GcTag::Bare(name) => Some(name.as_str()),
            GcTag::Other(_) => None,
        }
    }
}

/// `POST auth/token/` request.
#[derive(Serialize)]
pub(super) struct LoginRequest<'a> {
    pub(super) username: &'a str,
    pub(super) password: &'a str,
}

/// `POST auth/token/` answer.
#[derive(Deserialize)]
pub(super) struct LoginResponse {
    pub(super) token: String,
}

/// `POST messages/` answer.
#[derive(Deserialize)]
pub(super) struct CreateMessageResponse {
    pub(super) id: String,
    pub(super) reason: Option<String>,
}

/// `POST media/` answer.
#[derive(Deserialize)]
pub(super) struct CreateMediaResponse {
    pub(super) file: String,
    pub(super) id: String,
}

/// `GET messages/` answer (Django REST Framework page); items are read one by one.
#[derive(Deserialize)]
pub(super) struct MessagePage {
    pub(super) count: Option<u64>,
    pub(super) next: Option<String>,
    #[serde(default)]
    pub(super) results: Vec<Value>,
}
