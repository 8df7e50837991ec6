//! Webhook registration (with Inbenta's challenge check) and deliveries.

use super::checks::{Answer, SimError, authorize, body_object, ok, required_text};
use super::routes::SimState;
use super::state::{Shared, WebhookRecord, random_hex};
use super::{SimDelivery, SimWebhook};
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

/// Items a webhook may be registered for.
const WEBHOOK_ITEMS: [&str; 7] = [
    "alert",
    "ticket",
    "reply",
    "user",
    "media",
    "classification",
    "queue",
];

pub(super) async fn list_webhooks(State(state): State<SimState>, headers: HeaderMap) -> Answer {
    authorize(&state, &headers)?;
    let hooks: Vec<Value> = state.with(|data| {
        data.webhooks
            .iter()
            .map(|h| json!({ "uuid": h.public.uuid, "item": h.public.item, "url": h.public.url }))
            .collect()
    });
    ok(StatusCode::OK, json!({ "data": hooks }))
}

/// Register a webhook after checking the receiver echoes a challenge (as Inbenta does).
/// Plain `http://` is accepted here so local receivers can be used; Inbenta requires https.
pub(super) async fn register_webhook(
    State(state): State<SimState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    authorize(&state, &headers)?;
    let body = body_object(&headers, body)?;
    let item = required_text(&body, "item")?;
    if !WEBHOOK_ITEMS.contains(&item.as_str()) {
        return Err(SimError::invalid(
            format!("Unknown webhook item '{item}'"),
            "invalid_item",
        ));
    }
    let url = required_text(&body, "url")?;
    if !url::Url::parse(&url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
        return Err(SimError::invalid(
            "The webhook url is not valid",
            "invalid_url",
        ));
    }
    let secret = required_text(&body, "secret")?;
    if state.with(|data| data.webhooks.iter().any(|h| h.public.item == item)) {
        return Err(SimError::invalid(
            format!("A webhook for '{item}' already exists"),
            "webhook_exists",
        ));
    }
    verify_receiver(&state, &url, &secret).await?;
    let uuid = uuid::Uuid::new_v4().to_string();
    state.with(|data| {
        data.webhooks.push(WebhookRecord {
            public: SimWebhook {
                uuid: uuid.clone(),
                item,
                url,
            },
            secret,
        });
    });
    ok(StatusCode::CREATED, json!({ "uuid": uuid }))
}

/// Empty GET with `X-Hook-Signature` and `X-Inbenta-Challenge`; the body must be the challenge.
pub(super) async fn verify_receiver(
    state: &Shared,
    url: &str,
    secret: &str,
) -> Result<(), SimError> {
    let challenge = random_hex();
    let failed = |why: String| {
        SimError::invalid(
            format!("Webhook verification failed: {why}"),
            "webhook_verification_failed",
        )
    };
    let response = state
        .http
        .get(url)
        .header("X-Hook-Signature", secret)
        .header("X-Inbenta-Challenge", &challenge)
        .send()
        .await
        .map_err(|e| failed(e.without_url().to_string()))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| failed(e.without_url().to_string()))?;
    if !status.is_success() {
        return Err(failed(format!("the receiver answered HTTP {status}")));
    }
    if text != challenge {
        return Err(failed("the receiver did not echo the challenge".into()));
    }
    Ok(())
}

/// Announce a change to the webhooks registered for `item`, in the background, unless webhooks
/// are paused (then the announcement is lost, as during a real outage). Outside a Tokio runtime
/// nothing is sent.
pub(super) fn announce(state: &SimState, item: &'static str, events: Value) {
    if state.with(|data| data.webhooks_paused) {
        tracing::debug!(
            item,
            "Simulated Inbenta webhooks are paused; change not announced."
        );
        return;
    }
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(deliver(std::sync::Arc::clone(state), item, events));
    }
}

/// POST `events` (a JSON array) to every webhook registered for `item`, recording the outcome.
pub(super) async fn deliver(state: SimState, item: &'static str, events: Value) {
    let targets: Vec<(String, String)> = state.with(|data| {
        data.webhooks
            .iter()
            .filter(|h| h.public.item == item)
            .map(|h| (h.public.url.clone(), h.secret.clone()))
            .collect()
    });
    for (url, secret) in targets {
        let status = state
            .http
            .post(&url)
            .header("X-Hook-Signature", secret)
            .json(&events)
            .send()
            .await
            .ok()
            .map(|r| r.status().as_u16());
        state.with(|data| {
            data.deliveries.push(SimDelivery {
                url,
                item: item.to_owned(),
                body: events.clone(),
                status,
            });
        });
    }
}

/// What changed, for [`change_event`].
pub(super) struct Change<'a> {
    pub(super) id: i64,
    pub(super) item: &'a str,
    pub(super) action: &'a str,
    /// The ticket, for replies.
    pub(super) parent: Option<i64>,
    /// The user who made the change.
    pub(super) actor: i64,
}

/// The event Inbenta sends when something changes: ids only, as a one-event batch.
pub(super) fn change_event(state: &Shared, change: Change<'_>) -> Value {
    json!([{
        "id": change.id,
        "item": change.item,
        "action": change.action,
        "timestamp": state.with(|data| data.now()),
        "actor": change.actor,
        "parent": change.parent,
    }])
}
