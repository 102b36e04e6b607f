//! Invitations end to end: the Invites screen, mail on a real SMTP server, accepting.

use std::net::TcpListener;

use gatehouse::permissions::BuiltinRole;

use crate::support::{port_nobody_listens_on, Client, MailServer, Page, TestApp, TestDb, PASSWORD};
use crate::tests;

tests![
    a_batch_of_three_sends_three_mails_with_working_links,
    one_bad_address_refuses_the_whole_batch_and_sends_nothing,
    a_line_break_in_an_address_cannot_add_a_recipient,
    markup_in_names_and_messages_is_escaped_in_pages_and_mail,
    a_new_person_accepts_by_creating_an_account_and_lands_in_the_workspace,
    an_existing_account_accepts_after_signing_in,
    a_different_signed_in_account_is_told_and_not_joined,
    opening_a_link_changes_nothing_and_a_used_link_is_refused,
    resend_kills_the_old_link_and_revoke_kills_the_new_one,
    an_expired_link_has_its_own_page_and_shows_as_expired,
    the_seat_limit_refuses_with_numbers_and_revoking_frees_a_seat,
    concurrent_invites_for_the_last_seat_never_oversubscribe,
    the_daily_limit_refuses_with_the_time_it_resets,
    an_smtp_outage_keeps_the_invite_and_delivers_later,
    members_and_viewers_cannot_open_the_invites_screen_or_post_to_it,
    an_admin_cannot_invite_as_owner,
    addresses_differing_only_in_case_are_the_same_person,
    removing_an_inviter_revokes_the_invites_they_sent,
];

pub(crate) struct Ws {
    pub slug: String,
    pub id: i64,
    pub member: i64,
}

pub(crate) fn workspace(app: &TestApp) -> Ws {
    let created = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    Ws {
        slug: created.slug,
        id: created.workspace_id,
        member: created.member_id,
    }
}

pub(crate) async fn owner(app: &TestApp) -> Client {
    let client = app.client();
    assert_eq!(
        client.sign_in("olivia@acme.example", PASSWORD).await.status,
        303
    );
    client
}

pub(crate) async fn invite(
    client: &Client,
    ws: &Ws,
    emails: &str,
    roles: &[i64],
    seat: &str,
) -> Page {
    let page = format!("/w/{}/invites", ws.slug);
    let mut fields: Vec<(&str, &str)> = vec![("emails", emails), ("seat_type", seat)];
    let ids: Vec<String> = roles.iter().map(i64::to_string).collect();
    for id in &ids {
        fields.push(("role", id));
    }
    client.submit(&page, &page, &fields).await
}

/// The operator's seat limit for the `acme` workspace.
fn set_seat_limit(app: &TestApp, seats: i32) {
    app.with_db(|conn| {
        let change = gatehouse::services::workspaces::LimitsChange {
            seats: Some(Some(seats)),
            ..Default::default()
        };
        gatehouse::services::workspaces::set_limits(
            conn,
            &gatehouse::models::audit::Actor::operator(),
            "acme",
            &change,
        )
        .unwrap();
    });
}

fn member_role(app: &TestApp, ws: &Ws) -> i64 {
    app.role_id(ws.id, BuiltinRole::Member)
}

async fn a_batch_of_three_sends_three_mails_with_working_links(app: TestApp) {
    let ws = workspace(&app);
    let client = owner(&app).await;
    let done = invite(
        &client,
        &ws,
        "ana@example.com, ben@example.com\ncarla@example.com",
        &[member_role(&app, &ws)],
        "member",
    )
    .await;
    assert_eq!(
        (done.status.as_u16(), done.location.as_deref()),
        (303, Some("/w/acme/invites"))
    );
    let page = client.get("/w/acme/invites").await;
    page.assert_contains("Sent 3 invitations.");
    page.assert_contains("Invitation links");
    assert_eq!(page.body.matches("class=\"copy-link\"").count(), 3);
    assert_eq!(app.count("invites"), 3);
    let mails = app.mail.wait_for(3).await;
    // Every mail has its own Message-ID (SpamAssassin's MISSING_MID), on the sender's domain.
    let mut ids: Vec<&str> = mails
        .iter()
        .filter_map(|m| m.message_id.as_deref())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "{mails:?}");
    assert!(
        ids.iter().all(|id| id.starts_with("gatehouse.outbox.")),
        "{ids:?}"
    );
    let mut to: Vec<&str> = mails.iter().map(|m| m.to.as_str()).collect();
    to.sort();
    assert_eq!(
        to,
        ["ana@example.com", "ben@example.com", "carla@example.com"]
    );
    for mail in &mails {
        assert_eq!(mail.subject, "You've been invited to Acme");
        assert!(
            mail.text.contains("Olivia Owner invited you"),
            "{}",
            mail.text
        );
        assert!(mail.text.contains("as Member, with a Member seat."));
        assert!(mail.html.contains("with a Member seat."));
        assert!(mail.text.contains(&app.base_url), "links use the base URL");
        let landing = app.client().get(&mail.invite_path()).await;
        assert_eq!(landing.status, 200);
        landing.assert_contains("Join Acme");
        assert_eq!(
            landing.headers.get("referrer-policy").unwrap(),
            "no-referrer"
        );
    }
    // The list shows them, with delivery state once the worker is done.
    let list = client.get("/w/acme/invites").await;
    list.assert_contains("ana@example.com");
    list.assert_contains("No account yet");
    assert!(list.body.matches(">Pending<").count() >= 3);
    list.assert_lacks("copy-link");
    assert_eq!(app.count_audit("invite.created"), 3);
}

async fn one_bad_address_refuses_the_whole_batch_and_sends_nothing(app: TestApp) {
    let ws = workspace(&app);
    let client = owner(&app).await;
    let page = invite(
        &client,
        &ws,
        "ana@example.com; not-an-address, ben@gmial.com",
        &[member_role(&app, &ws)],
        "member",
    )
    .await;
    assert_eq!(page.status, 422);
    page.assert_contains("Nothing was sent: 2 of 3 addresses need attention");
    page.assert_contains("<td>not-an-address</td><td>Invalid: An email address needs an @");
    page.assert_contains("Likely typo: did you mean ben@gmail.com?");
    page.assert_contains("<td>ana@example.com</td><td>New: will be invited</td>");
    page.assert_contains(">Send the one that can go</button>");
    page.assert_contains("value=\"ana@example.com\"");
    assert_eq!(app.count("invites"), 0);
    assert_eq!(app.count("outbox"), 0);
    // The review's own button sends to the acceptable ones.
    let token = page.csrf();
    let role = member_role(&app, &ws).to_string();
    let only = client
        .post_raw(
            "/w/acme/invites",
            &[
                ("csrf_token", &token),
                ("emails", "ana@example.com"),
                ("role", &role),
                ("seat_type", "member"),
                ("name", ""),
                ("message", ""),
                ("notification_email", ""),
                ("metadata", ""),
            ],
        )
        .await;
    assert_eq!(only.status, 303);
    assert_eq!(app.mail.wait_for(1).await[0].to, "ana@example.com");
    let bad_fields = invite(&client, &ws, "", &[], "captain").await;
    assert_eq!(bad_fields.status, 422);
    bad_fields.assert_contains("Enter at least one email address");
    bad_fields.assert_contains("Choose at least one role");
    bad_fields.assert_contains("Choose Member or Builder");
    let page = "/w/acme/invites";
    let bad_json = client
        .submit(
            page,
            page,
            &[
                ("emails", "x@example.com"),
                ("role", &role),
                ("seat_type", "member"),
                ("metadata", "[1,2]"),
            ],
        )
        .await;
    assert_eq!(bad_json.status, 422);
    bad_json.assert_contains("Metadata must be a JSON object");
    assert_eq!(app.count("invites"), 1);
}

async fn a_line_break_in_an_address_cannot_add_a_recipient(app: TestApp) {
    let ws = workspace(&app);
    let client = owner(&app).await;
    let role = member_role(&app, &ws).to_string();
    let page = "/w/acme/invites";
    let injected = client
        .submit(
            page,
            page,
            &[
                ("emails", "victim@example.com\r\nBcc: evil@evil.example"),
                ("role", &role),
                ("seat_type", "member"),
            ],
        )
        .await;
    assert_eq!(injected.status, 422);
    let header = client
        .submit(
            page,
            page,
            &[
                ("emails", "ok@example.com"),
                ("role", &role),
                ("seat_type", "member"),
                (
                    "notification_email",
                    "a@example.com\r\nBcc: evil@evil.example",
                ),
            ],
        )
        .await;
    assert_eq!(header.status, 422);
    header.assert_contains("cannot contain line breaks");
    assert_eq!(app.count("invites"), 0);
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(
        app.mail.received().is_empty(),
        "no mail at all, so none to evil.example"
    );
}

async fn markup_in_names_and_messages_is_escaped_in_pages_and_mail(app: TestApp) {
    let ws = workspace(&app);
    app.with_db(|conn| {
        use diesel::prelude::*;
        use gatehouse::db::schema::accounts;
        diesel::update(accounts::table)
            .set(accounts::name.eq("Olivia <b>Owner</b>"))
            .execute(conn)
            .unwrap();
    });
    let client = owner(&app).await;
    let role = member_role(&app, &ws).to_string();
    let page = "/w/acme/invites";
    let done = client
        .submit(
            page,
            page,
            &[
                ("emails", "ana@example.com"),
                ("role", &role),
                ("seat_type", "member"),
                ("name", "<script>alert(1)</script>"),
                ("message", "<img src=x onerror=alert(1)>"),
            ],
        )
        .await;
    assert_eq!(done.status, 303);
    let list = client.get(page).await;
    list.assert_lacks("<script>alert(1)");
    list.assert_contains("&#60;script&#62;alert(1)&#60;/script&#62;");
    let mail = &app.mail.wait_for(1).await[0];
    assert!(
        !mail.html.contains("<script>") && !mail.html.contains("<img src=x"),
        "{}",
        mail.html
    );
    assert!(
        mail.html.contains("&#60;img src=x onerror=alert(1)&#62;"),
        "{}",
        mail.html
    );
    assert!(
        mail.html.contains("Olivia &#60;b&#62;Owner&#60;/b&#62;"),
        "{}",
        mail.html
    );
    let landing = app.client().get(&mail.invite_path()).await;
    landing.assert_lacks("<img src=x");
    landing.assert_contains("value=\"&#60;script&#62;alert(1)&#60;/script&#62;\"");
}

pub(crate) async fn accept_new(app: &TestApp, path: &str, name: &str) -> (Client, Page) {
    let invitee = app.client();
    let done = invitee
        .submit(
            path,
            path,
            &[
                ("name", name),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    (invitee, done)
}

/// A browser tab that opened the form while the invite was pending, to submit it later.
async fn stale_form(app: &TestApp, path: &str) -> (Client, String) {
    let tab = app.client();
    let token = tab.get(path).await.csrf();
    (tab, token)
}

async fn submit_stale(tab: &Client, token: &str, path: &str) -> Page {
    tab.post_raw(
        path,
        &[
            ("csrf_token", token),
            ("name", "Late"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ],
    )
    .await
}

async fn a_new_person_accepts_by_creating_an_account_and_lands_in_the_workspace(app: TestApp) {
    let ws = workspace(&app);
    let client = owner(&app).await;
    let viewer = app.role_id(ws.id, BuiltinRole::Viewer);
    assert_eq!(
        invite(&client, &ws, "Ana.Silva@Example.com", &[viewer], "builder")
            .await
            .status,
        303
    );
    let mail = app.mail.wait_for(1).await.remove(0);
    let path = mail.invite_path();
    let invitee = app.client();
    let short = invitee
        .submit(
            &path,
            &path,
            &[
                ("name", "Ana"),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, 422);
    short.assert_contains("Use at least 12 characters");
    assert_eq!(app.count("accounts"), 1);
    let done = invitee
        .submit(
            &path,
            &path,
            &[
                ("name", "Ana Silva"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        (done.status.as_u16(), done.location.as_deref()),
        (303, Some("/w/acme/users"))
    );
    let users = invitee.get("/w/acme/users").await;
    assert_eq!(users.status, 200, "signed in");
    users.assert_contains("Welcome! You have joined the workspace.");
    users.assert_contains("Ana Silva");
    // Membership with the invite's roles and seat, the address verified, seat count kept.
    let detail = client.get("/w/acme/users?q=ana.silva").await;
    detail.assert_contains("<span class=\"badge primary\">Viewer</span>");
    detail.assert_contains("<td data-label=\"Seat\">Builder</td>");
    assert_eq!(app.workspace("acme").active_members, 2);
    let verified = app.with_db(|conn| {
        gatehouse::models::account::Account::find_by_login(conn, "ana.silva@example.com")
            .unwrap()
            .is_some()
    });
    assert!(
        verified,
        "the invited address is the verified primary login"
    );
    let again = app.client();
    assert_eq!(
        again
            .sign_in("ana.silva@example.com", PASSWORD)
            .await
            .status,
        303
    );
    // The inviter hears about it.
    let mails = app.mail.wait_for(2).await;
    let note = mails
        .iter()
        .find(|m| m.to == "olivia@acme.example")
        .expect("mail to the inviter");
    assert_eq!(note.subject, "Ana Silva joined Acme");
    assert_eq!(app.count_audit("invite.accepted"), 1);
    let _ = ws.member;
}

async fn an_existing_account_accepts_after_signing_in(app: TestApp) {
    let ws = workspace(&app);
    let globex = app.create_workspace("Globex", "gary@globex.example", "Gary Globex");
    let client = owner(&app).await;
    assert_eq!(
        invite(
            &client,
            &ws,
            "GARY@globex.example",
            &[member_role(&app, &ws)],
            "member"
        )
        .await
        .status,
        303
    );
    let path = app.mail.wait_for(1).await[0].invite_path();
    let gary = app.client();
    let landing = gary.get(&path).await;
    landing.assert_contains("Sign in to accept");
    let login_href = format!("/login?next={}", gatehouse::web::encode_query_value(&path));
    landing.assert_contains(&login_href.replace('&', "&#38;"));
    let signed = gary
        .submit(
            &login_href,
            "/login",
            &[
                ("email", "gary@globex.example"),
                ("password", PASSWORD),
                ("next", &path),
            ],
        )
        .await;
    assert_eq!(signed.location.as_deref(), Some(path.as_str()));
    let page = gary.get(&path).await;
    page.assert_contains("Accept and join Acme");
    let done = gary.submit(&path, &path, &[]).await;
    assert_eq!(
        (done.status.as_u16(), done.location.as_deref()),
        (303, Some("/w/acme/users"))
    );
    assert_eq!(gary.get("/w/acme/users").await.status, 200);
    assert_eq!(
        gary.get(&format!("/w/{}/users", globex.slug)).await.status,
        200,
        "still in Globex"
    );
    assert_eq!(app.count("accounts"), 2, "no second account");
}

async fn a_different_signed_in_account_is_told_and_not_joined(app: TestApp) {
    let ws = workspace(&app);
    app.add_member(
        ws.id,
        "mallory@acme.example",
        "Mallory",
        BuiltinRole::Member,
    );
    let client = owner(&app).await;
    assert_eq!(
        invite(
            &client,
            &ws,
            "ana@example.com",
            &[member_role(&app, &ws)],
            "member"
        )
        .await
        .status,
        303
    );
    let path = app.mail.wait_for(1).await[0].invite_path();
    let mallory = app.client();
    mallory.sign_in("mallory@acme.example", PASSWORD).await;
    let page = mallory.get(&path).await;
    assert_eq!(page.status, 403);
    page.assert_contains(
        "This invitation is for ana@example.com, but you are signed in as Mallory",
    );
    page.assert_contains("action=\"/logout\"");
    // Refused (422): the invitation's page again, saying so; nothing joined.
    let forced = mallory
        .post_raw(&path, &[("csrf_token", &page.csrf())])
        .await;
    assert_eq!(forced.status, 422);
    forced.assert_contains(
        "This invitation is for another address than the account you are signed in with.",
    );
    forced.assert_contains("but you are signed in as Mallory");
    assert_eq!(app.count("members"), 2);
    // Not even by creating an account for it while signed in elsewhere.
    let sneaky = mallory
        .post_raw(
            &path,
            &[
                ("csrf_token", &page.csrf()),
                ("name", "Ana"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(sneaky.status, 422);
    sneaky.assert_contains("but you are signed in as Mallory");
    assert_eq!(app.count("accounts"), 2);
    let still = app.client().get(&path).await;
    still.assert_contains("Create account and join");
}

async fn opening_a_link_changes_nothing_and_a_used_link_is_refused(app: TestApp) {
    let ws = workspace(&app);
    let client = owner(&app).await;
    assert_eq!(
        invite(
            &client,
            &ws,
            "ana@example.com",
            &[member_role(&app, &ws)],
            "member"
        )
        .await
        .status,
        303
    );
    let path = app.mail.wait_for(1).await[0].invite_path();
    let audit = app.count("audit_events");
    let (tab, token) = stale_form(&app, &path).await;
    for _ in 0..2 {
        let page = app.client().get(&path).await;
        assert_eq!(page.status, 200);
        page.assert_contains("Create account and join");
    }
    assert_eq!(app.count("audit_events"), audit, "opening is read-only");
    let (_, done) = accept_new(&app, &path, "Ana").await;
    assert_eq!(done.status, 303);
    // Used: its own page, and a second submit creates nothing.
    let used = app.client().get(&path).await;
    assert_eq!(used.status, 410);
    used.assert_contains("This invitation was already used");
    // Refused (422): the used link's page again, saying nothing was changed.
    let twice = submit_stale(&tab, &token, &path).await;
    assert_eq!(twice.status, 422);
    twice.assert_contains("This invitation can no longer be used: nothing was changed.");
    twice.assert_contains("This invitation was already used");
    assert_eq!(app.count("accounts"), 2);
    assert_eq!(app.count("members"), 2);
    let unknown = app.client().get("/invite/not-a-real-token").await;
    assert_eq!(unknown.status, 404);
    unknown.assert_contains("This invitation link is not valid");
}

fn invite_id(app: &TestApp) -> i64 {
    app.with_db(|conn| {
        use diesel::prelude::*;
        use gatehouse::db::schema::invites;
        invites::table
            .order(invites::id.desc())
            .select(invites::id)
            .first::<i64>(conn)
            .unwrap()
    })
}

async fn resend_kills_the_old_link_and_revoke_kills_the_new_one(app: TestApp) {
    let ws = workspace(&app);
    let client = owner(&app).await;
    assert_eq!(
        invite(
            &client,
            &ws,
            "ana@example.com",
            &[member_role(&app, &ws)],
            "member"
        )
        .await
        .status,
        303
    );
    let old = app.mail.wait_for(1).await[0].invite_path();
    let id = invite_id(&app);
    let resent = client
        .submit(
            "/w/acme/invites",
            &format!("/w/acme/invites/{id}/resend"),
            &[],
        )
        .await;
    assert_eq!(resent.status, 303);
    client
        .get("/w/acme/invites")
        .await
        .assert_contains("A new link was sent to ana@example.com");
    let new = app.mail.wait_for(2).await[1].invite_path();
    assert_ne!(old, new);
    let (tab, token) = stale_form(&app, &new).await;
    assert_eq!(
        app.client().get(&old).await.status,
        410,
        "the old link no longer works (and says it was replaced)"
    );
    assert_eq!(app.client().get(&new).await.status, 200);
    let revoked = client
        .submit(
            "/w/acme/invites",
            &format!("/w/acme/invites/{id}/revoke"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(revoked.status, 303);
    let list = client.get("/w/acme/invites?status=revoked").await;
    list.assert_contains("was revoked; its seat is free");
    list.assert_contains("ana@example.com");
    // Its buttons, pressed again from a stale page, are refused on the list (422).
    let audit = app.count("audit_events");
    for (button, fields, message) in [
        (
            "revoke",
            &[("confirm", "yes")][..],
            "This invitation is no longer pending.",
        ),
        // Revoke's question is refused the same way: there is nothing left to revoke.
        ("revoke", &[][..], "This invitation is no longer pending."),
        ("link", &[][..], "This invitation is no longer pending."),
        (
            "resend",
            &[][..],
            "Only a pending or expired invitation can be resent.",
        ),
    ] {
        let again = client
            .submit(
                "/w/acme/invites",
                &format!("/w/acme/invites/{id}/{button}"),
                fields,
            )
            .await;
        assert_eq!(again.status, 422, "{button}");
        again.assert_contains(message);
        again.assert_contains("<h2 id=\"list-h\">Invitations</h2>");
    }
    assert_eq!(app.count("audit_events"), audit, "nothing changed");
    assert_eq!(app.mail.received().len(), 2, "no mail");
    let dead = app.client().get(&new).await;
    assert_eq!(dead.status, 410);
    dead.assert_contains("This invitation was withdrawn");
    let refused = submit_stale(&tab, &token, &new).await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("This invitation was withdrawn");
    assert_eq!(app.count("members"), 1);
    // Another workspace's invite id is not found.
    let other = app.create_workspace("Globex", "gary@globex.example", "Gary");
    let _ = other;
    assert_eq!(
        client
            .submit(
                "/w/acme/invites",
                "/w/acme/invites/99999/revoke",
                &[("confirm", "yes")]
            )
            .await
            .status,
        404
    );
}

async fn an_expired_link_has_its_own_page_and_shows_as_expired(app: TestApp) {
    let ws = workspace(&app);
    let client = owner(&app).await;
    assert_eq!(
        invite(
            &client,
            &ws,
            "ana@example.com",
            &[member_role(&app, &ws)],
            "member"
        )
        .await
        .status,
        303
    );
    let path = app.mail.wait_for(1).await[0].invite_path();
    let (tab, token) = stale_form(&app, &path).await;
    app.with_db(|conn| {
        use diesel::prelude::*;
        use gatehouse::db::schema::invites;
        let past = gatehouse::models::now() - chrono::TimeDelta::minutes(1);
        diesel::update(invites::table)
            .set(invites::expires_at.eq(past))
            .execute(conn)
            .unwrap();
    });
    let page = app.client().get(&path).await;
    assert_eq!(page.status, 410);
    page.assert_contains("This invitation has expired");
    page.assert_contains("Ask Olivia Owner to resend it");
    let refused = submit_stale(&tab, &token, &path).await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("This invitation has expired");
    assert_eq!(app.count("accounts"), 1);
    let expired = client.get("/w/acme/invites?status=expired").await;
    expired.assert_contains("ana@example.com");
    expired.assert_contains(">Expired<");
    let pending = client.get("/w/acme/invites?status=pending").await;
    pending.assert_lacks("ana@example.com");
    // An expired invite holds no seat and may be replaced by a new one.
    assert_eq!(
        invite(
            &client,
            &ws,
            "ana@example.com",
            &[member_role(&app, &ws)],
            "member"
        )
        .await
        .status,
        303
    );
}

async fn the_seat_limit_refuses_with_numbers_and_revoking_frees_a_seat(app: TestApp) {
    let ws = workspace(&app);
    set_seat_limit(&app, 3);
    let client = owner(&app).await;
    let role = [member_role(&app, &ws)];
    let too_many = invite(
        &client,
        &ws,
        "a@example.com b@example.com c@example.com",
        &role,
        "member",
    )
    .await;
    assert_eq!(too_many.status, 422);
    too_many.assert_contains(
        "Not enough seats: needs 3 seats, 2 free — 1 of 3 seats used (1 member, 0 pending invitations).",
    );
    assert_eq!(app.count("invites"), 0);
    assert_eq!(
        invite(&client, &ws, "a@example.com b@example.com", &role, "member")
            .await
            .status,
        303
    );
    let full = invite(&client, &ws, "c@example.com", &role, "member").await;
    full.assert_contains("needs 1 seat, 0 free");
    client
        .get("/w/acme/invites")
        .await
        .assert_contains("3 of 3 seats used");
    let id = invite_id(&app);
    client
        .submit(
            "/w/acme/invites",
            &format!("/w/acme/invites/{id}/revoke"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(
        invite(&client, &ws, "c@example.com", &role, "member")
            .await
            .status,
        303
    );
}

async fn concurrent_invites_for_the_last_seat_never_oversubscribe(app: TestApp) {
    let ws = workspace(&app);
    set_seat_limit(&app, 2);
    let client = owner(&app).await;
    let token = client.get("/w/acme/invites").await.csrf();
    let role = member_role(&app, &ws).to_string();
    let mut handles = Vec::new();
    for i in 0..8 {
        let http = client.http.clone();
        let url = client.url("/w/acme/invites");
        let origin = app.base_url.clone();
        let body = crate::support::form_body(&[
            ("csrf_token", &token),
            ("emails", &format!("racer{i}@example.com")),
            ("role", &role),
            ("seat_type", "member"),
        ]);
        handles.push(actix_web::rt::spawn(async move {
            http.post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("origin", origin)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for handle in handles {
        statuses.push(handle.await.unwrap());
    }
    statuses.sort();
    assert_eq!(
        statuses,
        [303, 422, 422, 422, 422, 422, 422, 422],
        "exactly one wins"
    );
    assert_eq!(app.count("invites"), 1);
}

async fn the_daily_limit_refuses_with_the_time_it_resets(app: TestApp) {
    let ws = workspace(&app);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args([
            "workspace",
            "limits",
            "acme",
            "--daily-invites",
            "3",
            "--plan",
            "professional",
        ])
        .env("DATABASE_URL", app.db.url())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("plan Professional, seats 25, daily invites 3"));
    let client = owner(&app).await;
    let role = [member_role(&app, &ws)];
    assert_eq!(
        invite(&client, &ws, "a@example.com b@example.com", &role, "member")
            .await
            .status,
        303
    );
    let over = invite(&client, &ws, "c@example.com d@example.com", &role, "member").await;
    assert_eq!(over.status, 422);
    over.assert_contains("1 can still be sent today, not all 2: 2 of the daily limit of 3 were sent in the last 24 hours. More can go from");
    over.assert_contains(">Send the first 1</button>");
    assert_eq!(
        invite(&client, &ws, "c@example.com", &role, "member")
            .await
            .status,
        303
    );
    // Revoking does not give back today's budget.
    let id = invite_id(&app);
    client
        .submit(
            "/w/acme/invites",
            &format!("/w/acme/invites/{id}/revoke"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(
        invite(&client, &ws, "d@example.com", &role, "member")
            .await
            .status,
        422
    );
    assert_eq!(app.count_audit("workspace.limits_changed"), 1);
}

async fn an_smtp_outage_keeps_the_invite_and_delivers_later(app: TestApp) {
    // An application (on a database of its own) whose SMTP server is down.
    let port = port_nobody_listens_on();
    let placeholder = MailServer::start();
    let down = TestApp::spawn_with(
        TestDb::new(app.backend),
        app.backend,
        placeholder,
        &format!("smtp://127.0.0.1:{port}"),
    )
    .await;
    let ws = workspace(&down);
    let client = down.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    assert_eq!(
        invite(
            &client,
            &ws,
            "ana@example.com",
            &[member_role(&down, &ws)],
            "member"
        )
        .await
        .status,
        303
    );
    let mut error = None;
    for _ in 0..50 {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
        let list = client.get("/w/acme/invites").await;
        if list.body.contains("delivery-queued") && list.body.contains("Connection refused") {
            error = Some(list);
            break;
        }
    }
    let list = error.expect("the failed attempt is shown as Queued with its error");
    list.assert_contains("ana@example.com");
    assert_eq!(down.count("invites"), 1, "the invite is kept");
    // The server comes back on that port; the retry delivers.
    let back = MailServer::start_on(TcpListener::bind(("127.0.0.1", port)).unwrap());
    down.with_db(|conn| {
        use diesel::prelude::*;
        use gatehouse::db::schema::outbox;
        diesel::update(outbox::table)
            .set(outbox::next_attempt_at.eq(gatehouse::models::now()))
            .execute(conn)
            .unwrap();
    });
    let mail = back.wait_for(1).await.remove(0);
    assert_eq!(mail.to, "ana@example.com");
    for _ in 0..50 {
        if client
            .get("/w/acme/invites")
            .await
            .body
            .contains("delivery-sent")
        {
            return;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the invite never showed as Sent");
}

async fn members_and_viewers_cannot_open_the_invites_screen_or_post_to_it(app: TestApp) {
    let ws = workspace(&app);
    let owner_client = owner(&app).await;
    assert_eq!(
        invite(
            &owner_client,
            &ws,
            "ana@example.com",
            &[member_role(&app, &ws)],
            "member"
        )
        .await
        .status,
        303
    );
    let id = invite_id(&app);
    app.add_member(ws.id, "mia@acme.example", "Mia", BuiltinRole::Member);
    app.add_member(ws.id, "vic@acme.example", "Vic", BuiltinRole::Viewer);
    app.add_member(ws.id, "max@acme.example", "Max", BuiltinRole::Manager);
    let role = member_role(&app, &ws).to_string();
    for email in ["mia@acme.example", "vic@acme.example", "max@acme.example"] {
        let client = app.client();
        client.sign_in(email, PASSWORD).await;
        let page = client.get("/w/acme/invites").await;
        assert_eq!(page.status, 403, "{email}");
        page.assert_contains("<code class=\"perm-key\">members.invite</code>");
        let users = client.get("/w/acme/users").await;
        users.assert_lacks(">Invites</a>");
        let token = users.csrf();
        for path in [
            "/w/acme/invites".to_string(),
            format!("/w/acme/invites/{id}/resend"),
            format!("/w/acme/invites/{id}/revoke"),
            format!("/w/acme/invites/{id}/link"),
        ] {
            let refused = client
                .post_raw(
                    &path,
                    &[
                        ("csrf_token", &token),
                        ("emails", "x@example.com"),
                        ("role", &role),
                        ("seat_type", "member"),
                    ],
                )
                .await;
            assert!(
                refused.status == 403 || refused.status == 400,
                "{email} {path}: {}",
                refused.status
            );
        }
    }
    assert_eq!(app.count("invites"), 1);
    let list = owner_client.get("/w/acme/invites?status=pending").await;
    list.assert_contains("ana@example.com");
    owner_client
        .get("/w/acme/users")
        .await
        .assert_contains("<a href=\"/w/acme/invites\">Invites</a>");
}

async fn an_admin_cannot_invite_as_owner(app: TestApp) {
    let ws = workspace(&app);
    app.add_member(ws.id, "ada@acme.example", "Ada Admin", BuiltinRole::Admin);
    let admin = app.client();
    admin.sign_in("ada@acme.example", PASSWORD).await;
    let form = admin.get("/w/acme/invites").await;
    assert_eq!(form.status, 200);
    let owner_role = app.role_id(ws.id, BuiltinRole::Owner);
    form.assert_lacks(&format!("name=\"role\" value=\"{owner_role}\""));
    form.assert_contains(&format!(
        "name=\"role\" value=\"{}\"",
        app.role_id(ws.id, BuiltinRole::Admin)
    ));
    let refused = invite(&admin, &ws, "ana@example.com", &[owner_role], "member").await;
    assert_eq!(refused.status, 403);
    let mixed = invite(
        &admin,
        &ws,
        "ana@example.com",
        &[member_role(&app, &ws), owner_role],
        "member",
    )
    .await;
    assert_eq!(mixed.status, 403);
    assert_eq!(app.count("invites"), 0);
    // Nor may the Owner hand out a second Owner role.
    let owner_client = owner(&app).await;
    assert_eq!(
        invite(
            &owner_client,
            &ws,
            "ana@example.com",
            &[owner_role],
            "member"
        )
        .await
        .status,
        403
    );
    // Another workspace's role id is refused too.
    let globex = app.create_workspace("Globex", "gary@globex.example", "Gary");
    let foreign = app.role_id(globex.workspace_id, BuiltinRole::Member);
    assert_eq!(
        invite(&admin, &ws, "ana@example.com", &[foreign], "member")
            .await
            .status,
        403
    );
}

async fn addresses_differing_only_in_case_are_the_same_person(app: TestApp) {
    let ws = workspace(&app);
    let client = owner(&app).await;
    let role = [member_role(&app, &ws)];
    let twice = invite(
        &client,
        &ws,
        "Ana@Example.com ana@example.COM",
        &role,
        "member",
    )
    .await;
    // Listed twice is a note, not a refusal: one invitation goes.
    assert_eq!(twice.status, 303);
    client
        .get("/w/acme/invites")
        .await
        .assert_contains("1 address was listed twice");
    let again = invite(&client, &ws, "ANA@example.com", &role, "member").await;
    again.assert_contains("Already invited");
    let member = invite(&client, &ws, "OLIVIA@ACME.EXAMPLE", &role, "member").await;
    member.assert_contains("Already a member");
    assert_eq!(app.count("invites"), 1);
}

async fn removing_an_inviter_revokes_the_invites_they_sent(app: TestApp) {
    let ws = workspace(&app);
    app.add_member(ws.id, "ada@acme.example", "Ada Admin", BuiltinRole::Admin);
    let admin = app.client();
    admin.sign_in("ada@acme.example", PASSWORD).await;
    assert_eq!(
        invite(
            &admin,
            &ws,
            "a@example.com b@example.com",
            &[member_role(&app, &ws)],
            "member"
        )
        .await
        .status,
        303
    );
    let client = owner(&app).await;
    assert_eq!(
        invite(
            &client,
            &ws,
            "c@example.com",
            &[member_role(&app, &ws)],
            "member"
        )
        .await
        .status,
        303
    );
    let links: Vec<String> = app
        .mail
        .wait_for(3)
        .await
        .iter()
        .map(|m| m.invite_path())
        .collect();
    // The hook the member-removal action calls, inside its transaction.
    let revoked = app.with_db(|conn| {
        let ada = gatehouse::models::account::Account::find_by_login(conn, "ada@acme.example")
            .unwrap()
            .unwrap();
        gatehouse::db::write_transaction(conn, |conn| {
            gatehouse::services::invites::revoke_pending_sent_by(
                conn,
                &gatehouse::models::audit::Actor::operator(),
                ws.id,
                ada.id,
            )
        })
        .unwrap()
    });
    assert_eq!(revoked, 2);
    let pending = client.get("/w/acme/invites?status=pending").await;
    pending.assert_contains("c@example.com");
    pending.assert_lacks("a@example.com");
    let mut statuses = Vec::new();
    for link in &links {
        statuses.push(app.client().get(link).await.status.as_u16());
    }
    statuses.sort();
    assert_eq!(statuses, [200, 410, 410]);
    assert_eq!(app.count_audit("invite.revoked"), 2);
}
