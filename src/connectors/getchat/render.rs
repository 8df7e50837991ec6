//! Readable English renderings of WhatsApp messages that have no native ticket form
//! (locations, contact cards, button answers, reactions, orders, system notices, unsupported
//! types), of message annotations and of WhatsApp errors.

use super::wire::{
    WaContactCard, WaContext, WaError, WaInteractive, WaLocation, WaOrder, WaReaction, WaReferral,
    WaTemplate,
};

/// "131047: Re-engagement message (More than 24 hours have passed…)".
pub(super) fn error_text(error: &WaError) -> String {
    let code = error.code.as_ref().map(|c| c.to_text());
    let title = non_empty(error.title.as_deref()).or(non_empty(error.message.as_deref()));
    let details = error
        .error_data
        .as_ref()
        .and_then(|d| non_empty(d.details.as_deref()))
        .or(non_empty(error.details.as_deref()));
    let mut text = match (code, title) {
        (Some(code), Some(title)) => format!("{code}: {title}"),
        (Some(code), None) => code,
        (None, Some(title)) => title.to_owned(),
        (None, None) => "unknown error".to_owned(),
    };
    if let Some(details) = details.filter(|d| Some(*d) != title) {
        text.push_str(&format!(" ({details})"));
    }
    text
}

/// "📍 Location: Acme HQ, 1 Hacker Way — https://maps.google.com/?q=37.48,-122.14".
pub(super) fn location(location: &WaLocation) -> String {
    let label: Vec<&str> = [location.name.as_deref(), location.address.as_deref()]
        .into_iter()
        .filter_map(non_empty)
        .collect();
    let mut text = String::from("📍 Location");
    if !label.is_empty() {
        text.push_str(": ");
        text.push_str(&label.join(", "));
    }
    let latitude = location.latitude.as_ref().and_then(|l| l.as_f64());
    let longitude = location.longitude.as_ref().and_then(|l| l.as_f64());
    if let (Some(lat), Some(long)) = (latitude, longitude) {
        text.push_str(&format!(" — https://maps.google.com/?q={lat},{long}"));
    }
    if let Some(url) = non_empty(location.url.as_deref()) {
        text.push_str(&format!(" ({url})"));
    }
    text
}

/// One line per card: "Contact card: Jane Doe, +1 555 0100, jane@example.com".
pub(super) fn contact_cards(cards: &[WaContactCard]) -> String {
    if cards.is_empty() {
        return "Contact card (empty)".to_owned();
    }
    cards
        .iter()
        .map(|card| {
            let name = card.name.as_ref().and_then(|n| {
                non_empty(n.formatted_name.as_deref())
                    .map(str::to_owned)
                    .or_else(|| {
                        let parts: Vec<&str> = [n.first_name.as_deref(), n.last_name.as_deref()]
                            .into_iter()
                            .filter_map(non_empty)
                            .collect();
                        (!parts.is_empty()).then(|| parts.join(" "))
                    })
            });
            let mut parts = vec![name.unwrap_or_else(|| "(no name)".to_owned())];
            parts.extend(card.phones.iter().filter_map(|p| {
                non_empty(p.phone.as_deref())
                    .or(non_empty(p.wa_id.as_deref()))
                    .map(str::to_owned)
            }));
            parts.extend(
                card.emails
                    .iter()
                    .filter_map(|e| non_empty(e.email.as_deref()).map(str::to_owned)),
            );
            format!("Contact card: {}", parts.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// "Selected: <title>" for button and list replies, the form answer for Flows.
pub(super) fn interactive(interactive: &WaInteractive) -> Option<String> {
    let choice = interactive
        .button_reply
        .as_ref()
        .or(interactive.list_reply.as_ref());
    if let Some(choice) = choice {
        let title = non_empty(choice.title.as_deref())
            .or(non_empty(choice.id.as_deref()))
            .unwrap_or("(no title)");
        return Some(match non_empty(choice.description.as_deref()) {
            Some(description) => format!("Selected: {title} — {description}"),
            None => format!("Selected: {title}"),
        });
    }
    if let Some(form) = &interactive.nfm_reply {
        let name = non_empty(form.name.as_deref()).unwrap_or("form");
        let mut text = format!("Submitted {name}");
        if let Some(body) = non_empty(form.body.as_deref()) {
            text.push_str(&format!(": {body}"));
        }
        if let Some(json) = non_empty(form.response_json.as_deref()) {
            text.push_str(&format!("\nAnswers: {json}"));
        }
        return Some(text);
    }
    None
}

/// "Reacted 👍 to a message" or "Removed a reaction".
pub(super) fn reaction(reaction: &WaReaction) -> String {
    match non_empty(reaction.emoji.as_deref()) {
        Some(emoji) => format!("Reacted {emoji} to a message"),
        None => "Removed a reaction".to_owned(),
    }
}

/// "🛒 Order: 3 × HAMBURGER at 30 ILS, … — total 190 ILS".
pub(super) fn order(order: &WaOrder) -> String {
    let mut currencies: Vec<&str> = Vec::new();
    let mut total = 0.0_f64;
    let items: Vec<String> = order
        .product_items
        .iter()
        .map(|item| {
            let product = non_empty(item.product_retailer_id.as_deref()).unwrap_or("item");
            let quantity = item.quantity.as_ref().map(|q| q.to_text());
            let currency = non_empty(item.currency.as_deref()).unwrap_or("");
            if !currencies.contains(&currency) {
                currencies.push(currency);
            }
            let price = item.item_price.as_ref();
            if let (Some(q), Some(p)) = (
                item.quantity.as_ref().and_then(|q| q.as_f64()),
                price.and_then(|p| p.as_f64()),
            ) {
                total += q * p;
            }
            let mut line = format!("{} × {product}", quantity.as_deref().unwrap_or("1"));
            if let Some(price) = price {
                line.push_str(&format!(" at {} {currency}", price.to_text()));
            }
            line.trim_end().to_owned()
        })
        .collect();
    let mut text = String::from("🛒 Order");
    if let Some(catalog) = non_empty(order.catalog_id.as_deref()) {
        text.push_str(&format!(" (catalog {catalog})"));
    }
    if items.is_empty() {
        text.push_str(": no items");
    } else {
        text.push_str(": ");
        text.push_str(&items.join(", "));
        if let [currency] = currencies.as_slice() {
            text.push_str(format!(" — total {total} {currency}").trim_end());
        }
    }
    if let Some(note) = non_empty(order.text.as_deref()) {
        text.push_str(&format!("\nNote: {note}"));
    }
    text
}

/// "Template message welcome (en): Ann, 12 May" — a template sent from the business side.
pub(super) fn template(template: &WaTemplate) -> String {
    let name = non_empty(template.name.as_deref()).unwrap_or("(unnamed)");
    let mut text = format!("Template message {name}");
    if let Some(code) = template
        .language
        .as_ref()
        .and_then(|l| non_empty(l.code.as_deref()))
    {
        text.push_str(&format!(" ({code})"));
    }
    let parameters = template.body_parameters();
    if !parameters.is_empty() {
        text.push_str(": ");
        text.push_str(&parameters.join(", "));
    }
    text
}

/// "Unsupported message type (pool): 131051: Message type unknown (…)".
pub(super) fn unsupported(kind: &str, errors: &[WaError]) -> String {
    let mut text = format!("Unsupported message type ({kind})");
    if !errors.is_empty() {
        let errors: Vec<String> = errors.iter().map(error_text).collect();
        text.push_str(": ");
        text.push_str(&errors.join("; "));
    }
    text
}

/// Reply, forward and ad-referral notes shown above the message.
pub(super) fn annotations(
    context: Option<&WaContext>,
    referral: Option<&WaReferral>,
) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(context) = context {
        if context.frequently_forwarded == Some(true) {
            notes.push("Forwarded many times".to_owned());
        } else if context.forwarded == Some(true) {
            notes.push("Forwarded".to_owned());
        }
        if let Some(id) = non_empty(context.id.as_deref()) {
            notes.push(match non_empty(context.from.as_deref()) {
                Some(from) => format!("Reply to message {id} from {from}"),
                None => format!("Reply to message {id}"),
            });
        }
    }
    if let Some(referral) = referral {
        let source = non_empty(referral.source_type.as_deref()).unwrap_or("ad");
        let article = if source.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        let mut note = format!("Came from {article} {source}");
        if let Some(headline) = non_empty(referral.headline.as_deref()) {
            note.push_str(&format!(": {headline}"));
        }
        if let Some(body) = non_empty(referral.body.as_deref()) {
            note.push_str(&format!(" — {body}"));
        }
        if let Some(url) = non_empty(referral.source_url.as_deref()) {
            note.push_str(&format!(" ({url})"));
        }
        notes.push(note);
    }
    notes
}

/// `Some(s)` when `s` has visible text.
pub(super) fn non_empty(text: Option<&str>) -> Option<&str> {
    text.filter(|t| !t.trim().is_empty())
}
