//! Account self-service end to end: name, password, email addresses and their links,
//! sessions, leaving a workspace, and the forgotten password — over HTTP, with mail
//! received on the loopback SMTP server.

use diesel::prelude::*;
use gatehouse::db::schema::{account_tokens, accounts, email_addresses, members, sessions};
use gatehouse::permissions::BuiltinRole;

use crate::support::{address_id, address_state, link, mail_to, Client, Page, TestApp, PASSWORD};
use crate::tests;

tests![
    a_member_adds_an_address_verifies_it_makes_it_primary_and_signs_in_with_it,
    adding_an_address_needs_the_current_password,
    the_last_address_and_the_primary_cannot_be_removed,
    another_accounts_address_is_not_found,
    a_verification_link_confirms_only_its_own_address_and_only_once,
    adding_an_unverified_address_again_sends_a_fresh_link_and_the_old_one_stops_working,
    an_address_another_account_verified_first_is_refused_with_a_clear_message,
    changing_the_password_ends_other_sessions_but_keeps_this_one,
    a_wrong_current_password_or_a_weak_new_one_is_refused_with_422,
    forgot_password_reads_the_same_for_an_unknown_address_and_sends_no_mail,
    a_reset_link_works_once_and_ends_every_session,
    double_submitted_links_are_used_once,
    forgot_password_is_throttled_per_address,
    sessions_are_listed_and_an_ended_session_stops_working_at_once,
    the_owner_cannot_leave_and_nothing_changes,
    a_member_leaves_frees_the_seat_and_loses_the_workspace,
    account_posts_without_a_csrf_token_are_refused_and_change_nothing,
    a_new_name_is_saved_for_search_and_sorting_and_markup_is_escaped,
];

const NEW_PASSWORD: &str = "a brand new passphrase";

struct Ws {
    id: i64,
    slug: String,
}

fn workspace(app: &TestApp) -> Ws {
    let created = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    Ws {
        id: created.workspace_id,
        slug: created.slug,
    }
}

async fn signed_in(app: &TestApp, email: &str) -> Client {
    let client = app.client();
    assert_eq!(client.sign_in(email, PASSWORD).await.status, 303);
    client
}

/// A workspace with Mia, a Member, signed in.
async fn mia(app: &TestApp) -> (Ws, Client) {
    let ws = workspace(app);
    app.add_member(ws.id, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    let client = signed_in(app, "mia@acme.example").await;
    (ws, client)
}

async fn add_address(client: &Client, email: &str, password: &str) -> Page {
    client
        .submit(
            "/account",
            "/account/emails",
            &[("email", email), ("current_password", password)],
        )
        .await
}

async fn a_member_adds_an_address_verifies_it_makes_it_primary_and_signs_in_with_it(app: TestApp) {
    let (_ws, client) = mia(&app).await;
    let page = client.get("/account").await;
    assert_eq!(page.status, 200);
    page.assert_contains("mia@acme.example");
    page.assert_contains("href=\"/account\" aria-current=\"page\"");

    let added = add_address(&client, "Mia@Home.example", PASSWORD).await;
    assert_eq!(
        (added.status.as_u16(), added.location.as_deref()),
        (303, Some("/account"))
    );
    client
        .get("/account")
        .await
        .assert_contains("We sent a confirmation link to Mia@Home.example");
    assert_eq!(
        address_state(&app, "mia@home.example"),
        Some((false, false))
    );
    let mails = app.mail.wait_for(2).await;
    let verify = mail_to(&mails, "mia@home.example", "Confirm your email address");
    let notice = mail_to(
        &mails,
        "mia@acme.example",
        "An email address was added to your Gatehouse account",
    );
    assert!(notice.text.contains("Mia@Home.example"), "{}", notice.text);
    let path = link(verify, "/account/emails/verify/");
    assert!(
        verify.text.contains(&format!("{}{path}", app.base_url)),
        "links use the base URL"
    );

    // Opening the link changes nothing: a page with a button.
    let opened = client.get(&path).await;
    assert_eq!(opened.status, 200);
    opened.assert_contains("Confirm that <strong>Mia@Home.example</strong> is your address?");
    assert_eq!(opened.headers["referrer-policy"], "no-referrer");
    assert_eq!(
        address_state(&app, "mia@home.example"),
        Some((false, false))
    );
    // An unverified address cannot become primary.
    let id = address_id(&app, "mia@home.example");
    let early = client
        .submit(
            "/account",
            &format!("/account/emails/{id}/primary"),
            &[("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(early.status, 422);
    early.assert_contains("Confirm this address before making it primary");

    assert_eq!(
        client.post_raw(&path, &[]).await.status,
        403,
        "no csrf_token"
    );
    assert_eq!(
        address_state(&app, "mia@home.example"),
        Some((false, false))
    );
    let confirmed = client.submit(&path, &path, &[]).await;
    assert_eq!(confirmed.location.as_deref(), Some("/account"));
    client
        .get("/account")
        .await
        .assert_contains("Mia@Home.example is confirmed.");
    assert_eq!(address_state(&app, "mia@home.example"), Some((true, false)));
    assert_eq!(app.count_audit("account.email_verified"), 1);

    // Making it primary needs the current password.
    let wrong = client
        .submit(
            "/account",
            &format!("/account/emails/{id}/primary"),
            &[("current_password", "not my password at all")],
        )
        .await;
    assert_eq!(wrong.status, 422);
    wrong.assert_contains("That is not your current password");
    assert_eq!(address_state(&app, "mia@home.example"), Some((true, false)));
    let made = client
        .submit(
            "/account",
            &format!("/account/emails/{id}/primary"),
            &[("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(made.location.as_deref(), Some("/account"));
    assert_eq!(address_state(&app, "mia@home.example"), Some((true, true)));
    assert_eq!(address_state(&app, "mia@acme.example"), Some((true, false)));
    let mails = app.mail.wait_for(3).await;
    let told = mail_to(
        &mails,
        "mia@acme.example",
        "Your Gatehouse sign-in address changed",
    );
    assert!(told.text.contains("Mia@Home.example"), "{}", told.text);

    // Sign out; the new primary is the login, the old one no longer is.
    let token = client.get("/account").await.csrf();
    client.post_raw("/logout", &[("csrf_token", &token)]).await;
    let fresh = app.client();
    assert_eq!(
        fresh.sign_in("mia@acme.example", PASSWORD).await.status,
        422
    );
    assert_eq!(
        fresh.sign_in("mia@home.example", PASSWORD).await.status,
        303
    );
    fresh
        .get("/account")
        .await
        .assert_contains("Signed in as Mia Member (Mia@Home.example)");
}

async fn adding_an_address_needs_the_current_password(app: TestApp) {
    let (_ws, client) = mia(&app).await;
    let before = app.count("email_addresses");
    let page = add_address(&client, "mia@home.example", "not my password at all").await;
    assert_eq!(page.status, 422);
    page.assert_contains("That is not your current password");
    page.assert_contains("aria-describedby=\"email-current-error\"");
    page.assert_contains("value=\"mia@home.example\"");
    page.assert_lacks("not my password at all");
    let invalid = add_address(&client, "not an address", PASSWORD).await;
    assert_eq!(invalid.status, 422);
    invalid.assert_contains("new-email-error");
    // Someone else's verified address cannot be added.
    let taken = add_address(&client, "olivia@acme.example", PASSWORD).await;
    assert_eq!(taken.status, 422);
    taken.assert_contains("belongs to another account");
    assert_eq!(app.count("email_addresses"), before);
    assert_eq!(app.count("outbox"), 0);
    assert_eq!(app.count("account_tokens"), 0);
    actix_web::rt::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(app.mail.received().is_empty());
}

async fn the_last_address_and_the_primary_cannot_be_removed(app: TestApp) {
    let (_ws, client) = mia(&app).await;
    let only = address_id(&app, "mia@acme.example");
    let refused = client
        .submit("/account", &format!("/account/emails/{only}/delete"), &[])
        .await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("only address of your account");
    assert_eq!(address_state(&app, "mia@acme.example"), Some((true, true)));

    assert_eq!(
        add_address(&client, "mia@home.example", PASSWORD)
            .await
            .status,
        303
    );
    let primary = client
        .submit("/account", &format!("/account/emails/{only}/delete"), &[])
        .await;
    assert_eq!(primary.status, 422);
    primary.assert_contains("Make another verified address primary first");
    assert_eq!(address_state(&app, "mia@acme.example"), Some((true, true)));

    // The other one goes, and the primary is told.
    let other = address_id(&app, "mia@home.example");
    let removed = client
        .submit("/account", &format!("/account/emails/{other}/delete"), &[])
        .await;
    assert_eq!(removed.location.as_deref(), Some("/account"));
    assert_eq!(address_state(&app, "mia@home.example"), None);
    assert_eq!(app.count("account_tokens"), 0, "its link went with it");
    let mails = app.mail.wait_for(3).await;
    mail_to(
        &mails,
        "mia@acme.example",
        "An email address was removed from your Gatehouse account",
    );
}

async fn another_accounts_address_is_not_found(app: TestApp) {
    let (_ws, client) = mia(&app).await;
    let olivias = address_id(&app, "olivia@acme.example");
    for action in ["primary", "delete"] {
        let page = client
            .submit(
                "/account",
                &format!("/account/emails/{olivias}/{action}"),
                &[("current_password", PASSWORD)],
            )
            .await;
        // The delete form has no password field: unknown fields are a 400 before any work.
        if action == "delete" {
            assert_eq!(page.status, 400);
            let page = client
                .submit(
                    "/account",
                    &format!("/account/emails/{olivias}/delete"),
                    &[],
                )
                .await;
            assert_eq!(page.status, 404);
        } else {
            assert_eq!(page.status, 404);
        }
    }
    let wrong_password = client
        .submit(
            "/account",
            &format!("/account/emails/{olivias}/primary"),
            &[("current_password", "not my password at all")],
        )
        .await;
    assert_eq!(wrong_password.status, 404);
    assert_eq!(
        address_state(&app, "olivia@acme.example"),
        Some((true, true))
    );
    assert_eq!(app.count("outbox"), 0);
}

async fn a_verification_link_confirms_only_its_own_address_and_only_once(app: TestApp) {
    let (_ws, client) = mia(&app).await;
    add_address(&client, "a@home.example", PASSWORD).await;
    let mails = app.mail.wait_for(2).await;
    let link_a = link(
        mail_to(&mails, "a@home.example", "Confirm your email address"),
        "/account/emails/verify/",
    );
    add_address(&client, "b@home.example", PASSWORD).await;
    let mails = app.mail.wait_for(4).await;
    let link_b = link(
        mail_to(&mails, "b@home.example", "Confirm your email address"),
        "/account/emails/verify/",
    );

    // A's link, posted while B is pending, confirms A and leaves B alone.
    let used = client.submit(&link_a, &link_a, &[]).await;
    assert_eq!(used.status, 303);
    assert_eq!(address_state(&app, "a@home.example"), Some((true, false)));
    assert_eq!(address_state(&app, "b@home.example"), Some((false, false)));

    // Replayed, it is refused and changes nothing.
    let token = client.get("/account").await.csrf();
    let replay = client.post_raw(&link_a, &[("csrf_token", &token)]).await;
    assert_eq!(replay.status, 410);
    replay.assert_contains("already been used");
    assert_eq!(address_state(&app, "b@home.example"), Some((false, false)));

    // A tampered token is unknown.
    let mut tampered = link_b.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let forged = client.post_raw(&tampered, &[("csrf_token", &token)]).await;
    assert_eq!(forged.status, 404);
    assert_eq!(client.get(&tampered).await.status, 404);
    assert_eq!(address_state(&app, "b@home.example"), Some((false, false)));

    // Another account signed in cannot use B's link.
    let olivia = signed_in(&app, "olivia@acme.example").await;
    assert_eq!(olivia.get(&link_b).await.status, 403);
    assert_eq!(olivia.submit(&link_b, &link_b, &[]).await.status, 403);
    assert_eq!(address_state(&app, "b@home.example"), Some((false, false)));
    // Signed out, the link asks to sign in first.
    let anonymous = app.client().get(&link_b).await;
    assert_eq!(anonymous.status, 303);
    assert!(anonymous
        .location
        .as_deref()
        .unwrap()
        .starts_with("/login?next="));

    // B's own link still works for B.
    assert_eq!(client.submit(&link_b, &link_b, &[]).await.status, 303);
    assert_eq!(address_state(&app, "b@home.example"), Some((true, false)));
    assert_eq!(app.count_audit("account.email_verified"), 2);
}

async fn adding_an_unverified_address_again_sends_a_fresh_link_and_the_old_one_stops_working(
    app: TestApp,
) {
    let (_ws, client) = mia(&app).await;
    add_address(&client, "mia@home.example", PASSWORD).await;
    let mails = app.mail.wait_for(2).await;
    let first = link(
        mail_to(&mails, "mia@home.example", "Confirm your email address"),
        "/account/emails/verify/",
    );
    let again = add_address(&client, "MIA@home.example", PASSWORD).await;
    assert_eq!(again.status, 303);
    client
        .get("/account")
        .await
        .assert_contains("earlier links no longer work");
    let mails = app.mail.wait_for(3).await;
    assert_eq!(mails.len(), 3, "no second notice to the primary: {mails:?}");
    let second = link(&mails[2], "/account/emails/verify/");
    assert_ne!(first, second);
    assert_eq!(app.count("email_addresses"), 3);
    assert_eq!(client.get(&first).await.status, 410);
    assert_eq!(client.submit(&second, &second, &[]).await.status, 303);
    assert_eq!(address_state(&app, "mia@home.example"), Some((true, false)));
    // Adding a confirmed address again is refused.
    let dup = add_address(&client, "mia@home.example", PASSWORD).await;
    assert_eq!(dup.status, 422);
    dup.assert_contains("already on your account");
}

async fn an_address_another_account_verified_first_is_refused_with_a_clear_message(app: TestApp) {
    let (ws, client) = mia(&app).await;
    add_address(&client, "shared@home.example", PASSWORD).await;
    let mails = app.mail.wait_for(2).await;
    let path = link(
        mail_to(&mails, "shared@home.example", "Confirm your email address"),
        "/account/emails/verify/",
    );
    // Meanwhile another account proves the address (an accepted invite, say).
    app.add_member(
        ws.id,
        "shared@home.example",
        "Sam Shared",
        BuiltinRole::Viewer,
    );
    let refused = client.submit(&path, &path, &[]).await;
    assert_eq!(refused.status, 409);
    refused.assert_contains("Another account has confirmed this address first");
    let mine: Vec<(bool, i64)> = app.with_db(|conn| {
        email_addresses::table
            .filter(email_addresses::canonical.eq("shared@home.example"))
            .order(email_addresses::id)
            .select((email_addresses::verified, email_addresses::account_id))
            .load(conn)
            .unwrap()
    });
    assert_eq!(mine.len(), 2);
    assert!(!mine[0].0, "Mia's copy stays unverified");
    assert!(mine[1].0, "Sam's stays verified");
    // The transaction still commits cleanly afterwards (PostgreSQL): the page works.
    assert_eq!(client.get("/account").await.status, 200);
}

async fn changing_the_password_ends_other_sessions_but_keeps_this_one(app: TestApp) {
    let (_ws, client) = mia(&app).await;
    let other = signed_in(&app, "mia@acme.example").await;
    assert_eq!(other.get("/account").await.status, 200);
    let listed = client.get("/account").await;
    assert_eq!(listed.body.matches("This session").count(), 1);
    assert_eq!(listed.body.matches("/account/sessions/").count(), 3);

    let old_cookie = client.session_cookie().unwrap();
    let changed = client
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(changed.location.as_deref(), Some("/account"));
    let page = client.get("/account").await;
    assert_eq!(page.status, 200, "this session stays");
    page.assert_contains("Your password was changed. Your other session was signed out.");
    let gone = other.get("/account").await;
    assert_eq!(gone.status, 303);
    assert_eq!(gone.location.as_deref(), Some("/login?next=%2Faccount"));
    assert_eq!(app.count("sessions"), 1);
    let copied = Client::with_cookie(&app.base_url, &old_cookie);
    assert_eq!(
        copied.get("/account").await.status,
        303,
        "this session continues under a new key"
    );
    assert_eq!(app.count_audit("account.password_changed"), 1);
    let mails = app.mail.wait_for(1).await;
    mail_to(
        &mails,
        "mia@acme.example",
        "Your Gatehouse password was changed",
    );
    let fresh = app.client();
    assert_eq!(
        fresh.sign_in("mia@acme.example", PASSWORD).await.status,
        422
    );
    assert_eq!(
        fresh.sign_in("mia@acme.example", NEW_PASSWORD).await.status,
        303
    );
}

async fn a_wrong_current_password_or_a_weak_new_one_is_refused_with_422(app: TestApp) {
    let (_ws, client) = mia(&app).await;
    let other = signed_in(&app, "mia@acme.example").await;
    let hash_before: Option<String> = app.with_db(|conn| {
        accounts::table
            .select(accounts::password_hash)
            .order(accounts::id.desc())
            .first(conn)
            .unwrap()
    });
    let wrong = client
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", "not my password at all"),
                ("new_password", NEW_PASSWORD),
                ("new_password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(wrong.status, 422);
    wrong.assert_contains("That is not your current password");
    wrong.assert_contains("aria-describedby=\"pw-current-error\"");
    wrong.assert_lacks("not my password at all");
    wrong.assert_lacks(NEW_PASSWORD);
    let weak = client
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "short"),
                ("new_password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(weak.status, 422);
    weak.assert_contains("pw-new-error");
    let mismatch = client
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_confirm", "a different passphrase"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, 422);
    mismatch.assert_contains("The passwords do not match");
    let hash_after: Option<String> = app.with_db(|conn| {
        accounts::table
            .select(accounts::password_hash)
            .order(accounts::id.desc())
            .first(conn)
            .unwrap()
    });
    assert_eq!(hash_before, hash_after);
    assert_eq!(other.get("/account").await.status, 200, "nothing ended");
    assert_eq!(app.count_audit("account.password_changed"), 0);
}

async fn forgot_password_reads_the_same_for_an_unknown_address_and_sends_no_mail(app: TestApp) {
    workspace(&app);
    let client = app.client();
    let login = client.get("/login").await;
    login.assert_contains("href=\"/forgot-password\"");
    let unknown = client
        .submit(
            "/forgot-password",
            "/forgot-password",
            &[("email", "nobody@acme.example")],
        )
        .await;
    let known = client
        .submit(
            "/forgot-password",
            "/forgot-password",
            &[("email", "olivia@acme.example")],
        )
        .await;
    assert_eq!(unknown.status, 200);
    assert_eq!(known.status, 200);
    assert_eq!(unknown.body, known.body, "the same page, word for word");
    unknown.assert_contains("If an account uses that address");
    let mails = app.mail.wait_for(1).await;
    actix_web::rt::time::sleep(std::time::Duration::from_millis(300)).await;
    let mails = if app.mail.received().len() > mails.len() {
        app.mail.received()
    } else {
        mails
    };
    assert_eq!(mails.len(), 1, "no mail for the unknown address: {mails:?}");
    assert_eq!(mails[0].to, "olivia@acme.example");
    assert_eq!(mails[0].subject, "Reset your Gatehouse password");
}

async fn a_reset_link_works_once_and_ends_every_session(app: TestApp) {
    workspace(&app);
    let olivia = signed_in(&app, "olivia@acme.example").await;
    let client = app.client();
    client
        .submit(
            "/forgot-password",
            "/forgot-password",
            &[("email", "Olivia@Acme.example")],
        )
        .await;
    let mails = app.mail.wait_for(1).await;
    let path = link(&mails[0], "/reset/");
    assert!(mails[0].text.contains(&format!("{}{path}", app.base_url)));
    let expires: chrono::NaiveDateTime = app.with_db(|conn| {
        account_tokens::table
            .select(account_tokens::expires_at)
            .first(conn)
            .unwrap()
    });
    let minutes = (expires - chrono::Utc::now().naive_utc()).num_minutes();
    assert!((29..=60).contains(&minutes), "expires in {minutes} min");

    // Opening it changes nothing.
    let opened = client.get(&path).await;
    assert_eq!(opened.status, 200);
    assert_eq!(opened.headers["referrer-policy"], "no-referrer");
    opened.assert_contains("name=\"new_password\"");
    assert_eq!(olivia.get("/account").await.status, 200);

    let no_token = client
        .post_raw(
            &path,
            &[
                ("new_password", NEW_PASSWORD),
                ("new_password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(no_token.status, 403);
    assert_eq!(olivia.get("/account").await.status, 200, "nothing changed");
    let weak = client
        .submit(
            &path,
            &path,
            &[("new_password", "short"), ("new_password_confirm", "short")],
        )
        .await;
    assert_eq!(weak.status, 422);
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
    assert_eq!(done.location.as_deref(), Some("/login"));
    client
        .get("/login")
        .await
        .assert_contains("Sign in with the new password");
    assert_eq!(olivia.get("/account").await.status, 303, "sessions ended");
    let used_at: Option<chrono::NaiveDateTime> = app.with_db(|conn| {
        account_tokens::table
            .select(account_tokens::used_at)
            .first(conn)
            .unwrap()
    });
    assert!(used_at.is_some());
    assert_eq!(app.count_audit("account.password_reset"), 1);

    // Used once, never again.
    let again = client.get(&path).await;
    assert_eq!(again.status, 410);
    let token = client.get("/forgot-password").await.csrf();
    let replay = client
        .post_raw(
            &path,
            &[
                ("csrf_token", &token),
                ("new_password", "yet another passphrase"),
                ("new_password_confirm", "yet another passphrase"),
            ],
        )
        .await;
    assert_eq!(replay.status, 410);
    let fresh = app.client();
    assert_eq!(
        fresh
            .sign_in("olivia@acme.example", "yet another passphrase")
            .await
            .status,
        422
    );
    assert_eq!(
        fresh
            .sign_in("olivia@acme.example", NEW_PASSWORD)
            .await
            .status,
        303
    );
}

async fn double_submitted_links_are_used_once(app: TestApp) {
    let (_ws, client) = mia(&app).await;
    add_address(&client, "mia@home.example", PASSWORD).await;
    let mails = app.mail.wait_for(2).await;
    let verify = link(
        mail_to(&mails, "mia@home.example", "Confirm your email address"),
        "/account/emails/verify/",
    );
    let token = client.get(&verify).await.csrf();
    let fields = [("csrf_token", token.as_str())];
    let (a, b) = tokio::join!(
        client.post_raw(&verify, &fields),
        client.post_raw(&verify, &fields)
    );
    let mut codes = [a.status.as_u16(), b.status.as_u16()];
    codes.sort_unstable();
    assert_eq!(codes, [303, 410]);
    assert_eq!(app.count_audit("account.email_verified"), 1);

    let other = app.client();
    other
        .submit(
            "/forgot-password",
            "/forgot-password",
            &[("email", "mia@acme.example")],
        )
        .await;
    let mails = app.mail.wait_for(3).await;
    let reset = link(
        mail_to(&mails, "mia@acme.example", "Reset your Gatehouse password"),
        "/reset/",
    );
    let token = other.get(&reset).await.csrf();
    let fields = [
        ("csrf_token", token.as_str()),
        ("new_password", NEW_PASSWORD),
        ("new_password_confirm", NEW_PASSWORD),
    ];
    let (a, b) = tokio::join!(
        other.post_raw(&reset, &fields),
        other.post_raw(&reset, &fields)
    );
    let mut codes = [a.status.as_u16(), b.status.as_u16()];
    codes.sort_unstable();
    assert_eq!(codes, [303, 410]);
    assert_eq!(app.count_audit("account.password_reset"), 1);
}

async fn forgot_password_is_throttled_per_address(app: TestApp) {
    workspace(&app);
    let client = app.client();
    for _ in 0..5 {
        let page = client
            .submit(
                "/forgot-password",
                "/forgot-password",
                &[("email", "olivia@acme.example")],
            )
            .await;
        assert_eq!(page.status, 200);
        page.assert_contains("If an account uses that address");
    }
    app.mail.wait_for(3).await;
    actix_web::rt::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(app.mail.received().len(), 3);
    assert_eq!(app.count_audit("password.reset_requested"), 5);
    // Only the newest link works.
    let live: i64 = app.with_db(|conn| {
        account_tokens::table
            .filter(account_tokens::used_at.is_null())
            .count()
            .get_result(conn)
            .unwrap()
    });
    assert_eq!(live, 1);
}

/// The sessions table's opaque ids, and which one is marked "This session".
fn session_ids(page: &Page) -> (Option<String>, Vec<String>) {
    let marker = "action=\"/account/sessions/";
    let mut current = None;
    let mut ids = Vec::new();
    for row in page.body.split("<tr>").skip(1) {
        let Some(at) = row.find(marker) else { continue };
        let rest = &row[at + marker.len()..];
        let id = rest[..rest.find('/').unwrap()].to_string();
        if row.contains("This session") {
            assert!(current.is_none(), "one session is marked");
            current = Some(id.clone());
        }
        ids.push(id);
    }
    (current, ids)
}

async fn sessions_are_listed_and_an_ended_session_stops_working_at_once(app: TestApp) {
    let (_ws, client) = mia(&app).await;
    let phone = app.client();
    phone
        .submit(
            "/login",
            "/login",
            &[
                ("email", "mia@acme.example"),
                ("password", PASSWORD),
                ("next", ""),
            ],
        )
        .await;
    let laptop = signed_in(&app, "mia@acme.example").await;
    let page = client.get("/account").await;
    // Opaque ids: never the cookie's key, never the stored hash.
    let cookie = client.session_cookie().unwrap();
    page.assert_lacks(&cookie);
    let hashes: Vec<String> = app.with_db(|conn| {
        sessions::table
            .select(sessions::id_hash)
            .load(conn)
            .unwrap()
    });
    assert_eq!(hashes.len(), 3);
    for hash in &hashes {
        page.assert_lacks(hash);
    }
    page.assert_contains("127.0.0.1");
    let (my_id, ids) = session_ids(&page);
    assert_eq!(ids.len(), 3);
    let my_id = my_id.expect("this session is marked");
    let (laptop_id, _) = session_ids(&laptop.get("/account").await);
    let laptop_id = laptop_id.expect("the laptop sees its own session marked");
    assert_ne!(my_id, laptop_id);
    let phone_id = ids
        .iter()
        .find(|id| **id != my_id && **id != laptop_id)
        .unwrap()
        .clone();
    let ended = client
        .submit(
            "/account",
            &format!("/account/sessions/{phone_id}/end"),
            &[],
        )
        .await;
    assert_eq!(ended.location.as_deref(), Some("/account"));
    assert_eq!(phone.get("/account").await.status, 303, "at once");
    assert_eq!(laptop.get("/account").await.status, 200);
    // Another account cannot end it.
    let olivia = signed_in(&app, "olivia@acme.example").await;
    let theirs = olivia
        .submit(
            "/account",
            &format!("/account/sessions/{laptop_id}/end"),
            &[],
        )
        .await;
    assert_eq!(theirs.status, 404);
    assert_eq!(laptop.get("/account").await.status, 200);
    // Unknown (already ended) ids are a 404.
    let again = client
        .submit(
            "/account",
            &format!("/account/sessions/{phone_id}/end"),
            &[],
        )
        .await;
    assert_eq!(again.status, 404);

    let others = client
        .submit("/account", "/account/sessions/end-others", &[])
        .await;
    assert_eq!(others.location.as_deref(), Some("/account"));
    assert_eq!(laptop.get("/account").await.status, 303);
    assert_eq!(client.get("/account").await.status, 200);
    assert_eq!(app.count("sessions"), 2, "this one and Olivia's");

    // Ending this session signs out.
    let out = client
        .submit("/account", &format!("/account/sessions/{my_id}/end"), &[])
        .await;
    assert_eq!(out.location.as_deref(), Some("/login"));
    assert_eq!(client.get("/account").await.status, 303);
}

async fn the_owner_cannot_leave_and_nothing_changes(app: TestApp) {
    let ws = workspace(&app);
    let client = signed_in(&app, "olivia@acme.example").await;
    let page = client.get("/account").await;
    page.assert_contains("The Owner cannot leave");
    page.assert_lacks("/leave\"");
    let before = app.workspace(&ws.slug).active_members;
    let refused = client
        .submit("/account", &format!("/w/{}/leave", ws.slug), &[])
        .await;
    // A rule said no: the page holding the button again, with the message (422).
    assert_eq!(refused.status, 422);
    refused.assert_contains("Transfer ownership to an Admin before leaving");
    assert_eq!(app.workspace(&ws.slug).active_members, before);
    let status: String = app.with_db(|conn| {
        members::table
            .filter(members::workspace_id.eq(ws.id))
            .select(members::status)
            .first(conn)
            .unwrap()
    });
    assert_eq!(status, "active");
    assert_eq!(app.count_audit("member.left"), 0);
    assert_eq!(client.get("/w/acme/users").await.status, 200);
}

async fn a_member_leaves_frees_the_seat_and_loses_the_workspace(app: TestApp) {
    let ws = workspace(&app);
    let member_id = app.add_member(ws.id, "ada@acme.example", "Ada Admin", BuiltinRole::Admin);
    let ada = signed_in(&app, "ada@acme.example").await;
    // Ada's pending invite is revoked when she leaves.
    let member_role = app.role_id(ws.id, BuiltinRole::Member).to_string();
    let invited = ada
        .submit(
            "/w/acme/invites",
            "/w/acme/invites",
            &[
                ("emails", "newbie@example.com"),
                ("seat_type", "member"),
                ("role", &member_role),
            ],
        )
        .await;
    assert_eq!(invited.status, 303);
    let before = app.workspace(&ws.slug).active_members;
    assert_eq!(before, 2);
    let page = ada.get("/account").await;
    page.assert_contains("action=\"/w/acme/leave\"");
    // Leaving asks first (SPEC: "after a confirmation"): the question changes nothing.
    let asked = ada.submit("/account", "/w/acme/leave", &[]).await;
    assert_eq!(asked.status, 200);
    asked.assert_contains("<h1>Leave Acme?</h1>");
    asked.assert_contains("has to invite you again");
    asked.assert_contains("name=\"confirm\" value=\"yes\"");
    assert_eq!(app.workspace(&ws.slug).active_members, 2);
    assert_eq!(app.count_audit("member.left"), 0);
    let left = ada
        .submit("/account", "/w/acme/leave", &[("confirm", "yes")])
        .await;
    assert_eq!(left.location.as_deref(), Some("/account"));
    let page = ada.get("/account").await;
    page.assert_contains("You left Acme.");
    page.assert_contains("You are not a member of any workspace.");
    assert_eq!(app.workspace(&ws.slug).active_members, 1);
    let (status, roles): (String, i64) = app.with_db(|conn| {
        use gatehouse::db::schema::member_roles;
        let status = members::table
            .find(member_id)
            .select(members::status)
            .first(conn)
            .unwrap();
        let roles = member_roles::table
            .filter(member_roles::member_id.eq(member_id))
            .count()
            .get_result(conn)
            .unwrap();
        (status, roles)
    });
    assert_eq!((status.as_str(), roles), ("removed", 0));
    assert_eq!(app.count_audit("member.left"), 1);
    assert_eq!(app.count_audit("invite.revoked"), 1);
    assert_eq!(ada.get("/w/acme/users").await.status, 404);
    let token = ada.get("/account").await.csrf();
    assert_eq!(
        ada.post_raw("/w/acme/leave", &[("csrf_token", &token)])
            .await
            .status,
        404
    );
    assert_eq!(app.workspace(&ws.slug).active_members, 1);
}

async fn account_posts_without_a_csrf_token_are_refused_and_change_nothing(app: TestApp) {
    let (ws, client) = mia(&app).await;
    let mia_address = address_id(&app, "mia@acme.example");
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/account/name".into(), vec![("name", "Changed")]),
        (
            "/account/password".into(),
            vec![
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_confirm", NEW_PASSWORD),
            ],
        ),
        (
            "/account/emails".into(),
            vec![("email", "x@home.example"), ("current_password", PASSWORD)],
        ),
        (
            format!("/account/emails/{mia_address}/primary"),
            vec![("current_password", PASSWORD)],
        ),
        (format!("/account/emails/{mia_address}/delete"), vec![]),
        ("/account/sessions/end-others".into(), vec![]),
        (format!("/w/{}/leave", ws.slug), vec![]),
        (
            "/forgot-password".into(),
            vec![("email", "mia@acme.example")],
        ),
    ];
    let audit_before = app.count("audit_events");
    for (path, fields) in &posts {
        let page = client.post_raw(path, fields).await;
        assert_eq!(page.status, 403, "{path}");
    }
    assert_eq!(app.count("audit_events"), audit_before);
    assert_eq!(app.count("email_addresses"), 2);
    assert_eq!(app.count("outbox"), 0);
    assert_eq!(app.workspace(&ws.slug).active_members, 2);
    let page = client.get("/account").await;
    assert_eq!(page.status, 200);
    page.assert_contains("value=\"Mia Member\"");
}

async fn a_new_name_is_saved_for_search_and_sorting_and_markup_is_escaped(app: TestApp) {
    let (ws, client) = mia(&app).await;
    let empty = client
        .submit("/account", "/account/name", &[("name", "   ")])
        .await;
    assert_eq!(empty.status, 422);
    empty.assert_contains("id=\"name-error\"");
    let name = "<script>alert(1)</script> Zoë";
    let saved = client
        .submit("/account", "/account/name", &[("name", name)])
        .await;
    assert_eq!(saved.location.as_deref(), Some("/account"));
    let page = client.get("/account").await;
    page.assert_lacks("<script>alert(1)</script>");
    page.assert_contains("&#60;script&#62;alert(1)&#60;/script&#62; Zoë");
    let (search, sort): (String, String) = app.with_db(|conn| {
        let account_id: i64 = email_addresses::table
            .filter(email_addresses::canonical.eq("mia@acme.example"))
            .select(email_addresses::account_id)
            .first(conn)
            .unwrap();
        let search = accounts::table
            .find(account_id)
            .select(accounts::search_text)
            .first(conn)
            .unwrap();
        let sort = members::table
            .filter(members::account_id.eq(account_id))
            .filter(members::workspace_id.eq(ws.id))
            .select(members::sort_name)
            .first(conn)
            .unwrap();
        (search, sort)
    });
    assert_eq!(search, "<script>alert(1)</script> zoë mia@acme.example");
    assert_eq!(sort, "<script>alert(1)</script> zoë");
    assert_eq!(app.count_audit("account.renamed"), 1);
    let olivia = signed_in(&app, "olivia@acme.example").await;
    let users = olivia.get("/w/acme/users?q=zo%C3%AB").await;
    assert_eq!(users.member_rows(), 1);
    users.assert_lacks("<script>alert(1)</script>");
}
