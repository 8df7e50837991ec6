//! The sandbox's own routes, merged into the bridge's router only by `omnibridge sandbox`:
//! inject a customer message (through the bridge's real get.chat webhook) or an agent answer
//! (written in the simulated Inbenta, which then calls the bridge's webhook).

use super::getchat::{GetchatSim, onprem_text_webhook};
use super::inbenta::InbentaSim;
use super::qontak::QontakSim;
use super::run::{CHANNEL_SECRET, GETCHAT_CHANNEL, QONTAK_CHANNEL};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// What the walk-through and the control routes share.
pub struct SandboxContext {
    pub bridge_url: String,
    pub getchat: Arc<GetchatSim>,
    pub inbenta: Arc<InbentaSim>,
    pub qontak: Arc<QontakSim>,
    pub client: reqwest::Client,
}

impl SandboxContext {
    /// POST a get.chat webhook body to the bridge, as get.chat would.
    pub async fn deliver_getchat_webhook(&self, body: &Value) -> anyhow::Result<Value> {
        let url = format!(
            "{}/webhooks/getchat/{GETCHAT_CHANNEL}?auth={CHANNEL_SECRET}",
            self.bridge_url
        );
        let response = self.client.post(url).json(body).send().await?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(
            status.is_success(),
            "the bridge answered the webhook with {status}: {answer}"
        );
        Ok(answer)
    }
}

impl SandboxContext {
    /// POST a Qontak webhook body to the bridge, as Qontak would.
    pub async fn deliver_qontak_webhook(&self, body: &Value) -> anyhow::Result<()> {
        let url = format!(
            "{}/webhooks/qontak/{QONTAK_CHANNEL}?auth={CHANNEL_SECRET}",
            self.bridge_url
        );
        let status = self.qontak.deliver(&url, body).await?;
        anyhow::ensure!(
            (200..300).contains(&status),
            "the bridge answered the webhook with {status}"
        );
        Ok(())
    }
}

pub fn routes(context: Arc<SandboxContext>) -> Router {
    Router::new()
        .route("/sandbox/customer-message", post(customer_message))
        .route("/sandbox/agent-answer", post(agent_answer))
        .with_state(context)
}

#[derive(Deserialize)]
struct CustomerMessage {
    wa_id: String,
    #[serde(default)]
    name: Option<String>,
    text: String,
}

async fn customer_message(
    State(context): State<Arc<SandboxContext>>,
    Json(message): Json<CustomerMessage>,
) -> (StatusCode, Json<Value>) {
    let wamid = format!("wamid.sandbox.{}", uuid::Uuid::new_v4().simple());
    let name = message.name.as_deref().unwrap_or("Sandbox customer");
    let body = onprem_text_webhook(&message.wa_id, name, &wamid, &message.text);
    match context.deliver_getchat_webhook(&body).await {
        Ok(answer) => (
            StatusCode::OK,
            Json(json!({ "delivered_to_bridge": answer, "wamid": wamid })),
        ),
        Err(err) => (
            StatusCode::BAD_GATEWAY,
            Json(json!({ "code": "bridge_refused", "detail": err.to_string() })),
        ),
    }
}

#[derive(Deserialize)]
struct AgentAnswer {
    ticket_id: i64,
    #[serde(default)]
    html: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

async fn agent_answer(
    State(context): State<Arc<SandboxContext>>,
    Json(answer): Json<AgentAnswer>,
) -> (StatusCode, Json<Value>) {
    let html = match (answer.html, answer.text) {
        (Some(html), _) => html,
        (None, Some(text)) => format!("<p>{}</p>", html_escape(&text)),
        (None, None) => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({ "code": "missing_body", "detail": "give \"html\" or \"text\"" })),
            );
        }
    };
    match context.inbenta.add_agent_answer(answer.ticket_id, &html) {
        Some(reply_id) => (
            StatusCode::OK,
            Json(json!({ "ticket_id": answer.ticket_id, "reply_id": reply_id })),
        ),
        None => (
            StatusCode::NOT_FOUND,
            Json(
                json!({ "code": "no_such_ticket", "detail": format!("simulated Inbenta has no ticket {}", answer.ticket_id) }),
            ),
        ),
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
