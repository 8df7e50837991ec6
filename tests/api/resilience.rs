//! Vendor failures, token expiry, restarts: nothing lost, nothing duplicated.

use crate::helpers::{AppOptions, Db, eventually, spawn_app, spawn_app_with};
use crate::ingest::onprem_text;
use crate::on_both_databases;

const TICKETS: &str = "/prod/ticketing/v1/tickets";

on_both_databases!(
    an_inbenta_500_is_retried_and_the_ticket_is_created_once,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        env.inbenta.fail_next("POST", TICKETS, 500, 2);
        app.post_getchat(&onprem_text("4920001", "Jo", "wamid.F1", "hello"))
            .await;
        let ticket = eventually("the ticket", || async {
            env.inbenta.tickets().into_iter().next()
        })
        .await;
        assert!(ticket.message.contains("hello"));
        app.post_getchat(&onprem_text("4920001", "Jo", "wamid.F2", "after"))
            .await;
        eventually("the reply", || async {
            env.inbenta
                .tickets()
                .into_iter()
                .find(|t| t.replies.len() == 1)
        })
        .await;
        assert_eq!(env.inbenta.tickets().len(), 1);
        app.stop().await;
    }
);

on_both_databases!(
    a_vendor_4xx_becomes_a_dead_letter_with_the_vendor_message,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        env.inbenta.fail_next("POST", TICKETS, 400, 1);
        app.post_getchat(&onprem_text("4920002", "Kim", "wamid.F3", "doomed"))
            .await;
        let dead = app.wait_for_dead_letters().await;
        let error = dead[0]["last_error"].as_str().unwrap();
        assert!(error.contains("HTTP 400"), "{error}");
        assert_eq!(dead[0]["kind"], "customer_message");
        // The conversation is not blocked: the next message goes through.
        app.post_getchat(&onprem_text("4920002", "Kim", "wamid.F4", "second try"))
            .await;
        let ticket = eventually("a ticket for the next message", || async {
            env.inbenta.tickets().into_iter().next()
        })
        .await;
        assert!(ticket.message.contains("second try"));
        app.stop().await;
    }
);

on_both_databases!(
    an_expired_inbenta_token_is_renewed_transparently,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        app.post_getchat(&onprem_text("4920003", "Lu", "wamid.T1", "one"))
            .await;
        eventually("the ticket", || async {
            env.inbenta.tickets().into_iter().next()
        })
        .await;
        let auths_before = env.inbenta.request_count("POST", "/v1/auth");
        env.inbenta.expire_all_tokens();
        app.post_getchat(&onprem_text("4920003", "Lu", "wamid.T2", "two"))
            .await;
        eventually("the reply after re-authentication", || async {
            env.inbenta
                .tickets()
                .into_iter()
                .find(|t| t.replies.len() == 1)
        })
        .await;
        assert!(env.inbenta.request_count("POST", "/v1/auth") > auths_before);
        let dead = app.dead_letters().await;
        assert!(dead.is_empty(), "{dead:?}");
        app.stop().await;
    }
);

on_both_databases!(
    a_restart_midway_loses_and_duplicates_nothing,
    |db: Db| async move {
        let (env, app) = spawn_app_with(
            db,
            AppOptions {
                max_attempts: 10_000,
                ..AppOptions::default()
            },
        )
        .await;
        // Inbenta is down while the messages arrive: they are accepted and wait.
        env.inbenta.fail_next("POST", "/v1/auth", 503, 1_000_000);
        for i in 0..10 {
            let response = app
                .post_getchat(&onprem_text(
                    "4920004",
                    "Max",
                    &format!("wamid.RS{i}"),
                    &format!("part {i}"),
                ))
                .await;
            assert_eq!(response.status(), 200);
        }
        app.stop().await;
        env.inbenta.clear_failures();

        let app = env.start_app().await;
        let ticket = eventually("all ten messages on one ticket", || async {
            env.inbenta
                .tickets()
                .into_iter()
                .find(|t| t.replies.len() == 9)
        })
        .await;
        assert!(ticket.message.contains("part 0"));
        for (i, reply) in ticket.replies.iter().enumerate() {
            assert!(
                reply.message.contains(&format!("part {}", i + 1)),
                "{}",
                reply.message
            );
        }
        assert_eq!(env.inbenta.tickets().len(), 1);
        app.stop().await;
    }
);

on_both_databases!(
    a_lost_answer_from_inbenta_does_not_duplicate_the_ticket_or_the_reply,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        // Inbenta creates the ticket but the bridge never sees the answer.
        env.inbenta.lose_answer_next("POST", TICKETS, 502, 1);
        app.post_getchat(&onprem_text("4920005", "Ned", "wamid.LA1", "first"))
            .await;
        let links = eventually("the link recorded after the retry", || async {
            let links = app.links().await;
            (!links.is_empty()).then_some(links)
        })
        .await;
        assert_eq!(
            env.inbenta.tickets().len(),
            1,
            "the retry found the ticket by its external id"
        );
        assert_eq!(
            links[0]["inbenta_ticket_id"],
            env.inbenta.tickets()[0].id.to_string()
        );

        // Same for a reply.
        env.inbenta
            .lose_answer_next("POST", &format!("{TICKETS}/"), 502, 1);
        app.post_getchat(&onprem_text("4920005", "Ned", "wamid.LA2", "second"))
            .await;
        app.post_getchat(&onprem_text("4920005", "Ned", "wamid.LA3", "third"))
            .await;
        let ticket = eventually("both replies", || async {
            env.inbenta
                .tickets()
                .into_iter()
                .find(|t| t.replies.len() >= 2)
        })
        .await;
        assert_eq!(
            ticket.replies.len(),
            2,
            "no duplicate reply: {:?}",
            ticket.replies
        );
        assert!(ticket.replies[0].message.contains("second"));
        assert!(ticket.replies[1].message.contains("third"));
        let dead = app.dead_letters().await;
        assert!(dead.is_empty(), "{dead:?}");
        app.stop().await;
    }
);

on_both_databases!(
    a_redriven_dead_letter_is_processed_once_it_can_be,
    |db: Db| async move {
        let (env, app) = spawn_app(db).await;
        env.inbenta.fail_next("POST", TICKETS, 422, 1);
        app.post_getchat(&onprem_text("4920006", "Oli", "wamid.RD1", "please help"))
            .await;
        let dead = app.wait_for_dead_letters().await;
        let id = dead[0]["id"].as_i64().expect("dead letter id");
        let unauthorized = app
            .client
            .post(format!("{}/api/v1/jobs/{id}/retry", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(unauthorized.status(), 401);
        let retried = app
            .client
            .post(format!("{}/api/v1/jobs/{id}/retry", app.address))
            .bearer_auth(crate::helpers::ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(retried.status(), 200);
        let ticket = eventually("the redriven message's ticket", || async {
            env.inbenta.tickets().into_iter().next()
        })
        .await;
        assert!(ticket.message.contains("please help"));
        assert!(app.dead_letters().await.is_empty());
        let again = app
            .client
            .post(format!("{}/api/v1/jobs/{id}/retry", app.address))
            .bearer_auth(crate::helpers::ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 404, "only dead letters can be redriven");
        app.stop().await;
    }
);
