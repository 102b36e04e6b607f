//! The shareable invite link (`/w/{ws}/settings/link`, `/join/{token}`) and the join
//! requests it leads to (`/w/{ws}/requests`), over real HTTP on both databases.

use diesel::prelude::*;
use gatehouse::db::schema::{join_links, join_requests, members};
use gatehouse::models::role::Role;
use gatehouse::permissions::BuiltinRole;

use crate::support::{link, mail_to, Client, TestApp, PASSWORD};
use crate::tests;

tests![
    enabling_shows_the_link_once_and_rotating_or_disabling_kills_it,
    a_signed_in_account_joins_without_approval_with_the_default_roles,
    with_approval_a_request_waits_admins_are_mailed_and_approval_joins,
    a_denied_join_request_mails_the_requester_and_changes_nothing_else,
    max_uses_hold_under_parallel_joins_and_expiry_is_enforced,
    seats_and_the_daily_limit_are_respected,
    a_link_set_by_a_demoted_admin_no_longer_grants_admin,
    a_new_person_joins_only_after_confirming_the_mailed_link,
];

const SETTINGS: &str = "/w/acme/settings/link";

/// Saves the link settings as the signed-in admin; the link's path when one is shown.
async fn save_link(client: &Client, fields: &[(&str, &str)]) -> Option<String> {
    let saved = client.submit(SETTINGS, SETTINGS, fields).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    shown_link(client).await
}

/// The `/join/…` path on the settings page, if it is shown.
async fn shown_link(client: &Client) -> Option<String> {
    let page = client.get(SETTINGS).await;
    assert_eq!(page.status, 200);
    let input = page.body.find("id=\"join-url\"")?;
    let start = page.body[input..].find("/join/")? + input;
    let end = page.body[start..].find('"')? + start;
    Some(page.body[start..end].to_string())
}

async fn owner(app: &TestApp) -> (i64, Client) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    (ws.workspace_id, client)
}

/// A signed-in account that is not a member of Acme (it owns its own workspace).
async fn outsider(app: &TestApp, email: &str, name: &str, ws: &str) -> Client {
    app.create_workspace(ws, email, name);
    let client = app.client();
    client.sign_in(email, PASSWORD).await;
    client
}

/// Opens the link page and presses its button.
async fn press(client: &Client, path: &str) -> crate::support::Page {
    client.submit(path, path, &[]).await
}

fn acme_members(app: &TestApp, workspace_id: i64) -> i64 {
    app.with_db(|conn| {
        members::table
            .filter(members::workspace_id.eq(workspace_id))
            .filter(members::status.eq("active"))
            .count()
            .get_result(conn)
            .unwrap()
    })
}

fn joined_via(app: &TestApp, workspace_id: i64) -> Vec<(Option<String>, Option<i64>)> {
    app.with_db(|conn| {
        members::table
            .filter(members::workspace_id.eq(workspace_id))
            .filter(members::joined_via.is_not_null())
            .select((members::joined_via, members::approved_by))
            .load(conn)
            .unwrap()
    })
}

async fn enabling_shows_the_link_once_and_rotating_or_disabling_kills_it(app: TestApp) {
    let (ws, admin) = owner(&app).await;
    let member_role = app.role_id(ws, BuiltinRole::Member).to_string();
    assert_eq!(shown_link(&admin).await, None, "no link before it is on");
    let first = save_link(&admin, &[("enabled", "on"), ("role", &member_role)])
        .await
        .expect("the link is shown right after enabling");
    let visitor = app.client();
    let open = visitor.get(&first).await;
    assert_eq!(open.status, 200);
    open.assert_contains("Join Acme");
    // Stored only hashed: shown once.
    assert_eq!(shown_link(&admin).await, None);
    admin
        .get(SETTINGS)
        .await
        .assert_contains("Rotate to get a new link");
    let stored: Option<String> = app.with_db(|conn| {
        join_links::table
            .select(join_links::token_hash)
            .first(conn)
            .unwrap()
    });
    assert!(!stored.unwrap().contains(first.trim_start_matches("/join/")));
    let rotated = admin
        .submit(SETTINGS, "/w/acme/settings/link/rotate", &[])
        .await;
    assert_eq!(rotated.status, 303);
    let second = shown_link(&admin).await.expect("a new link after rotating");
    assert_ne!(first, second);
    let old = visitor.get(&first).await;
    assert_eq!(old.status, 404, "the old link dies at once");
    old.assert_contains("This invite link is not valid");
    assert_eq!(visitor.get(&second).await.status, 200);
    // Off: a clear page, and nobody joins.
    save_link(&admin, &[("role", &member_role)]).await;
    let off = visitor.get(&second).await;
    assert_eq!(off.status, 410);
    off.assert_contains("This invite link is turned off");
    let jo = outsider(&app, "jo@else.example", "Jo Else", "Else").await;
    let refused = press(&jo, &second).await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("turned off");
    assert_eq!(acme_members(&app, ws), 1);
    assert_eq!(app.count_audit("join_link.updated"), 2);
    assert_eq!(app.count_audit("join_link.rotated"), 1);
    // Bad values are refused beside their fields, kept.
    let bad = admin
        .submit(
            SETTINGS,
            SETTINGS,
            &[
                ("enabled", "on"),
                ("role", &member_role),
                ("max_uses", "-3"),
                ("expires_on", "2001-01-01"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    bad.assert_contains("whole number");
    bad.assert_contains("value=\"-3\"");
    let weird = admin
        .submit(
            SETTINGS,
            SETTINGS,
            &[("enabled", "yes"), ("role", &member_role)],
        )
        .await;
    assert_eq!(weird.status, 400);
}

async fn a_signed_in_account_joins_without_approval_with_the_default_roles(app: TestApp) {
    let (ws, admin) = owner(&app).await;
    let viewer_role = app.role_id(ws, BuiltinRole::Viewer);
    let link = save_link(
        &admin,
        &[("enabled", "on"), ("role", &viewer_role.to_string())],
    )
    .await
    .unwrap();
    let jo = outsider(&app, "jo@else.example", "Jo Else", "Else").await;
    let page = jo.get(&link).await;
    page.assert_contains("Join Acme");
    page.assert_contains("Viewer");
    let joined = press(&jo, &link).await;
    assert_eq!(joined.status, 303, "{}", joined.body);
    assert_eq!(joined.location.as_deref(), Some("/w/acme/users"));
    assert_eq!(acme_members(&app, ws), 2);
    let member: i64 = app.with_db(|conn| {
        members::table
            .filter(members::workspace_id.eq(ws))
            .filter(members::joined_via.eq("link"))
            .select(members::id)
            .first(conn)
            .unwrap()
    });
    let held = app.with_db(|conn| Role::held_by(conn, &[member]).unwrap());
    assert_eq!(
        held.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["Viewer"]
    );
    assert_eq!(app.count_audit("join_link.used"), 1);
    assert_eq!(app.count_audit("member.joined"), 3, "two owners and Jo");
    assert_eq!(joined_via(&app, ws), [(Some("link".to_string()), None)]);
    // Twice is refused, nothing changes.
    let again = press(&jo, &link).await;
    assert_eq!(again.status, 422);
    again.assert_contains("already a member");
    assert_eq!(acme_members(&app, ws), 2);
}

async fn with_approval_a_request_waits_admins_are_mailed_and_approval_joins(app: TestApp) {
    let (ws, admin) = owner(&app).await;
    let member_role = app.role_id(ws, BuiltinRole::Member).to_string();
    let link = save_link(
        &admin,
        &[
            ("enabled", "on"),
            ("require_approval", "on"),
            ("role", &member_role),
        ],
    )
    .await
    .unwrap();
    let jo = outsider(&app, "jo@else.example", "Jo Else", "Else").await;
    jo.get(&link).await.assert_contains("Ask to join Acme");
    let asked = press(&jo, &link).await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    assert_eq!(acme_members(&app, ws), 1, "nothing joined yet");
    assert_eq!(app.count("join_requests"), 1);
    let mails = app.mail.wait_for(1).await;
    mail_to(&mails, "olivia@acme.example", "Jo Else asks to join Acme");
    let requests = admin.get("/w/acme/requests").await;
    requests.assert_contains("Join requests waiting (1)");
    requests.assert_contains("Requests <span");
    let id: i64 = app.with_db(|conn| {
        join_requests::table
            .select(join_requests::id)
            .first(conn)
            .unwrap()
    });
    // A second ask while one waits is refused.
    assert_eq!(press(&jo, &link).await.status, 422);
    let approved = admin
        .submit(
            "/w/acme/requests",
            &format!("/w/acme/requests/join/{id}/approve"),
            &[],
        )
        .await;
    assert_eq!(approved.status, 303, "{}", approved.body);
    assert_eq!(acme_members(&app, ws), 2);
    let mails = app.mail.wait_for(2).await;
    mail_to(&mails, "jo@else.example", "You have joined Acme");
    let olivia: i64 = app.with_db(|conn| {
        gatehouse::models::account::Account::find_by_verified_email(conn, "olivia@acme.example")
            .unwrap()
            .unwrap()
            .id
    });
    assert_eq!(
        joined_via(&app, ws),
        [(Some("link".to_string()), Some(olivia))]
    );
    admin
        .get("/w/acme/users")
        .await
        .assert_contains("Joined through the invite link, approved by Olivia Owner");
    assert_eq!(app.count_audit("join_request.created"), 1);
    assert_eq!(app.count_audit("join_request.approved"), 1);
    // Decided once only.
    let twice = admin
        .submit(
            "/w/acme/requests",
            &format!("/w/acme/requests/join/{id}/approve"),
            &[],
        )
        .await;
    assert_eq!(twice.status, 422);
}

async fn a_denied_join_request_mails_the_requester_and_changes_nothing_else(app: TestApp) {
    let (ws, admin) = owner(&app).await;
    let member_role = app.role_id(ws, BuiltinRole::Member).to_string();
    let link = save_link(
        &admin,
        &[
            ("enabled", "on"),
            ("require_approval", "on"),
            ("role", &member_role),
        ],
    )
    .await
    .unwrap();
    let jo = outsider(&app, "jo@else.example", "Jo Else", "Else").await;
    assert_eq!(press(&jo, &link).await.status, 303);
    let id: i64 = app.with_db(|conn| {
        join_requests::table
            .select(join_requests::id)
            .first(conn)
            .unwrap()
    });
    // A Member can't decide it.
    app.add_member(ws, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    let mia = app.client();
    mia.sign_in("mia@acme.example", PASSWORD).await;
    let token = mia.get("/w/acme/users").await.csrf();
    let refused = mia
        .post_raw(
            &format!("/w/acme/requests/join/{id}/approve"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(refused.status, 403);
    let members_before = acme_members(&app, ws);
    let denied = admin
        .submit(
            "/w/acme/requests",
            &format!("/w/acme/requests/join/{id}/deny"),
            &[],
        )
        .await;
    assert_eq!(denied.status, 303, "{}", denied.body);
    assert_eq!(acme_members(&app, ws), members_before);
    let status: String = app.with_db(|conn| {
        join_requests::table
            .select(join_requests::status)
            .first(conn)
            .unwrap()
    });
    assert_eq!(status, "denied");
    let mails = app.mail.wait_for(2).await;
    mail_to(
        &mails,
        "jo@else.example",
        "Your request to join Acme was declined",
    );
    assert_eq!(app.count_audit("join_request.denied"), 1);
    admin
        .get("/w/acme/requests")
        .await
        .assert_contains("Join requests waiting (0)");
}

async fn max_uses_hold_under_parallel_joins_and_expiry_is_enforced(app: TestApp) {
    let (ws, admin) = owner(&app).await;
    let member_role = app.role_id(ws, BuiltinRole::Member).to_string();
    let link = save_link(
        &admin,
        &[("enabled", "on"), ("role", &member_role), ("max_uses", "1")],
    )
    .await
    .unwrap();
    let a = outsider(&app, "amy@else.example", "Amy Else", "Else").await;
    let b = outsider(&app, "bob@other.example", "Bob Other", "Other").await;
    let (ta, tb) = (a.get(&link).await.csrf(), b.get(&link).await.csrf());
    let (fa, fb) = ([("csrf_token", ta.as_str())], [("csrf_token", tb.as_str())]);
    let (ra, rb) = tokio::join!(a.post_raw(&link, &fa), b.post_raw(&link, &fb));
    let mut statuses = [ra.status.as_u16(), rb.status.as_u16()];
    statuses.sort_unstable();
    assert!(
        statuses == [303, 410] || statuses == [303, 422],
        "one joins, one is refused: {statuses:?}"
    );
    assert_eq!(acme_members(&app, ws), 2, "max uses never exceeded");
    let used_up = app.client().get(&link).await;
    assert_eq!(used_up.status, 410);
    used_up.assert_contains("used up");
    // Expiry: a link whose last day has passed.
    admin
        .submit(
            SETTINGS,
            SETTINGS,
            &[("enabled", "on"), ("role", &member_role)],
        )
        .await;
    let rotated = admin
        .submit(SETTINGS, "/w/acme/settings/link/rotate", &[])
        .await;
    assert_eq!(rotated.status, 303);
    let fresh = shown_link(&admin).await.unwrap();
    app.with_db(|conn| {
        diesel::update(join_links::table)
            .set(join_links::expires_at.eq(Some(
                gatehouse::models::now() - chrono::TimeDelta::minutes(1),
            )))
            .execute(conn)
            .unwrap()
    });
    let c = outsider(&app, "cy@third.example", "Cy Third", "Third").await;
    let expired = c.get(&fresh).await;
    assert_eq!(expired.status, 410);
    expired.assert_contains("expired");
    let token = expired.csrf();
    let refused = c.post_raw(&fresh, &[("csrf_token", &token)]).await;
    assert_eq!(refused.status, 422);
    assert_eq!(acme_members(&app, ws), 2);
}

async fn seats_and_the_daily_limit_are_respected(app: TestApp) {
    let (ws, admin) = owner(&app).await;
    let member_role = app.role_id(ws, BuiltinRole::Member).to_string();
    let link = save_link(&admin, &[("enabled", "on"), ("role", &member_role)])
        .await
        .unwrap();
    let jo = outsider(&app, "jo@else.example", "Jo Else", "Else").await;
    app.set_limits(ws, Some(1), 20);
    let full = press(&jo, &link).await;
    assert_eq!(full.status, 422);
    full.assert_contains("Not enough seats");
    app.set_limits(ws, None, 0);
    let daily = press(&jo, &link).await;
    assert_eq!(daily.status, 422);
    daily.assert_contains("daily limit");
    assert_eq!(acme_members(&app, ws), 1);
    // With approval, the seat is checked when an admin approves.
    admin
        .submit(
            SETTINGS,
            SETTINGS,
            &[
                ("enabled", "on"),
                ("require_approval", "on"),
                ("role", &member_role),
            ],
        )
        .await;
    app.set_limits(ws, Some(1), 20);
    assert_eq!(press(&jo, &link).await.status, 303);
    let id: i64 = app.with_db(|conn| {
        join_requests::table
            .filter(join_requests::status.eq("pending"))
            .select(join_requests::id)
            .first(conn)
            .unwrap()
    });
    let refused = admin
        .submit(
            "/w/acme/requests",
            &format!("/w/acme/requests/join/{id}/approve"),
            &[],
        )
        .await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("Not enough seats");
    assert_eq!(acme_members(&app, ws), 1);
}

async fn a_link_set_by_a_demoted_admin_no_longer_grants_admin(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let ada = app.add_member(
        ws.workspace_id,
        "ada@acme.example",
        "Ada Admin",
        BuiltinRole::Admin,
    );
    let admin_role = app.role_id(ws.workspace_id, BuiltinRole::Admin);
    let member_role = app.role_id(ws.workspace_id, BuiltinRole::Member);
    let client = app.client();
    client.sign_in("ada@acme.example", PASSWORD).await;
    let link = save_link(
        &client,
        &[("enabled", "on"), ("role", &admin_role.to_string())],
    )
    .await
    .unwrap();
    app.with_db(|conn| Role::replace_for_member(conn, ada, &[(member_role, true)]).unwrap());
    let jo = outsider(&app, "jo@else.example", "Jo Else", "Else").await;
    let refused = press(&jo, &link).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    refused.assert_contains("can no longer offer its roles");
    assert_eq!(
        acme_members(&app, ws.workspace_id),
        2,
        "Olivia and Ada only"
    );
    assert_eq!(app.count_audit("join_link.used"), 0);
}

async fn a_new_person_joins_only_after_confirming_the_mailed_link(app: TestApp) {
    let (ws, admin) = owner(&app).await;
    let member_role = app.role_id(ws, BuiltinRole::Member).to_string();
    let link_path = save_link(&admin, &[("enabled", "on"), ("role", &member_role)])
        .await
        .unwrap();
    let visitor = app.client();
    visitor
        .get(&link_path)
        .await
        .assert_contains("Create account");
    let mismatch = visitor
        .submit(
            &link_path,
            &link_path,
            &[
                ("name", "Nell New"),
                ("email", "nell@new.example"),
                ("password", "a long enough password"),
                ("password_confirm", "something else entirely"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, 422);
    mismatch.assert_contains("value=\"nell@new.example\"");
    let started = visitor
        .submit(
            &link_path,
            &link_path,
            &[
                ("name", "Nell New"),
                ("email", "nell@new.example"),
                ("password", "a long enough password"),
                ("password_confirm", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(started.status, 303, "{}", started.body);
    assert_eq!(
        acme_members(&app, ws),
        1,
        "nothing joined before the confirmation"
    );
    assert_eq!(
        crate::support::address_state(&app, "nell@new.example"),
        Some((false, true)),
        "unconfirmed primary"
    );
    let mails = app.mail.wait_for(1).await;
    let mail = mail_to(
        &mails,
        "nell@new.example",
        "Confirm your address to join Acme",
    );
    let confirm = link(mail, "/join/confirm/");
    let page = visitor.get(&confirm).await;
    assert_eq!(page.status, 200);
    page.assert_contains("Confirm and join");
    assert_eq!(
        acme_members(&app, ws),
        1,
        "opening the link changes nothing"
    );
    let done = press(&visitor, &confirm).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/w/acme/users"));
    assert_eq!(acme_members(&app, ws), 2);
    assert_eq!(
        crate::support::address_state(&app, "nell@new.example"),
        Some((true, true))
    );
    assert_eq!(visitor.get("/w/acme/users").await.status, 200, "signed in");
    // Single use.
    assert_eq!(visitor.get(&confirm).await.status, 404);
}
