//! Sign-in, sessions, CSRF, security headers.

use crate::support::{Client, TestApp, PASSWORD};
use crate::tests;

tests![
    anonymous_visitors_are_sent_to_sign_in_with_next,
    a_wrong_password_gives_no_session_and_the_same_message_as_an_unknown_address,
    signing_in_with_the_address_in_another_case_works,
    the_session_id_changes_at_sign_in,
    signing_out_ends_the_session_so_a_copied_cookie_stops_working,
    sessions_are_rows_in_the_database_tied_to_the_account,
    a_post_without_or_with_a_forged_csrf_token_is_refused_and_changes_nothing,
    a_cross_site_post_is_refused_even_with_a_valid_token,
    every_page_sends_the_security_headers,
    next_is_honoured_only_for_local_paths,
    repeated_failures_throttle_the_account_with_the_same_message,
    idle_and_absolute_timeouts_end_a_session,
    oversized_bodies_and_unexpected_fields_are_refused_before_any_work,
    sign_ins_are_recorded_in_the_audit_trail,
    health_check_answers_when_the_database_does,
    viewing_pages_does_not_rewrite_the_session,
];

async fn anonymous_visitors_are_sent_to_sign_in_with_next(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let client = app.client();
    let page = client.get(&format!("/w/{}/users?q=ana", ws.slug)).await;
    assert_eq!(page.status, 303);
    assert_eq!(
        page.location.as_deref(),
        Some("/login?next=%2Fw%2Facme%2Fusers%3Fq%3Dana")
    );
    let root = client.get("/").await;
    assert_eq!(
        (root.status.as_u16(), root.location.as_deref()),
        (303, Some("/login"))
    );
    let login = client.get("/login?next=%2Fw%2Facme%2Fusers").await;
    assert_eq!(login.status, 200);
    login.assert_contains("name=\"next\" value=\"/w/acme/users\"");
    let signed_in = client
        .submit(
            "/login?next=%2Fw%2Facme%2Fusers",
            "/login",
            &[
                ("email", "olivia@acme.example"),
                ("password", PASSWORD),
                ("next", "/w/acme/users"),
            ],
        )
        .await;
    assert_eq!(
        (signed_in.status.as_u16(), signed_in.location.as_deref()),
        (303, Some("/w/acme/users"))
    );
}

async fn a_wrong_password_gives_no_session_and_the_same_message_as_an_unknown_address(
    app: TestApp,
) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let client = app.client();
    let wrong = client
        .sign_in("olivia@acme.example", "not the password at all")
        .await;
    assert_eq!(wrong.status, 422);
    wrong.assert_contains("Incorrect email or password.");
    wrong.assert_contains("value=\"olivia@acme.example\"");
    wrong.assert_lacks("not the password at all");
    let unknown = client
        .sign_in("nobody@acme.example", "not the password at all")
        .await;
    assert_eq!(unknown.status, 422);
    assert_eq!(
        wrong
            .body
            .replace("olivia@acme.example", "X")
            .replace(&wrong.csrf(), "T"),
        unknown
            .body
            .replace("nobody@acme.example", "X")
            .replace(&unknown.csrf(), "T"),
        "an unknown address must read exactly like a wrong password"
    );
    let users = client.get(&format!("/w/{}/users", ws.slug)).await;
    assert_eq!(users.status, 303, "no signed-in session after failures");
}

async fn signing_in_with_the_address_in_another_case_works(app: TestApp) {
    let ws = app.create_workspace("Acme", "Olivia.Owner@Acme.example", "Olivia Owner");
    let client = app.client();
    let page = client
        .sign_in("  OLIVIA.owner@ACME.EXAMPLE ", PASSWORD)
        .await;
    assert_eq!(
        (page.status.as_u16(), page.location.as_deref()),
        (303, Some("/"))
    );
    let home = client.get("/").await;
    assert_eq!(
        home.location.as_deref(),
        Some(format!("/w/{}/users", ws.slug).as_str())
    );
    let users = client.get(&format!("/w/{}/users", ws.slug)).await;
    assert_eq!(users.status, 200);
    users.assert_contains("Olivia Owner");
}

async fn the_session_id_changes_at_sign_in(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let client = app.client();
    client.get("/login").await;
    let before = client
        .session_cookie()
        .expect("anonymous session for the login form's token");
    client.sign_in("olivia@acme.example", PASSWORD).await;
    let after = client.session_cookie().expect("session after sign-in");
    assert_ne!(before, after);
    // The pre-sign-in cookie does not carry the signed-in session.
    let fixated = Client::with_cookie(&app.base_url, &before);
    assert_eq!(
        fixated.get(&format!("/w/{}/users", ws.slug)).await.status,
        303
    );
}

async fn signing_out_ends_the_session_so_a_copied_cookie_stops_working(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    let users_path = format!("/w/{}/users", ws.slug);
    let copied = client.session_cookie().expect("cookie");
    let replay = Client::with_cookie(&app.base_url, &copied);
    assert_eq!(
        replay.get(&users_path).await.status,
        200,
        "the copy works while signed in"
    );
    let out = client.submit(&users_path, "/logout", &[]).await;
    assert_eq!(
        (out.status.as_u16(), out.location.as_deref()),
        (303, Some("/login"))
    );
    assert_eq!(client.get(&users_path).await.status, 303);
    let replayed = replay.get(&users_path).await;
    assert_eq!(replayed.status, 303);
    assert!(replayed
        .location
        .expect("redirect")
        .starts_with("/login?next="));
}

async fn sessions_are_rows_in_the_database_tied_to_the_account(app: TestApp) {
    app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    let cookie = client.session_cookie().expect("cookie");
    let rows = app.with_db(|conn| {
        let account =
            gatehouse::models::account::Account::find_by_login(conn, "olivia@acme.example")
                .unwrap()
                .unwrap();
        gatehouse::models::session::for_account(conn, account.id).unwrap()
    });
    assert_eq!(rows.len(), 1);
    assert!(
        !rows[0].state.contains(&cookie),
        "the cookie value is not stored"
    );
    assert_eq!(
        rows[0].id_hash.len(),
        64,
        "only a SHA-256 of the key is kept"
    );
    assert_eq!(rows[0].ip.as_deref(), Some("127.0.0.1"));
}

async fn a_post_without_or_with_a_forged_csrf_token_is_refused_and_changes_nothing(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    let users = format!("/w/{}/users", ws.slug);
    let sessions_before = app.count("sessions");
    let audit_before = app.count("audit_events");
    let missing = client.post_raw("/logout", &[]).await;
    assert_eq!(missing.status, 403);
    missing.assert_contains("This form has expired");
    let forged = client
        .post_raw("/logout", &[("csrf_token", "forged-token-value")])
        .await;
    assert_eq!(forged.status, 403);
    let token = client.get(&users).await.csrf();
    let doubled = client
        .post_raw("/logout", &[("csrf_token", &token), ("csrf_token", &token)])
        .await;
    assert_eq!(doubled.status, 403, "two tokens are refused");
    assert_eq!(client.get(&users).await.status, 200, "still signed in");
    assert_eq!(app.count("sessions"), sessions_before);
    // Sign-in has a pre-session token too: a login POST without one is refused, no audit row.
    let stranger = app.client();
    let login = stranger
        .post_raw(
            "/login",
            &[
                ("email", "olivia@acme.example"),
                ("password", PASSWORD),
                ("next", ""),
            ],
        )
        .await;
    assert_eq!(login.status, 403);
    assert_eq!(app.count("audit_events"), audit_before);
    assert!(stranger.session_cookie().is_none());
}

async fn a_cross_site_post_is_refused_even_with_a_valid_token(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    let users = format!("/w/{}/users", ws.slug);
    let token = client.get(&users).await.csrf();
    let evil_origin = client
        .post_with_headers(
            "/logout",
            &[("csrf_token", &token)],
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(evil_origin.status, 403);
    let cross_site = client
        .post_with_headers(
            "/logout",
            &[("csrf_token", &token)],
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(cross_site.status, 403);
    assert_eq!(client.get(&users).await.status, 200, "still signed in");
    let same_origin = client
        .post_with_headers(
            "/logout",
            &[("csrf_token", &token)],
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(same_origin.status, 303);
}

async fn every_page_sends_the_security_headers(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    for path in [
        "/login".to_string(),
        format!("/w/{}/users", ws.slug),
        "/no/such/page".to_string(),
    ] {
        let page = client.get(&path).await;
        let h = |name: &str| {
            page.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(
            h("content-security-policy"),
            "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
            "{path}"
        );
        assert_eq!(h("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(h("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(h("x-frame-options"), "DENY", "{path}");
        assert_eq!(h("cache-control"), "no-store", "{path}");
    }
    let cookie_header = {
        let fresh = app.client();
        let page = fresh.get("/login").await;
        page.headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert!(cookie_header.contains("HttpOnly"), "{cookie_header}");
    assert!(cookie_header.contains("SameSite=Lax"), "{cookie_header}");
    assert!(
        !cookie_header.contains("Secure"),
        "plain-http base URL: no Secure flag"
    );
    let css = client.get("/static/app.css").await;
    assert_eq!(css.status, 200);
    assert_eq!(
        css.headers.get("content-type").unwrap(),
        "text/css; charset=utf-8"
    );
}

async fn next_is_honoured_only_for_local_paths(app: TestApp) {
    app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    for evil in [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let client = app.client();
        let page = client
            .submit(
                "/login",
                "/login",
                &[
                    ("email", "olivia@acme.example"),
                    ("password", PASSWORD),
                    ("next", evil),
                ],
            )
            .await;
        assert_eq!(page.status, 303, "{evil}");
        assert_eq!(
            page.location.as_deref(),
            Some("/"),
            "{evil} must be ignored"
        );
    }
    let client = app.client();
    let form = client.get("/login?next=https%3A%2F%2Fevil.example").await;
    form.assert_contains("name=\"next\" value=\"\"");
}

async fn repeated_failures_throttle_the_account_with_the_same_message(app: TestApp) {
    app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let client = app.client();
    for _ in 0..gatehouse::services::signin::MAX_FAILURES_PER_ACCOUNT {
        assert_eq!(
            client
                .sign_in("olivia@acme.example", "wrong password here")
                .await
                .status,
            422
        );
    }
    let throttled = client.sign_in("olivia@acme.example", PASSWORD).await;
    assert_eq!(
        throttled.status, 422,
        "the right password is refused while throttled"
    );
    throttled.assert_contains("Incorrect email or password.");
    // The window passes (move the failures back in time): the right password works again.
    app.with_db(|conn| {
        use diesel::prelude::*;
        use gatehouse::db::schema::audit_events;
        let past = gatehouse::models::now() - chrono::TimeDelta::minutes(16);
        diesel::update(audit_events::table)
            .set(audit_events::created_at.eq(past))
            .execute(conn)
            .unwrap();
    });
    assert_eq!(
        client.sign_in("olivia@acme.example", PASSWORD).await.status,
        303
    );
}

async fn idle_and_absolute_timeouts_end_a_session(app: TestApp) {
    use diesel::prelude::*;
    use gatehouse::db::schema::sessions;
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let users = format!("/w/{}/users", ws.slug);
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    assert_eq!(client.get(&users).await.status, 200);
    let now = gatehouse::models::now();
    app.with_db(|conn| {
        diesel::update(sessions::table)
            .set(sessions::expires_at.eq(now - chrono::TimeDelta::seconds(1)))
            .execute(conn)
            .unwrap()
    });
    assert_eq!(client.get(&users).await.status, 303, "idle-expired");
    client.sign_in("olivia@acme.example", PASSWORD).await;
    assert_eq!(client.get(&users).await.status, 200);
    app.with_db(|conn| {
        diesel::update(sessions::table)
            .set(
                sessions::created_at
                    .eq(now - chrono::TimeDelta::hours(12) - chrono::TimeDelta::minutes(1)),
            )
            .execute(conn)
            .unwrap()
    });
    assert_eq!(
        client.get(&users).await.status,
        303,
        "older than the absolute limit"
    );
}

async fn oversized_bodies_and_unexpected_fields_are_refused_before_any_work(app: TestApp) {
    app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let client = app.client();
    let token = client.get("/login").await.csrf();
    let audit_before = app.count("audit_events");
    let huge = "x".repeat(70 * 1024);
    let big = client
        .post_raw(
            "/login",
            &[
                ("csrf_token", &token),
                ("email", &huge),
                ("password", "p"),
                ("next", ""),
            ],
        )
        .await;
    assert_eq!(big.status, 400);
    let unknown = client
        .post_raw(
            "/login",
            &[
                ("csrf_token", &token),
                ("email", "olivia@acme.example"),
                ("password", PASSWORD),
                ("next", ""),
                ("admin", "1"),
            ],
        )
        .await;
    assert_eq!(unknown.status, 400);
    let repeated = client
        .post_raw(
            "/login",
            &[
                ("csrf_token", &token),
                ("email", "olivia@acme.example"),
                ("email", "x@y.example"),
                ("password", PASSWORD),
                ("next", ""),
            ],
        )
        .await;
    assert_eq!(repeated.status, 400);
    assert_eq!(
        app.count("audit_events"),
        audit_before,
        "no attempt was even recorded"
    );
}

async fn sign_ins_are_recorded_in_the_audit_trail(app: TestApp) {
    app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let client = app.client();
    client
        .sign_in("olivia@acme.example", "wrong password here")
        .await;
    client
        .sign_in("nobody@acme.example", "wrong password here")
        .await;
    client.sign_in("olivia@acme.example", PASSWORD).await;
    assert_eq!(app.count_audit("login.failed"), 2);
    assert_eq!(app.count_audit("login.succeeded"), 1);
    let events = app.with_db(|conn| {
        use diesel::prelude::*;
        use gatehouse::db::schema::audit_events::dsl::*;
        audit_events
            .filter(action.like("login.%"))
            .order(id)
            .select((target_label, ip, actor_account_id))
            .load::<(Option<String>, Option<String>, Option<i64>)>(conn)
            .unwrap()
    });
    assert_eq!(events[1].0.as_deref(), Some("nobody@acme.example"));
    assert!(events.iter().all(|e| e.1.as_deref() == Some("127.0.0.1")));
    assert!(events[2].2.is_some(), "success names the account");
}

async fn health_check_answers_when_the_database_does(app: TestApp) {
    let page = app.client().get("/healthz").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body, "ok");
}

async fn viewing_pages_does_not_rewrite_the_session(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    let users = format!("/w/{}/users", ws.slug);
    client.get(&users).await;
    // A plain page view reads the session; it neither writes it nor sends a new cookie.
    for path in [users.clone(), format!("{users}/{}", ws.member_id)] {
        let page = client.get(&path).await;
        assert_eq!(page.status, 200);
        assert!(
            page.headers.get("set-cookie").is_none(),
            "{path} rewrote the session"
        );
    }
}
