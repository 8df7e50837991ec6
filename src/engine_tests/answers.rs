//! What an agent-answer event costs the store, and what an attempt that fails after sending
//! records: an engine draining against the simulators on loopback (a temp-file SQLite store).
//! Here rather than in `sync` because it builds the vendor connectors.

use crate::connectors::getchat::GetchatChannel;
use crate::connectors::inbenta::InbentaClient;
use crate::connectors::{ChannelConnector, HelpdeskEvent, Registry};
use crate::domain::{
    ActivitySubject, ChannelId, Contact, CustomerMessage, EventKind, ExternalId, InboundEvent,
    MessageBody, TicketActivity,
};
use crate::jobs::DrainQueue;
use crate::mapping::{LiveRules, RuleSet};
use crate::sandbox::getchat::GetchatSim;
use crate::sandbox::inbenta::InbentaSim;
use crate::store::{
    ConnectOptions, OutboundKind, OutboundStatus, Store, statements_on_this_thread,
};
use crate::sync::{Engine, EngineSettings, RetryPolicy};
use chrono::Utc;
use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const CHANNEL: &str = "sales";

/// An engine on a fresh SQLite store, with get.chat and Inbenta simulators behind it.
struct Rig {
    engine: Engine,
    inbenta: InbentaSim,
    getchat: GetchatSim,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

async fn rig() -> Rig {
    let inbenta = InbentaSim::start().await.expect("Inbenta simulator");
    let getchat = GetchatSim::start().await.expect("get.chat simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("bridge.db").display());
    let options = ConnectOptions {
        max_connections: 4,
        pg_schema: None,
    };
    let store = Store::connect(&SecretString::from(url), &options)
        .await
        .expect("store");
    store.migrate().await.expect("migrations");
    let channel_config = serde_json::json!({ "id": CHANNEL, "kind": "getchat",
        "base_url": getchat.base_url(), "token": getchat.token() });
    let channel = GetchatChannel::new(&serde_json::from_value(channel_config).expect("config"))
        .expect("channel");
    let tickets = InbentaClient::new(&crate::config::InbentaConfig {
        auth_url: url::Url::parse(&inbenta.auth_url()).expect("sim URL"),
        api_key: Some(SecretString::from(crate::sandbox::inbenta::API_KEY)),
        secret: Some(SecretString::from(crate::sandbox::inbenta::SECRET)),
        ..crate::config::InbentaConfig::default()
    })
    .expect("Inbenta client");
    let registry = Registry::new(
        [Arc::new(channel) as Arc<dyn ChannelConnector>],
        Arc::new(tickets),
    );
    let queue = DrainQueue::setup(&store, "answer-tests")
        .await
        .expect("queue");
    let shutdown = CancellationToken::new();
    let engine = Engine::new(
        store,
        registry,
        Arc::new(LiveRules::new(RuleSet::empty())),
        queue,
        settings(),
        shutdown.clone(),
    );
    Rig {
        engine,
        inbenta,
        getchat,
        shutdown,
        _dir: dir,
    }
}

fn settings() -> EngineSettings {
    EngineSettings {
        user_address: "{wa_id}@whatsapp.invalid".into(),
        status_check_interval: Duration::from_secs(600),
        lease_ttl: Duration::from_secs(60),
        retry: RetryPolicy {
            delays: vec![Duration::from_millis(50)],
            max_attempts: 3,
        },
        sweep_interval: Duration::from_secs(600),
        reconcile_interval: Duration::from_secs(600),
        concurrency: 1,
        channels: HashMap::new(),
        bridge_user_name: "WhatsApp".into(),
        bridge_user_address: "omnibridge-bridge@whatsapp.invalid".into(),
    }
}

impl Rig {
    /// A customer writes on `wa_id`: the conversation (its id) now has a ticket (its id).
    async fn open_ticket(&self, wa_id: &str) -> (i64, i64) {
        let message = InboundEvent {
            dedupe_key: format!("wamid.{wa_id}"),
            conversation: wa_id.into(),
            occurred_at: Utc::now(),
            kind: EventKind::CustomerMessage(CustomerMessage {
                remote_id: ExternalId::new(format!("wamid.{wa_id}")),
                contact: Contact {
                    id: wa_id.into(),
                    name: Some("Customer".into()),
                    phone: None,
                },
                body: MessageBody::Text {
                    text: "Hello".into(),
                },
                tags: Vec::new(),
                annotations: Vec::new(),
            }),
        };
        let stored = self
            .engine
            .ingest(&ChannelId::new(CHANNEL), &[message])
            .await
            .expect("ingested");
        let conversation = stored.woken[0];
        self.drain(conversation).await;
        let link = self
            .engine
            .store()
            .current_link(CHANNEL, wa_id)
            .await
            .expect("read")
            .expect("the ticket's link");
        let ticket = link.helpdesk_ticket_id.expect("ticket id");
        (
            conversation,
            ticket.as_str().parse().expect("numeric ticket id"),
        )
    }

    /// The helpdesk reports a new reply on `ticket`.
    async fn reply_added(&self, ticket: i64, reply: i64) {
        let event = HelpdeskEvent {
            dedupe_key: format!("test:reply:{reply}"),
            occurred_at: Utc::now(),
            activity: TicketActivity {
                ticket: ExternalId::new(ticket.to_string()),
                subject: ActivitySubject::Reply,
                action: "add".into(),
                object_id: ExternalId::new(reply.to_string()),
            },
        };
        let stored = self
            .engine
            .ingest_helpdesk(&[event])
            .await
            .expect("ingested");
        assert_eq!(stored.stored, 1);
    }

    async fn drain(&self, conversation: i64) {
        let report = self.engine.drain(conversation).await.expect("drained");
        assert!(report.claimed, "the conversation was due");
    }

    /// Messages get.chat was asked to send to `wa_id`.
    fn sent_to(&self, wa_id: &str) -> usize {
        self.getchat
            .sent_messages()
            .iter()
            .filter(|m| m.wa_id == wa_id)
            .count()
    }

    /// Statements the drain of one new answer costs on a ticket that has `old` answers already
    /// delivered.
    async fn statements_for_a_new_answer(&self, wa_id: &str, old: usize) -> u64 {
        let (conversation, ticket) = self.open_ticket(wa_id).await;
        let mut last = 0;
        for n in 0..old {
            last = self
                .inbenta
                .add_agent_answer(ticket, &format!("<p>old answer {n}</p>"))
                .expect("ticket exists");
        }
        self.reply_added(ticket, last).await;
        self.drain(conversation).await;
        assert_eq!(self.sent_to(wa_id), old, "every old answer went out once");

        let new = self
            .inbenta
            .add_agent_answer(ticket, "<p>the new answer</p>")
            .expect("ticket exists");
        self.reply_added(ticket, new).await;
        let before = statements_on_this_thread();
        self.drain(conversation).await;
        let statements = statements_on_this_thread() - before;
        assert_eq!(self.sent_to(wa_id), old + 1, "only the new answer went out");
        statements
    }
}

#[tokio::test]
async fn a_new_answer_costs_the_same_statements_however_many_answers_the_ticket_has() {
    let rig = rig().await;

    let with_5 = rig.statements_for_a_new_answer("4811000005", 5).await;
    let with_50 = rig.statements_for_a_new_answer("4811000050", 50).await;

    assert_eq!(
        with_5, with_50,
        "statements for one new answer: {with_5} with 5 old answers, {with_50} with 50"
    );
    // Claim, reads, the event's transaction and the release: a handful, not one per answer.
    assert!(with_50 < 20, "{with_50} statements");
    rig.shutdown.cancel();
}

#[tokio::test]
async fn parts_sent_before_a_failure_are_recorded_with_it_and_never_sent_again() {
    let rig = rig().await;
    let wa_id = "4811000077";
    let (conversation, ticket) = rig.open_ticket(wa_id).await;
    let answer = rig
        .inbenta
        .add_agent_answer_with_attachment(
            ticket,
            "<p>Your invoice</p>",
            "invoice.pdf",
            "application/pdf",
            b"%PDF-1.4 invoice".to_vec(),
        )
        .expect("ticket exists");
    // The text goes out; the file cannot be fetched this time.
    rig.inbenta
        .fail_next("GET", "/prod/ticketing/v1/media", 503, 1);
    rig.reply_added(ticket, answer).await;

    rig.drain(conversation).await;

    assert_eq!(rig.sent_to(wa_id), 1, "the text went out");
    let recorded = rig
        .engine
        .store()
        .list_outbound(Some(CHANNEL), Some(wa_id), 10)
        .await
        .expect("read");
    assert_eq!(
        recorded.len(),
        1,
        "the sent text is recorded with the failure"
    );
    assert_eq!(recorded[0].part, 0);
    assert_eq!(recorded[0].status, OutboundStatus::Sent);
    assert_eq!(recorded[0].kind, OutboundKind::Text);

    // The retry sends the file only.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while rig.sent_to(wa_id) < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the retry never ran"
        );
        rig.engine.drain(conversation).await.expect("drained");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = rig.getchat.sent_messages();
    let types: Vec<&str> = sent
        .iter()
        .filter(|m| m.wa_id == wa_id)
        .map(|m| m.message_type.as_str())
        .collect();
    assert_eq!(types, ["text", "document"]);
    rig.shutdown.cancel();
}
