//! The scripted walk-through of `omnibridge sandbox`: each step does what a customer or an agent
//! would do on the simulated vendors, waits for the bridge to carry it across, and prints the
//! result in plain language.

use super::control::SandboxContext;
use super::getchat::{WebhookMedia, onprem_media_webhook, onprem_text_webhook, sha256_hex};
use super::inbenta::SimTicket;
use super::run::{GETCHAT_CHANNEL, QONTAK_CHANNEL};
use crate::store::Link;
use crate::sync::Engine;
use std::future::Future;
use std::time::Duration;

const CUSTOMER_WA_ID: &str = "4915112345678";
const CUSTOMER_NAME: &str = "Ana Souza";
const PHOTO: &[u8] = include_bytes!("assets/photo.png");
/// How long a step waits for the bridge.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Run every step; true when all succeeded.
pub async fn run(context: &SandboxContext, engine: &Engine) -> bool {
    println!("Walk-through");
    let ticket = step(
        1,
        "A customer writes on WhatsApp (get.chat)",
        customer_writes(context, engine),
    )
    .await;
    let Some(ticket) = ticket else {
        return skip_rest(2);
    };
    let photo = step(
        2,
        "The customer sends a photo",
        customer_sends_photo(context, ticket),
    )
    .await;
    let answer = step(
        3,
        "An agent answers on the ticket in Inbenta",
        agent_answers(context, ticket),
    )
    .await;
    let room = step(
        4,
        "A customer writes in a Qontak room",
        qontak_room_message(context, engine),
    )
    .await;
    let passed = photo.is_some() && answer.is_some() && room.is_some();
    println!();
    if passed {
        println!("Every step succeeded.");
    } else {
        println!("Some steps failed; see above.");
    }
    passed
}

fn skip_rest(from: usize) -> bool {
    println!("  (steps {from}… skipped: they need the ticket of step 1)");
    false
}

async fn step<T>(
    number: usize,
    title: &str,
    work: impl Future<Output = anyhow::Result<T>>,
) -> Option<T> {
    println!();
    println!("{number}. {title}");
    match tokio::time::timeout(STEP_TIMEOUT, work).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(err)) => {
            println!("   ✗ failed: {err:#}");
            None
        }
        Err(_) => {
            println!(
                "   ✗ failed: the bridge did not finish within {}s",
                STEP_TIMEOUT.as_secs()
            );
            None
        }
    }
}

/// Poll until `check` gives a value.
async fn wait_for<T, F, Fut>(mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Wait until the bridge linked the conversation to a ticket; the link and the simulated ticket.
async fn linked_ticket(
    context: &SandboxContext,
    engine: &Engine,
    channel: &str,
    conversation: &str,
) -> anyhow::Result<(Link, SimTicket)> {
    let link: Link =
        wait_for(|| async { Ok(engine.store().current_link(channel, conversation).await?) })
            .await?;
    let ticket_id: i64 = link
        .ticket()
        .as_str()
        .parse()
        .map_err(|_| anyhow::anyhow!("the link names no numeric ticket id"))?;
    let ticket = context
        .inbenta
        .ticket(ticket_id)
        .ok_or_else(|| anyhow::anyhow!("simulated Inbenta has no ticket {ticket_id}"))?;
    Ok((link, ticket))
}

async fn customer_writes(context: &SandboxContext, engine: &Engine) -> anyhow::Result<i64> {
    let text = "Hello! My order #1042 has not arrived yet. Can you help?";
    println!("   {CUSTOMER_NAME} (+{CUSTOMER_WA_ID}) writes: \"{text}\"");
    let body = onprem_text_webhook(CUSTOMER_WA_ID, CUSTOMER_NAME, "wamid.sandbox.1", text);
    context.deliver_getchat_webhook(&body).await?;
    println!("   get.chat delivers the webhook; the bridge stores it and answers 200.");
    let (link, ticket) = linked_ticket(context, engine, GETCHAT_CHANNEL, CUSTOMER_WA_ID).await?;
    let ticket_id = ticket.id;
    println!(
        "   ✓ Inbenta ticket #{} created: \"{}\" (route {:?}, queue {})",
        ticket.id,
        ticket.title,
        link.route.as_deref().unwrap_or("-"),
        ticket
            .queue
            .map(|q| q.to_string())
            .unwrap_or_else(|| "default".into())
    );
    Ok(ticket_id)
}

async fn customer_sends_photo(context: &SandboxContext, ticket_id: i64) -> anyhow::Result<()> {
    let media_id = context.getchat.add_media(PHOTO.to_vec(), "image/png");
    let media = WebhookMedia {
        kind: "image".into(),
        id: media_id,
        mime_type: "image/png".into(),
        sha256: Some(sha256_hex(PHOTO)),
        caption: Some("This is the parcel label".into()),
        filename: None,
    };
    println!(
        "   {CUSTOMER_NAME} sends a photo ({} bytes, image/png) with a caption.",
        PHOTO.len()
    );
    let body = onprem_media_webhook(CUSTOMER_WA_ID, CUSTOMER_NAME, "wamid.sandbox.2", &media);
    context.deliver_getchat_webhook(&body).await?;
    let attachment = wait_for(|| async {
        let ticket = context.inbenta.ticket(ticket_id);
        Ok(ticket.and_then(|t| {
            t.replies
                .iter()
                .find_map(|r| r.attachments.first().cloned())
        }))
    })
    .await?;
    let uploaded = context
        .inbenta
        .media()
        .into_iter()
        .find(|m| m.uuid == attachment)
        .ok_or_else(|| anyhow::anyhow!("attachment {attachment} was not uploaded"))?;
    println!(
        "   ✓ attached to ticket #{ticket_id}: {} ({} bytes, downloaded from get.chat, checksum verified, uploaded to Inbenta)",
        uploaded.name, uploaded.size_bytes
    );
    Ok(())
}

async fn agent_answers(context: &SandboxContext, ticket_id: i64) -> anyhow::Result<()> {
    let html = "<p>Hi <strong>Ana</strong>, sorry about that!</p><p>Your parcel:</p>\
                <ul><li>left our warehouse on Monday</li><li>arrives <em>tomorrow</em></li></ul>";
    println!("   The agent writes on ticket #{ticket_id}: {html}");
    let before = context.getchat.sent_messages().len();
    context
        .inbenta
        .add_agent_answer(ticket_id, html)
        .ok_or_else(|| anyhow::anyhow!("simulated Inbenta has no ticket {ticket_id}"))?;
    println!("   Inbenta calls the bridge's webhook; the bridge reads the answer.");
    let sent = wait_for(|| async {
        Ok(context
            .getchat
            .sent_messages()
            .into_iter()
            .skip(before)
            .find(|m| m.wa_id == CUSTOMER_WA_ID))
    })
    .await?;
    let text = sent.body["text"]["body"]
        .as_str()
        .unwrap_or("(not a text message)");
    println!(
        "   ✓ the customer receives on WhatsApp (get.chat message {}):",
        sent.id
    );
    for line in text.lines() {
        println!("       {line}");
    }
    Ok(())
}

async fn qontak_room_message(context: &SandboxContext, engine: &Engine) -> anyhow::Result<()> {
    let phone = "6281234567890";
    let room = context.qontak.add_room(phone, "Budi Santoso");
    let text = "Halo, saya mau tanya status pesanan saya.";
    println!("   Budi Santoso (+{phone}) writes in Qontak room {room}: \"{text}\"");
    let body = context.qontak.customer_text(&room, text);
    context.deliver_qontak_webhook(&body).await?;
    let (link, ticket) = linked_ticket(context, engine, QONTAK_CHANNEL, &room).await?;
    let ticket_id = ticket.id;
    println!(
        "   ✓ Inbenta ticket #{} created for the room: \"{}\" (route {:?})",
        ticket.id,
        ticket.title,
        link.route.as_deref().unwrap_or("-")
    );
    let answer = "<p>Halo <b>Budi</b>, pesanan Anda sedang dikirim.</p>";
    println!("   The agent answers on ticket #{ticket_id}: {answer}");
    context
        .inbenta
        .add_agent_answer(ticket_id, answer)
        .ok_or_else(|| anyhow::anyhow!("simulated Inbenta has no ticket {ticket_id}"))?;
    let sent = wait_for(|| async {
        Ok(context
            .qontak
            .sent_messages()
            .into_iter()
            .find(|m| m.room_id == room))
    })
    .await?;
    println!(
        "   ✓ the bridge writes into the Qontak room (message {}): {}",
        sent.id,
        sent.text.as_deref().unwrap_or("(a file)")
    );
    Ok(())
}
