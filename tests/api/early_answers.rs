//! A helpdesk answer that arrives before the bridge has committed its ticket's link is held and
//! delivered the moment the link commits, not by the next reconciliation round.

use crate::answers::{WA_ID, sent_to, webhook_registered};
use crate::helpers::{AppOptions, Db, TestEnv, eventually, spawn_app_with};
use crate::ingest::onprem_text;
use crate::on_both_databases;

const TICKETS: &str = "/prod/ticketing/v1/tickets";

on_both_databases!(
    an_answer_written_before_the_link_commits_reaches_the_customer,
    |db: Db| async move {
        // Reconciliation is hours away: only holding the early answer can deliver it in time.
        let (env, app) = spawn_app_with(
            db,
            AppOptions {
                reconcile_interval: std::time::Duration::from_secs(3600),
                retry_delays: vec![std::time::Duration::from_millis(1500)],
                ..AppOptions::default()
            },
        )
        .await;
        webhook_registered(&env).await;
        // Inbenta creates the ticket but the bridge does not see the answer: the link waits for
        // the retry, 1.5 s later, which finds the ticket by its external id.
        env.inbenta.lose_answer_next("POST", TICKETS, 502, 1);
        let body = onprem_text(WA_ID, "Ana", "wamid.EARLY1", "Hello, anyone there?");
        assert_eq!(app.post_getchat(&body).await.status(), 200);
        let ticket = eventually("the ticket on Inbenta", || async {
            env.inbenta.tickets().into_iter().next()
        })
        .await;

        // An auto-acknowledgement written at once, delivered by webhook while there is no link.
        env.inbenta
            .add_agent_answer(
                ticket.id,
                "<p>Thanks, an agent will be with you shortly.</p>",
            )
            .expect("the ticket exists");
        eventually("the answer's delivery was accepted", || async {
            early_delivery_accepted(&env).then_some(())
        })
        .await;
        assert!(
            app.links().await.is_empty(),
            "the delivery must come before the link for this test to prove anything"
        );

        let sent = sent_to(&env, WA_ID, 1).await;
        assert_eq!(
            sent[0].body["text"]["body"],
            "Thanks, an agent will be with you shortly."
        );
        let links = app.links().await;
        assert_eq!(links.len(), 1);
        assert_eq!(links[0]["inbenta_ticket_id"], ticket.id.to_string());
        assert_eq!(env.inbenta.tickets().len(), 1, "one ticket");
        app.stop().await;
    }
);

fn early_delivery_accepted(env: &TestEnv) -> bool {
    env.inbenta
        .deliveries()
        .iter()
        .any(|d| d.item == "reply" && d.status == Some(200))
}
