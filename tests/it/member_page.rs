//! The member page (issue 11 items 8 and 9): one "Edit member" form whose one Save applies
//! every changed field in one transaction (or nothing), and the member's direct grants,
//! shown with their end date and revocable by whoever approves requests.

use diesel::prelude::*;
use gatehouse::db::schema::{members, permission_grants};
use gatehouse::models::role::Role;
use gatehouse::permissions::{BuiltinRole, Grant, Permission, Scope};
use scraper::{Html, Selector};

use crate::support::{Client, Page, TestApp, PASSWORD};
use crate::tests;

tests![
    one_save_applies_department_roles_and_seat_with_one_audit_event_each,
    a_refused_save_applies_nothing_and_keeps_every_typed_value,
    a_field_the_viewer_may_not_change_is_refused_and_nothing_changes,
    the_page_is_one_form_and_fields_the_viewer_may_not_change_are_text,
    a_direct_grant_shows_its_end_date_and_revoking_it_ends_it_at_the_next_request,
    only_an_approver_revokes_a_grant_and_never_their_own_or_another_members,
];

async fn owner(app: &TestApp) -> (Client, i64) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    (client, ws.workspace_id)
}

async fn signed_in(app: &TestApp, email: &str) -> Client {
    let client = app.client();
    assert_eq!(client.sign_in(email, PASSWORD).await.status, 303);
    client
}

/// The fields the page's "Edit member" form would send untouched, as a browser does.
fn edit_form(page: &Page, action: &str) -> Vec<(String, String)> {
    let html = Html::parse_document(&page.body);
    let css = format!("form[action=\"{action}\"]");
    let form = html
        .select(&Selector::parse(&css).unwrap())
        .next()
        .unwrap_or_else(|| panic!("no form posting to {action}:\n{}", page.body));
    let mut out = Vec::new();
    let controls = Selector::parse("input, select, textarea").unwrap();
    for el in form.select(&controls) {
        let v = el.value();
        let (Some(name), false) = (v.attr("name"), v.attr("disabled").is_some()) else {
            continue;
        };
        let value = match v.name() {
            "textarea" => el.text().collect(),
            "select" => {
                let option = Selector::parse("option").unwrap();
                let options: Vec<_> = el.select(&option).collect();
                let chosen = options
                    .iter()
                    .find(|o| o.value().attr("selected").is_some())
                    .or(options.first())
                    .unwrap();
                chosen.value().attr("value").unwrap_or("").to_string()
            }
            _ => {
                let kind = v.attr("type").unwrap_or("text");
                if matches!(kind, "checkbox" | "radio") && v.attr("checked").is_none() {
                    continue;
                }
                v.attr("value").unwrap_or("").to_string()
            }
        };
        out.push((name.to_string(), value));
    }
    out
}

/// `fields` with every value of `name` replaced by `values`.
fn with(fields: &[(String, String)], name: &str, values: &[&str]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        fields.iter().filter(|(n, _)| n != name).cloned().collect();
    out.extend(values.iter().map(|v| (name.to_string(), v.to_string())));
    out
}

async fn post(client: &Client, action: &str, fields: &[(String, String)]) -> Page {
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    client.post_raw(action, &pairs).await
}

/// (department, seat type, metadata) as stored.
fn stored(app: &TestApp, id: i64) -> (Option<String>, String, String) {
    app.with_db(|conn| {
        members::table
            .find(id)
            .select((members::department, members::seat_type, members::metadata))
            .first(conn)
            .unwrap()
    })
}

fn roles_of(app: &TestApp, id: i64) -> Vec<(String, bool)> {
    app.with_db(|conn| {
        let mut held: Vec<(String, bool)> = Role::held_by(conn, &[id])
            .unwrap()
            .into_iter()
            .map(|r| (r.name, r.is_primary))
            .collect();
        held.sort();
        held
    })
}

fn member_edits(app: &TestApp) -> i64 {
    [
        "member.roles_changed",
        "member.seat_changed",
        "member.manager_changed",
        "member.department_changed",
        "member.modules_changed",
        "member.metadata_changed",
        "member.name_changed",
    ]
    .iter()
    .map(|a| app.count_audit(a))
    .sum()
}

async fn one_save_applies_department_roles_and_seat_with_one_audit_event_each(app: TestApp) {
    let (client, ws) = owner(&app).await;
    let mia = app.add_member(ws, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    let viewer = app.role_id(ws, BuiltinRole::Viewer).to_string();
    let member = app.role_id(ws, BuiltinRole::Member).to_string();
    let path = format!("/w/acme/users/{mia}");
    let page = client.get(&path).await;
    let form = edit_form(&page, &path);
    let form = with(&form, "department", &["Sales"]);
    let form = with(&form, "role", &["", &member, &viewer]);
    let form = with(&form, "primary_role", &[&viewer]);
    let form = with(&form, "seat_type", &["builder"]);
    let saved = post(&client, &path, &form).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(saved.location.as_deref(), Some(path.as_str()));
    let (department, seat, _) = stored(&app, mia);
    assert_eq!(department.as_deref(), Some("Sales"));
    assert_eq!(seat, "builder");
    assert_eq!(
        roles_of(&app, mia),
        [("Member".to_string(), false), ("Viewer".to_string(), true)]
    );
    // One event per changed field, none for the fields sent unchanged.
    assert_eq!(app.count_audit("member.department_changed"), 1);
    assert_eq!(app.count_audit("member.roles_changed"), 1);
    assert_eq!(app.count_audit("member.seat_changed"), 1);
    assert_eq!(member_edits(&app), 3);
    client
        .get(&path)
        .await
        .assert_contains("Saved the roles, seat type and department.");
    // The same form again changes nothing and records nothing.
    let page = client.get(&path).await;
    let again = post(&client, &path, &edit_form(&page, &path)).await;
    assert_eq!(again.status, 303);
    assert_eq!(member_edits(&app), 3);
    client
        .get(&path)
        .await
        .assert_contains("Nothing to save: every field was as stored.");
    // The per-field routes still work on their own.
    let alone = client
        .submit(
            &path,
            &format!("{path}/department"),
            &[("department", "Ops")],
        )
        .await;
    assert_eq!(alone.status, 303);
    assert_eq!(stored(&app, mia).0.as_deref(), Some("Ops"));
}

async fn a_refused_save_applies_nothing_and_keeps_every_typed_value(app: TestApp) {
    let (client, ws) = owner(&app).await;
    let mia = app.add_member(ws, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    let viewer = app.role_id(ws, BuiltinRole::Viewer).to_string();
    let member = app.role_id(ws, BuiltinRole::Member).to_string();
    let path = format!("/w/acme/users/{mia}");
    let before = stored(&app, mia);
    let page = client.get(&path).await;
    let base = edit_form(&page, &path);
    // A field the form refuses (metadata) beside a good change (department): nothing applied.
    let form = with(&base, "department", &["Typed Dept"]);
    let form = with(&form, "metadata", &["[1, 2]"]);
    let form = with(&form, "seat_type", &["builder"]);
    let refused = post(&client, &path, &form).await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("Metadata must be a JSON object");
    refused.assert_contains("value=\"Typed Dept\"");
    refused.assert_contains("[1, 2]</textarea>");
    refused.assert_contains("<option value=\"builder\" selected>");
    refused.assert_contains("id=\"metadata-error\"");
    assert_eq!(stored(&app, mia), before);
    assert_eq!(member_edits(&app), 0);
    // A rule the service applies (the primary role is not ticked) beside a department, a
    // role ticked and a bad manager: every refusal shown at once, nothing applied, every
    // value kept.
    let form = with(&base, "department", &["Typed Dept"]);
    let form = with(&form, "role", &["", &viewer]);
    let form = with(&form, "primary_role", &[&member]);
    let form = with(&form, "manager_id", &[&mia.to_string()]);
    let refused = post(&client, &path, &form).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    refused.assert_contains("The primary role must be one of the roles ticked");
    refused.assert_contains("A member can&#39;t report to themselves");
    refused.assert_contains("value=\"Typed Dept\"");
    // The boxes and the radio come back as they were sent, not as stored.
    let kept = edit_form(&refused, &path);
    let values = |name: &str| -> Vec<String> {
        kept.iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    };
    assert_eq!(values("role"), ["".to_string(), viewer.clone()]);
    assert_eq!(values("primary_role"), [member]);
    assert_eq!(stored(&app, mia), before);
    assert_eq!(roles_of(&app, mia), [("Member".to_string(), true)]);
    assert_eq!(member_edits(&app), 0);
}

async fn a_field_the_viewer_may_not_change_is_refused_and_nothing_changes(app: TestApp) {
    let (owner, ws) = owner(&app).await;
    let mia = app.add_member(ws, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    let path = format!("/w/acme/users/{mia}");
    // The name is the member's own (no verified domain): refused beside it, and the
    // department sent with it is not applied either.
    let page = owner.get(&path).await;
    page.assert_lacks("name=\"name\"");
    let form = with(&edit_form(&page, &path), "department", &["Sales"]);
    let form = with(&form, "name", &["Mia Renamed"]);
    let refused = post(&owner, &path, &form).await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("The name belongs to the member");
    refused.assert_contains("value=\"Sales\"");
    assert_eq!(stored(&app, mia).0, None);
    assert_eq!(member_edits(&app), 0);
    // The Owner on their own page: their name is theirs to change on /account (403),
    // whatever else comes with it.
    let olivia = app.workspace_owner_member(ws);
    let owner_before = stored(&app, olivia);
    let own = format!("/w/acme/users/{olivia}");
    let page = owner.get(&own).await;
    let form = with(&edit_form(&page, &own), "department", &["Board"]);
    let form = with(&form, "name", &["Olivia Renamed"]);
    assert_eq!(post(&owner, &own, &form).await.status, 403);
    assert_eq!(stored(&app, olivia), owner_before);
    // An Admin may not edit the Owner at all: the page offers no form, and a hand-made
    // post is refused.
    app.add_member(ws, "ada@acme.example", "Ada Admin", BuiltinRole::Admin);
    let ada = signed_in(&app, "ada@acme.example").await;
    let seen = ada.get(&own).await;
    assert_eq!(seen.status, 200);
    seen.assert_lacks(&format!("action=\"{own}\""));
    let token = seen.csrf();
    let forged = ada
        .post_raw(
            &own,
            &[
                ("csrf_token", &token),
                ("department", "Forged"),
                ("seat_type", "member"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    // A plain Member is refused before anything is read.
    let mia_client = signed_in(&app, "mia@acme.example").await;
    let token = mia_client.get(&path).await.csrf();
    let by_member = mia_client
        .post_raw(&own, &[("csrf_token", &token), ("department", "Mine")])
        .await;
    assert_eq!(by_member.status, 403);
    assert_eq!(stored(&app, olivia), owner_before);
    assert_eq!(member_edits(&app), 0);
}

async fn the_page_is_one_form_and_fields_the_viewer_may_not_change_are_text(app: TestApp) {
    let (owner, ws) = owner(&app).await;
    let mia = app.add_member(ws, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    let path = format!("/w/acme/users/{mia}");
    let page = owner.get(&path).await;
    assert_eq!(page.status, 200);
    page.assert_contains("<h2 id=\"edit-h\">Edit member</h2>");
    // One Save for the member's fields; no per-field forms left on the page.
    assert_eq!(page.body.matches("Save changes</button>").count(), 1);
    for suffix in [
        "roles",
        "seat",
        "manager",
        "department",
        "modules",
        "metadata",
        "name",
    ] {
        page.assert_lacks(&format!("action=\"{path}/{suffix}\""));
    }
    for field in [
        "role",
        "primary_role",
        "seat_type",
        "manager_id",
        "department",
        "metadata",
    ] {
        page.assert_contains(&format!("name=\"{field}\""));
    }
    // The name is not the admin's here: shown as text with why.
    page.assert_contains("id=\"name-readonly\"");
    page.assert_lacks("name=\"name\"");
    // Access and Effective permissions stay their own sections.
    page.assert_contains("id=\"lifecycle-h\"");
    page.assert_contains("id=\"perms-h\"");
    // A Viewer sees the membership as text, with no form.
    app.add_member(ws, "vic@acme.example", "Vic Viewer", BuiltinRole::Viewer);
    let vic = signed_in(&app, "vic@acme.example").await;
    let seen = vic.get(&path).await;
    seen.assert_contains("<h2 id=\"membership-h\">Membership</h2>");
    seen.assert_lacks("Save changes");
    seen.assert_lacks("name=\"department\"");
}

/// A direct grant to `member` by the Owner, ending at the end of `last_day` if given.
fn grant(app: &TestApp, member: i64, permission: Permission, last_day: Option<&str>) -> i64 {
    app.with_db(|conn| {
        let olivia =
            gatehouse::models::account::Account::find_by_login(conn, "olivia@acme.example")
                .unwrap()
                .unwrap();
        let ends = last_day.map(|d| {
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .unwrap()
                .succ_opt()
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
        });
        let scope = (permission == Permission::RecordsExport).then_some(Scope::Own);
        Role::grant(
            conn,
            member,
            &Grant { permission, scope },
            ends,
            olivia.id,
            gatehouse::models::now(),
        )
        .unwrap()
    })
}

fn grant_ids(app: &TestApp) -> Vec<i64> {
    app.with_db(|conn| {
        permission_grants::table
            .order(permission_grants::id)
            .select(permission_grants::id)
            .load(conn)
            .unwrap()
    })
}

fn json_permissions(body: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(body).unwrap();
    value["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["permission"].as_str().unwrap().to_string())
        .collect()
}

async fn a_direct_grant_shows_its_end_date_and_revoking_it_ends_it_at_the_next_request(
    app: TestApp,
) {
    let (owner, ws) = owner(&app).await;
    let mia = app.add_member(ws, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    let invite = grant(&app, mia, Permission::MembersInvite, Some("2099-01-12"));
    let export = grant(&app, mia, Permission::RecordsExport, None);
    let path = format!("/w/acme/users/{mia}");
    let page = owner.get(&path).await;
    page.assert_contains("<h3 id=\"grants-h\">Direct grants</h3>");
    page.assert_contains(&format!(
        "{} <code>members.invite</code>",
        Permission::MembersInvite.description()
    ));
    page.assert_contains("Until 12 Jan 2099");
    page.assert_contains("No end date");
    page.assert_contains("<span class=\"muted\">Granted by</span> Olivia Owner</span>");
    page.assert_contains("<span class=\"muted\">Scope</span> own</span>");
    let revoke = format!("{path}/grants/{invite}/revoke");
    page.assert_contains(&format!("action=\"{revoke}\""));

    // Mia's live session holds it now…
    let mia_client = signed_in(&app, "mia@acme.example").await;
    assert_eq!(mia_client.get("/w/acme/invites").await.status, 200);
    let json = format!("{path}/permissions.json");
    assert!(json_permissions(&owner.get(&json).await.body).contains(&"members.invite".into()));

    let revoked = owner.submit(&path, &revoke, &[]).await;
    assert_eq!(revoked.status, 303, "{}", revoked.body);
    assert_eq!(revoked.location.as_deref(), Some(path.as_str()));
    let after = owner.get(&path).await;
    after.assert_contains("Revoked the direct grant of members.invite.");
    after.assert_lacks("Until 12 Jan 2099");
    after.assert_contains("No end date");
    assert_eq!(grant_ids(&app), [export]);
    assert_eq!(app.count_audit("permission_grant.revoked"), 1);
    assert!(!json_permissions(&owner.get(&json).await.body).contains(&"members.invite".into()));
    // …and not at its next request.
    assert_eq!(mia_client.get("/w/acme/invites").await.status, 403);
    // Revoking it again: it is gone (404), nothing recorded.
    let again = owner.submit(&path, &revoke, &[]).await;
    assert_eq!(again.status, 404);
    assert_eq!(app.count_audit("permission_grant.revoked"), 1);
}

async fn only_an_approver_revokes_a_grant_and_never_their_own_or_another_members(app: TestApp) {
    let (owner, ws) = owner(&app).await;
    let mia = app.add_member(ws, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    let max = app.add_member(ws, "max@acme.example", "Max Member", BuiltinRole::Member);
    let ada = app.add_member(ws, "ada@acme.example", "Ada Admin", BuiltinRole::Admin);
    let mias = grant(&app, mia, Permission::RecordsExport, None);
    let adas = grant(&app, ada, Permission::RecordsExport, None);
    let mia_page = format!("/w/acme/users/{mia}");

    // A Member sees the grant but no Revoke, and is refused the route.
    let mia_client = signed_in(&app, "mia@acme.example").await;
    let own = mia_client.get(&mia_page).await;
    own.assert_contains("No end date");
    own.assert_lacks("/revoke\"");
    let token = own.csrf();
    let refused = mia_client
        .post_raw(
            &format!("{mia_page}/grants/{mias}/revoke"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(refused.status, 403);

    // An Admin (who approves requests) may not revoke their own grant.
    let ada_client = signed_in(&app, "ada@acme.example").await;
    let ada_page = format!("/w/acme/users/{ada}");
    let page = ada_client.get(&ada_page).await;
    page.assert_lacks("/revoke\"");
    let token = page.csrf();
    let self_revoke = ada_client
        .post_raw(
            &format!("{ada_page}/grants/{adas}/revoke"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(self_revoke.status, 403);

    // A grant named under another member's page, or another workspace's member: 404.
    let token = owner.get(&mia_page).await.csrf();
    let crossed = owner
        .post_raw(
            &format!("/w/acme/users/{max}/grants/{mias}/revoke"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(crossed.status, 404);
    let beta = app.create_workspace("Beta", "bob@beta.example", "Bob Beta");
    let bob = signed_in(&app, "bob@beta.example").await;
    let token = bob.get("/w/beta/users").await.csrf();
    let foreign = bob
        .post_raw(
            &format!("/w/beta/users/{}/grants/{mias}/revoke", beta.member_id),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(foreign.status, 404);
    let foreign = bob
        .post_raw(
            &format!("/w/beta/users/{mia}/grants/{mias}/revoke"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(foreign.status, 404);
    // Without the CSRF token: refused.
    let forged = owner
        .post_raw(&format!("{mia_page}/grants/{mias}/revoke"), &[])
        .await;
    assert_eq!(forged.status, 403);

    assert_eq!(grant_ids(&app), [mias, adas]);
    assert_eq!(app.count_audit("permission_grant.revoked"), 0);
    // The Admin revokes Mia's: allowed.
    let done = ada_client
        .submit(&mia_page, &format!("{mia_page}/grants/{mias}/revoke"), &[])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(grant_ids(&app), [adas]);
    assert_eq!(app.count_audit("permission_grant.revoked"), 1);
}
