//! Member details an admin edits (department, metadata, modules, name) and the workspace
//! settings that frame them (module catalogue, invitation expiry, slug, plan).

use std::process::Command;

use gatehouse::permissions::BuiltinRole;

use crate::support::{Client, TestApp, PASSWORD};
use crate::tests;

tests![
    department_and_metadata_are_edited_with_errors_beside_the_field,
    modules_come_from_the_catalogue_and_revocations_show_in_permissions_json,
    a_members_name_is_editable_only_with_an_address_on_a_verified_domain,
    settings_change_name_slug_and_expiry_with_validation,
    only_the_owner_changes_the_plan_and_a_downgrade_blocks_new_invites,
];

async fn owner(app: &TestApp) -> (Client, i64) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    (client, ws.workspace_id)
}

fn member_column(app: &TestApp, id: i64) -> (Option<String>, String) {
    use diesel::prelude::*;
    use gatehouse::db::schema::members;
    app.with_db(|conn| {
        members::table
            .find(id)
            .select((members::department, members::metadata))
            .first(conn)
            .unwrap()
    })
}

async fn department_and_metadata_are_edited_with_errors_beside_the_field(app: TestApp) {
    let (client, ws) = owner(&app).await;
    app.add_member_with(
        ws,
        "eng@acme.example",
        "Eve Eng",
        BuiltinRole::Member,
        None,
        Some("Engineering"),
    );
    let mia = app.add_member(ws, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    let page = format!("/w/acme/users/{mia}");
    let form = client.get(&page).await;
    form.assert_contains("<option value=\"Engineering\">");
    let long = "x".repeat(101);
    let refused = client
        .submit(
            &page,
            &format!("{page}/department"),
            &[("department", &long)],
        )
        .await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("At most 100 characters");
    refused.assert_contains(&format!("value=\"{long}\""));
    let saved = client
        .submit(
            &page,
            &format!("{page}/department"),
            &[("department", " Sales ")],
        )
        .await;
    assert_eq!(saved.status, 303);
    assert_eq!(member_column(&app, mia).0.as_deref(), Some("Sales"));
    // The Users filter offers it at once (this instance forgot its cached list).
    client
        .get("/w/acme/users")
        .await
        .assert_contains("<option value=\"Sales\"");
    let bad_json = client
        .submit(
            &page,
            &format!("{page}/metadata"),
            &[("metadata", "[1, 2]")],
        )
        .await;
    assert_eq!(bad_json.status, 422);
    bad_json.assert_contains("Metadata must be a JSON object");
    bad_json.assert_contains("[1, 2]</textarea>");
    let meta = client
        .submit(
            &page,
            &format!("{page}/metadata"),
            &[("metadata", r#"{"team": "north", "level": 2}"#)],
        )
        .await;
    assert_eq!(meta.status, 303);
    let stored: serde_json::Value = serde_json::from_str(&member_column(&app, mia).1).unwrap();
    assert_eq!(stored["team"], "north");
    assert_eq!(app.count_audit("member.department_changed"), 1);
    assert_eq!(app.count_audit("member.metadata_changed"), 1);
}

async fn modules_come_from_the_catalogue_and_revocations_show_in_permissions_json(app: TestApp) {
    let (client, ws) = owner(&app).await;
    let saved = client
        .submit(
            "/w/acme/settings",
            "/w/acme/settings",
            &[
                ("section", "general"),
                ("name", "Acme"),
                ("slug", "acme"),
                ("invite_expiry_days", "7"),
                ("modules", "CRM\nReports\nBilling Portal"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    // A member who joins later gets every module.
    let mia = app.add_member(ws, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    let json_path = format!("/w/acme/users/{mia}/permissions.json");
    let modules = |body: &str| -> Vec<(String, bool)> {
        let value: serde_json::Value = serde_json::from_str(body).unwrap();
        value["modules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["key"].as_str().unwrap().to_string(),
                    m["granted"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        modules(&client.get(&json_path).await.body),
        [
            ("crm".into(), true),
            ("reports".into(), true),
            ("billing-portal".into(), true)
        ]
    );
    let page = format!("/w/acme/users/{mia}");
    let ids: Vec<String> = client
        .get(&page)
        .await
        .body
        .split("name=\"module\" value=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        // The form also sends `module` once empty (an unticked list is still a list).
        .filter(|id| !id.is_empty())
        .collect();
    assert_eq!(ids.len(), 3);
    // Keep CRM only: Reports and Billing Portal are revoked for Mia.
    let revoked = client
        .submit(&page, &format!("{page}/modules"), &[("module", &ids[0])])
        .await;
    assert_eq!(revoked.status, 303);
    assert_eq!(
        modules(&client.get(&json_path).await.body),
        [
            ("crm".into(), true),
            ("reports".into(), false),
            ("billing-portal".into(), false)
        ]
    );
    assert_eq!(app.count_audit("member.modules_changed"), 1);
    // A module id of another workspace is refused.
    let foreign = client
        .submit(&page, &format!("{page}/modules"), &[("module", "999999")])
        .await;
    assert_eq!(foreign.status, 422);
    assert_eq!(app.count_audit("member.modules_changed"), 1);
}

fn gatehouse(app: &TestApp, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .env("DATABASE_URL", app.db.url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run gatehouse");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    text
}

async fn a_members_name_is_editable_only_with_an_address_on_a_verified_domain(app: TestApp) {
    let (client, ws) = owner(&app).await;
    let mia = app.add_member(ws, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    let gus = app.add_member(ws, "gus@gmail.example", "Gus Guest", BuiltinRole::Member);
    let mia_page = format!("/w/acme/users/{mia}");
    let before = client.get(&mia_page).await;
    before.assert_contains("Read-only: The name belongs to the member");
    before.assert_lacks("name=\"name\"");
    let refused = client
        .submit(
            &mia_page,
            &format!("{mia_page}/name"),
            &[("name", "Mia Renamed")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert_eq!(app.count_audit("member.name_changed"), 0);

    let pending = gatehouse(&app, &["domain", "add", "acme", "ACME.example"]);
    assert!(pending.contains("acme.example is pending"), "{pending}");
    assert!(pending.contains("gatehouse-verification="), "{pending}");
    client
        .get(&mia_page)
        .await
        .assert_contains("Read-only: The name belongs to the member");
    let verified = gatehouse(&app, &["domain", "verify", "acme", "acme.example"]);
    assert!(verified.contains("acme.example is verified"), "{verified}");
    assert_eq!(app.count_audit("domain.verified"), 1);

    let editable = client.get(&mia_page).await;
    editable.assert_contains("id=\"member-name\" name=\"name\"");
    let empty = client
        .submit(&mia_page, &format!("{mia_page}/name"), &[("name", "  ")])
        .await;
    assert_eq!(empty.status, 422);
    empty.assert_contains("Enter a name");
    let renamed = client
        .submit(
            &mia_page,
            &format!("{mia_page}/name"),
            &[("name", "Mia Renamed")],
        )
        .await;
    assert_eq!(renamed.status, 303);
    client
        .get(&mia_page)
        .await
        .assert_contains("<h1>Mia Renamed");
    client
        .get("/w/acme/users?q=renamed")
        .await
        .assert_contains("Mia Renamed");
    // Gus's address is on another domain: still read-only for admins.
    let gus_page = format!("/w/acme/users/{gus}");
    client
        .get(&gus_page)
        .await
        .assert_contains("verified address on acme.example");
    let refused = client
        .submit(
            &gus_page,
            &format!("{gus_page}/name"),
            &[("name", "Gus Renamed")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert_eq!(app.count_audit("member.name_changed"), 1);
}

async fn settings_change_name_slug_and_expiry_with_validation(app: TestApp) {
    let (client, _) = owner(&app).await;
    app.create_workspace("Globex", "gary@globex.example", "Gary Globex");
    let fields = |name: &'static str, slug: &'static str, days: &'static str| {
        vec![
            ("section", "general"),
            ("name", name),
            ("slug", slug),
            ("invite_expiry_days", days),
            ("modules", ""),
        ]
    };
    let zero = client
        .submit(
            "/w/acme/settings",
            "/w/acme/settings",
            &fields("Acme", "acme", "0"),
        )
        .await;
    assert_eq!(zero.status, 422);
    zero.assert_contains("Invitations last between 1 and 30 days");
    let taken = client
        .submit(
            "/w/acme/settings",
            "/w/acme/settings",
            &fields("Acme", "globex", "7"),
        )
        .await;
    assert_eq!(taken.status, 422);
    taken.assert_contains("is taken by another workspace");
    let bad = client
        .submit(
            "/w/acme/settings",
            "/w/acme/settings",
            &fields("", "Not A Slug!", "7"),
        )
        .await;
    assert_eq!(bad.status, 422);
    bad.assert_contains("Enter the workspace");
    bad.assert_contains("Use lower-case letters");
    assert_eq!(app.count_audit("workspace.settings_changed"), 0);
    let saved = client
        .submit(
            "/w/acme/settings",
            "/w/acme/settings",
            &fields("Acme Corporation", "acme-corp", "14"),
        )
        .await;
    assert_eq!(saved.status, 303);
    assert_eq!(saved.location.as_deref(), Some("/w/acme-corp/settings"));
    let ws = app.workspace("acme-corp");
    assert_eq!(
        (ws.name.as_str(), ws.invite_expiry_days),
        ("Acme Corporation", 14)
    );
    assert_eq!(client.get("/w/acme/users").await.status, 404);
    assert_eq!(client.get("/w/acme-corp/users").await.status, 200);
    // A Member may not open or post settings.
    app.add_member(ws.id, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    let member = app.client();
    member.sign_in("mia@acme.example", PASSWORD).await;
    assert_eq!(member.get("/w/acme-corp/settings").await.status, 403);
}

async fn only_the_owner_changes_the_plan_and_a_downgrade_blocks_new_invites(app: TestApp) {
    let (client, ws) = owner(&app).await;
    for i in 0..5 {
        app.add_member(
            ws,
            &format!("m{i}@acme.example"),
            &format!("Member {i}"),
            BuiltinRole::Member,
        );
    }
    app.add_member(ws, "ada@acme.example", "Ada Admin", BuiltinRole::Admin);
    let admin = app.client();
    admin.sign_in("ada@acme.example", PASSWORD).await;
    let settings = admin.get("/w/acme/settings").await;
    assert_eq!(settings.status, 200);
    settings.assert_contains("Only the Owner can change the plan.");
    let token = settings.csrf();
    let refused = admin
        .post_raw(
            "/w/acme/settings",
            &[
                ("csrf_token", &token),
                ("section", "plan"),
                ("plan", "enterprise"),
            ],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(app.workspace("acme").plan, None);

    let audit_before = app.count_audit("workspace.limits_changed");
    // The select starts on where the workspace stands: no plan chosen yet.
    client
        .get("/w/acme/settings")
        .await
        .assert_contains("<option value=\"\" selected>No plan yet — 10 seats</option>");
    // Below the seats in use, the plan change asks first and changes nothing.
    let asked = client
        .submit(
            "/w/acme/settings",
            "/w/acme/settings",
            &[("section", "plan"), ("plan", "starter")],
        )
        .await;
    assert_eq!(asked.status, 200);
    asked.assert_contains("<h1>Change to Starter?</h1>");
    asked.assert_contains("Starter allows 5 seats; 7 of 10 seats used");
    asked.assert_contains("name=\"confirm\" value=\"yes\"");
    assert_eq!(app.workspace("acme").plan, None);
    assert_eq!(app.count_audit("workspace.limits_changed"), audit_before);
    let downgraded = client
        .submit(
            "/w/acme/settings",
            "/w/acme/settings",
            &[("section", "plan"), ("plan", "starter"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(downgraded.status, 303);
    let page = client.get("/w/acme/settings").await;
    page.assert_contains("<option value=\"starter\" selected>");
    page.assert_contains("7 of 5 seats used (7 members, 0 pending invitations), more than the plan allows. Everyone stays");
    page.assert_contains("Over the limit");
    assert_eq!(app.workspace("acme").seat_limit, Some(5));
    assert_eq!(app.workspace("acme").active_members, 7);
    let member_role = app.role_id(ws, BuiltinRole::Member).to_string();
    let invite = client
        .submit(
            "/w/acme/invites",
            "/w/acme/invites",
            &[
                ("emails", "new@acme.example"),
                ("role", &member_role),
                ("seat_type", "member"),
            ],
        )
        .await;
    assert_eq!(invite.status, 422);
    invite.assert_contains("Not enough seats: needs 1 seat, 0 free");
    let upgraded = client
        .submit(
            "/w/acme/settings",
            "/w/acme/settings",
            &[("section", "plan"), ("plan", "professional")],
        )
        .await;
    assert_eq!(upgraded.status, 303);
    assert_eq!(app.workspace("acme").seat_limit, Some(25));
}
