//! Nobody but the Owner changes their own membership (roles, seat type, manager,
//! department, modules, metadata); nobody — the Owner included — changes their own name or
//! addresses through the member page (that is `/account`, with its own rules); nobody
//! approves their own permission request. Every refusal is a 403 that changes no row and
//! records no audit event, and the pages offer only what the server allows.

use diesel::prelude::*;
use gatehouse::db::schema::{accounts, audit_events, member_roles, members, permission_grants};
use gatehouse::models::module::Module;
use gatehouse::permissions::BuiltinRole;
use gatehouse::services::domains;

use crate::support::{Client, Page, TestApp, PASSWORD};
use crate::tests;

tests![
    a_manager_cannot_change_their_own_seat_manager_modules_metadata_name_department_or_roles,
    an_admin_cannot_edit_their_own_roles_or_add_an_address_to_themselves_on_the_member_page,
    the_owner_changes_their_own_seat_modules_and_metadata_but_not_their_name_on_the_member_page,
    an_admin_cannot_approve_their_own_permission_request,
];

struct Acme {
    id: i64,
    owner: i64,
    ada: i64,
    mike: i64,
}

/// Olivia (Owner), Ada (Admin), Mike (Manager, reporting to Ada), on a verified domain
/// (so admins could edit names and addresses) with a module catalogue.
async fn acme(app: &TestApp) -> (Acme, Client) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let ada = app.add_member(
        ws.workspace_id,
        "ada@acme.example",
        "Ada Admin",
        BuiltinRole::Admin,
    );
    let mike = app.add_member_with(
        ws.workspace_id,
        "mike@acme.example",
        "Mike Manager",
        BuiltinRole::Manager,
        Some(ada),
        Some("Sales"),
    );
    app.with_db(|conn| domains::verify_by_operator(conn, "acme", "acme.example").unwrap());
    let owner = signed_in(app, "olivia@acme.example").await;
    let saved = owner
        .submit(
            "/w/acme/settings",
            "/w/acme/settings",
            &[
                ("section", "general"),
                ("name", "Acme"),
                ("slug", "acme"),
                ("invite_expiry_days", "7"),
                ("modules", "CRM\nReports"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    (
        Acme {
            id: ws.workspace_id,
            owner: ws.member_id,
            ada,
            mike,
        },
        owner,
    )
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

fn module_ids(app: &TestApp, workspace: i64) -> Vec<i64> {
    app.with_db(|conn| {
        Module::for_workspace(conn, workspace)
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect()
    })
}

/// Everything a member-page edit could change about one member, and the audit count.
#[derive(Debug, PartialEq)]
struct Snapshot {
    member: (String, String, Option<i64>, Option<String>, String),
    roles: Vec<(i64, bool)>,
    revoked: Vec<i64>,
    name: String,
    addresses: i64,
    audit_events: i64,
}

fn snapshot(app: &TestApp, member: i64) -> Snapshot {
    app.with_db(|conn| {
        let row: (String, String, Option<i64>, Option<String>, String, i64) = members::table
            .find(member)
            .select((
                members::status,
                members::seat_type,
                members::manager_id,
                members::department,
                members::metadata,
                members::account_id,
            ))
            .first(conn)
            .unwrap();
        let mut roles: Vec<(i64, bool)> = member_roles::table
            .filter(member_roles::member_id.eq(member))
            .select((member_roles::role_id, member_roles::is_primary))
            .load(conn)
            .unwrap();
        roles.sort();
        let name = accounts::table
            .find(row.5)
            .select(accounts::name)
            .first(conn)
            .unwrap();
        let addresses = gatehouse::db::schema::email_addresses::table
            .filter(gatehouse::db::schema::email_addresses::account_id.eq(row.5))
            .count()
            .get_result(conn)
            .unwrap();
        Snapshot {
            member: (row.0, row.1, row.2, row.3, row.4),
            roles,
            revoked: Module::revoked_for(conn, member).unwrap(),
            name,
            addresses,
            audit_events: audit_events::table.count().get_result(conn).unwrap(),
        }
    })
}

/// POSTs to one of the member's edit routes with the client's CSRF token.
async fn post(client: &Client, token: &str, path: String, fields: &[(&str, &str)]) -> Page {
    let mut all: Vec<(&str, &str)> = vec![("csrf_token", token)];
    all.extend_from_slice(fields);
    client.post_raw(&path, &all).await
}

fn assert_refused(page: &Page, what: &str) {
    assert_eq!(page.status, 403, "{what}: {}", page.body);
}

async fn a_manager_cannot_change_their_own_seat_manager_modules_metadata_name_department_or_roles(
    app: TestApp,
) {
    let (acme, owner) = acme(&app).await;
    let modules = module_ids(&app, acme.id);
    // The Owner revokes Reports from Mike.
    let crm = modules[0].to_string();
    let revoked = owner
        .submit(
            &page(acme.mike),
            &format!("{}/modules", page(acme.mike)),
            &[("module", &crm)],
        )
        .await;
    assert_eq!(revoked.status, 303);
    let mike = signed_in(&app, "mike@acme.example").await;
    let own = mike.get(&page(acme.mike)).await;
    assert_eq!(own.status, 200);
    // Shown read-only, with the reason; no edit form for any of it.
    own.assert_contains("Read-only: Only the workspace&#39;s Owner changes their own roles");
    own.assert_contains("Change your name and addresses on your Account page");
    for action in [
        "roles",
        "seat",
        "manager",
        "department",
        "modules",
        "metadata",
        "name",
        "emails",
    ] {
        own.assert_lacks(&format!("action=\"/w/acme/users/{}/{action}\"", acme.mike));
    }
    // The Users list offers no action on their own row.
    mike.get("/w/acme/users")
        .await
        .assert_lacks(&format!("href=\"/w/acme/users/{}\">Edit", acme.mike));
    let token = own.csrf();
    let before = snapshot(&app, acme.mike);
    let (manager_role, viewer_role) = (
        app.role_id(acme.id, BuiltinRole::Manager).to_string(),
        app.role_id(acme.id, BuiltinRole::Viewer).to_string(),
    );
    let all_modules: Vec<String> = modules.iter().map(i64::to_string).collect();
    let tries: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("seat", vec![("seat_type", "builder")]),
        ("manager", vec![("manager_id", "")]),
        (
            "modules",
            all_modules.iter().map(|m| ("module", m.as_str())).collect(),
        ),
        ("metadata", vec![("metadata", r#"{"level": 9}"#)]),
        ("name", vec![("name", "Mike The Boss")]),
        ("department", vec![("department", "Board")]),
        (
            "roles",
            vec![
                ("role", manager_role.as_str()),
                ("role", viewer_role.as_str()),
                ("primary_role", manager_role.as_str()),
            ],
        ),
    ];
    for (action, fields) in &tries {
        let refused = post(
            &mike,
            &token,
            format!("{}/{action}", page(acme.mike)),
            fields,
        )
        .await;
        assert_refused(&refused, action);
        assert_eq!(
            snapshot(&app, acme.mike),
            before,
            "{action} changed something"
        );
    }
    // The same edit of someone in their team (holding no more than they do) still works:
    // the refusal is about oneself.
    let rick = app.add_member_with(
        acme.id,
        "rick@acme.example",
        "Rick Report",
        BuiltinRole::Manager,
        Some(acme.mike),
        None,
    );
    let done = post(
        &mike,
        &token,
        format!("{}/department", page(rick)),
        &[("department", "Sales")],
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
}

async fn an_admin_cannot_edit_their_own_roles_or_add_an_address_to_themselves_on_the_member_page(
    app: TestApp,
) {
    let (acme, _owner) = acme(&app).await;
    let ada = signed_in(&app, "ada@acme.example").await;
    let own = ada.get(&page(acme.ada)).await;
    own.assert_lacks(&format!("action=\"/w/acme/users/{}/roles\"", acme.ada));
    own.assert_lacks("Add an address");
    let token = own.csrf();
    let before = snapshot(&app, acme.ada);
    let (admin_role, viewer_role) = (
        app.role_id(acme.id, BuiltinRole::Admin).to_string(),
        app.role_id(acme.id, BuiltinRole::Viewer).to_string(),
    );
    let roles = post(
        &ada,
        &token,
        format!("{}/roles", page(acme.ada)),
        &[
            ("role", &admin_role),
            ("role", &viewer_role),
            ("primary_role", &viewer_role),
        ],
    )
    .await;
    assert_refused(&roles, "roles");
    let added = post(
        &ada,
        &token,
        format!("{}/emails", page(acme.ada)),
        &[("email", "ada.two@acme.example")],
    )
    .await;
    assert_refused(&added, "add an address");
    added.assert_contains("Change your name and addresses on your Account page");
    assert_eq!(snapshot(&app, acme.ada), before);
    assert_eq!(app.count("outbox"), 0, "no verification mail was queued");
}

async fn the_owner_changes_their_own_seat_modules_and_metadata_but_not_their_name_on_the_member_page(
    app: TestApp,
) {
    let (acme, owner) = acme(&app).await;
    let own_page = page(acme.owner);
    let own = owner.get(&own_page).await;
    // The member page's one form offers their seat, and never their name.
    own.assert_contains(&format!("action=\"{own_page}\""));
    own.assert_contains("name=\"seat_type\"");
    own.assert_lacks("name=\"name\"");
    own.assert_contains(
        "Read-only: <a href=\"/account\">Change your name and addresses on your Account page.</a>",
    );
    own.assert_lacks(&format!("action=\"{own_page}/remove\""));
    // Their own row in the Users list offers Edit, never Archive or Remove.
    let list = owner.get("/w/acme/users").await;
    list.assert_contains(&format!("href=\"{own_page}\">Edit"));
    list.assert_lacks(&format!("action=\"{own_page}/remove\""));
    let token = own.csrf();
    let seat = post(
        &owner,
        &token,
        format!("{own_page}/seat"),
        &[("seat_type", "builder")],
    )
    .await;
    assert_eq!(seat.status, 303, "{}", seat.body);
    let crm = module_ids(&app, acme.id)[0].to_string();
    let modules = post(
        &owner,
        &token,
        format!("{own_page}/modules"),
        &[("module", &crm)],
    )
    .await;
    assert_eq!(modules.status, 303, "{}", modules.body);
    let metadata = post(
        &owner,
        &token,
        format!("{own_page}/metadata"),
        &[("metadata", r#"{"team": "north"}"#)],
    )
    .await;
    assert_eq!(metadata.status, 303, "{}", metadata.body);
    let after = snapshot(&app, acme.owner);
    assert_eq!(after.member.1, "builder");
    assert_eq!(after.revoked.len(), 1);
    assert_eq!(after.member.4, r#"{"team":"north"}"#);
    let before = snapshot(&app, acme.owner);
    let name = post(
        &owner,
        &token,
        format!("{own_page}/name"),
        &[("name", "Olivia Renamed")],
    )
    .await;
    assert_refused(&name, "the Owner's own name");
    name.assert_contains("Change your name and addresses on your Account page");
    assert_eq!(snapshot(&app, acme.owner), before);
}

async fn an_admin_cannot_approve_their_own_permission_request(app: TestApp) {
    let (acme, owner) = acme(&app).await;
    // Mike, a Manager, asks for settings.manage; then the Owner makes him an Admin.
    let mike = signed_in(&app, "mike@acme.example").await;
    let asked = mike
        .submit(
            "/w/acme/requests/new",
            "/w/acme/requests/new",
            &[
                ("permission", "records.export"),
                ("scope", "all"),
                ("reason", "Quarterly numbers"),
            ],
        )
        .await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    let admin_role = app.role_id(acme.id, BuiltinRole::Admin).to_string();
    let promoted = owner
        .submit(
            &page(acme.mike),
            &format!("{}/roles", page(acme.mike)),
            &[("role", &admin_role), ("primary_role", &admin_role)],
        )
        .await;
    assert_eq!(promoted.status, 303, "{}", promoted.body);
    let request_id: i64 = app.with_db(|conn| {
        gatehouse::db::schema::permission_requests::table
            .select(gatehouse::db::schema::permission_requests::id)
            .first(conn)
            .unwrap()
    });
    // The requests page offers Mike no Approve on his own request.
    mike.get("/w/acme/requests")
        .await
        .assert_lacks(&format!("/w/acme/requests/{request_id}/approve"));
    let audit_before = app.count("audit_events");
    let approved = mike
        .submit(
            "/w/acme/requests",
            &format!("/w/acme/requests/{request_id}/approve"),
            &[("expires_on", "")],
        )
        .await;
    assert_refused(&approved, "approving one's own request");
    approved.assert_contains("You can&#39;t approve your own permission request");
    assert_eq!(app.count("permission_grants"), 0);
    assert_eq!(app.count("audit_events"), audit_before);
    let pending: String = app.with_db(|conn| {
        gatehouse::db::schema::permission_requests::table
            .select(gatehouse::db::schema::permission_requests::status)
            .first(conn)
            .unwrap()
    });
    assert_eq!(pending, "pending");
    // Another admin decides it.
    let ada = signed_in(&app, "ada@acme.example").await;
    let by_ada = ada
        .submit(
            "/w/acme/requests",
            &format!("/w/acme/requests/{request_id}/approve"),
            &[("expires_on", "")],
        )
        .await;
    assert_eq!(by_ada.status, 303, "{}", by_ada.body);
    let grants: i64 = app.with_db(|conn| {
        permission_grants::table
            .filter(permission_grants::member_id.eq(acme.mike))
            .count()
            .get_result(conn)
            .unwrap()
    });
    assert_eq!(grants, 1);
}
