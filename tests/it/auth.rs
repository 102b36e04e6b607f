//! Sign-in, sessions, CSRF, security headers.

use crate::support::{account_name, Client, TestApp, PASSWORD};
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
    ten_failures_from_one_address_refuse_even_the_right_password_there_and_say_when_to_retry,
    an_attackers_failures_from_another_address_do_not_lock_the_owner_out,
    failures_from_many_addresses_slow_the_account_with_a_growing_delay_not_a_wall,
    an_address_the_owner_signed_in_from_is_not_held_back_by_failures_elsewhere,
    a_completed_password_reset_lifts_the_sign_in_lock,
    sign_ins_beyond_the_session_cap_end_the_oldest_sessions_and_the_account_page_stays_short,
    a_post_naming_another_site_in_host_and_origin_is_refused_and_changes_nothing,
    idle_and_absolute_timeouts_end_a_session,
    oversized_bodies_and_unexpected_fields_are_refused_before_any_work,
    sign_ins_are_recorded_in_the_audit_trail,
    health_check_answers_when_the_database_does,
    viewing_pages_does_not_rewrite_the_session,
    pages_and_styles_are_compressed_and_every_page_masks_the_csrf_token_afresh,
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

/// The account's name, as stored.
fn stored_name(app: &TestApp) -> String {
    app.with_db(|conn| {
        use diesel::prelude::*;
        use gatehouse::db::schema::accounts;
        accounts::table
            .select(accounts::name)
            .first::<String>(conn)
            .unwrap()
    })
}

async fn a_post_naming_another_site_in_host_and_origin_is_refused_and_changes_nothing(
    app: TestApp,
) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    let token = client.get("/account").await.csrf();
    let ours = client.base.clone();
    let rename = |name: &'static str, headers: Vec<(&'static str, String)>| {
        let (client, token) = (&client, token.clone());
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            client
                .post_with_headers(
                    "/account/name",
                    &[("csrf_token", &token), ("name", name)],
                    &headers,
                )
                .await
        }
    };
    // A rebound DNS name: the browser sends our cookie with Host and Origin both naming it.
    let rebound = rename(
        "Evil One",
        vec![
            ("host", "evil.example".into()),
            ("origin", "http://evil.example".into()),
        ],
    )
    .await;
    assert_eq!(rebound.status, 403);
    let claims_same_origin = rename(
        "Evil Two",
        vec![
            ("sec-fetch-site", "same-origin".into()),
            ("origin", "http://evil.example".into()),
        ],
    )
    .await;
    assert_eq!(claims_same_origin.status, 403);
    let cross_site = rename(
        "Evil Three",
        vec![
            ("sec-fetch-site", "cross-site".into()),
            ("origin", ours.clone()),
        ],
    )
    .await;
    assert_eq!(cross_site.status, 403);
    // `Origin: null` (sent from no-referrer pages) is vouched for only by a browser's
    // same-origin Sec-Fetch-Site on a request addressed to our own name.
    let null_rebound = rename(
        "Evil Four",
        vec![
            ("host", "evil.example".into()),
            ("sec-fetch-site", "same-origin".into()),
            ("origin", "null".into()),
        ],
    )
    .await;
    assert_eq!(null_rebound.status, 403);
    let null_alone = rename("Evil Five", vec![("origin", "null".into())]).await;
    assert_eq!(null_alone.status, 403);
    assert_eq!(stored_name(&app), "Olivia Owner", "nothing changed");
    assert_eq!(app.count_audit("account.renamed"), 0);
    // The configured origin still works.
    let same_origin = rename(
        "Olivia O.",
        vec![("sec-fetch-site", "same-origin".into()), ("origin", ours)],
    )
    .await;
    assert_eq!(same_origin.status, 303);
    assert_eq!(stored_name(&app), "Olivia O.");
    let null_from_our_page = rename(
        "Olivia Owner",
        vec![
            ("sec-fetch-site", "same-origin".into()),
            ("origin", "null".into()),
        ],
    )
    .await;
    assert_eq!(
        null_from_our_page.status, 303,
        "what Chromium sends from our pages"
    );
    assert_eq!(
        client.get(&format!("/w/{}/users", ws.slug)).await.status,
        200
    );
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

/// Moves every audit event back in time, as if `seconds` had passed.
fn time_passes(app: &TestApp, seconds: i64) {
    app.with_db(|conn| {
        use diesel::prelude::*;
        use gatehouse::db::schema::audit_events;
        let events: Vec<(i64, chrono::NaiveDateTime)> = audit_events::table
            .select((audit_events::id, audit_events::created_at))
            .load(conn)
            .unwrap();
        for (id, at) in events {
            diesel::update(audit_events::table.find(id))
                .set(audit_events::created_at.eq(at - chrono::TimeDelta::seconds(seconds)))
                .execute(conn)
                .unwrap();
        }
    });
}

/// `n` wrong passwords for `email` from `client`, each refused with 422.
async fn fail_sign_ins(client: &Client, email: &str, n: i64) {
    for _ in 0..n {
        let page = client.sign_in(email, "wrong password here").await;
        assert_eq!(page.status, 422);
    }
}

const TOO_MANY: &str = "Too many failed sign-in attempts.";

async fn ten_failures_from_one_address_refuse_even_the_right_password_there_and_say_when_to_retry(
    app: TestApp,
) {
    use gatehouse::services::signin::MAX_FAILURES_PER_ACCOUNT_AND_CLIENT as LIMIT;
    app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let client = app.client();
    fail_sign_ins(&client, "olivia@acme.example", LIMIT).await;
    let throttled = client.sign_in("olivia@acme.example", PASSWORD).await;
    assert_eq!(
        throttled.status, 422,
        "the right password is refused while throttled"
    );
    throttled.assert_contains("Too many failed sign-in attempts. Try again in about 15 minutes.");
    assert!(client.session_cookie().is_some());
    assert_eq!(client.get("/account").await.status, 303, "not signed in");
    assert_eq!(app.count_audit("login.throttled"), 1);
    // An address without an account reads exactly the same, so nobody learns who exists.
    fail_sign_ins(&client, "nobody@acme.example", LIMIT).await;
    let unknown = client.sign_in("nobody@acme.example", PASSWORD).await;
    assert_eq!(unknown.status, 422);
    assert_eq!(
        throttled
            .body
            .replace("olivia@acme.example", "X")
            .replace(&throttled.csrf(), "T"),
        unknown
            .body
            .replace("nobody@acme.example", "X")
            .replace(&unknown.csrf(), "T"),
    );
    // Retrying while throttled does not prolong it: once the window passes, it works.
    time_passes(&app, 16 * 60);
    assert_eq!(
        client.sign_in("olivia@acme.example", PASSWORD).await.status,
        303
    );
}

async fn an_attackers_failures_from_another_address_do_not_lock_the_owner_out(app: TestApp) {
    use gatehouse::services::signin::MAX_FAILURES_PER_ACCOUNT_AND_CLIENT as LIMIT;
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let attacker = app.client_from(2);
    fail_sign_ins(&attacker, "olivia@acme.example", LIMIT + 2).await;
    let refused = attacker.sign_in("olivia@acme.example", PASSWORD).await;
    assert_eq!(
        refused.status, 422,
        "the attacker's address stays throttled"
    );
    refused.assert_contains(TOO_MANY);

    let owner = app.client();
    let signed_in = owner.sign_in("olivia@acme.example", PASSWORD).await;
    assert_eq!(
        (signed_in.status.as_u16(), signed_in.location.as_deref()),
        (303, Some("/"))
    );
    assert_eq!(
        owner.get(&format!("/w/{}/users", ws.slug)).await.status,
        200
    );
    let ips = app.with_db(|conn| {
        use diesel::prelude::*;
        use gatehouse::db::schema::audit_events;
        audit_events::table
            .filter(audit_events::action.eq("login.failed"))
            .select(audit_events::ip)
            .distinct()
            .load::<Option<String>>(conn)
            .unwrap()
    });
    assert_eq!(
        ips,
        [Some("127.0.0.2".to_string())],
        "failures name their client"
    );
}

async fn failures_from_many_addresses_slow_the_account_with_a_growing_delay_not_a_wall(
    app: TestApp,
) {
    use gatehouse::services::signin::{
        FREE_FAILURES_PER_ACCOUNT as FREE, MAX_FAILURES_PER_ACCOUNT_AND_CLIENT as LIMIT,
    };
    app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let mut octet = 10;
    let mut failed = 0;
    while failed < FREE {
        let n = LIMIT.min(FREE - failed);
        fail_sign_ins(&app.client_from(octet), "olivia@acme.example", n).await;
        failed += n;
        octet += 1;
    }
    // Past the free failures, anyone new waits 30 s after the last failure, right password or not.
    let newcomer = app.client_from(99);
    let waiting = newcomer.sign_in("olivia@acme.example", PASSWORD).await;
    assert_eq!(waiting.status, 422);
    waiting.assert_contains("Too many failed sign-in attempts. Try again in a minute.");
    time_passes(&app, 31);
    // One more failure doubles the wait: 31 s later it still holds, 61 s later it does not.
    assert_eq!(
        newcomer
            .sign_in("olivia@acme.example", "wrong password again")
            .await
            .status,
        422
    );
    time_passes(&app, 31);
    newcomer
        .sign_in("olivia@acme.example", PASSWORD)
        .await
        .assert_contains(TOO_MANY);
    time_passes(&app, 30);
    let through = newcomer.sign_in("olivia@acme.example", PASSWORD).await;
    assert_eq!(through.status, 303, "{}", through.body);
}

async fn an_address_the_owner_signed_in_from_is_not_held_back_by_failures_elsewhere(app: TestApp) {
    use gatehouse::services::signin::{
        FREE_FAILURES_PER_ACCOUNT as FREE, MAX_FAILURES_PER_ACCOUNT_AND_CLIENT as LIMIT,
    };
    app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let usual = app.client();
    assert_eq!(
        usual.sign_in("olivia@acme.example", PASSWORD).await.status,
        303
    );
    time_passes(&app, 60);
    let mut octet = 10;
    let mut failed = 0;
    while failed < FREE + 5 {
        let n = LIMIT.min(FREE + 5 - failed);
        fail_sign_ins(&app.client_from(octet), "olivia@acme.example", n).await;
        failed += n;
        octet += 1;
    }
    app.client_from(99)
        .sign_in("olivia@acme.example", PASSWORD)
        .await
        .assert_contains(TOO_MANY);
    let owner = app.client();
    let page = owner.sign_in("olivia@acme.example", PASSWORD).await;
    assert_eq!(page.status, 303, "{}", page.body);
}

async fn a_completed_password_reset_lifts_the_sign_in_lock(app: TestApp) {
    use gatehouse::services::signin::MAX_FAILURES_PER_ACCOUNT_AND_CLIENT as LIMIT;
    const NEW_PASSWORD: &str = "a brand new passphrase";
    app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let client = app.client();
    fail_sign_ins(&client, "olivia@acme.example", LIMIT).await;
    client
        .sign_in("olivia@acme.example", PASSWORD)
        .await
        .assert_contains(TOO_MANY);
    client
        .submit(
            "/forgot-password",
            "/forgot-password",
            &[("email", "olivia@acme.example")],
        )
        .await;
    let mails = app.mail.wait_for(1).await;
    let path = crate::support::link(&mails[0], "/reset/");
    let done = client
        .submit(
            &path,
            &path,
            &[
                ("new_password", NEW_PASSWORD),
                ("new_password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, 303);
    let page = client.sign_in("olivia@acme.example", NEW_PASSWORD).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(client.get("/account").await.status, 200);
}

/// Live (signed-in) session rows of one account.
fn live_sessions_of(app: &TestApp, email: &str) -> Vec<String> {
    use diesel::prelude::*;
    use gatehouse::db::schema::{email_addresses, sessions};
    app.with_db(|conn| {
        let account: i64 = email_addresses::table
            .filter(email_addresses::canonical.eq(email))
            .select(email_addresses::account_id)
            .first(conn)
            .unwrap();
        sessions::table
            .filter(sessions::account_id.eq(account))
            .filter(sessions::expires_at.gt(gatehouse::models::now()))
            .select(sessions::id_hash)
            .load(conn)
            .unwrap()
    })
}

async fn sign_ins_beyond_the_session_cap_end_the_oldest_sessions_and_the_account_page_stays_short(
    app: TestApp,
) {
    use gatehouse::services::account::MAX_SESSIONS_PER_ACCOUNT as CAP;
    app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let mut clients = Vec::new();
    for _ in 0..CAP + 5 {
        let client = app.client();
        assert_eq!(
            client.sign_in("olivia@acme.example", PASSWORD).await.status,
            303
        );
        clients.push(client);
    }
    assert_eq!(live_sessions_of(&app, "olivia@acme.example").len(), CAP);
    // Each sign-in beyond the cap recorded the session it ended, from its own address.
    let ended: Vec<(Option<String>, String)> = app.with_db(|conn| {
        use diesel::prelude::*;
        use gatehouse::db::schema::audit_events;
        audit_events::table
            .filter(audit_events::action.eq("account.sessions_ended"))
            .select((audit_events::ip, audit_events::changes))
            .load(conn)
            .unwrap()
    });
    assert_eq!(ended.len(), 5, "{ended:?}");
    for (ip, changes) in &ended {
        assert_eq!(ip.as_deref(), Some("127.0.0.1"));
        assert!(changes.contains("\"sessions_ended\":1"), "{changes}");
    }
    let log = clients.last().unwrap().get("/w/acme/audit").await;
    log.assert_contains("account.sessions_ended");
    log.assert_contains("a new sign-in beyond the limit of 10 sessions");
    for (i, client) in clients.iter().enumerate() {
        let expected = if i < 5 { 303 } else { 200 };
        assert_eq!(
            client.get("/account").await.status,
            expected,
            "sign-in {i}: the oldest five ended, the newest {CAP} live"
        );
    }
    let newest = clients.last().unwrap();
    let page = newest.get("/account").await;
    assert_eq!(page.body.matches("/end\"").count(), CAP);
    let this = page
        .body
        .find("This session")
        .expect("the current session is marked");
    let second_row = page.body.match_indices("/end\"").nth(1).unwrap().0;
    assert!(this < second_row, "the current session is listed first");
    assert_eq!(
        newest
            .submit("/account", "/account/name", &[("name", "Olivia O.")])
            .await
            .status,
        303
    );

    // Sessions made before the cap existed: the page still lists at most the cap.
    app.with_db(|conn| {
        use diesel::prelude::*;
        use gatehouse::db::schema::{email_addresses, sessions};
        let account: i64 = email_addresses::table
            .filter(email_addresses::canonical.eq("olivia@acme.example"))
            .select(email_addresses::account_id)
            .first(conn)
            .unwrap();
        let now = gatehouse::models::now();
        for i in 0..20 {
            diesel::insert_into(sessions::table)
                .values((
                    sessions::id_hash.eq(format!("old-session-{i}")),
                    sessions::account_id.eq(account),
                    sessions::state.eq("{}"),
                    sessions::created_at.eq(now + chrono::TimeDelta::seconds(i + 1)),
                    sessions::expires_at.eq(now + chrono::TimeDelta::minutes(30)),
                ))
                .execute(conn)
                .unwrap();
        }
    });
    let page = newest.get("/account").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body.matches("/end\"").count(), CAP);
    let this = page
        .body
        .find("This session")
        .expect("the current session is listed");
    let second_row = page.body.match_indices("/end\"").nth(1).unwrap().0;
    assert!(this < second_row, "the current session is listed first");
    // The next sign-in brings the account back to the cap.
    assert_eq!(
        app.client()
            .sign_in("olivia@acme.example", PASSWORD)
            .await
            .status,
        303
    );
    assert_eq!(live_sessions_of(&app, "olivia@acme.example").len(), CAP);
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

async fn pages_and_styles_are_compressed_and_every_page_masks_the_csrf_token_afresh(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    // The stylesheet is linked by a content-hashed name and cached for good.
    let users = client.get(&format!("/w/{}/users", ws.slug)).await;
    let start = users.body.find("/static/app.").expect("stylesheet link");
    let end = start + users.body[start..].find('"').expect("end of link");
    let stylesheet = users.body[start..end].to_string();
    assert!(stylesheet.ends_with(".css") && stylesheet.len() > "/static/app.css".len());
    let styles = client.get(&stylesheet).await;
    assert_eq!(styles.status, 200);
    assert_eq!(
        styles
            .headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(client.get("/static/app.0000dead.css").await.status, 404);
    for (path, encoding) in [
        (format!("/w/{}/users?q=olivia", ws.slug), "gzip"),
        (stylesheet.clone(), "br"),
        ("/account".to_string(), "gzip"),
    ] {
        let response = client
            .http
            .get(format!("{}{path}", client.base))
            .header("accept-encoding", encoding)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response
                .headers()
                .get("content-encoding")
                .and_then(|v| v.to_str().ok()),
            Some(encoding),
            "{path}"
        );
    }
    // The token differs on every page (so compressed sizes reveal nothing of it), and
    // each of them is accepted.
    let (a, b) = (
        client.get("/account").await.csrf(),
        client.get("/account").await.csrf(),
    );
    assert_ne!(a, b);
    for token in [a, b] {
        let renamed = client
            .post_raw(
                "/account/name",
                &[("csrf_token", &token), ("name", "Olivia O.")],
            )
            .await;
        assert_eq!(renamed.status, 303);
    }
    let forged = client
        .post_raw(
            "/account/name",
            &[("csrf_token", &"A".repeat(86)), ("name", "Mallory")],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(account_name(&app, "olivia@acme.example"), "Olivia O.");
}
