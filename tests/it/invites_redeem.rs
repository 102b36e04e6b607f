//! Redeeming an invite safely: the inviter's rights are checked again when it is accepted,
//! only the link mailed to the invited address proves it, and token links parse strictly.

use diesel::prelude::*;
use gatehouse::db::schema::{email_addresses, invites, members, permission_grants};
use gatehouse::models::role::Role;
use gatehouse::permissions::{BuiltinRole, Grant, Permission, Scope};

use crate::invites::{accept_new, invite, owner, workspace, Ws};
use crate::support::{address_state, link, mail_to, Client, Page, TestApp, PASSWORD};
use crate::tests;

tests![
    an_invite_from_an_admin_since_demoted_to_member_cannot_make_an_admin,
    an_invite_from_an_archived_inviter_cannot_be_accepted,
    an_invite_from_a_removed_inviter_cannot_be_accepted,
    an_invite_whose_inviters_custom_role_lost_a_permission_cannot_be_accepted,
    an_invite_whose_inviters_direct_grant_expired_cannot_be_accepted,
    an_invite_sent_to_a_notification_email_leaves_the_address_unconfirmed_until_its_own_link_is_opened,
    the_link_shown_to_the_inviter_joins_without_confirming_while_the_mailed_link_confirms,
    an_existing_account_joining_through_the_shown_link_keeps_the_address_unconfirmed,
    resend_replaces_both_links_and_kills_both_old_ones,
    malformed_tokens_are_unknown_links_on_every_token_route,
    the_access_log_never_shows_a_token_however_the_path_is_spelled,
];

const REFUSAL: &str = "can no longer be accepted because the person who sent it, Ada Admin, can no longer offer these roles";

/// Ada, an Admin of Acme (member id), signed in.
async fn ada(app: &TestApp, ws: &Ws) -> (i64, Client) {
    let member = app.add_member(ws.id, "ada@acme.example", "Ada Admin", BuiltinRole::Admin);
    let client = app.client();
    assert_eq!(
        client.sign_in("ada@acme.example", PASSWORD).await.status,
        303
    );
    (member, client)
}

/// Ada invites `email` with these roles; returns the mailed link's path.
async fn ada_invites(
    app: &TestApp,
    ws: &Ws,
    client: &Client,
    email: &str,
    roles: &[i64],
) -> String {
    let before = app.mail.received().len();
    assert_eq!(invite(client, ws, email, roles, "member").await.status, 303);
    let mails = app.mail.wait_for(before + 1).await;
    mails
        .iter()
        .find(|m| m.to == email)
        .expect("invitation")
        .invite_path()
}

fn set_roles(app: &TestApp, member: i64, role: i64) {
    app.with_db(|conn| Role::replace_for_member(conn, member, &[(role, true)]).unwrap());
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

/// The refusal, on the GET (before anything is typed) and on the POST, changing nothing.
async fn assert_refused(app: &TestApp, path: &str, email: &str, refusal: &str) {
    let (accounts, members, audit) = (
        app.count("accounts"),
        app.count("members"),
        app.count("audit_events"),
    );
    let page = app.client().get(path).await;
    assert_eq!(page.status, 403);
    page.assert_contains("This invitation can no longer be accepted");
    page.assert_contains(refusal);
    page.assert_contains("Ask an admin of Acme to invite you again.");
    page.assert_lacks("Create account and join");
    // A form opened earlier (or forged) and submitted now.
    let tab = app.client();
    let csrf = tab.get("/login").await.csrf();
    let done = tab
        .post_raw(
            path,
            &[
                ("csrf_token", &csrf),
                ("name", "Eve Invitee"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    // Refused (422): the same page, with the refusal at the top.
    assert_eq!(done.status, 422);
    done.assert_contains(refusal);
    done.assert_contains(
        "Nothing was changed: the person who sent this invitation can no longer offer these roles.",
    );
    assert_eq!(app.count("accounts"), accounts, "no account created");
    assert_eq!(app.count("members"), members, "no membership");
    assert_eq!(app.count("audit_events"), audit, "nothing recorded");
    assert_eq!(
        invite_status(app, email),
        "pending",
        "the invite stays pending"
    );
    assert_eq!(address_state(app, email), None);
}

fn role_of(app: &TestApp, email: &str) -> Vec<String> {
    use gatehouse::db::schema::{member_roles, roles};
    app.with_db(|conn| {
        members::table
            .inner_join(
                email_addresses::table.on(email_addresses::account_id.eq(members::account_id)),
            )
            .inner_join(member_roles::table.inner_join(roles::table))
            .filter(email_addresses::canonical.eq(email))
            .select(roles::name)
            .load(conn)
            .unwrap()
    })
}

async fn an_invite_from_an_admin_since_demoted_to_member_cannot_make_an_admin(app: TestApp) {
    let ws = workspace(&app);
    let (ada_member, ada_client) = ada(&app, &ws).await;
    let admin_role = app.role_id(ws.id, BuiltinRole::Admin);
    let path = ada_invites(&app, &ws, &ada_client, "eve@example.com", &[admin_role]).await;
    assert_eq!(
        app.client().get(&path).await.status,
        200,
        "acceptable while Ada is an Admin"
    );
    set_roles(&app, ada_member, app.role_id(ws.id, BuiltinRole::Member));
    assert_refused(&app, &path, "eve@example.com", REFUSAL).await;
    // The Invites list says so, for the admins who could send it again.
    let olivia = owner(&app).await;
    let list = olivia.get("/w/acme/invites").await;
    list.assert_contains("Can't be accepted: Ada Admin can no longer offer these roles.");
    // Should Ada be an Admin again, the same invite works (it never stopped being pending).
    set_roles(&app, ada_member, admin_role);
    olivia
        .get("/w/acme/invites")
        .await
        .assert_lacks("Can't be accepted");
    let (_, done) = accept_new(&app, &path, "Eve Invitee").await;
    assert_eq!(done.status, 303);
    assert_eq!(role_of(&app, "eve@example.com"), ["Admin"]);
}

async fn an_invite_from_an_archived_inviter_cannot_be_accepted(app: TestApp) {
    let ws = workspace(&app);
    let (ada_member, ada_client) = ada(&app, &ws).await;
    let admin_role = app.role_id(ws.id, BuiltinRole::Admin);
    let first = ada_invites(&app, &ws, &ada_client, "eve@example.com", &[admin_role]).await;
    // Archiving Ada through the member page revokes what she sent.
    let olivia = owner(&app).await;
    let page = format!("/w/acme/users/{ada_member}");
    let archived = olivia
        .submit(&page, &format!("{page}/archive"), &[("confirm", "yes")])
        .await;
    assert_eq!(archived.status, 303);
    let gone = app.client().get(&first).await;
    assert_eq!(gone.status, 410);
    gone.assert_contains("This invitation was withdrawn");
    // And an invite of hers that escaped that (archived by any other path) is refused when
    // it is used: an archived member offers nothing.
    app.with_db(|conn| {
        diesel::update(members::table.find(ada_member))
            .set(members::status.eq("active"))
            .execute(conn)
            .unwrap()
    });
    // (Archiving ended her sessions: she signs in again.)
    let ada_again = app.client();
    ada_again.sign_in("ada@acme.example", PASSWORD).await;
    let second = ada_invites(&app, &ws, &ada_again, "fay@example.com", &[admin_role]).await;
    app.with_db(|conn| {
        diesel::update(members::table.find(ada_member))
            .set(members::status.eq("archived"))
            .execute(conn)
            .unwrap()
    });
    assert_refused(&app, &second, "fay@example.com", REFUSAL).await;
}

async fn an_invite_from_a_removed_inviter_cannot_be_accepted(app: TestApp) {
    let ws = workspace(&app);
    let (ada_member, ada_client) = ada(&app, &ws).await;
    let member_role = app.role_id(ws.id, BuiltinRole::Member);
    let first = ada_invites(&app, &ws, &ada_client, "eve@example.com", &[member_role]).await;
    // Removal through the member page revokes the invites she sent …
    let olivia = owner(&app).await;
    let page = format!("/w/acme/users/{ada_member}");
    let removed = olivia
        .submit(&page, &format!("{page}/remove"), &[("confirm", "yes")])
        .await;
    assert_eq!(removed.status, 303);
    let gone = app.client().get(&first).await;
    assert_eq!(gone.status, 410);
    gone.assert_contains("This invitation was withdrawn");
    assert_eq!(invite_status(&app, "eve@example.com"), "revoked");
    // … and an invite of a removed member that escaped that hook is refused when used.
    let bea_member = app.add_member(ws.id, "bea@acme.example", "Bea Admin", BuiltinRole::Admin);
    let bea = app.client();
    bea.sign_in("bea@acme.example", PASSWORD).await;
    let second = ada_invites(&app, &ws, &bea, "fay@example.com", &[member_role]).await;
    app.with_db(|conn| {
        diesel::update(members::table.find(bea_member))
            .set(members::status.eq("removed"))
            .execute(conn)
            .unwrap()
    });
    assert_refused(
        &app,
        &second,
        "fay@example.com",
        "can no longer be accepted because the person who sent it, Bea Admin, can no longer offer these roles",
    )
    .await;
    // An offer nobody is on record for (its inviter's account deleted) grants nothing either.
    app.with_db(|conn| {
        diesel::update(invites::table.filter(invites::canonical.eq("fay@example.com")))
            .set(invites::invited_by.eq(None::<i64>))
            .execute(conn)
            .unwrap()
    });
    assert_refused(
        &app,
        &second,
        "fay@example.com",
        "can no longer be accepted because the person who sent it can no longer offer these roles",
    )
    .await;
}

async fn an_invite_whose_inviters_custom_role_lost_a_permission_cannot_be_accepted(app: TestApp) {
    let ws = workspace(&app);
    // Ada holds only a custom "Recruiter" role: she may invite, and grant Viewer.
    let recruiter_grants = [
        Grant {
            permission: Permission::MembersInvite,
            scope: None,
        },
        Grant {
            permission: Permission::MembersView,
            scope: Some(Scope::All),
        },
        Grant {
            permission: Permission::RecordsView,
            scope: Some(Scope::All),
        },
    ];
    let recruiter = app.with_db(|conn| {
        let now = gatehouse::models::now();
        let id = gatehouse::models::role::NewRole {
            workspace_id: ws.id,
            builtin_key: None,
            name: "Recruiter",
            name_canonical: "recruiter".into(),
            description: "Invites viewers",
            position: 10,
            created_at: now,
            updated_at: now,
        }
        .insert(conn)
        .unwrap();
        gatehouse::models::role::set_permissions(conn, id, &recruiter_grants).unwrap();
        id
    });
    let (ada_member, ada_client) = ada(&app, &ws).await;
    set_roles(&app, ada_member, recruiter);
    let viewer = app.role_id(ws.id, BuiltinRole::Viewer);
    let path = ada_invites(&app, &ws, &ada_client, "eve@example.com", &[viewer]).await;
    assert_eq!(app.client().get(&path).await.status, 200);
    // The role is edited to see only her team's records: she can no longer grant Viewer.
    app.with_db(|conn| {
        let mut narrower = recruiter_grants.to_vec();
        narrower[2].scope = Some(Scope::Team);
        gatehouse::models::role::set_permissions(conn, recruiter, &narrower).unwrap()
    });
    assert_refused(&app, &path, "eve@example.com", REFUSAL).await;
    // Restored, then stripped of members.invite itself: refused too.
    app.with_db(|conn| {
        gatehouse::models::role::set_permissions(conn, recruiter, &recruiter_grants[1..]).unwrap()
    });
    assert_refused(&app, &path, "eve@example.com", REFUSAL).await;
}

async fn an_invite_whose_inviters_direct_grant_expired_cannot_be_accepted(app: TestApp) {
    let ws = workspace(&app);
    let (ada_member, ada_client) = ada(&app, &ws).await;
    // Ada is a Member who may invite through an approved request's grant, until it expires.
    set_roles(&app, ada_member, app.role_id(ws.id, BuiltinRole::Member));
    app.with_db(|conn| {
        let now = gatehouse::models::now();
        let olivia =
            gatehouse::models::account::Account::find_by_login(conn, "olivia@acme.example")
                .unwrap()
                .unwrap();
        Role::grant(
            conn,
            ada_member,
            &Grant {
                permission: Permission::MembersInvite,
                scope: None,
            },
            Some(now + chrono::TimeDelta::days(1)),
            olivia.id,
            now,
        )
        .unwrap()
    });
    let member_role = app.role_id(ws.id, BuiltinRole::Member);
    let path = ada_invites(&app, &ws, &ada_client, "eve@example.com", &[member_role]).await;
    assert_eq!(app.client().get(&path).await.status, 200);
    // The clock passes the grant's last moment: no event, yet the invite is no longer hers to give.
    app.with_db(|conn| {
        diesel::update(permission_grants::table.filter(permission_grants::member_id.eq(ada_member)))
            .set(permission_grants::expires_at.eq(Some(
                gatehouse::models::now() - chrono::TimeDelta::minutes(1),
            )))
            .execute(conn)
            .unwrap()
    });
    assert_refused(&app, &path, "eve@example.com", REFUSAL).await;
}

/// Opens a confirmation link signed in and presses its button.
async fn confirm(client: &Client, path: &str) -> Page {
    let page = client.get(path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    client.submit(path, path, &[]).await
}

/// The first copyable link on the Invites page (shown once), as a path.
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

async fn an_invite_sent_to_a_notification_email_leaves_the_address_unconfirmed_until_its_own_link_is_opened(
    app: TestApp,
) {
    let ws = workspace(&app);
    let olivia = owner(&app).await;
    let member_role = app.role_id(ws.id, BuiltinRole::Member).to_string();
    let sent = olivia
        .submit(
            "/w/acme/invites",
            "/w/acme/invites",
            &[
                ("emails", "ana@example.com"),
                ("role", &member_role),
                ("seat_type", "member"),
                ("notification_email", "hr@example.com"),
            ],
        )
        .await;
    assert_eq!(sent.status, 303);
    let mails = app.mail.wait_for(1).await;
    let path = mail_to(&mails, "hr@example.com", "You've been invited to Acme").invite_path();
    // Whoever reads hr@ joins, but proves nothing about ana@.
    let (ana, done) = accept_new(&app, &path, "Ana").await;
    assert_eq!(done.status, 303);
    assert_eq!(
        address_state(&app, "ana@example.com"),
        Some((false, true)),
        "unconfirmed, still the primary (login) address"
    );
    let home = ana.get("/w/acme/users").await;
    home.assert_contains("ana@example.com is not confirmed yet: we sent a link to it");
    let account = ana.get("/account").await;
    account.assert_contains("Unconfirmed — we sent a link to this address.");
    account.assert_contains("Send the link again");
    // It signs in with the password just set.
    let again = app.client();
    assert_eq!(again.sign_in("ana@example.com", PASSWORD).await.status, 303);
    // The confirmation goes to the invited address itself; opening it confirms.
    let mails = app.mail.wait_for(3).await;
    let confirmation = mail_to(&mails, "ana@example.com", "Confirm your email address");
    let verify = link(confirmation, "/account/emails/verify/");
    assert_eq!(confirm(&again, &verify).await.status, 303);
    assert_eq!(address_state(&app, "ana@example.com"), Some((true, true)));
    again
        .get("/account")
        .await
        .assert_lacks("Unconfirmed — we sent a link");
}

async fn the_link_shown_to_the_inviter_joins_without_confirming_while_the_mailed_link_confirms(
    app: TestApp,
) {
    let ws = workspace(&app);
    let olivia = owner(&app).await;
    let member_role = app.role_id(ws.id, BuiltinRole::Member);
    assert_eq!(
        invite(&olivia, &ws, "ana@example.com", &[member_role], "member")
            .await
            .status,
        303
    );
    let shown = shown_link(&app, &olivia.get("/w/acme/invites").await);
    let mailed = app.mail.wait_for(1).await[0].invite_path();
    assert_ne!(shown, mailed, "two different links");
    // The shown link, opened by whoever it was passed to: joins, proves nothing.
    let (_, done) = accept_new(&app, &shown, "Ana").await;
    assert_eq!(done.status, 303);
    assert_eq!(address_state(&app, "ana@example.com"), Some((false, true)));
    assert_eq!(
        app.client().get(&mailed).await.status,
        410,
        "the invite is used"
    );
    let mails = app.mail.wait_for(3).await;
    mail_to(&mails, "ana@example.com", "Confirm your email address");
    // The mailed link of another invite still confirms, as before.
    assert_eq!(
        invite(&olivia, &ws, "ben@example.com", &[member_role], "member")
            .await
            .status,
        303
    );
    let mails = app.mail.wait_for(4).await;
    let ben = mail_to(&mails, "ben@example.com", "You've been invited to Acme").invite_path();
    let (_, done) = accept_new(&app, &ben, "Ben").await;
    assert_eq!(done.status, 303);
    assert_eq!(address_state(&app, "ben@example.com"), Some((true, true)));
}

async fn an_existing_account_joining_through_the_shown_link_keeps_the_address_unconfirmed(
    app: TestApp,
) {
    let ws = workspace(&app);
    app.create_workspace("Globex", "gary@globex.example", "Gary Globex");
    // Gary has added gary@home.example but never confirmed it.
    app.with_db(|conn| {
        let gary = gatehouse::models::account::Account::find_by_login(conn, "gary@globex.example")
            .unwrap()
            .unwrap();
        gatehouse::models::email_address::NewEmailAddress {
            account_id: gary.id,
            address: "gary@home.example",
            canonical: "gary@home.example",
            verified: false,
            is_primary: false,
            created_at: gatehouse::models::now(),
            verified_at: None,
        }
        .insert(conn)
        .unwrap()
    });
    let olivia = owner(&app).await;
    let member_role = app.role_id(ws.id, BuiltinRole::Member);
    assert_eq!(
        invite(&olivia, &ws, "gary@home.example", &[member_role], "member")
            .await
            .status,
        303
    );
    let shown = shown_link(&app, &olivia.get("/w/acme/invites").await);
    let gary = app.client();
    gary.sign_in("gary@globex.example", PASSWORD).await;
    gary.get(&shown)
        .await
        .assert_contains("Accept and join Acme");
    let done = gary.submit(&shown, &shown, &[]).await;
    assert_eq!(done.status, 303);
    assert_eq!(gary.get("/w/acme/users").await.status, 200, "joined");
    assert_eq!(
        address_state(&app, "gary@home.example"),
        Some((false, false))
    );
    let mails = app.mail.wait_for(3).await;
    let verify = link(
        mail_to(&mails, "gary@home.example", "Confirm your email address"),
        "/account/emails/verify/",
    );
    assert_eq!(confirm(&gary, &verify).await.status, 303);
    assert_eq!(
        address_state(&app, "gary@home.example"),
        Some((true, false))
    );
}

async fn resend_replaces_both_links_and_kills_both_old_ones(app: TestApp) {
    let ws = workspace(&app);
    let olivia = owner(&app).await;
    let member_role = app.role_id(ws.id, BuiltinRole::Member);
    assert_eq!(
        invite(&olivia, &ws, "ana@example.com", &[member_role], "member")
            .await
            .status,
        303
    );
    let old_shown = shown_link(&app, &olivia.get("/w/acme/invites").await);
    let old_mailed = app.mail.wait_for(1).await[0].invite_path();
    let id: i64 = app.with_db(|conn| invites::table.select(invites::id).first(conn).unwrap());
    let resent = olivia
        .submit(
            "/w/acme/invites",
            &format!("/w/acme/invites/{id}/resend"),
            &[],
        )
        .await;
    assert_eq!(resent.status, 303);
    let new_shown = shown_link(&app, &olivia.get("/w/acme/invites").await);
    let new_mailed = app.mail.wait_for(2).await[1].invite_path();
    // The old links say a newer invitation was sent (not "check you copied the link"),
    // and redeem nothing.
    for old in [&old_shown, &old_mailed] {
        let page = app.client().get(old).await;
        assert_eq!(page.status, 410, "{old}");
        page.assert_contains("<h1>This invitation link was replaced</h1>");
        page.assert_contains(
            "A newer invitation to join <strong>Acme</strong> was sent by Olivia Owner",
        );
        page.assert_lacks("name=\"password\"");
    }
    let accounts = app.count("accounts");
    let stranger = app.client();
    let token = stranger.get("/login").await.csrf();
    let refused = stranger
        .post_raw(
            &old_mailed,
            &[
                ("csrf_token", &token),
                ("name", "Ana"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(refused.status, 410);
    refused.assert_contains("This invitation link was replaced");
    assert_eq!(app.count("accounts"), accounts);
    assert_eq!(invite_status(&app, "ana@example.com"), "pending");
    assert_ne!(new_shown, new_mailed);
    assert_eq!(app.client().get(&new_shown).await.status, 200);
    // The new mailed one is the proving one.
    let (_, done) = accept_new(&app, &new_mailed, "Ana").await;
    assert_eq!(done.status, 303);
    assert_eq!(address_state(&app, "ana@example.com"), Some((true, true)));
    assert_eq!(app.client().get(&new_shown).await.status, 410);
    // Once accepted, an old link says so too.
    app.client()
        .get(&old_mailed)
        .await
        .assert_contains("This invitation was already used");
}

/// Every character percent-encoded (`%41%42…`), and that again (`%2541%2542…`).
fn encoded(token: &str) -> (String, String) {
    let once: String = token.bytes().map(|b| format!("%{b:02X}")).collect();
    let twice = once.replace('%', "%25");
    (once, twice)
}

/// The spellings of a real token that must all be unknown links.
fn malformed(token: &str) -> Vec<String> {
    let (once, twice) = encoded(token);
    vec![
        once,
        twice,
        token[..42].to_string(),
        format!("{token}A"),
        format!("{}%2B", &token[..42]),
        format!("{}.", &token[..42]),
        format!("{}=", token),
    ]
}

fn token_of(path: &str, prefix: &str) -> String {
    path.strip_prefix(prefix).expect("prefix").to_string()
}

async fn malformed_tokens_are_unknown_links_on_every_token_route(app: TestApp) {
    // /setup?token= first, while the deployment is empty.
    let setup = app
        .setup_token
        .clone()
        .expect("a setup token on an empty database");
    assert_eq!(
        app.client()
            .get(&format!("/setup?token={setup}"))
            .await
            .status,
        200
    );
    for bad in malformed(&setup) {
        let page = app.client().get(&format!("/setup?token={bad}")).await;
        assert_eq!(page.status, 404, "/setup?token={bad}");
    }
    let ws = workspace(&app);
    // /invite/{token}
    let olivia = owner(&app).await;
    let member_role = app.role_id(ws.id, BuiltinRole::Member);
    assert_eq!(
        invite(&olivia, &ws, "ana@example.com", &[member_role], "member")
            .await
            .status,
        303
    );
    let invite_token = token_of(&app.mail.wait_for(1).await[0].invite_path(), "/invite/");
    assert_eq!(
        app.client()
            .get(&format!("/invite/{invite_token}"))
            .await
            .status,
        200
    );
    let tab = app.client();
    let csrf = tab.get(&format!("/invite/{invite_token}")).await.csrf();
    for bad in malformed(&invite_token) {
        let path = format!("/invite/{bad}");
        let page = app.client().get(&path).await;
        assert_eq!(page.status, 404, "{path}");
        page.assert_contains("This invitation link is not valid");
        let post = tab
            .post_raw(
                &path,
                &[
                    ("csrf_token", &csrf),
                    ("name", "Ana"),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                ],
            )
            .await;
        assert_eq!(post.status, 404, "POST {path}");
    }
    assert_eq!(app.count("accounts"), 1);
    // /reset/{token}
    let anon = app.client();
    anon.submit(
        "/forgot-password",
        "/forgot-password",
        &[("email", "olivia@acme.example")],
    )
    .await;
    let mails = app.mail.wait_for(2).await;
    let reset = token_of(
        &link(
            mail_to(
                &mails,
                "olivia@acme.example",
                "Reset your Gatehouse password",
            ),
            "/reset/",
        ),
        "/reset/",
    );
    assert_eq!(
        app.client().get(&format!("/reset/{reset}")).await.status,
        200
    );
    for bad in malformed(&reset) {
        let page = app.client().get(&format!("/reset/{bad}")).await;
        assert_eq!(page.status, 404, "/reset/{bad}");
        page.assert_contains("This link is not valid");
    }
    // /account/emails/verify/{token}
    let added = olivia
        .submit(
            "/account",
            "/account/emails",
            &[
                ("email", "olivia@home.example"),
                ("current_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(added.status, 303);
    let mails = app.mail.wait_for(4).await;
    let verify = token_of(
        &link(
            mail_to(&mails, "olivia@home.example", "Confirm your email address"),
            "/account/emails/verify/",
        ),
        "/account/emails/verify/",
    );
    let good = format!("/account/emails/verify/{verify}");
    assert_eq!(olivia.get(&good).await.status, 200);
    for bad in malformed(&verify) {
        let page = olivia.get(&format!("/account/emails/verify/{bad}")).await;
        assert_eq!(page.status, 404, "/account/emails/verify/{bad}");
        page.assert_contains("This link is not valid");
    }
    assert_eq!(
        address_state(&app, "olivia@home.example"),
        Some((false, false))
    );
}

async fn the_access_log_never_shows_a_token_however_the_path_is_spelled(app: TestApp) {
    let token = gatehouse::tokens::generate();
    let (once, _) = encoded(&token);
    let spellings = [
        format!("/invite/{token}"),
        format!("/%69nvite/{token}"),
        format!("//invite/{token}"),
        format!("/invite/{once}"),
        format!("/reset/{token}"),
        format!("/account/emails/verify/{token}"),
        format!("/join/{token}"),
        format!("/w/acme/{token}"),
    ];
    for path in &spellings {
        let logged = gatehouse::startup::redact_path(path);
        assert!(!logged.contains(&token), "{path} is logged as {logged}");
        assert!(!logged.contains(&once), "{path} is logged as {logged}");
    }
    // The router accepts the encoded spelling of the route, so it must not leak either.
    let _ = app;
    assert_eq!(
        gatehouse::startup::redact_path("/w/acme/users"),
        "/w/acme/users"
    );
}
