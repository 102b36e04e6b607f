//! Roles: the Roles screen and matrix, custom roles (create, edit with impact, delete with
//! confirmation), member role assignment, and no escalation anywhere (SPEC §2, §4.3).

use gatehouse::models::role::Role;
use gatehouse::permissions::BuiltinRole;

use crate::support::{TestApp, PASSWORD};
use crate::tests;

tests![
    the_roles_screen_shows_every_role_with_members_and_the_matrix,
    a_custom_role_is_created_edited_and_deleted_with_validation_on_the_form,
    editing_a_role_shows_what_members_gain_before_saving,
    deleting_a_held_role_asks_first_and_says_who_loses_what,
    a_role_that_is_someones_only_role_cannot_be_deleted,
    an_admin_cannot_create_a_role_with_billing_or_assign_owner_or_edit_the_owner,
    an_admin_cannot_edit_a_role_that_grants_more_than_they_hold,
    built_in_roles_are_read_only,
    a_member_given_two_roles_in_the_browser_gets_the_union,
    role_changes_apply_to_a_live_session_on_its_next_request,
    a_member_keeps_at_least_one_role_and_primary_must_be_held,
    a_manager_edits_only_their_team_and_only_with_roles_they_hold,
    a_reports_to_loop_is_refused,
    permissions_json_answers_for_visible_members_only,
    role_names_with_markup_are_escaped,
];

async fn owner_client(app: &TestApp) -> (crate::support::Client, i64) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    (client, ws.workspace_id)
}

fn custom_role(app: &TestApp, ws: i64, name: &str) -> Option<Role> {
    app.with_db(|conn| {
        Role::for_workspace(conn, ws)
            .unwrap()
            .into_iter()
            .find(|r| r.name == name)
    })
}

fn role_perms(app: &TestApp, role_id: i64) -> Vec<String> {
    app.with_db(|conn| {
        let mut labels: Vec<String> = gatehouse::models::role::grants_of(conn, role_id)
            .unwrap()
            .iter()
            .map(|g| g.label())
            .collect();
        labels.sort();
        labels
    })
}

fn member_role_names(app: &TestApp, member_id: i64) -> Vec<(String, bool)> {
    app.with_db(|conn| {
        Role::held_by(conn, &[member_id])
            .unwrap()
            .into_iter()
            .map(|r| (r.name, r.is_primary))
            .collect()
    })
}

async fn the_roles_screen_shows_every_role_with_members_and_the_matrix(app: TestApp) {
    let (client, ws) = owner_client(&app).await;
    app.add_member(ws, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    app.add_member(ws, "max@acme.example", "Max Member", BuiltinRole::Member);
    let page = client.get("/w/acme/roles").await;
    assert_eq!(page.status, 200);
    for name in ["Owner", "Admin", "Manager", "Member", "Viewer"] {
        page.assert_contains(&format!(">{name}</a></h3>"));
    }
    page.assert_contains("Built-in");
    page.assert_contains("2 members");
    page.assert_contains("Permission matrix");
    page.assert_contains("Manage the plan <code class=\"perm-key\">billing.manage</code>");
    page.assert_contains("href=\"/w/acme/roles/new\"");
    // A Viewer sees the screen read-only: no way to create a role.
    app.add_member(ws, "vic@acme.example", "Vic Viewer", BuiltinRole::Viewer);
    let viewer = app.client();
    viewer.sign_in("vic@acme.example", PASSWORD).await;
    let seen = viewer.get("/w/acme/roles").await;
    assert_eq!(seen.status, 200);
    seen.assert_lacks("/w/acme/roles/new");
    assert_eq!(viewer.get("/w/acme/roles/new").await.status, 403);
}

async fn a_custom_role_is_created_edited_and_deleted_with_validation_on_the_form(app: TestApp) {
    let (client, ws) = owner_client(&app).await;
    let roles_before = app.count("roles");
    let empty = client
        .submit(
            "/w/acme/roles/new",
            "/w/acme/roles/new",
            &[
                ("name", "  "),
                ("description", "x"),
                ("perm.audit.view", "on"),
            ],
        )
        .await;
    assert_eq!(empty.status, 422);
    empty.assert_contains("Enter a name for the role");
    empty.assert_contains(">x</textarea>");
    let duplicate = client
        .submit(
            "/w/acme/roles/new",
            "/w/acme/roles/new",
            &[("name", "ADMIN"), ("perm.audit.view", "on")],
        )
        .await;
    assert_eq!(duplicate.status, 422);
    duplicate.assert_contains("A role named “ADMIN” already exists");
    let bad_scope = client
        .submit(
            "/w/acme/roles/new",
            "/w/acme/roles/new",
            &[("name", "Auditor"), ("perm.records.view", "everything")],
        )
        .await;
    // A scope outside the select is a request no page of ours sends.
    assert_eq!(bad_scope.status, 400);
    bad_scope.assert_contains("Choose own, team or all");
    assert_eq!(
        app.count("roles"),
        roles_before,
        "refused forms change nothing"
    );

    let created = client
        .submit(
            "/w/acme/roles/new",
            "/w/acme/roles/new",
            &[
                ("name", "Auditor"),
                ("description", "Reads the audit log"),
                ("perm.audit.view", "on"),
                ("perm.records.view", "all"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    assert_eq!(created.location.as_deref(), Some("/w/acme/roles"));
    let role = custom_role(&app, ws, "Auditor").expect("created");
    assert_eq!(
        role_perms(&app, role.id),
        ["audit.view", "records.view (all)"]
    );
    assert_eq!(app.count_audit("role.created"), 1);
    client
        .get("/w/acme/roles")
        .await
        .assert_contains("Role “Auditor” created.");

    // Nobody holds it yet, so an edit saves at once; a second role may not take its name.
    let path = format!("/w/acme/roles/{}", role.id);
    let edited = client
        .submit(
            &path,
            &path,
            &[
                ("name", "Auditors"),
                ("description", "Audit and export"),
                ("perm.audit.view", "on"),
                ("perm.records.export", "team"),
            ],
        )
        .await;
    assert_eq!(edited.status, 303, "{}", edited.body);
    assert_eq!(
        role_perms(&app, role.id),
        ["audit.view", "records.export (team)"]
    );
    let clash = client
        .submit(
            &path,
            &path,
            &[("name", "viewer"), ("perm.audit.view", "on")],
        )
        .await;
    assert_eq!(clash.status, 422);
    clash.assert_contains("already exists");

    let deleted = client.submit(&path, &format!("{path}/delete"), &[]).await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    assert!(custom_role(&app, ws, "Auditors").is_none());
    assert_eq!(app.count_audit("role.deleted"), 1);
    assert_eq!(client.get(&path).await.status, 404);
}

async fn editing_a_role_shows_what_members_gain_before_saving(app: TestApp) {
    let (client, ws) = owner_client(&app).await;
    let created = client
        .submit(
            "/w/acme/roles/new",
            "/w/acme/roles/new",
            &[("name", "Exporter"), ("perm.records.view", "own")],
        )
        .await;
    assert_eq!(created.status, 303);
    let role = custom_role(&app, ws, "Exporter").unwrap();
    for (i, email) in ["a@acme.example", "b@acme.example", "c@acme.example"]
        .iter()
        .enumerate()
    {
        let member = app.add_member(ws, email, &format!("Person {i}"), BuiltinRole::Viewer);
        app.with_db(|conn| Role::assign(conn, member, role.id, false).unwrap());
    }
    let path = format!("/w/acme/roles/{}", role.id);
    let fields = [
        ("name", "Exporter"),
        ("perm.records.view", "own"),
        ("perm.records.export", "all"),
    ];
    let preview = client.submit(&path, &path, &fields).await;
    assert_eq!(preview.status, 200);
    preview.assert_contains("3 members gain records.export (all)");
    preview.assert_contains("Confirm and save");
    assert_eq!(
        role_perms(&app, role.id),
        ["records.view (own)"],
        "not saved yet"
    );
    // The confirmation is for exactly what was shown: a different change asks again.
    let confirm = preview
        .body
        .split("name=\"confirm\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("confirm field")
        .to_string();
    let changed = client
        .submit(
            &path,
            &path,
            &[
                ("name", "Exporter"),
                ("perm.records.export", "team"),
                ("confirm", &confirm),
            ],
        )
        .await;
    assert_eq!(changed.status, 200);
    changed.assert_contains("3 members gain records.export (team)");
    assert_eq!(role_perms(&app, role.id), ["records.view (own)"]);
    let mut confirmed: Vec<(&str, &str)> = fields.to_vec();
    confirmed.push(("confirm", &confirm));
    let saved = client.submit(&path, &path, &confirmed).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(
        role_perms(&app, role.id),
        ["records.export (all)", "records.view (own)"]
    );
    assert_eq!(app.count_audit("role.updated"), 1);
}

async fn deleting_a_held_role_asks_first_and_says_who_loses_what(app: TestApp) {
    let (client, ws) = owner_client(&app).await;
    client
        .submit(
            "/w/acme/roles/new",
            "/w/acme/roles/new",
            &[("name", "Auditor"), ("perm.audit.view", "on")],
        )
        .await;
    let role = custom_role(&app, ws, "Auditor").unwrap();
    let mia = app.add_member(ws, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    app.with_db(|conn| Role::assign(conn, mia, role.id, false).unwrap());
    let path = format!("/w/acme/roles/{}", role.id);
    let ask = client.submit(&path, &format!("{path}/delete"), &[]).await;
    assert_eq!(ask.status, 200);
    ask.assert_contains("1 active member holds this role");
    ask.assert_contains("1 member loses audit.view");
    ask.assert_contains("Mia Member");
    assert!(
        custom_role(&app, ws, "Auditor").is_some(),
        "not deleted yet"
    );
    let done = client
        .submit(&path, &format!("{path}/delete"), &[("confirm", "yes")])
        .await;
    assert_eq!(done.status, 303);
    assert!(custom_role(&app, ws, "Auditor").is_none());
    assert_eq!(member_role_names(&app, mia), [("Member".to_string(), true)]);
}

async fn a_role_that_is_someones_only_role_cannot_be_deleted(app: TestApp) {
    let (client, ws) = owner_client(&app).await;
    client
        .submit(
            "/w/acme/roles/new",
            "/w/acme/roles/new",
            &[("name", "Reader"), ("perm.members.view", "all")],
        )
        .await;
    let role = custom_role(&app, ws, "Reader").unwrap();
    let mia = app.add_member(ws, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    // Make Reader her only (and primary) role.
    let member_role = app.role_id(ws, BuiltinRole::Member);
    app.with_db(|conn| {
        Role::replace_for_member(conn, mia, &[(role.id, true)]).unwrap();
    });
    let path = format!("/w/acme/roles/{}", role.id);
    let refused = client
        .submit(&path, &format!("{path}/delete"), &[("confirm", "yes")])
        .await;
    // Refused: the role's page again, with why at the top.
    assert_eq!(refused.status, 422);
    refused.assert_contains("Mia Member");
    refused.assert_contains("every member keeps at least one");
    refused.assert_contains("Delete role…");
    assert!(custom_role(&app, ws, "Reader").is_some());
    // With another role, the primary moves to it and the delete goes through.
    app.with_db(|conn| Role::assign(conn, mia, member_role, false).unwrap());
    let done = client
        .submit(&path, &format!("{path}/delete"), &[("confirm", "yes")])
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(member_role_names(&app, mia), [("Member".to_string(), true)]);
}

async fn an_admin_cannot_create_a_role_with_billing_or_assign_owner_or_edit_the_owner(
    app: TestApp,
) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let id = ws.workspace_id;
    app.add_member(id, "ada@acme.example", "Ada Admin", BuiltinRole::Admin);
    let mia = app.add_member(id, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    let admin = app.client();
    admin.sign_in("ada@acme.example", PASSWORD).await;
    let roles_before = app.count("roles");
    let form = admin.get("/w/acme/roles/new").await;
    form.assert_contains("billing.manage</code> <span class=\"help\">Manage the plan and seat limit (you don't hold it)");
    let escalate = admin
        .submit(
            "/w/acme/roles/new",
            "/w/acme/roles/new",
            &[("name", "Treasurer"), ("perm.billing.manage", "on")],
        )
        .await;
    assert_eq!(escalate.status, 422);
    escalate.assert_contains("You can&#39;t grant Manage the plan");
    assert_eq!(app.count("roles"), roles_before);

    let owner_role = app.role_id(id, BuiltinRole::Owner);
    let member_role = app.role_id(id, BuiltinRole::Member);
    let page = format!("/w/acme/users/{mia}");
    let give_owner = admin
        .submit(
            &page,
            &format!("{page}/roles"),
            &[
                ("role", &owner_role.to_string()),
                ("role", &member_role.to_string()),
                ("primary_role", &member_role.to_string()),
            ],
        )
        .await;
    assert_eq!(give_owner.status, 422);
    give_owner.assert_contains("The Owner role can&#39;t be given");
    assert_eq!(member_role_names(&app, mia), [("Member".to_string(), true)]);

    let owner_page = format!("/w/acme/users/{}", ws.member_id);
    let seen = admin.get(&owner_page).await;
    assert_eq!(seen.status, 200);
    seen.assert_lacks("Save roles");
    seen.assert_lacks("Save changes");
    let token = seen.csrf();
    let edit_owner = admin
        .post_raw(
            &format!("{owner_page}/seat"),
            &[("csrf_token", &token), ("seat_type", "member")],
        )
        .await;
    assert_eq!(edit_owner.status, 403);
    edit_owner.assert_contains("holds permissions you don");
    let strip_owner = admin
        .post_raw(
            &format!("{owner_page}/roles"),
            &[
                ("csrf_token", &token),
                ("role", &member_role.to_string()),
                ("primary_role", &member_role.to_string()),
            ],
        )
        .await;
    assert_eq!(strip_owner.status, 403);
    assert_eq!(
        member_role_names(&app, ws.member_id),
        [("Owner".to_string(), true)]
    );
}

async fn an_admin_cannot_edit_a_role_that_grants_more_than_they_hold(app: TestApp) {
    let (owner, ws) = owner_client(&app).await;
    owner
        .submit(
            "/w/acme/roles/new",
            "/w/acme/roles/new",
            &[("name", "Treasurer"), ("perm.billing.manage", "on")],
        )
        .await;
    let role = custom_role(&app, ws, "Treasurer").expect("the Owner may grant billing");
    app.add_member(ws, "ada@acme.example", "Ada Admin", BuiltinRole::Admin);
    let admin = app.client();
    admin.sign_in("ada@acme.example", PASSWORD).await;
    let path = format!("/w/acme/roles/{}", role.id);
    let view = admin.get(&path).await;
    assert_eq!(view.status, 200);
    view.assert_contains("You can view this role but not change it");
    let token = view.csrf();
    let edit = admin
        .post_raw(
            &path,
            &[
                ("csrf_token", &token),
                ("name", "Treasurer"),
                ("perm.audit.view", "on"),
            ],
        )
        .await;
    assert_eq!(edit.status, 403);
    let delete = admin
        .post_raw(&format!("{path}/delete"), &[("csrf_token", &token)])
        .await;
    assert_eq!(delete.status, 403);
    assert_eq!(role_perms(&app, role.id), ["billing.manage"]);
}

async fn built_in_roles_are_read_only(app: TestApp) {
    let (client, ws) = owner_client(&app).await;
    let admin_role = app.role_id(ws, BuiltinRole::Admin);
    let path = format!("/w/acme/roles/{admin_role}");
    let page = client.get(&path).await;
    assert_eq!(page.status, 200);
    page.assert_contains("Built-in roles can't be edited or deleted.");
    page.assert_lacks("Save role");
    let token = page.csrf();
    let before = role_perms(&app, admin_role);
    let edit = client
        .post_raw(
            &path,
            &[
                ("csrf_token", &token),
                ("name", "Admin"),
                ("perm.audit.view", "on"),
            ],
        )
        .await;
    assert_eq!(edit.status, 400);
    let delete = client
        .post_raw(
            &format!("{path}/delete"),
            &[("csrf_token", &token), ("confirm", "yes")],
        )
        .await;
    assert_eq!(delete.status, 400);
    assert_eq!(role_perms(&app, admin_role), before);
}

async fn a_member_given_two_roles_in_the_browser_gets_the_union(app: TestApp) {
    let (client, ws) = owner_client(&app).await;
    let boss = app.add_member(ws, "bea@acme.example", "Bea Boss", BuiltinRole::Manager);
    let manager = app.role_id(ws, BuiltinRole::Manager);
    let viewer = app.role_id(ws, BuiltinRole::Viewer);
    let page = format!("/w/acme/users/{boss}");
    let saved = client
        .submit(
            &page,
            &format!("{page}/roles"),
            &[
                ("role", &manager.to_string()),
                ("role", &viewer.to_string()),
                ("primary_role", &viewer.to_string()),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(
        member_role_names(&app, boss),
        [("Viewer".to_string(), true), ("Manager".to_string(), false)]
    );
    assert_eq!(app.count_audit("member.roles_changed"), 1);
    let json = client.get(&format!("{page}/permissions.json")).await;
    assert_eq!(json.status, 200);
    let value: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    let perms = value["permissions"].as_array().unwrap();
    let find = |key: &str| perms.iter().find(|p| p["permission"] == key).cloned();
    let view = find("members.view").expect("members.view");
    assert_eq!(view["scope"], "all", "the widest scope wins");
    assert_eq!(view["sources"], serde_json::json!(["Manager", "Viewer"]));
    assert_eq!(find("records.delete").unwrap()["scope"], "team");
    assert!(find("members.invite").is_none());
}

async fn role_changes_apply_to_a_live_session_on_its_next_request(app: TestApp) {
    let (owner, ws) = owner_client(&app).await;
    let vic = app.add_member(ws, "vic@acme.example", "Vic Viewer", BuiltinRole::Viewer);
    let viewer = app.client();
    viewer.sign_in("vic@acme.example", PASSWORD).await;
    assert_eq!(viewer.get("/w/acme/invites").await.status, 403);
    let admin = app.role_id(ws, BuiltinRole::Admin);
    let page = format!("/w/acme/users/{vic}");
    let saved = owner
        .submit(
            &page,
            &format!("{page}/roles"),
            &[
                ("role", &admin.to_string()),
                ("primary_role", &admin.to_string()),
            ],
        )
        .await;
    assert_eq!(saved.status, 303);
    assert_eq!(viewer.get("/w/acme/invites").await.status, 200);
    let viewer_role = app.role_id(ws, BuiltinRole::Viewer);
    owner
        .submit(
            &page,
            &format!("{page}/roles"),
            &[("role", &viewer_role.to_string())],
        )
        .await;
    assert_eq!(viewer.get("/w/acme/invites").await.status, 403);
}

async fn a_member_keeps_at_least_one_role_and_primary_must_be_held(app: TestApp) {
    let (client, ws) = owner_client(&app).await;
    let mia = app.add_member(ws, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    let page = format!("/w/acme/users/{mia}");
    let none = client.submit(&page, &format!("{page}/roles"), &[]).await;
    assert_eq!(none.status, 422);
    none.assert_contains("A member keeps at least one role");
    let viewer = app.role_id(ws, BuiltinRole::Viewer);
    let member = app.role_id(ws, BuiltinRole::Member);
    let wrong_primary = client
        .submit(
            &page,
            &format!("{page}/roles"),
            &[
                ("role", &viewer.to_string()),
                ("primary_role", &member.to_string()),
            ],
        )
        .await;
    assert_eq!(wrong_primary.status, 422);
    wrong_primary.assert_contains("The primary role must be one of the roles ticked");
    assert_eq!(member_role_names(&app, mia), [("Member".to_string(), true)]);
    assert_eq!(app.count_audit("member.roles_changed"), 0);
}

async fn a_manager_edits_only_their_team_and_only_with_roles_they_hold(app: TestApp) {
    let (_, ws) = owner_client(&app).await;
    let boss = app.add_member(ws, "bea@acme.example", "Bea Boss", BuiltinRole::Manager);
    let report = app.add_member_with(
        ws,
        "rick@acme.example",
        "Rick Report",
        BuiltinRole::Viewer,
        Some(boss),
        None,
    );
    let outsider = app.add_member(ws, "otto@acme.example", "Otto Out", BuiltinRole::Viewer);
    let client = app.client();
    client.sign_in("bea@acme.example", PASSWORD).await;
    // Rick (a Viewer: members.view all) holds more than a Manager (team): not editable.
    let page = format!("/w/acme/users/{report}");
    let view = client.get(&page).await;
    assert_eq!(view.status, 200);
    view.assert_lacks("Save seat");
    view.assert_lacks("Save changes");
    let token = view.csrf();
    let refused = client
        .post_raw(
            &format!("{page}/seat"),
            &[("csrf_token", &token), ("seat_type", "builder")],
        )
        .await;
    assert_eq!(refused.status, 403);
    // Give Rick a role the Manager covers, then the Manager can change his seat.
    let manager_role = app.role_id(ws, BuiltinRole::Manager);
    app.with_db(|conn| Role::replace_for_member(conn, report, &[(manager_role, true)]).unwrap());
    let allowed = client
        .submit(&page, &format!("{page}/seat"), &[("seat_type", "builder")])
        .await;
    assert_eq!(allowed.status, 303, "{}", allowed.body);
    assert_eq!(app.count_audit("member.seat_changed"), 1);
    // The Manager cannot hand out Viewer (members.view all is wider than they hold).
    let viewer_role = app.role_id(ws, BuiltinRole::Viewer);
    let escalate = client
        .submit(
            &page,
            &format!("{page}/roles"),
            &[("role", &viewer_role.to_string())],
        )
        .await;
    assert_eq!(escalate.status, 422);
    escalate.assert_contains("You can&#39;t give the Viewer role");
    // Outside the team: not even visible.
    let token = client.get(&page).await.csrf();
    let outside = client
        .post_raw(
            &format!("/w/acme/users/{outsider}/seat"),
            &[("csrf_token", &token), ("seat_type", "builder")],
        )
        .await;
    assert_eq!(outside.status, 404);
}

async fn a_reports_to_loop_is_refused(app: TestApp) {
    let (client, ws) = owner_client(&app).await;
    let a = app.add_member(ws, "a@acme.example", "Ann Top", BuiltinRole::Member);
    let b = app.add_member_with(
        ws,
        "b@acme.example",
        "Ben Mid",
        BuiltinRole::Member,
        Some(a),
        None,
    );
    let c = app.add_member_with(
        ws,
        "c@acme.example",
        "Cai Low",
        BuiltinRole::Member,
        Some(b),
        None,
    );
    let page = format!("/w/acme/users/{a}");
    let looped = client
        .submit(
            &page,
            &format!("{page}/manager"),
            &[("manager_id", &c.to_string())],
        )
        .await;
    assert_eq!(looped.status, 422);
    looped.assert_contains("the chain would loop");
    let own = client
        .submit(
            &page,
            &format!("{page}/manager"),
            &[("manager_id", &a.to_string())],
        )
        .await;
    assert_eq!(own.status, 422);
    assert_eq!(app.count_audit("member.manager_changed"), 0);
    // A valid change saves, and "none" clears it.
    let cpage = format!("/w/acme/users/{c}");
    let moved = client
        .submit(
            &cpage,
            &format!("{cpage}/manager"),
            &[("manager_id", &a.to_string())],
        )
        .await;
    assert_eq!(moved.status, 303);
    client.get(&cpage).await.assert_contains("Ann Top</a>");
    let cleared = client
        .submit(&cpage, &format!("{cpage}/manager"), &[("manager_id", "")])
        .await;
    assert_eq!(cleared.status, 303);
    assert_eq!(app.count_audit("member.manager_changed"), 2);
}

async fn permissions_json_answers_for_visible_members_only(app: TestApp) {
    let (client, ws) = owner_client(&app).await;
    let boss = app.add_member(ws, "bea@acme.example", "Bea Boss", BuiltinRole::Manager);
    let owner_member = app.workspace_owner_member(ws);
    let other = app.create_workspace("Other", "zed@other.example", "Zed Other");
    let json = client
        .get(&format!("/w/acme/users/{boss}/permissions.json"))
        .await;
    assert_eq!(json.status, 200);
    assert!(json
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let value: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(value["member_id"], boss);
    assert_eq!(value["status"], "active");
    assert_eq!(value["roles"][0]["name"], "Manager");
    let foreign = client
        .get(&format!(
            "/w/acme/users/{}/permissions.json",
            other.member_id
        ))
        .await;
    assert_eq!(foreign.status, 404);
    let manager = app.client();
    manager.sign_in("bea@acme.example", PASSWORD).await;
    let outside = manager
        .get(&format!("/w/acme/users/{owner_member}/permissions.json"))
        .await;
    assert_eq!(outside.status, 404);
}

async fn role_names_with_markup_are_escaped(app: TestApp) {
    let (client, _) = owner_client(&app).await;
    let created = client
        .submit(
            "/w/acme/roles/new",
            "/w/acme/roles/new",
            &[
                ("name", "<script>alert(1)</script>"),
                ("description", "<b>bold</b>"),
                ("perm.audit.view", "on"),
            ],
        )
        .await;
    assert_eq!(created.status, 303);
    let page = client.get("/w/acme/roles").await;
    page.assert_lacks("<script>alert(1)</script>");
    page.assert_contains("&#60;script&#62;alert(1)&#60;/script&#62;");
    page.assert_lacks("<b>bold</b>");
}
