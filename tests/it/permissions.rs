//! The authorization core: built-in roles resolve to SPEC §2, unions take the widest scope,
//! and authorization is recomputed on every request.

use gatehouse::permissions::{BuiltinRole, EffectivePermissions};
use gatehouse::services::access;

use crate::support::{TestApp, PASSWORD};
use crate::tests;

tests![
    each_builtin_role_resolves_to_the_spec_matrix,
    a_member_with_two_roles_gets_the_union_with_the_widest_scope,
    authorization_is_recomputed_on_every_request,
    resolving_permissions_takes_the_same_number_of_queries_whatever_the_roles_and_depth,
];

fn summary(perms: &EffectivePermissions) -> Vec<String> {
    perms
        .iter()
        .map(|(p, e)| match e.scope {
            Some(scope) => format!("{}({})", p.key(), scope.key()),
            None => p.key().to_string(),
        })
        .collect()
}

/// SPEC §2, written out independently of the code that seeds the roles.
fn expected(role: BuiltinRole) -> Vec<&'static str> {
    match role {
        BuiltinRole::Owner => vec![
            "members.view(all)",
            "members.invite",
            "members.edit(all)",
            "members.remove(all)",
            "roles.manage",
            "settings.manage",
            "billing.manage",
            "audit.view",
            "records.view(all)",
            "records.create(all)",
            "records.edit(all)",
            "records.delete(all)",
            "records.export(all)",
        ],
        BuiltinRole::Admin => vec![
            "members.view(all)",
            "members.invite",
            "members.edit(all)",
            "members.remove(all)",
            "roles.manage",
            "settings.manage",
            "audit.view",
            "records.view(all)",
            "records.create(all)",
            "records.edit(all)",
            "records.delete(all)",
            "records.export(all)",
        ],
        BuiltinRole::Manager => vec![
            "members.view(team)",
            "members.edit(team)",
            "records.view(team)",
            "records.create(team)",
            "records.edit(team)",
            "records.delete(team)",
            "records.export(team)",
        ],
        BuiltinRole::Member => vec![
            "members.view(all)",
            "records.view(own)",
            "records.create(own)",
            "records.edit(own)",
        ],
        BuiltinRole::Viewer => vec!["members.view(all)", "records.view(all)"],
    }
}

async fn each_builtin_role_resolves_to_the_spec_matrix(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let mut members = vec![(BuiltinRole::Owner, ws.member_id)];
    for (i, role) in [
        BuiltinRole::Admin,
        BuiltinRole::Manager,
        BuiltinRole::Member,
        BuiltinRole::Viewer,
    ]
    .into_iter()
    .enumerate()
    {
        members.push((
            role,
            app.add_member(
                ws.workspace_id,
                &format!("m{i}@acme.example"),
                &format!("M{i}"),
                role,
            ),
        ));
    }
    for (role, member_id) in members {
        let perms = app
            .with_db(|conn| access::effective_permissions(conn, member_id))
            .expect("resolve");
        assert_eq!(summary(&perms), expected(role), "{role:?}");
        assert_eq!(perms.is_owner(), role == BuiltinRole::Owner);
        assert!(perms
            .iter()
            .all(|(_, e)| e.sources == vec![role.name().to_string()]));
    }
    // The detail page shows the same, with the role that gives each permission.
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    let page = client.get(&format!("/w/acme/users/{}", ws.member_id)).await;
    page.assert_contains("<td data-label=\"Given by\">Owner</td>");
    assert_eq!(
        page.body.matches("<td data-label=\"Permission\">").count(),
        13
    );
}

async fn a_member_with_two_roles_gets_the_union_with_the_widest_scope(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let member = app.add_member(
        ws.workspace_id,
        "two@acme.example",
        "Two Roles",
        BuiltinRole::Manager,
    );
    let viewer = app.role_id(ws.workspace_id, BuiltinRole::Viewer);
    app.with_db(|conn| gatehouse::models::role::Role::assign(conn, member, viewer, false))
        .expect("assign");
    let perms = app
        .with_db(|conn| access::effective_permissions(conn, member))
        .expect("resolve");
    let lines = summary(&perms);
    assert!(
        lines.contains(&"members.view(all)".to_string()),
        "{lines:?}"
    );
    assert!(lines.contains(&"records.view(all)".to_string()));
    assert!(lines.contains(&"members.edit(team)".to_string()));
    let view = perms
        .iter()
        .find(|(p, _)| p.key() == "members.view")
        .unwrap()
        .1;
    assert_eq!(
        view.sources,
        vec!["Manager".to_string(), "Viewer".to_string()]
    );
    // Widest scope in practice: with Viewer added, the manager sees everyone.
    let client = app.client();
    client.sign_in("two@acme.example", PASSWORD).await;
    client
        .get("/w/acme/users")
        .await
        .assert_contains("Olivia Owner");
}

async fn authorization_is_recomputed_on_every_request(app: TestApp) {
    use diesel::prelude::*;
    use gatehouse::db::schema::members;
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let member = app.add_member(
        ws.workspace_id,
        "mia@acme.example",
        "Mia Member",
        BuiltinRole::Member,
    );
    let client = app.client();
    client.sign_in("mia@acme.example", PASSWORD).await;
    assert_eq!(client.get("/w/acme/users").await.status, 200);
    app.with_db(|conn| {
        diesel::update(members::table.find(member))
            .set(members::status.eq("archived"))
            .execute(conn)
    })
    .unwrap();
    assert_eq!(
        client.get("/w/acme/users").await.status,
        404,
        "an archived member loses access at once"
    );
    app.with_db(|conn| {
        diesel::update(members::table.find(member))
            .set(members::status.eq("active"))
            .execute(conn)
    })
    .unwrap();
    assert_eq!(client.get("/w/acme/users").await.status, 200);
    app.with_db(|conn| {
        diesel::delete(
            gatehouse::db::schema::member_roles::table
                .filter(gatehouse::db::schema::member_roles::member_id.eq(member)),
        )
        .execute(conn)
    })
    .unwrap();
    let refused = client.get("/w/acme/users").await;
    assert_eq!(
        refused.status, 403,
        "without roles there is no members.view"
    );
    refused.assert_contains(
        "<strong>View members</strong> permission (<code class=\"perm-key\">members.view</code>",
    );
}

/// Runs `work` on one pooled connection and counts the SQL statements it sends.
fn count_queries(app: &TestApp, work: impl FnOnce(&mut gatehouse::db::DbConn)) -> usize {
    use diesel::connection::{Connection, InstrumentationEvent};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let counter = Arc::new(AtomicUsize::new(0));
    let seen = counter.clone();
    app.with_db(|conn| {
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if matches!(event, InstrumentationEvent::StartQuery { .. }) {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        });
        work(conn);
        conn.set_instrumentation(diesel::connection::get_default_instrumentation());
    });
    counter.load(Ordering::SeqCst)
}

async fn resolving_permissions_takes_the_same_number_of_queries_whatever_the_roles_and_depth(
    app: TestApp,
) {
    use gatehouse::models::role::{NewRole, Role};
    use gatehouse::permissions::{Grant, Permission, Scope};
    use gatehouse::services::members::in_scope;
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let id = ws.workspace_id;
    // A: one role, no grants, nobody reporting. B: nine roles, three grants, and a chain
    // of six managers below.
    let a = app.add_member(id, "a@acme.example", "Ann", BuiltinRole::Manager);
    let a_report = app.add_member_with(
        id,
        "ar@acme.example",
        "Ann's report",
        BuiltinRole::Member,
        Some(a),
        None,
    );
    let b = app.add_member(id, "b@acme.example", "Bob", BuiltinRole::Manager);
    let mut below = b;
    for depth in 0..6 {
        below = app.add_member_with(
            id,
            &format!("r{depth}@acme.example"),
            &format!("Report {depth}"),
            BuiltinRole::Member,
            Some(below),
            None,
        );
    }
    let deepest = below;
    app.with_db(|conn| {
        let now = gatehouse::models::now();
        for role in [BuiltinRole::Member, BuiltinRole::Viewer] {
            let role_id = Role::find_builtin(conn, id, role).unwrap().id;
            Role::assign(conn, b, role_id, false).unwrap();
        }
        for n in 0..6 {
            let name = format!("Custom {n}");
            let role_id = NewRole {
                workspace_id: id,
                builtin_key: None,
                name: &name,
                name_canonical: name.to_lowercase(),
                description: "",
                position: 10 + n,
                created_at: now,
                updated_at: now,
            }
            .insert(conn)
            .unwrap();
            gatehouse::models::role::set_permissions(
                conn,
                role_id,
                &[Grant {
                    permission: Permission::RecordsExport,
                    scope: Some(Scope::Own),
                }],
            )
            .unwrap();
            Role::assign(conn, b, role_id, false).unwrap();
        }
        for permission in [
            Permission::AuditView,
            Permission::MembersInvite,
            Permission::SettingsManage,
        ] {
            Role::grant(
                conn,
                b,
                &Grant {
                    permission,
                    scope: None,
                },
                None,
                ws.account_id,
                now,
            )
            .unwrap();
        }
    });
    let account = |member: i64| {
        app.with_db(|conn| {
            gatehouse::models::member::Member::find_in_workspace(conn, id, member)
                .unwrap()
                .unwrap()
                .account_id
        })
    };
    let (account_a, account_b) = (account(a), account(b));
    let load = |account_id: i64, team_member: i64| {
        count_queries(&app, move |conn| {
            let gatehouse::services::access::Loaded::Member(access) =
                access::load(conn, account_id, "acme").unwrap()
            else {
                panic!("member");
            };
            // Team scope: is a member within the team, however deep?
            assert!(in_scope(conn, &access, Scope::Team, team_member).unwrap());
        })
    };
    let simple = load(account_a, a_report);
    let complex = load(account_b, deepest);
    assert_eq!(
        simple, complex,
        "queries per request must not grow with roles, grants or depth"
    );
    assert!(simple <= 8, "{simple} queries to authorize one request");
    // And the complex member really resolved everything.
    let perms = app
        .with_db(|conn| access::effective_permissions(conn, b))
        .unwrap();
    assert!(perms.allows(Permission::AuditView));
    assert_eq!(perms.scope(Permission::RecordsExport), Some(Scope::Team));
    assert_eq!(perms.scope(Permission::MembersView), Some(Scope::All));
}
