//! Member lifecycle: remove, archive, restore, transfer ownership — and the workspace always
//! keeps exactly one Owner (SPEC §3 Members, §4.4).

use diesel::prelude::*;
use gatehouse::db::schema::{invites, members};
use gatehouse::models::role::Role;
use gatehouse::permissions::BuiltinRole;

use crate::support::{Client, TestApp, PASSWORD};
use crate::tests;

tests![
    a_removed_member_is_cut_off_their_invites_revoked_and_a_reinvite_restores_the_same_account,
    an_archived_member_keeps_roles_and_is_restored,
    restore_is_refused_without_a_free_seat,
    ownership_goes_only_to_an_admin_with_the_owners_password,
    the_owner_cannot_be_removed_or_archived_by_anyone,
    the_users_screen_offers_row_actions_by_permission,
];

fn status(app: &TestApp, member_id: i64) -> String {
    app.with_db(|conn| {
        members::table
            .find(member_id)
            .select(members::status)
            .first(conn)
            .unwrap()
    })
}

fn roles_of(app: &TestApp, member_id: i64) -> Vec<(String, bool)> {
    app.with_db(|conn| {
        Role::held_by(conn, &[member_id])
            .unwrap()
            .into_iter()
            .map(|r| (r.name, r.is_primary))
            .collect()
    })
}

async fn signed_in(app: &TestApp, email: &str) -> Client {
    let client = app.client();
    let page = client.sign_in(email, PASSWORD).await;
    assert_eq!(page.status, 303, "sign in as {email}");
    client
}

async fn a_removed_member_is_cut_off_their_invites_revoked_and_a_reinvite_restores_the_same_account(
    app: TestApp,
) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let id = ws.workspace_id;
    let ada = app.add_member(id, "ada@acme.example", "Ada Admin", BuiltinRole::Admin);
    let report = app.add_member_with(
        id,
        "rick@acme.example",
        "Rick Report",
        BuiltinRole::Member,
        Some(ada),
        None,
    );
    let admin = signed_in(&app, "ada@acme.example").await;
    let member_role = app.role_id(id, BuiltinRole::Member).to_string();
    let sent = admin
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
    assert_eq!(sent.status, 303);
    assert_eq!(app.workspace("acme").active_members, 3);
    let owner = signed_in(&app, "olivia@acme.example").await;
    let page = format!("/w/acme/users/{ada}");
    let preview = owner.submit(&page, &format!("{page}/remove"), &[]).await;
    assert_eq!(preview.status, 200);
    preview.assert_contains("Remove Ada Admin?");
    preview.assert_contains("They lose their roles (Admin)");
    preview.assert_contains("The 1 pending invitation they sent is revoked.");
    preview.assert_contains("1 member loses their manager: Rick Report.");
    assert_eq!(status(&app, ada), "active", "the preview changes nothing");
    let removed = owner
        .submit(&page, &format!("{page}/remove"), &[("confirm", "yes")])
        .await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    assert_eq!(status(&app, ada), "removed");
    assert!(roles_of(&app, ada).is_empty());
    assert_eq!(app.workspace("acme").active_members, 2, "the seat is free");
    let invite_status: String =
        app.with_db(|conn| invites::table.select(invites::status).first(conn).unwrap());
    assert_eq!(invite_status, "revoked");
    let manager: Option<i64> = app.with_db(|conn| {
        members::table
            .find(report)
            .select(members::manager_id)
            .first(conn)
            .unwrap()
    });
    assert_eq!(manager, None);
    assert_eq!(app.count_audit("member.removed"), 1);
    // Her live session is gone on the very next request.
    let next = admin.get("/w/acme/users").await;
    assert_eq!(next.status, 303);
    assert!(next.location.unwrap().starts_with("/login"));

    // Invited again, she comes back as the same account and the same member.
    let accounts_before = app.count("accounts");
    let again = owner
        .submit(
            "/w/acme/invites",
            "/w/acme/invites",
            &[
                ("emails", "ada@acme.example"),
                ("role", &member_role),
                ("seat_type", "member"),
            ],
        )
        .await;
    assert_eq!(again.status, 303, "{}", again.body);
    let mails = app.mail.wait_for(2).await;
    let path = mails
        .iter()
        .find(|m| m.to == "ada@acme.example")
        .expect("invitation to Ada")
        .invite_path();
    let ada_client = app.client();
    ada_client
        .submit(
            "/login",
            "/login",
            &[
                ("email", "ada@acme.example"),
                ("password", PASSWORD),
                ("next", &path),
            ],
        )
        .await;
    let accepted = ada_client.submit(&path, &path, &[]).await;
    assert_eq!(accepted.status, 303, "{}", accepted.body);
    assert_eq!(status(&app, ada), "active");
    assert_eq!(roles_of(&app, ada), [("Member".to_string(), true)]);
    assert_eq!(app.count("accounts"), accounts_before);
    assert_eq!(ada_client.get("/w/acme/users").await.status, 200);
}

async fn an_archived_member_keeps_roles_and_is_restored(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let mia = app.add_member(
        ws.workspace_id,
        "mia@acme.example",
        "Mia Member",
        BuiltinRole::Viewer,
    );
    let member = signed_in(&app, "mia@acme.example").await;
    let owner = signed_in(&app, "olivia@acme.example").await;
    let page = format!("/w/acme/users/{mia}");
    let preview = owner.submit(&page, &format!("{page}/archive"), &[]).await;
    assert_eq!(preview.status, 200);
    preview.assert_contains("They keep their roles (Viewer)");
    preview.assert_contains("1 signed-in session ends");
    let archived = owner
        .submit(&page, &format!("{page}/archive"), &[("confirm", "yes")])
        .await;
    assert_eq!(archived.status, 303);
    assert_eq!(status(&app, mia), "archived");
    assert_eq!(roles_of(&app, mia), [("Viewer".to_string(), true)]);
    assert_eq!(app.workspace("acme").active_members, 1);
    assert_eq!(
        member.get("/w/acme/users").await.status,
        303,
        "session ended"
    );
    let shown = owner.get(&page).await;
    shown.assert_contains("was archived");
    shown.assert_contains(">Restore</button>");
    let restored = owner.submit(&page, &format!("{page}/restore"), &[]).await;
    assert_eq!(restored.status, 303);
    assert_eq!(status(&app, mia), "active");
    assert_eq!(roles_of(&app, mia), [("Viewer".to_string(), true)]);
    assert_eq!(app.workspace("acme").active_members, 2);
    assert_eq!(app.count_audit("member.archived"), 1);
    assert_eq!(app.count_audit("member.restored"), 1);
    let back = signed_in(&app, "mia@acme.example").await;
    assert_eq!(back.get("/w/acme/users").await.status, 200);
}

async fn restore_is_refused_without_a_free_seat(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let mia = app.add_member(
        ws.workspace_id,
        "mia@acme.example",
        "Mia Member",
        BuiltinRole::Member,
    );
    let owner = signed_in(&app, "olivia@acme.example").await;
    let page = format!("/w/acme/users/{mia}");
    owner
        .submit(&page, &format!("{page}/archive"), &[("confirm", "yes")])
        .await;
    app.add_member(
        ws.workspace_id,
        "max@acme.example",
        "Max Member",
        BuiltinRole::Member,
    );
    app.with_db(|conn| {
        gatehouse::services::workspaces::set_limits(
            conn,
            &gatehouse::models::audit::Actor::operator(),
            "acme",
            &gatehouse::services::workspaces::LimitsChange {
                seats: Some(Some(2)),
                ..Default::default()
            },
        )
        .unwrap()
    });
    let refused = owner.submit(&page, &format!("{page}/restore"), &[]).await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("Not enough seats: needs 1 seat, 0 free — 2 of 2 seats used");
    refused.assert_contains(">Restore</button>");
    assert_eq!(status(&app, mia), "archived");
    assert_eq!(app.count_audit("member.restored"), 0);
}

async fn ownership_goes_only_to_an_admin_with_the_owners_password(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let id = ws.workspace_id;
    let mia = app.add_member(id, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    let ada = app.add_member(id, "ada@acme.example", "Ada Admin", BuiltinRole::Admin);
    let owner = signed_in(&app, "olivia@acme.example").await;
    let mia_page = format!("/w/acme/users/{mia}");
    owner
        .get(&mia_page)
        .await
        .assert_lacks("the Owner</button>");
    let to_member = owner
        .submit(
            &mia_page,
            &format!("{mia_page}/transfer-ownership"),
            &[("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(to_member.status, 422);
    to_member.assert_contains("Ownership can only go to an active member who is already an Admin.");
    assert_eq!(roles_of(&app, ws.member_id), [("Owner".to_string(), true)]);

    let ada_page = format!("/w/acme/users/{ada}");
    let wrong = owner
        .submit(
            &ada_page,
            &format!("{ada_page}/transfer-ownership"),
            &[("current_password", "not my password at all")],
        )
        .await;
    assert_eq!(wrong.status, 422);
    wrong.assert_contains("That is not your current password");
    assert_eq!(roles_of(&app, ws.member_id), [("Owner".to_string(), true)]);

    let done = owner
        .submit(
            &ada_page,
            &format!("{ada_page}/transfer-ownership"),
            &[("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        roles_of(&app, ada),
        [("Owner".to_string(), true), ("Admin".to_string(), false)]
    );
    assert_eq!(roles_of(&app, ws.member_id), [("Admin".to_string(), true)]);
    assert_eq!(app.count_audit("workspace.ownership_transferred"), 1);
    let mails = app.mail.wait_for(2).await;
    for to in ["ada@acme.example", "olivia@acme.example"] {
        let mail = mails.iter().find(|m| m.to == to).expect("both are told");
        assert_eq!(mail.subject, "Ada Admin is now the Owner of Acme");
    }
    // The previous Owner can no longer transfer it.
    let token = owner.get(&ada_page).await.csrf();
    let again = owner
        .post_raw(
            &format!("/w/acme/users/{mia}/transfer-ownership"),
            &[("csrf_token", &token), ("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(again.status, 403);
}

async fn the_owner_cannot_be_removed_or_archived_by_anyone(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    app.add_member(
        ws.workspace_id,
        "ada@acme.example",
        "Ada Admin",
        BuiltinRole::Admin,
    );
    let owner_page = format!("/w/acme/users/{}", ws.member_id);
    let owner = signed_in(&app, "olivia@acme.example").await;
    let own = owner.get(&owner_page).await;
    own.assert_lacks("Remove…");
    let token = own.csrf();
    for action in ["remove", "archive"] {
        for confirm in ["", "yes"] {
            let page = owner
                .post_raw(
                    &format!("{owner_page}/{action}"),
                    &[("csrf_token", &token), ("confirm", confirm)],
                )
                .await;
            assert_eq!(page.status, 403, "owner {action} self");
            page.assert_contains("The Owner can&#39;t be archived or removed");
        }
    }
    let admin = signed_in(&app, "ada@acme.example").await;
    let token = admin.get(&owner_page).await.csrf();
    for action in ["remove", "archive"] {
        let page = admin
            .post_raw(
                &format!("{owner_page}/{action}"),
                &[("csrf_token", &token), ("confirm", "yes")],
            )
            .await;
        assert_eq!(page.status, 403, "admin {action} owner");
    }
    assert_eq!(status(&app, ws.member_id), "active");
    assert_eq!(roles_of(&app, ws.member_id), [("Owner".to_string(), true)]);
    assert_eq!(
        app.count_audit("member.removed") + app.count_audit("member.archived"),
        0
    );
}

async fn the_users_screen_offers_row_actions_by_permission(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let id = ws.workspace_id;
    let mia = app.add_member(id, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    let ada = app.add_member(id, "ada@acme.example", "Ada Admin", BuiltinRole::Admin);
    app.add_member(id, "vic@acme.example", "Vic Viewer", BuiltinRole::Viewer);
    let owner = signed_in(&app, "olivia@acme.example").await;
    let list = owner.get("/w/acme/users").await;
    list.assert_contains("<th scope=\"col\">Actions</th>");
    list.assert_contains(&format!("action=\"/w/acme/users/{mia}/archive\""));
    list.assert_contains(&format!("action=\"/w/acme/users/{ada}/remove\""));
    list.assert_lacks(&format!(
        "action=\"/w/acme/users/{}/archive\"",
        ws.member_id
    ));
    // An Admin may act on Mia but not on the Owner.
    let admin = signed_in(&app, "ada@acme.example").await;
    let seen = admin.get("/w/acme/users").await;
    seen.assert_contains(&format!("action=\"/w/acme/users/{mia}/remove\""));
    seen.assert_lacks(&format!("action=\"/w/acme/users/{}/remove\"", ws.member_id));
    seen.assert_lacks(&format!("action=\"/w/acme/users/{ada}/remove\""));
    // A Viewer gets no actions at all.
    let viewer = signed_in(&app, "vic@acme.example").await;
    viewer
        .get("/w/acme/users")
        .await
        .assert_lacks("Actions</th>");
    // An archived member is restored from the list.
    let page = format!("/w/acme/users/{mia}");
    owner
        .submit(&page, &format!("{page}/archive"), &[("confirm", "yes")])
        .await;
    let archived = owner.get("/w/acme/users?status=archived").await;
    archived.assert_contains(&format!("action=\"/w/acme/users/{mia}/restore\""));
}
