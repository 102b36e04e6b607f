//! An admin manages a member's email addresses from the member page (SPEC §3 "Emails
//! (admin)", §4.8): only on the workspace's verified domains; an added address counts once
//! the member confirms it; never the last or the primary removed; the old primary is told.

use diesel::prelude::*;
use gatehouse::db::schema::{accounts, audit_events, email_addresses, members};
use gatehouse::permissions::BuiltinRole;
use gatehouse::services::domains;

use crate::support::{address_id, address_state, link, mail_to, Client, Page, TestApp, PASSWORD};
use crate::tests;

tests![
    an_admin_cannot_add_an_address_off_the_verified_domains_and_nothing_is_written,
    an_admin_adds_an_address_the_member_confirms_it_and_it_becomes_their_login,
    the_last_address_and_the_primary_cannot_be_removed_but_another_can,
    an_address_another_account_confirmed_is_refused,
    an_address_of_another_member_or_workspace_is_not_found,
    a_member_without_members_edit_is_refused_and_nothing_changes,
    an_admin_cannot_manage_the_owners_addresses,
];

/// Acme (Owner Olivia) with Ada, an Admin, and Mia, a Member whose primary address is
/// `mia_email`.
struct Acme {
    id: i64,
    owner: i64,
    mia: i64,
}

fn acme(app: &TestApp, mia_email: &str) -> Acme {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    app.add_member(
        ws.workspace_id,
        "ada@acme.example",
        "Ada Admin",
        BuiltinRole::Admin,
    );
    let mia = app.add_member(
        ws.workspace_id,
        mia_email,
        "Mia Member",
        BuiltinRole::Member,
    );
    Acme {
        id: ws.workspace_id,
        owner: app.workspace_owner_member(ws.workspace_id),
        mia,
    }
}

fn verify_domain(app: &TestApp, domain: &str) {
    app.with_db(|conn| domains::verify_by_operator(conn, "acme", domain).unwrap());
}

async fn signed_in(app: &TestApp, email: &str) -> Client {
    let client = app.client();
    assert_eq!(
        client.sign_in(email, PASSWORD).await.status,
        303,
        "sign in as {email}"
    );
    client
}

fn page(member: i64) -> String {
    format!("/w/acme/users/{member}")
}

fn search_text(app: &TestApp, member: i64) -> String {
    app.with_db(|conn| {
        members::table
            .inner_join(accounts::table)
            .filter(members::id.eq(member))
            .select(accounts::search_text)
            .first(conn)
            .unwrap()
    })
}

/// Workspace-scoped audit events of `action` about `member`.
fn member_events(app: &TestApp, workspace: i64, action: &str, member: i64) -> Vec<String> {
    app.with_db(|conn| {
        audit_events::table
            .filter(audit_events::workspace_id.eq(workspace))
            .filter(audit_events::action.eq(action))
            .filter(audit_events::target_type.eq("member"))
            .filter(audit_events::target_id.eq(member))
            .order(audit_events::id)
            .select(audit_events::changes)
            .load(conn)
            .unwrap()
    })
}

/// Everything a refused request must leave as it was.
fn snapshot(app: &TestApp) -> [i64; 3] {
    [
        app.count("email_addresses"),
        app.count("outbox"),
        app.count("audit_events"),
    ]
}

/// The CSRF token comes from the Users list, which every actor here can open (a member's
/// page may be a 404 for them).
async fn add(client: &Client, member: i64, email: &str) -> Page {
    client
        .submit(
            "/w/acme/users",
            &format!("{}/emails", page(member)),
            &[("email", email)],
        )
        .await
}

async fn act(client: &Client, member: i64, email_id: i64, action: &str) -> Page {
    client
        .submit(
            "/w/acme/users",
            &format!("{}/emails/{email_id}/{action}", page(member)),
            &[],
        )
        .await
}

async fn an_admin_cannot_add_an_address_off_the_verified_domains_and_nothing_is_written(
    app: TestApp,
) {
    let acme = acme(&app, "mia@acme.example");
    let admin = signed_in(&app, "ada@acme.example").await;

    // No verified domain yet: no form, and a POST is refused.
    let before = admin.get(&page(acme.mia)).await;
    assert_eq!(before.status, 200);
    before.assert_lacks("Add an address");
    before.assert_contains("These addresses belong to the member: this workspace has no verified domain, so none can be managed here.");
    let start = snapshot(&app);
    let refused = add(&admin, acme.mia, "mia.m@acme.example").await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("This workspace has no verified domain");
    assert_eq!(snapshot(&app), start);

    verify_domain(&app, "acme.example");
    let form = admin.get(&page(acme.mia)).await;
    form.assert_contains("Add an address");
    form.assert_contains("<label for=\"member-new-email\">");
    form.assert_contains("On acme.example.");

    let start = snapshot(&app);
    let refused = add(&admin, acme.mia, "  Mia@Home.example ").await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("<p class=\"field-error\" id=\"member-new-email-error\">Mia@Home.example is not on a verified domain of this workspace: you can add addresses on acme.example only.");
    refused.assert_contains(
        "aria-describedby=\"member-new-email-help member-new-email-error\" aria-invalid=\"true\"",
    );
    refused.assert_contains("value=\"Mia@Home.example\"");
    // Near misses of the domain are other domains too.
    for other in [
        "mia@sub.acme.example",
        "mia@acme.example.evil.example",
        "not an address",
    ] {
        assert_eq!(add(&admin, acme.mia, other).await.status, 422, "{other}");
    }
    assert_eq!(snapshot(&app), start, "nothing written, no mail queued");
    assert_eq!(address_state(&app, "mia@home.example"), None);
    assert!(app.mail.received().is_empty());
}

async fn an_admin_adds_an_address_the_member_confirms_it_and_it_becomes_their_login(app: TestApp) {
    let acme = acme(&app, "mia@home.example");
    // Domain verification through the real command line, as an operator does it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["domain", "verify", "acme", "ACME.example"])
        .env("DATABASE_URL", app.db.url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run gatehouse");
    assert!(out.status.success(), "{out:?}");
    let admin = signed_in(&app, "ada@acme.example").await;

    // The personal address is shown read-only, with why.
    let shown = admin.get(&page(acme.mia)).await;
    shown.assert_contains("mia@home.example");
    shown.assert_contains("<span class=\"badge\">Read-only</span>");
    shown.assert_contains(
        "Addresses marked read-only belong to the member: only addresses on acme.example can be managed here.",
    );
    let home = address_id(&app, "mia@home.example");
    let start = snapshot(&app);
    let refused = act(&admin, acme.mia, home, "delete").await;
    assert_eq!(refused.status, 422);
    refused.assert_contains(
        "This address belongs to the member: only addresses on acme.example can be managed here.",
    );
    assert_eq!(
        act(&admin, acme.mia, home, "primary").await.status,
        422,
        "already primary, and not the admin's anyway"
    );
    assert_eq!(snapshot(&app), start);

    let added = add(&admin, acme.mia, "Mia.Member@Acme.example").await;
    assert_eq!(added.status, 303);
    assert_eq!(added.location.as_deref(), Some(page(acme.mia).as_str()));
    let after = admin.get(&page(acme.mia)).await;
    after.assert_contains("We sent a confirmation link to Mia.Member@Acme.example.");
    after.assert_contains("Counts once the member opens the link mailed to it.");
    after.assert_lacks("Make primary");
    assert_eq!(
        address_state(&app, "mia.member@acme.example"),
        Some((false, false))
    );
    assert!(search_text(&app, acme.mia).contains("mia.member@acme.example"));
    let events = member_events(&app, acme.id, "member.email_added", acme.mia);
    assert_eq!(events.len(), 1);
    assert!(events[0].contains("mia.member@acme.example"), "{events:?}");

    let mails = app.mail.wait_for(2).await;
    let verify = mail_to(
        &mails,
        "mia.member@acme.example",
        "Confirm your email address",
    );
    assert!(
        verify
            .text
            .contains("Ada Admin, an admin of Acme, added this address"),
        "{}",
        verify.text
    );
    let notice = mail_to(
        &mails,
        "mia@home.example",
        "An email address was added to your Gatehouse account",
    );
    assert!(
        notice
            .text
            .contains("Ada Admin, an admin of Acme, added the address Mia.Member@Acme.example"),
        "{}",
        notice.text
    );

    // Unconfirmed, it counts for nothing: not primary, no sign-in.
    let new = address_id(&app, "mia.member@acme.example");
    let early = act(&admin, acme.mia, new, "primary").await;
    assert_eq!(early.status, 422);
    early.assert_contains(&format!("<p class=\"field-error\" id=\"email-{new}-error\" role=\"alert\">The member hasn&#39;t confirmed this address yet"));
    assert_eq!(
        app.client()
            .sign_in("mia.member@acme.example", PASSWORD)
            .await
            .status,
        422
    );

    // "Send a new link": the earlier link stops working.
    let first = link(verify, "/account/emails/verify/");
    let resent = add(&admin, acme.mia, "mia.member@acme.example").await;
    assert_eq!(resent.status, 303);
    admin.get(&page(acme.mia)).await.assert_contains(
        "We sent a new confirmation link to mia.member@acme.example; earlier links no longer work.",
    );
    assert_eq!(
        member_events(&app, acme.id, "member.email_verification_resent", acme.mia).len(),
        1
    );
    let mails = app.mail.wait_for(3).await;
    let fresh = mails
        .iter()
        .rfind(|m| m.to == "mia.member@acme.example")
        .unwrap();
    let path = link(fresh, "/account/emails/verify/");
    assert_ne!(path, first);

    // The member confirms it through the mailed link, signed in as themselves.
    let mia = signed_in(&app, "mia@home.example").await;
    assert_eq!(
        mia.get(&first).await.status,
        410,
        "the first link is retired"
    );
    let confirmed = mia.submit(&path, &path, &[]).await;
    assert_eq!(confirmed.location.as_deref(), Some("/account"));
    assert_eq!(
        address_state(&app, "mia.member@acme.example"),
        Some((true, false))
    );

    admin.get(&page(acme.mia)).await.assert_contains(&format!(
        "action=\"/w/acme/users/{}/emails/{new}/primary\"",
        acme.mia
    ));
    let made = act(&admin, acme.mia, new, "primary").await;
    assert_eq!(made.status, 303);
    admin
        .get(&page(acme.mia))
        .await
        .assert_contains("Mia.Member@Acme.example is now the member&#39;s primary address");
    assert_eq!(
        address_state(&app, "mia.member@acme.example"),
        Some((true, true))
    );
    assert_eq!(address_state(&app, "mia@home.example"), Some((true, false)));
    let events = member_events(&app, acme.id, "member.primary_email_changed", acme.mia);
    assert_eq!(events.len(), 1);
    assert!(
        events[0].contains("\"before\":{\"primary\":\"mia@home.example\"}"),
        "{events:?}"
    );

    let mails = app.mail.wait_for(4).await;
    let told = mail_to(
        &mails,
        "mia@home.example",
        "Your Gatehouse sign-in address changed",
    );
    assert!(
        told.text.contains("Ada Admin, an admin of Acme, changed the sign-in address of your Gatehouse account: it now signs in with Mia.Member@Acme.example instead of mia@home.example."),
        "{}",
        told.text
    );
    assert_eq!(
        app.client()
            .sign_in("mia@home.example", PASSWORD)
            .await
            .status,
        422,
        "the old address is no longer the login"
    );
    signed_in(&app, "mia.member@acme.example").await;
}

async fn the_last_address_and_the_primary_cannot_be_removed_but_another_can(app: TestApp) {
    let acme = acme(&app, "mia@acme.example");
    verify_domain(&app, "acme.example");
    let admin = signed_in(&app, "ada@acme.example").await;
    let only = address_id(&app, "mia@acme.example");

    let start = snapshot(&app);
    let last = act(&admin, acme.mia, only, "delete").await;
    assert_eq!(last.status, 422);
    last.assert_contains(&format!("<p class=\"field-error\" id=\"email-{only}-error\" role=\"alert\">This is the member&#39;s only address, so it cannot be removed.</p>"));
    assert_eq!(snapshot(&app), start);

    assert_eq!(
        add(&admin, acme.mia, "m.member@acme.example").await.status,
        303
    );
    let second = address_id(&app, "m.member@acme.example");
    let shown = admin.get(&page(acme.mia)).await;
    shown.assert_contains(&format!("/emails/{second}/delete"));
    shown.assert_lacks(&format!("/emails/{only}/delete"));

    let start = snapshot(&app);
    let primary = act(&admin, acme.mia, only, "delete").await;
    assert_eq!(primary.status, 422);
    primary.assert_contains("This is the member&#39;s primary address, which they sign in with: make another of their confirmed addresses primary first, then remove this one.");
    assert_eq!(snapshot(&app), start);
    assert_eq!(address_state(&app, "mia@acme.example"), Some((true, true)));

    let removed = act(&admin, acme.mia, second, "delete").await;
    assert_eq!(removed.status, 303);
    admin
        .get(&page(acme.mia))
        .await
        .assert_contains("m.member@acme.example was removed from the member&#39;s account.");
    assert_eq!(address_state(&app, "m.member@acme.example"), None);
    assert!(!search_text(&app, acme.mia).contains("m.member@acme.example"));
    assert_eq!(
        member_events(&app, acme.id, "member.email_removed", acme.mia).len(),
        1
    );
    let mails = app.mail.wait_for(3).await;
    let told = mail_to(
        &mails,
        "mia@acme.example",
        "An email address was removed from your Gatehouse account",
    );
    assert!(
        told.text.contains("Ada Admin, an admin of Acme, removed"),
        "{}",
        told.text
    );
}

async fn an_address_another_account_confirmed_is_refused(app: TestApp) {
    let acme = acme(&app, "mia@acme.example");
    verify_domain(&app, "acme.example");
    let admin = signed_in(&app, "ada@acme.example").await;
    let start = snapshot(&app);
    let taken = add(&admin, acme.mia, "ADA@acme.example").await;
    assert_eq!(taken.status, 422);
    taken.assert_contains("ADA@acme.example has been confirmed by another account, so it cannot be added to this member.");
    let already = add(&admin, acme.mia, "mia@acme.example").await;
    assert_eq!(already.status, 422);
    already.assert_contains("mia@acme.example is already a confirmed address of this member.");
    assert_eq!(snapshot(&app), start);
}

async fn an_address_of_another_member_or_workspace_is_not_found(app: TestApp) {
    let acme = acme(&app, "mia@acme.example");
    verify_domain(&app, "acme.example");
    app.add_member(acme.id, "rick@acme.example", "Rick", BuiltinRole::Member);
    let globex = app.create_workspace("Globex", "gus@globex.example", "Gus Globex");
    let gus = app.workspace_owner_member(globex.workspace_id);
    let admin = signed_in(&app, "ada@acme.example").await;
    let ricks = address_id(&app, "rick@acme.example");
    let start = snapshot(&app);
    for action in ["primary", "delete"] {
        assert_eq!(act(&admin, acme.mia, ricks, action).await.status, 404);
        let odd = admin
            .submit(
                "/w/acme/users",
                &format!("{}/emails/x{ricks}/{action}", page(acme.mia)),
                &[],
            )
            .await;
        assert_eq!(odd.status, 404);
    }
    // Globex's member, seen from Acme.
    let gus_address = address_id(&app, "gus@globex.example");
    assert_eq!(add(&admin, gus, "gus@acme.example").await.status, 404);
    assert_eq!(act(&admin, gus, gus_address, "delete").await.status, 404);
    assert_eq!(snapshot(&app), start);
    assert_eq!(address_state(&app, "rick@acme.example"), Some((true, true)));
}

async fn a_member_without_members_edit_is_refused_and_nothing_changes(app: TestApp) {
    let acme = acme(&app, "mia@acme.example");
    verify_domain(&app, "acme.example");
    let rick = app.add_member(acme.id, "rick@acme.example", "Rick", BuiltinRole::Member);
    let ricks = address_id(&app, "rick@acme.example");
    let mia = signed_in(&app, "mia@acme.example").await;
    let shown = mia.get(&page(rick)).await;
    assert_eq!(shown.status, 200);
    shown.assert_lacks("Add an address");
    shown.assert_lacks("/emails/");
    let start = snapshot(&app);
    assert_eq!(add(&mia, rick, "rick.r@acme.example").await.status, 403);
    assert_eq!(act(&mia, rick, ricks, "primary").await.status, 403);
    assert_eq!(act(&mia, rick, ricks, "delete").await.status, 403);
    // Their own page does not offer the admin's controls either.
    let own = mia.get(&page(acme.mia)).await;
    own.assert_lacks("Add an address");
    own.assert_contains("Change your own addresses on <a href=\"/account\">your account page</a>.");
    assert_eq!(add(&mia, acme.mia, "mia.m@acme.example").await.status, 403);
    assert_eq!(snapshot(&app), start);
}

async fn an_admin_cannot_manage_the_owners_addresses(app: TestApp) {
    let acme = acme(&app, "mia@acme.example");
    verify_domain(&app, "acme.example");
    let admin = signed_in(&app, "ada@acme.example").await;
    let owners = address_id(&app, "olivia@acme.example");
    let shown = admin.get(&page(acme.owner)).await;
    assert_eq!(shown.status, 200);
    shown.assert_lacks("Add an address");
    shown.assert_lacks("/emails/");
    let start = snapshot(&app);
    assert_eq!(add(&admin, acme.owner, "o@acme.example").await.status, 403);
    assert_eq!(act(&admin, acme.owner, owners, "primary").await.status, 403);
    assert_eq!(act(&admin, acme.owner, owners, "delete").await.status, 403);
    assert_eq!(snapshot(&app), start);

    // The Owner can manage an Admin's addresses, but not their own through this screen.
    let owner = signed_in(&app, "olivia@acme.example").await;
    let ada = address_id(&app, "ada@acme.example");
    let ada_member = app.with_db(|conn| {
        members::table
            .inner_join(
                email_addresses::table.on(email_addresses::account_id.eq(members::account_id)),
            )
            .filter(email_addresses::id.eq(ada))
            .select(members::id)
            .first::<i64>(conn)
            .unwrap()
    });
    assert_eq!(
        add(&owner, ada_member, "ada.a@acme.example").await.status,
        303
    );
    let own = add(&owner, acme.owner, "olivia.o@acme.example").await;
    assert_eq!(own.status, 403);
    own.assert_contains("Change your name and addresses on your Account page.");
    assert_eq!(address_state(&app, "olivia.o@acme.example"), None);
}
