//! The Invitations table on the Invites screen and its row actions (issue 11 items 4, 6,
//! 7-revoke and 11): how each mail was delivered (SMTP or only a file), "Copy a new link",
//! Revoke's confirmation, and the table's layout.

use diesel::prelude::*;
use gatehouse::db::schema::{invites, outbox, roles};
use gatehouse::models::role::Role;
use gatehouse::permissions::BuiltinRole;

use crate::invites::{accept_new, invite, owner, workspace, Ws};
use crate::support::{address_state, Client, MailServer, Page, TestApp, TestDb, PASSWORD};
use crate::tests;

tests![
    without_smtp_the_row_says_where_the_mail_was_written_and_a_banner_says_so,
    with_smtp_the_row_says_sent_and_there_is_no_banner,
    copy_a_new_link_shows_a_fresh_link_mails_nothing_and_kills_only_the_shown_one,
    copy_a_new_link_follows_the_resend_rules,
    revoke_asks_first_and_changes_nothing_until_confirmed,
    the_table_puts_each_fact_on_its_own_line_and_links_accepted_members,
];

const BANNER: &str = "No SMTP server is configured.";

fn member_role(app: &TestApp, ws: &Ws) -> i64 {
    app.role_id(ws.id, BuiltinRole::Member)
}

/// The id of the invite for this address.
fn invite_id_for(app: &TestApp, email: &str) -> i64 {
    app.with_db(|conn| {
        invites::table
            .filter(invites::canonical.eq(email))
            .order(invites::id.desc())
            .select(invites::id)
            .first(conn)
            .unwrap()
    })
}

fn invite_status(app: &TestApp, email: &str) -> String {
    app.with_db(|conn| {
        invites::table
            .filter(invites::canonical.eq(email))
            .order(invites::id.desc())
            .select(invites::status)
            .first(conn)
            .unwrap()
    })
}

/// The (status, delivered_via) of the latest outbox row, once the worker is done with it.
async fn delivered(app: &TestApp) -> (String, Option<String>) {
    for _ in 0..150 {
        let row: Option<(String, Option<String>)> = app.with_db(|conn| {
            outbox::table
                .order(outbox::id.desc())
                .select((outbox::status, outbox::delivered_via))
                .first(conn)
                .optional()
                .unwrap()
        });
        if let Some(row) = row.filter(|(status, _)| status == "sent" || status == "failed") {
            return row;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the mail was never delivered");
}

/// The first copyable link on the page (shown once), as a path.
fn shown_link(app: &TestApp, page: &Page) -> String {
    let marker = "class=\"copy-link\" readonly";
    let start = page.body.find(marker).expect("a shown link");
    let value = page.body[start..].find("value=\"").unwrap() + start + 7;
    let end = page.body[value..].find('"').unwrap() + value;
    page.body[value..end]
        .strip_prefix(&app.base_url)
        .expect("absolute link")
        .to_string()
}

/// The table row (`<tr …>` to `</tr>`) that holds this address.
fn row<'a>(page: &'a Page, email: &str) -> &'a str {
    let table = page
        .body
        .find("<table class=\"invites\">")
        .unwrap_or_else(|| panic!("no invitations table:\n{}", page.body));
    let at = page.body[table..]
        .find(&format!(">{email}<"))
        .unwrap_or_else(|| panic!("no row for {email}:\n{}", page.body))
        + table;
    let start = page.body[..at].rfind("<tr").expect("row start");
    let end = page.body[at..].find("</tr>").expect("row end") + at;
    &page.body[start..end]
}

async fn without_smtp_the_row_says_where_the_mail_was_written_and_a_banner_says_so(app: TestApp) {
    // An application with no SMTP server, on a database of its own, writing mail into a
    // folder of the test's.
    let folder = tempfile::tempdir().unwrap();
    let mail_dir = folder.path().join("outgoing");
    let dir = mail_dir.clone();
    let db = TestDb::new(app.backend);
    let files = TestApp::spawn_configured(
        TestDb::reuse(&db),
        app.backend,
        MailServer::start(),
        move |config| {
            config.smtp_url = None;
            config.mail_dir = dir;
        },
    )
    .await;
    let ws = workspace(&files);
    let client = files.client();
    assert_eq!(
        client.sign_in("olivia@acme.example", PASSWORD).await.status,
        303
    );
    let empty = client.get("/w/acme/invites").await;
    empty.assert_contains(BANNER);
    let shown = format!("{}/", mail_dir.display());
    empty.assert_contains(&format!("<code>{shown}</code>"));
    assert_eq!(
        invite(
            &client,
            &ws,
            "ana@example.com",
            &[member_role(&files, &ws)],
            "member"
        )
        .await
        .status,
        303
    );
    let (status, via) = delivered(&files).await;
    assert_eq!(status, "sent");
    assert_eq!(via, Some(format!("files:{shown}")), "recorded on the row");
    let written: Vec<_> = std::fs::read_dir(&mail_dir).unwrap().collect();
    assert_eq!(written.len(), 1, "one .eml file");
    let list = client.get("/w/acme/invites").await;
    list.assert_contains(BANNER);
    let line = row(&list, "ana@example.com");
    assert!(
        line.contains(&format!("Written to {shown} — no SMTP server configured")),
        "{line}"
    );
    assert!(!line.contains(">Sent<"), "not called Sent: {line}");
    assert_eq!(
        files.mail.received().len(),
        0,
        "nothing reached an SMTP server"
    );

    // The same database served later with an SMTP server: the row still says what happened
    // to that mail, and the banner is gone.
    let smtp = TestApp::spawn_on(TestDb::reuse(&db), app.backend).await;
    let later = smtp.client();
    assert_eq!(
        later.sign_in("olivia@acme.example", PASSWORD).await.status,
        303
    );
    let list = later.get("/w/acme/invites").await;
    list.assert_lacks(BANNER);
    assert!(row(&list, "ana@example.com")
        .contains(&format!("Written to {shown} — no SMTP server configured")));
    drop(files);
    drop(smtp);
    drop(db);
}

async fn with_smtp_the_row_says_sent_and_there_is_no_banner(app: TestApp) {
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
    app.mail.wait_for(1).await;
    let (status, via) = delivered(&app).await;
    assert_eq!((status.as_str(), via.as_deref()), ("sent", Some("smtp")));
    let list = client.get("/w/acme/invites").await;
    list.assert_lacks(BANNER);
    list.assert_lacks("Written to");
    let line = row(&list, "ana@example.com");
    assert!(
        line.contains("<div class=\"delivery delivery-sent\">Sent</div>"),
        "{line}"
    );
}

async fn copy_a_new_link_shows_a_fresh_link_mails_nothing_and_kills_only_the_shown_one(
    app: TestApp,
) {
    let ws = workspace(&app);
    let olivia = owner(&app).await;
    assert_eq!(
        invite(
            &olivia,
            &ws,
            "ana@example.com",
            &[member_role(&app, &ws)],
            "member"
        )
        .await
        .status,
        303
    );
    let first = shown_link(&app, &olivia.get("/w/acme/invites").await);
    let mailed = app.mail.wait_for(1).await[0].invite_path();
    delivered(&app).await;
    let id = invite_id_for(&app, "ana@example.com");
    // The list offers it on the pending row; the link shown at first is gone on reload.
    let list = olivia.get("/w/acme/invites").await;
    list.assert_lacks("copy-link");
    assert!(
        row(&list, "ana@example.com").contains(&format!("action=\"/w/acme/invites/{id}/link\"")),
        "the row has Copy a new link"
    );
    list.assert_contains("Copy a new link");
    let outbox = app.count("outbox");
    let done = olivia
        .submit(
            "/w/acme/invites",
            &format!("/w/acme/invites/{id}/link"),
            &[],
        )
        .await;
    assert_eq!(
        (done.status.as_u16(), done.location.as_deref()),
        (303, Some("/w/acme/invites"))
    );
    let page = olivia.get("/w/acme/invites").await;
    page.assert_contains("Invitation links");
    page.assert_contains("A new link for ana@example.com is below");
    page.assert_contains("Nothing was mailed.");
    assert_eq!(page.body.matches("class=\"copy-link\"").count(), 1);
    let copied = shown_link(&app, &page);
    assert_ne!(copied, first);
    assert_ne!(copied, mailed);
    // Shown once.
    olivia
        .get("/w/acme/invites")
        .await
        .assert_lacks("copy-link");
    // Nothing mailed, nothing queued; audited.
    assert_eq!(app.count("outbox"), outbox, "no mail queued");
    actix_web::rt::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(app.mail.received().len(), 1, "no new mail received");
    assert_eq!(app.count_audit("invite.link_renewed"), 1);
    // The earlier shown link no longer works; the mailed one and the new one do.
    // It says why: a newer link was made.
    let replaced = app.client().get(&first).await;
    assert_eq!(replaced.status, 410);
    replaced.assert_contains("<h1>This invitation link was replaced</h1>");
    replaced.assert_contains("Olivia Owner made a newer link to join <strong>Acme</strong>");
    replaced.assert_lacks("check that you copied");
    assert_eq!(app.client().get(&mailed).await.status, 200);
    assert_eq!(app.client().get(&copied).await.status, 200);
    // The copied link proves nothing: the person joins, the address stays unconfirmed.
    let (_, joined) = accept_new(&app, &copied, "Ana").await;
    assert_eq!(joined.status, 303, "{}", joined.body);
    assert_eq!(invite_status(&app, "ana@example.com"), "accepted");
    assert_eq!(
        address_state(&app, "ana@example.com"),
        Some((false, true)),
        "unconfirmed, still the login"
    );
}

async fn copy_a_new_link_follows_the_resend_rules(app: TestApp) {
    let ws = workspace(&app);
    let olivia = owner(&app).await;
    let admin = app.role_id(ws.id, BuiltinRole::Admin);
    assert_eq!(
        invite(&olivia, &ws, "ana@example.com", &[admin], "member")
            .await
            .status,
        303
    );
    let id = invite_id_for(&app, "ana@example.com");
    // A recruiter may invite but cannot grant Admin: refused, nothing changes.
    let recruiter_role = olivia
        .submit(
            "/w/acme/roles/new",
            "/w/acme/roles/new",
            &[
                ("name", "Recruiter"),
                ("description", "Sends invitations"),
                ("perm.members.invite", "on"),
                ("perm.members.view", "all"),
            ],
        )
        .await;
    assert_eq!(recruiter_role.status, 303, "{}", recruiter_role.body);
    let rita = app.add_member(ws.id, "rita@acme.example", "Rita", BuiltinRole::Member);
    let recruiter: i64 = app.with_db(|conn| {
        roles::table
            .filter(roles::workspace_id.eq(ws.id))
            .filter(roles::name.eq("Recruiter"))
            .select(roles::id)
            .first(conn)
            .unwrap()
    });
    app.with_db(|conn| Role::replace_for_member(conn, rita, &[(recruiter, true)]).unwrap());
    let rita_client = app.client();
    assert_eq!(
        rita_client
            .sign_in("rita@acme.example", PASSWORD)
            .await
            .status,
        303
    );
    let hash_before: Option<String> = app.with_db(|conn| {
        invites::table
            .find(id)
            .select(invites::link_token_hash)
            .first(conn)
            .unwrap()
    });
    let audit = app.count("audit_events");
    let refused = rita_client
        .submit(
            "/w/acme/invites",
            &format!("/w/acme/invites/{id}/link"),
            &[],
        )
        .await;
    assert_eq!(refused.status, 422);
    refused.assert_contains(
        "You cannot copy a link for this invitation: it offers roles you cannot grant.",
    );
    refused.assert_lacks("copy-link");
    assert_eq!(app.count("audit_events"), audit, "nothing recorded");
    // An Admin may: the link is theirs to offer, so they become its inviter.
    let (ada, ada_client) = {
        let member = app.add_member(ws.id, "ada@acme.example", "Ada Admin", BuiltinRole::Admin);
        let client = app.client();
        client.sign_in("ada@acme.example", PASSWORD).await;
        (member, client)
    };
    let _ = ada;
    let done = ada_client
        .submit(
            "/w/acme/invites",
            &format!("/w/acme/invites/{id}/link"),
            &[],
        )
        .await;
    assert_eq!(done.status, 303);
    let (hash_after, inviter): (Option<String>, Option<i64>) = app.with_db(|conn| {
        invites::table
            .find(id)
            .select((invites::link_token_hash, invites::invited_by))
            .first(conn)
            .unwrap()
    });
    assert_ne!(hash_after, hash_before, "a new shown link");
    let ada_account = app.with_db(|conn| {
        gatehouse::models::account::Account::find_by_verified_email(conn, "ada@acme.example")
            .unwrap()
            .unwrap()
            .id
    });
    assert_eq!(inviter, Some(ada_account));
    // An expired invitation is resent, not copied.
    app.with_db(|conn| {
        diesel::update(invites::table.find(id))
            .set(invites::expires_at.eq(gatehouse::models::now() - chrono::TimeDelta::minutes(1)))
            .execute(conn)
            .unwrap();
    });
    let expired = ada_client
        .submit(
            "/w/acme/invites",
            &format!("/w/acme/invites/{id}/link"),
            &[],
        )
        .await;
    assert_eq!(expired.status, 422);
    expired.assert_contains("This invitation has expired: resend it to send a new link.");
    let list = ada_client.get("/w/acme/invites").await;
    let line = row(&list, "ana@example.com");
    assert!(
        !line.contains("/link\""),
        "no Copy on an expired row: {line}"
    );
    assert!(line.contains("/resend\""), "Resend stays: {line}");
    // Another workspace's id, or none at all, is not found; a Member may not.
    let missing = ada_client
        .submit("/w/acme/invites", "/w/acme/invites/99999/link", &[])
        .await;
    assert_eq!(missing.status, 404);
    let mia = app.client();
    app.add_member(ws.id, "mia@acme.example", "Mia", BuiltinRole::Member);
    mia.sign_in("mia@acme.example", PASSWORD).await;
    let token = mia.get("/w/acme/users").await.csrf();
    let forbidden = mia
        .post_raw(
            &format!("/w/acme/invites/{id}/link"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(forbidden.status, 403);
    // Without the CSRF token nothing happens.
    let forged = ada_client
        .post_raw(&format!("/w/acme/invites/{id}/link"), &[])
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(app.count_audit("invite.link_renewed"), 1);
}

async fn revoke_asks_first_and_changes_nothing_until_confirmed(app: TestApp) {
    let ws = workspace(&app);
    let olivia = owner(&app).await;
    assert_eq!(
        invite(
            &olivia,
            &ws,
            "ana@example.com",
            &[member_role(&app, &ws)],
            "member"
        )
        .await
        .status,
        303
    );
    let mailed = app.mail.wait_for(1).await[0].invite_path();
    let id = invite_id_for(&app, "ana@example.com");
    let list = olivia.get("/w/acme/invites").await;
    assert!(row(&list, "ana@example.com").contains("Revoke…"));
    let audit = app.count("audit_events");
    let ask = olivia
        .submit(
            "/w/acme/invites",
            &format!("/w/acme/invites/{id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(ask.status, 200, "{}", ask.body);
    ask.assert_contains(
        "Revoke the invitation to <span class=\"email-address\">ana@example.com</span>?",
    );
    ask.assert_contains("Its links stop working at once: the one mailed to ana@example.com");
    ask.assert_contains(
        "Its seat is freed; afterwards 1 of 10 seats used (1 member, 0 pending invitations).",
    );
    ask.assert_contains(&format!("action=\"/w/acme/invites/{id}/revoke\""));
    ask.assert_contains("<input type=\"hidden\" name=\"confirm\" value=\"yes\">");
    ask.assert_contains("<a class=\"button subtle\" href=\"/w/acme/invites\">Cancel</a>");
    // Nothing changed.
    assert_eq!(invite_status(&app, "ana@example.com"), "pending");
    assert_eq!(app.count("audit_events"), audit);
    assert_eq!(app.client().get(&mailed).await.status, 200);
    // The confirmation's own button revokes.
    let token = ask.csrf();
    let done = olivia
        .post_raw(
            &format!("/w/acme/invites/{id}/revoke"),
            &[("csrf_token", &token), ("confirm", "yes")],
        )
        .await;
    assert_eq!(
        (done.status.as_u16(), done.location.as_deref()),
        (303, Some("/w/acme/invites"))
    );
    assert_eq!(invite_status(&app, "ana@example.com"), "revoked");
    assert_eq!(app.count_audit("invite.revoked"), 1);
    assert_eq!(app.client().get(&mailed).await.status, 410);
    // Any other confirm value is just the question again (there is nothing left to ask
    // about now: refused on the list, 422).
    let again = olivia
        .submit(
            "/w/acme/invites",
            &format!("/w/acme/invites/{id}/revoke"),
            &[("confirm", "no")],
        )
        .await;
    assert_eq!(again.status, 422);
    again.assert_contains("This invitation is no longer pending.");
    // Not found without confirm either.
    let missing = olivia
        .submit("/w/acme/invites", "/w/acme/invites/99999/revoke", &[])
        .await;
    assert_eq!(missing.status, 404);
}

async fn the_table_puts_each_fact_on_its_own_line_and_links_accepted_members(app: TestApp) {
    let ws = workspace(&app);
    let olivia: Client = owner(&app).await;
    let role = member_role(&app, &ws).to_string();
    let named = olivia
        .submit(
            "/w/acme/invites",
            "/w/acme/invites",
            &[
                ("emails", "grace@gmail.example"),
                ("role", &role),
                ("seat_type", "member"),
                ("name", "Erin Example"),
            ],
        )
        .await;
    assert_eq!(named.status, 303, "{}", named.body);
    assert_eq!(
        invite(
            &olivia,
            &ws,
            "ana@example.com bo@example.com",
            &[member_role(&app, &ws)],
            "builder"
        )
        .await
        .status,
        303
    );
    let mails = app.mail.wait_for(3).await;
    let ana_link = mails
        .iter()
        .find(|m| m.to == "ana@example.com")
        .unwrap()
        .invite_path();
    let (_, joined) = accept_new(&app, &ana_link, "Ana").await;
    assert_eq!(joined.status, 303);
    let bo = invite_id_for(&app, "bo@example.com");
    assert_eq!(
        olivia
            .submit(
                "/w/acme/invites",
                &format!("/w/acme/invites/{bo}/revoke"),
                &[("confirm", "yes")],
            )
            .await
            .status,
        303
    );
    let list = olivia.get("/w/acme/invites").await;
    // Pending: address, name and account note each a block of its own; title-case words.
    let grace = row(&list, "grace@gmail.example");
    assert!(
        grace.contains(
            "<div class=\"email-address\">grace@gmail.example</div><div class=\"invitee-name\">Erin Example</div><div class=\"email\">No account yet</div>"
        ),
        "{grace}"
    );
    assert!(grace.contains(">Pending</div>"), "{grace}");
    assert!(
        grace.contains("<td data-label=\"Seat\">Member</td>"),
        "{grace}"
    );
    assert!(grace.contains("data-label=\"Expires\""), "{grace}");
    assert!(grace.contains("data-label=\"Delivery\""), "{grace}");
    assert!(!grace.contains(">pending<"), "{grace}");
    // Accepted: links to the member, no expiry, no buttons.
    let member: i64 = app.with_db(|conn| {
        use gatehouse::db::schema::{email_addresses, members};
        members::table
            .inner_join(
                email_addresses::table.on(email_addresses::account_id.eq(members::account_id)),
            )
            .filter(email_addresses::canonical.eq("ana@example.com"))
            .filter(members::workspace_id.eq(ws.id))
            .select(members::id)
            .first(conn)
            .unwrap()
    });
    let ana = row(&list, "ana@example.com");
    assert!(
        ana.contains(&format!(
            "<a class=\"email-address\" href=\"/w/acme/users/{member}\">ana@example.com</a>"
        )),
        "{ana}"
    );
    assert!(!ana.contains("Expires"), "{ana}");
    let expires: chrono::NaiveDateTime = app.with_db(|conn| {
        invites::table
            .filter(invites::canonical.eq("ana@example.com"))
            .select(invites::expires_at)
            .first(conn)
            .unwrap()
    });
    assert!(
        !ana.contains(&expires.format("%-d %b %Y").to_string()),
        "the expiry date is not shown: {ana}"
    );
    assert!(ana.contains(">Accepted</div>"), "{ana}");
    assert!(!ana.contains("<form"), "{ana}");
    // Revoked: no delivery, no buttons; its seat type in words.
    let bo_row = row(&list, "bo@example.com");
    assert!(!bo_row.contains("Delivery"), "{bo_row}");
    assert!(!bo_row.contains("delivery"), "{bo_row}");
    assert!(
        !bo_row.contains(">Sent<") && !bo_row.contains("Queued"),
        "{bo_row}"
    );
    assert!(bo_row.contains(">Revoked</div>"), "{bo_row}");
    assert!(
        bo_row.contains("<td data-label=\"Seat\">Builder</td>"),
        "{bo_row}"
    );
    assert!(!bo_row.contains("<form"), "{bo_row}");
    // On a phone the table becomes cards, as the Users table does.
    let css_path = {
        let at = list.body.find("/static/app.").expect("stylesheet link");
        let end = list.body[at..].find('"').unwrap() + at;
        list.body[at..end].to_string()
    };
    let css = olivia.get(&css_path).await;
    assert_eq!(css.status, 200);
    // Every phone-width block of the stylesheet, and what follows each.
    let phone: String = css
        .body
        .split("@media (max-width: 40rem)")
        .skip(1)
        .collect();
    assert!(!phone.is_empty(), "a phone rule");
    for rule in [
        "table.invites thead",
        "table.invites tr { display: block;",
        "table.invites td::before { content: attr(data-label);",
        "table.invites td.no-value { display: none; }",
    ] {
        assert!(phone.contains(rule), "missing {rule:?}");
    }
}
