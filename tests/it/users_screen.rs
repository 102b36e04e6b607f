//! The Users screen's invitations, row actions and links (issue 11, items 2, 5 and 12):
//! pending invitations listed with status `invited` (and under `all`), found by `q`,
//! filtered and paged after the members; the "Invite people" link; row actions decided by
//! the rule the POST handlers apply; the plan link beside the seat label.

use diesel::prelude::*;
use gatehouse::permissions::BuiltinRole;

use crate::invites::{invite, owner, workspace, Ws};
use crate::support::{Client, Page, TestApp, PASSWORD};
use crate::tests;

tests![
    pending_invitations_appear_on_users_with_their_state_and_actions,
    invitations_are_counted_and_paged_after_the_members,
    only_members_invite_holders_see_invite_people_and_invitation_actions,
    a_manager_gets_edit_only_on_their_reports_as_the_server_decides,
    an_admin_gets_edit_on_everyone_but_the_owner_and_themselves,
    the_plan_link_is_shown_only_to_whoever_may_change_the_plan,
    invitations_are_seen_only_at_members_view_all_with_statements_kept_prepared,
];

async fn signed_in(app: &TestApp, email: &str) -> Client {
    let client = app.client();
    assert_eq!(client.sign_in(email, PASSWORD).await.status, 303, "{email}");
    client
}

/// Rows of pending invitations on a Users page.
fn invitee_rows(page: &Page) -> usize {
    page.body.matches("<tr class=\"invitee\">").count()
}

fn invite_id(app: &TestApp, canonical: &str) -> i64 {
    use gatehouse::db::schema::invites;
    app.with_db(|conn| {
        invites::table
            .filter(invites::canonical.eq(canonical))
            .filter(invites::status.eq("pending"))
            .select(invites::id)
            .first(conn)
            .unwrap()
    })
}

/// The daily invite limit raised and the seat limit lifted, for batches.
fn roomy(app: &TestApp) {
    app.with_db(|conn| {
        let change = gatehouse::services::workspaces::LimitsChange {
            seats: Some(None),
            daily_invites: Some(500),
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

/// The Edit link of a member's row on the Users list.
fn edit_link(member: i64) -> String {
    format!("href=\"/w/acme/users/{member}\">Edit<")
}

async fn pending_invitations_appear_on_users_with_their_state_and_actions(app: TestApp) {
    let ws = workspace(&app);
    let client = owner(&app).await;
    let member_role = app.role_id(ws.id, BuiltinRole::Member);
    let viewer_role = app.role_id(ws.id, BuiltinRole::Viewer);
    let role = member_role.to_string();
    let sent = client
        .submit(
            "/w/acme/invites",
            "/w/acme/invites",
            &[
                ("emails", "ivy@elsewhere.example"),
                ("name", "Ivy Invitee"),
                ("role", &role),
                ("seat_type", "builder"),
            ],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert_eq!(
        invite(
            &client,
            &ws,
            "jo@elsewhere.example",
            &[viewer_role],
            "member"
        )
        .await
        .status,
        303
    );
    let ivy = invite_id(&app, "ivy@elsewhere.example");
    let jo = invite_id(&app, "jo@elsewhere.example");
    // The default list is active members only (the flash about the invitations shown first).
    client.get("/w/acme/invites").await;
    let active = client.get("/w/acme/users").await;
    active.assert_contains("1 member");
    active.assert_lacks("ivy@elsewhere.example");
    assert_eq!(invitee_rows(&active), 0);
    active.assert_contains("<option value=\"invited\">Invited</option>");

    let invited = client.get("/w/acme/users?status=invited").await;
    assert_eq!(invited.status, 200);
    invited.assert_contains("2 pending invitations");
    invited.assert_contains("<option value=\"invited\" selected>Invited</option>");
    assert_eq!(invited.member_rows(), 0, "no members under invited");
    assert_eq!(invitee_rows(&invited), 2);
    invited.assert_lacks("Olivia Owner</a>");
    invited.assert_contains("<span class=\"invitee-name\">Ivy Invitee</span>");
    invited.assert_contains("ivy@elsewhere.example");
    invited.assert_contains("<span class=\"invitee-name\">jo@elsewhere.example</span>");
    // Seat in title case, the invitation's roles, its state and dates.
    invited.assert_contains("<td data-label=\"Seat\">Builder</td>");
    invited.assert_lacks("<td data-label=\"Seat\">builder</td>");
    invited.assert_contains("<span class=\"badge primary\">Member</span>");
    invited.assert_contains("<span class=\"badge primary\">Viewer</span>");
    invited.assert_contains("<span class=\"status-invite-pending\">Pending</span> · sent ");
    invited.assert_contains(" · expires ");
    // Its actions post to the Invites screen's routes.
    for id in [ivy, jo] {
        invited.assert_contains(&format!("action=\"/w/acme/invites/{id}/resend\""));
        invited.assert_contains(&format!("action=\"/w/acme/invites/{id}/revoke\""));
    }
    // `q` finds an invitee by address and by invited name; filters apply.
    let by_address = client
        .get("/w/acme/users?status=invited&q=ivy%40else")
        .await;
    by_address.assert_contains("1 pending invitation");
    assert_eq!(invitee_rows(&by_address), 1);
    by_address.assert_lacks("jo@elsewhere.example");
    let by_name = client.get("/w/acme/users?status=all&q=INVITEE").await;
    by_name.assert_contains("0 members, 1 pending invitation");
    by_name.assert_contains("Ivy Invitee");
    let by_role = client
        .get(&format!("/w/acme/users?status=invited&role={viewer_role}"))
        .await;
    assert_eq!(invitee_rows(&by_role), 1);
    by_role.assert_contains("jo@elsewhere.example");
    let by_seat = client
        .get("/w/acme/users?status=invited&seat=builder")
        .await;
    assert_eq!(invitee_rows(&by_seat), 1);
    by_seat.assert_contains("ivy@elsewhere.example");
    // Invitees have no department: a department filter matches none.
    app.add_member_with(
        ws.id,
        "sam@acme.example",
        "Sam Sales",
        BuiltinRole::Member,
        None,
        Some("Sales"),
    );
    let by_department = client
        .get("/w/acme/users?status=all&department=Sales")
        .await;
    by_department.assert_contains("1 member");
    assert_eq!(invitee_rows(&by_department), 0);
    let none = client.get("/w/acme/users?status=invited&q=nobody").await;
    none.assert_contains("No pending invitations match these filters.");

    // An expired invitation shows as Expired, can be resent, not revoked.
    app.with_db(|conn| {
        use gatehouse::db::schema::invites;
        diesel::update(invites::table.filter(invites::id.eq(jo)))
            .set(invites::expires_at.eq(gatehouse::models::now() - chrono::Duration::days(1)))
            .execute(conn)
            .unwrap();
    });
    let expired = client.get("/w/acme/users?status=invited").await;
    expired.assert_contains("<span class=\"status-invite-expired\">Expired</span>");
    expired.assert_contains(&format!("action=\"/w/acme/invites/{jo}/resend\""));
    expired.assert_lacks(&format!("action=\"/w/acme/invites/{jo}/revoke\""));
    // Resend from the Users screen renews it (the Invites route, its CSRF from this page).
    let resent = client
        .submit(
            "/w/acme/users?status=invited",
            &format!("/w/acme/invites/{jo}/resend"),
            &[],
        )
        .await;
    assert_eq!(resent.status, 303);
    let renewed = client.get("/w/acme/users?status=invited").await;
    renewed.assert_lacks("status-invite-expired");
    let jo = invite_id(&app, "jo@elsewhere.example");
    // Revoke from the Users screen: the invitation leaves the list.
    // The Users row has the Invites screen's buttons, Copy a new link included.
    client
        .get("/w/acme/users?status=invited")
        .await
        .assert_contains(&format!("action=\"/w/acme/invites/{ivy}/link\""));
    let asked = client
        .submit(
            "/w/acme/users?status=invited",
            &format!("/w/acme/invites/{ivy}/revoke"),
            &[],
        )
        .await;
    assert_eq!(asked.status, 200, "revoke asks first");
    assert_eq!(invite_id(&app, "ivy@elsewhere.example"), ivy);
    let revoked = client
        .submit(
            "/w/acme/users?status=invited",
            &format!("/w/acme/invites/{ivy}/revoke"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(revoked.status, 303);
    client
        .get("/w/acme/users")
        .await
        .assert_contains("The invitation to ivy@elsewhere.example was revoked");
    let left = client.get("/w/acme/users?status=invited").await;
    left.assert_contains("1 pending invitation");
    left.assert_lacks("ivy@elsewhere.example");
    left.assert_contains(&format!("action=\"/w/acme/invites/{jo}/resend\""));
}

async fn invitations_are_counted_and_paged_after_the_members(app: TestApp) {
    let ws = workspace(&app);
    app.with_db(|conn| gatehouse::seed::seed_members(conn, &ws.slug, 120))
        .expect("seed");
    roomy(&app);
    let client = owner(&app).await;
    let member_role = app.role_id(ws.id, BuiltinRole::Member);
    let emails: Vec<String> = (0..30)
        .map(|i| format!("guest{i:02}@elsewhere.example"))
        .collect();
    let sent = invite(&client, &ws, &emails.join(", "), &[member_role], "member").await;
    assert_eq!(sent.status, 303);
    // 121 members (118 active, 2 archived, 1 removed) then 30 invitations: 151, 4 pages.
    let first = client.get("/w/acme/users?status=all").await;
    first.assert_contains("121 members, 30 pending invitations · page 1 of 4");
    assert_eq!(first.member_rows(), 50);
    assert_eq!(invitee_rows(&first), 0);
    let third = client.get("/w/acme/users?status=all&page=3").await;
    third.assert_contains("page 3 of 4");
    assert_eq!(third.member_rows(), 21);
    assert_eq!(invitee_rows(&third), 29);
    // By name: members first, then invitations by address.
    third.assert_contains("guest00@elsewhere.example");
    third.assert_contains("guest28@elsewhere.example");
    third.assert_lacks("guest29@elsewhere.example");
    let members_end = third.body.rfind("class=\"member-name\"").unwrap();
    let invitees_start = third.body.find("<tr class=\"invitee\">").unwrap();
    assert!(members_end < invitees_start, "members come first");
    let fourth = client.get("/w/acme/users?status=all&page=4").await;
    assert_eq!(fourth.member_rows(), 0);
    assert_eq!(invitee_rows(&fourth), 1);
    fourth.assert_contains("guest29@elsewhere.example");
    fourth.assert_contains("href=\"/w/acme/users?status=all&#38;page=3\" rel=\"prev\"");
    // Past the end: the last page.
    let beyond = client.get("/w/acme/users?status=all&page=99").await;
    beyond.assert_contains("page 4 of 4");
    assert_eq!(invitee_rows(&beyond), 1);
    // Every row exactly once across the pages.
    let mut seen = 0;
    for page in 1..=4 {
        let p = client
            .get(&format!("/w/acme/users?status=all&page={page}"))
            .await;
        seen += p.member_rows() + invitee_rows(&p);
    }
    assert_eq!(seen, 151);
    // A search across both: every address ends in .example.
    let searched = client
        .get("/w/acme/users?status=all&q=example&page=3")
        .await;
    searched.assert_contains("121 members, 30 pending invitations · page 3 of 4");
    assert_eq!(searched.member_rows(), 21);
    assert_eq!(invitee_rows(&searched), 29);
    // Invitations alone page by themselves; newest first sorts them by sending.
    let invited = client.get("/w/acme/users?status=invited").await;
    invited.assert_contains("30 pending invitations");
    assert_eq!(invitee_rows(&invited), 30);
    assert_eq!(invited.member_rows(), 0);
    invited.assert_lacks("rel=\"next\"");
    // The seat label counts them the same way.
    first.assert_contains("148 seats used (unlimited): 118 members, 30 pending invitations");
}

async fn only_members_invite_holders_see_invite_people_and_invitation_actions(app: TestApp) {
    let ws = workspace(&app);
    app.add_member(ws.id, "ada@acme.example", "Ada Admin", BuiltinRole::Admin);
    app.add_member(ws.id, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    app.add_member(ws.id, "vic@acme.example", "Vic Viewer", BuiltinRole::Viewer);
    let client = owner(&app).await;
    let member_role = app.role_id(ws.id, BuiltinRole::Member);
    invite(
        &client,
        &ws,
        "ivy@elsewhere.example",
        &[member_role],
        "member",
    )
    .await;
    let ivy = invite_id(&app, "ivy@elsewhere.example");
    let link = "<a class=\"button primary invite-people\" href=\"/w/acme/invites#invite-h\">Invite people</a>";
    for email in ["olivia@acme.example", "ada@acme.example"] {
        let c = signed_in(&app, email).await;
        let page = c.get("/w/acme/users").await;
        page.assert_contains(link);
        let invited = c.get("/w/acme/users?status=invited").await;
        invited.assert_contains(&format!("action=\"/w/acme/invites/{ivy}/resend\""));
        // The link leads to the invite form.
        let form = c.get("/w/acme/invites").await;
        assert_eq!(form.status, 200, "{email}");
        form.assert_contains("id=\"invite-h\"");
    }
    for email in ["mia@acme.example", "vic@acme.example"] {
        let c = signed_in(&app, email).await;
        let page = c.get("/w/acme/users").await;
        assert_eq!(page.status, 200, "{email}");
        page.assert_lacks("Invite people");
        page.assert_lacks("/w/acme/invites");
        // They see the list as before (members.view all) and the invitation, no actions.
        let invited = c.get("/w/acme/users?status=invited").await;
        assert_eq!(invitee_rows(&invited), 1, "{email}");
        invited.assert_lacks("/resend\"");
        invited.assert_lacks("/revoke\"");
        invited.assert_lacks("Actions</th>");
        // And the server refuses them anyway.
        let refused = c
            .submit(
                "/w/acme/users?status=invited",
                &format!("/w/acme/invites/{ivy}/resend"),
                &[],
            )
            .await;
        assert_eq!(refused.status, 403, "{email}");
    }
}

/// A Manager who also holds Member (so sees everyone, `members.view` all) edits only their
/// team (`members.edit` team): the list offers Edit exactly where the POST is accepted.
async fn a_manager_gets_edit_only_on_their_reports_as_the_server_decides(app: TestApp) {
    let ws = workspace(&app);
    let max = app.add_member(
        ws.id,
        "max@acme.example",
        "Max Manager",
        BuiltinRole::Manager,
    );
    let member_role = app.role_id(ws.id, BuiltinRole::Member);
    app.with_db(|conn| {
        use gatehouse::db::schema::member_roles;
        diesel::insert_into(member_roles::table)
            .values((
                member_roles::member_id.eq(max),
                member_roles::role_id.eq(member_role),
                member_roles::is_primary.eq(false),
            ))
            .execute(conn)
            .unwrap();
    });
    let rita = app.add_member_with(
        ws.id,
        "rita@acme.example",
        "Rita Report",
        BuiltinRole::Member,
        Some(max),
        None,
    );
    let otto = app.add_member(
        ws.id,
        "otto@acme.example",
        "Otto Outside",
        BuiltinRole::Member,
    );
    let client = signed_in(&app, "max@acme.example").await;
    let list = client.get("/w/acme/users").await;
    list.assert_contains("4 members");
    list.assert_contains("Otto Outside");
    list.assert_contains(&edit_link(rita));
    list.assert_lacks(&edit_link(otto));
    list.assert_lacks(&edit_link(ws.member));
    list.assert_lacks(&edit_link(max));
    // No members.remove: no lifecycle buttons at all.
    list.assert_lacks("/archive\"");
    list.assert_lacks("/remove\"");
    // The member pages agree: Rita's has the forms, Otto's is read-only.
    let rita_page = client.get(&format!("/w/acme/users/{rita}")).await;
    rita_page.assert_contains(&format!("action=\"/w/acme/users/{rita}\""));
    rita_page.assert_contains("name=\"department\"");
    let otto_page = client.get(&format!("/w/acme/users/{otto}")).await;
    assert_eq!(otto_page.status, 200);
    otto_page.assert_lacks(&format!("action=\"/w/acme/users/{otto}\""));
    otto_page.assert_lacks("name=\"department\"");
    // And the server: an edit outside the team is refused, inside it is done.
    let refused = client
        .submit(
            &format!("/w/acme/users/{otto}"),
            &format!("/w/acme/users/{otto}/department"),
            &[("department", "Sales")],
        )
        .await;
    assert_eq!(refused.status, 403);
    let department = |id: i64| {
        app.with_db(|conn| {
            use gatehouse::db::schema::members;
            members::table
                .find(id)
                .select(members::department)
                .first::<Option<String>>(conn)
                .unwrap()
        })
    };
    assert_eq!(department(otto), None);
    let done = client
        .submit(
            &format!("/w/acme/users/{rita}"),
            &format!("/w/acme/users/{rita}/department"),
            &[("department", "Sales")],
        )
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(department(rita).as_deref(), Some("Sales"));
}

async fn an_admin_gets_edit_on_everyone_but_the_owner_and_themselves(app: TestApp) {
    let ws = workspace(&app);
    let ada = app.add_member(ws.id, "ada@acme.example", "Ada Admin", BuiltinRole::Admin);
    let mia = app.add_member(ws.id, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    let max = app.add_member(
        ws.id,
        "max@acme.example",
        "Max Manager",
        BuiltinRole::Manager,
    );
    let admin = signed_in(&app, "ada@acme.example").await;
    let list = admin.get("/w/acme/users").await;
    for id in [mia, max] {
        list.assert_contains(&edit_link(id));
        list.assert_contains(&format!("action=\"/w/acme/users/{id}/archive\""));
        list.assert_contains(&format!("action=\"/w/acme/users/{id}/remove\""));
    }
    // Not the Owner (holds more), not herself (only the Owner edits their own membership).
    for id in [ws.member, ada] {
        list.assert_lacks(&edit_link(id));
        list.assert_lacks(&format!("action=\"/w/acme/users/{id}/archive\""));
        list.assert_lacks(&format!("action=\"/w/acme/users/{id}/remove\""));
    }
    // The server agrees on both.
    for id in [ws.member, ada] {
        let refused = admin
            .submit(
                &format!("/w/acme/users/{id}"),
                &format!("/w/acme/users/{id}/department"),
                &[("department", "Ops")],
            )
            .await;
        assert_eq!(refused.status, 403, "member {id}");
    }
    // A removed member: no Edit (their membership is no longer the workspace's to edit).
    let page = format!("/w/acme/users/{mia}");
    assert_eq!(
        admin
            .submit(&page, &format!("{page}/remove"), &[("confirm", "yes")])
            .await
            .status,
        303
    );
    let removed = admin.get("/w/acme/users?status=removed").await;
    removed.assert_contains("Mia Member");
    removed.assert_lacks(&edit_link(mia));
    // The Owner edits everyone, themselves included.
    let owner = owner(&app).await;
    let list = owner.get("/w/acme/users").await;
    for id in [ws.member, ada, max] {
        list.assert_contains(&edit_link(id));
    }
    list.assert_lacks(&format!("action=\"/w/acme/users/{}/remove\"", ws.member));
}

async fn the_plan_link_is_shown_only_to_whoever_may_change_the_plan(app: TestApp) {
    let ws: Ws = workspace(&app);
    app.add_member(ws.id, "ada@acme.example", "Ada Admin", BuiltinRole::Admin);
    let link = "<a href=\"/w/acme/settings#plan-h\" class=\"plan-link\">Change plan</a>";
    let owner = owner(&app).await;
    for path in ["/w/acme/users", "/w/acme/invites", "/w/acme/settings"] {
        let page = owner.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        page.assert_contains(link);
    }
    owner
        .get("/w/acme/settings")
        .await
        .assert_contains("id=\"plan-h\"");
    // An Admin holds everything but billing.manage (SPEC §2): no link.
    let admin = signed_in(&app, "ada@acme.example").await;
    for path in ["/w/acme/users", "/w/acme/invites", "/w/acme/settings"] {
        let page = admin.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        page.assert_contains("seats used");
        page.assert_lacks("plan-link");
    }
}

/// Invitations belong to nobody's team: a Manager (`members.view` team) lists none. The
/// statements that list them stay prepared, like the rest of the Users list's.
async fn invitations_are_seen_only_at_members_view_all_with_statements_kept_prepared(app: TestApp) {
    use diesel::connection::{Connection, InstrumentationEvent};
    use gatehouse::services::{access, members::directory};
    use std::sync::{Arc, Mutex};

    let ws = workspace(&app);
    app.add_member(
        ws.id,
        "max@acme.example",
        "Max Manager",
        BuiltinRole::Manager,
    );
    let client = owner(&app).await;
    let member_role = app.role_id(ws.id, BuiltinRole::Member);
    let sent = invite(
        &client,
        &ws,
        "ivy@elsewhere.example, jo@elsewhere.example",
        &[member_role],
        "member",
    )
    .await;
    assert_eq!(sent.status, 303);
    let manager = signed_in(&app, "max@acme.example").await;
    let invited = manager.get("/w/acme/users?status=invited").await;
    assert_eq!(invited.status, 200);
    invited.assert_contains("0 pending invitations");
    assert_eq!(invitee_rows(&invited), 0);
    let all = manager.get("/w/acme/users?status=all").await;
    all.assert_contains("1 member");
    all.assert_lacks("elsewhere.example");

    let owner_account = app.with_db(|conn| {
        use gatehouse::db::schema::members;
        members::table
            .find(ws.member)
            .select(members::account_id)
            .first::<i64>(conn)
            .unwrap()
    });
    // A connection of its own: the server's have prepared statements already.
    let fresh = gatehouse::db::connect(&app.db.target, 1).expect("pool");
    {
        let conn: &mut gatehouse::db::DbConn = &mut fresh.get().expect("connection");
        let started: Arc<Mutex<Vec<String>>> = Arc::default();
        let cached: Arc<Mutex<Vec<String>>> = Arc::default();
        let (s, c) = (started.clone(), cached.clone());
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                let text = query.to_string();
                let sql = text.split(" -- binds:").next().unwrap_or_default();
                s.lock().unwrap().push(sql.to_string());
            }
            InstrumentationEvent::CacheQuery { sql, .. } => c.lock().unwrap().push(sql.to_string()),
            _ => {}
        });
        let filters = [
            directory::MemberFilter {
                invitees: directory::InviteeListing::Only,
                page: 1,
                ..Default::default()
            },
            directory::MemberFilter {
                invitees: directory::InviteeListing::Included,
                q: Some("elsewhere".into()),
                page: 1,
                ..Default::default()
            },
        ];
        let mut run = || {
            for filter in &filters {
                let access::Loaded::Member(access) =
                    access::load(conn, owner_account, "acme").unwrap()
                else {
                    panic!("the owner is a member");
                };
                let page = directory::list(conn, &access, filter).unwrap();
                assert_eq!(page.invitees.len(), 2);
                assert!(page.invitees.iter().all(|i| i.roles == ["Member"]));
            }
        };
        run();
        let before = cached.lock().unwrap().len();
        started.lock().unwrap().clear();
        run();
        assert_eq!(cached.lock().unwrap().len(), before, "prepared again");
        let cached = cached.lock().unwrap();
        for sql in started.lock().unwrap().iter() {
            assert!(cached.contains(sql), "not kept prepared: {sql}");
        }
        conn.set_instrumentation(|_: InstrumentationEvent<'_>| {});
    }
}
