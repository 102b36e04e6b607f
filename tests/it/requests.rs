//! Permission requests (ask → approve or deny → mail → grant until it expires) and the
//! route-table walks: a Member and a Viewer are refused every admin POST.

use diesel::prelude::*;
use gatehouse::db::schema::{permission_grants, permission_requests};
use gatehouse::permissions::BuiltinRole;

use crate::support::{Client, Page, TestApp, PASSWORD};
use crate::tests;

tests![
    a_refused_member_asks_an_admin_approves_and_the_grant_works_until_it_expires,
    a_denied_request_tells_the_member_why_and_grants_nothing,
    an_admin_cannot_approve_beyond_their_own_rights,
    a_member_is_refused_every_admin_post_in_the_route_table,
    a_viewer_is_read_only_on_every_screen,
];

/// Every POST route inside a workspace that any active member may use on themselves.
/// `/w/{ws}/join` is for non-members: a member posting it is told they already are one
/// (422, nothing changed; checked in `refused_everywhere`).
const SELF_SERVICE_POSTS: &[&str] = &["/w/{ws}/requests/new", "/w/{ws}/leave", "/w/{ws}/join"];

/// Asks for a permission (scope all) from the request form, as the member would.
async fn ask(client: &Client, permission: &str, reason: &str) -> Page {
    client
        .submit(
            "/w/acme/requests/new",
            "/w/acme/requests/new",
            &[
                ("permission", permission),
                ("scope", "all"),
                ("reason", reason),
            ],
        )
        .await
}

fn grants(app: &TestApp) -> i64 {
    app.count("permission_grants")
}

fn request_status(app: &TestApp) -> Vec<String> {
    app.with_db(|conn| {
        permission_requests::table
            .order(permission_requests::id)
            .select(permission_requests::status)
            .load(conn)
            .unwrap()
    })
}

fn first_request_id(app: &TestApp) -> i64 {
    app.with_db(|conn| {
        permission_requests::table
            .order(permission_requests::id)
            .select(permission_requests::id)
            .first(conn)
            .unwrap()
    })
}

async fn a_refused_member_asks_an_admin_approves_and_the_grant_works_until_it_expires(
    app: TestApp,
) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let mia = app.add_member(
        ws.workspace_id,
        "mia@acme.example",
        "Mia Member",
        BuiltinRole::Member,
    );
    let member = app.client();
    member.sign_in("mia@acme.example", PASSWORD).await;
    let refused = member.get("/w/acme/invites").await;
    assert_eq!(refused.status, 403);
    // The permission reads by its label first, its key second.
    refused.assert_contains(
        "<strong>Invite people</strong> permission (<code class=\"perm-key\">members.invite</code>",
    );
    refused.assert_contains("href=\"/w/acme/requests/new?permission=members.invite\"");
    // The account page offers the same, per workspace.
    member
        .get("/account")
        .await
        .assert_contains("href=\"/w/acme/requests/new\"");
    let form = member
        .get("/w/acme/requests/new?permission=members.invite")
        .await;
    assert_eq!(form.status, 200);
    form.assert_contains("<option value=\"members.invite\" selected>");
    let no_reason = ask(&member, "members.invite", "").await;
    assert_eq!(no_reason.status, 422);
    no_reason.assert_contains("Say why you need it");
    assert_eq!(app.count("permission_requests"), 0);
    let asked = ask(&member, "members.invite", "I onboard the <new> hires").await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    let twice = ask(&member, "members.invite", "again").await;
    assert_eq!(twice.status, 422);
    twice.assert_contains("You already asked for Invite people");
    assert_eq!(app.count("permission_requests"), 1);
    // Whoever decides requests is mailed that one arrived (the Owner here; not Mia).
    let mails = app.mail.wait_for(1).await;
    assert_eq!(mails.len(), 1, "one decider, one mail: {mails:?}");
    assert_eq!(mails[0].to, "olivia@acme.example");
    assert_eq!(
        mails[0].subject,
        "Mia Member asks for Invite people in Acme"
    );
    assert!(mails[0].text.contains("I onboard the <new> hires"));
    assert!(mails[0].text.contains("/w/acme/requests"));

    let owner = app.client();
    owner.sign_in("olivia@acme.example", PASSWORD).await;
    let triage = owner.get("/w/acme/requests").await;
    assert_eq!(triage.status, 200);
    // The Requests tab says one is waiting, on every page.
    triage.assert_contains("Requests <span class=\"nav-count\">1<span class=\"visually-hidden\"> waiting</span></span>");
    owner
        .get("/w/acme/users")
        .await
        .assert_contains("<span class=\"nav-count\">1<");
    triage.assert_contains("Mia Member");
    triage.assert_contains(
        "<strong>Invite people</strong> <code class=\"perm-key\">members.invite</code>",
    );
    triage.assert_contains("I onboard the &#60;new&#62; hires");
    let id = first_request_id(&app);
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(1))
        .format("%Y-%m-%d")
        .to_string();
    let approved = owner
        .submit(
            "/w/acme/requests",
            &format!("/w/acme/requests/{id}/approve"),
            &[("expires_on", &tomorrow)],
        )
        .await;
    assert_eq!(approved.status, 303);
    assert_eq!(request_status(&app), ["approved"]);
    assert_eq!(grants(&app), 1);
    assert_eq!(app.count_audit("permission_request.approved"), 1);
    let mails = app.mail.wait_for(2).await;
    let mail = mails.iter().find(|m| m.to == "mia@acme.example").unwrap();
    assert_eq!(
        mail.subject,
        "Your request for Invite people in Acme was approved"
    );
    assert!(mail.text.contains("Invite people (members.invite)"));
    owner.get("/w/acme/users").await.assert_lacks("nav-count");
    assert!(mail.text.contains("Olivia Owner approved your request"));

    assert_eq!(member.get("/w/acme/invites").await.status, 200);
    member
        .get(&format!("/w/acme/users/{mia}"))
        .await
        .assert_contains("Direct grant");
    // Deciding again is refused on the requests page and changes nothing.
    let again = owner
        .submit(
            "/w/acme/requests",
            &format!("/w/acme/requests/{id}/deny"),
            &[("note", "no")],
        )
        .await;
    assert_eq!(again.status, 422);
    again.assert_contains("This request was already decided.");
    again.assert_contains("Permission requests waiting (0)");
    assert_eq!(request_status(&app), ["approved"]);

    // When the grant expires the permission is gone on the next request.
    app.with_db(|conn| {
        diesel::update(permission_grants::table)
            .set(
                permission_grants::expires_at
                    .eq(gatehouse::models::now() - chrono::TimeDelta::minutes(1)),
            )
            .execute(conn)
            .unwrap()
    });
    assert_eq!(member.get("/w/acme/invites").await.status, 403);
}

async fn a_denied_request_tells_the_member_why_and_grants_nothing(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    app.add_member(
        ws.workspace_id,
        "mia@acme.example",
        "Mia Member",
        BuiltinRole::Member,
    );
    let member = app.client();
    member.sign_in("mia@acme.example", PASSWORD).await;
    let asked = ask(&member, "records.export", "Quarterly report").await;
    assert_eq!(asked.status, 303);
    let owner = app.client();
    owner.sign_in("olivia@acme.example", PASSWORD).await;
    let id = first_request_id(&app);
    let denied = owner
        .submit(
            "/w/acme/requests",
            &format!("/w/acme/requests/{id}/deny"),
            &[("note", "Ask your manager for the export")],
        )
        .await;
    assert_eq!(denied.status, 303);
    assert_eq!(request_status(&app), ["denied"]);
    assert_eq!(grants(&app), 0);
    let mails = app.mail.wait_for(2).await;
    let decision = mails.iter().find(|m| m.to == "mia@acme.example").unwrap();
    assert_eq!(
        decision.subject,
        "Your request for Export records (everyone) in Acme was denied"
    );
    assert!(decision.text.contains("Ask your manager for the export"));
    let mine = member.get("/w/acme/requests/new").await;
    mine.assert_contains("Denied — Ask your manager for the export");
}

async fn an_admin_cannot_approve_beyond_their_own_rights(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    app.add_member(
        ws.workspace_id,
        "ada@acme.example",
        "Ada Admin",
        BuiltinRole::Admin,
    );
    app.add_member(
        ws.workspace_id,
        "mia@acme.example",
        "Mia Member",
        BuiltinRole::Member,
    );
    let member = app.client();
    member.sign_in("mia@acme.example", PASSWORD).await;
    ask(&member, "billing.manage", "Pay the bills").await;
    let admin = app.client();
    admin.sign_in("ada@acme.example", PASSWORD).await;
    let id = first_request_id(&app);
    let approve = admin
        .submit(
            "/w/acme/requests",
            &format!("/w/acme/requests/{id}/approve"),
            &[("expires_on", "")],
        )
        .await;
    assert_eq!(approve.status, 403);
    approve.assert_contains("You can&#39;t grant Manage the plan");
    assert_eq!(request_status(&app), ["pending"]);
    assert_eq!(grants(&app), 0);
    // Both deciders (Olivia and Ada) were told of the request; Mia got no decision.
    let mut told: Vec<String> = app
        .mail
        .wait_for(2)
        .await
        .into_iter()
        .map(|m| m.to)
        .collect();
    told.sort();
    assert_eq!(told, ["ada@acme.example", "olivia@acme.example"]);
    // Another workspace's admin cannot see or decide it at all.
    app.create_workspace("Other", "zed@other.example", "Zed Other");
    let stranger = app.client();
    stranger.sign_in("zed@other.example", PASSWORD).await;
    let token = stranger.get("/w/other/users").await.csrf();
    let foreign = stranger
        .post_raw(
            &format!("/w/other/requests/{id}/approve"),
            &[("csrf_token", &token), ("expires_on", "")],
        )
        .await;
    assert_eq!(foreign.status, 404);
    assert_eq!(request_status(&app), ["pending"]);
}

/// The workspace POST routes a plain member must never reach, from the real route table.
fn admin_posts() -> Vec<&'static str> {
    gatehouse::web::ROUTES
        .iter()
        .filter(|(method, path)| {
            *method == "POST" && path.starts_with("/w/{ws}/") && !SELF_SERVICE_POSTS.contains(path)
        })
        .map(|(_, path)| *path)
        .collect()
}

async fn refused_everywhere(app: &TestApp, email: &str, target_member: i64) {
    let client = app.client();
    client.sign_in(email, PASSWORD).await;
    let token = client.get("/w/acme/users").await.csrf();
    let audit_before = app.count("audit_events");
    let posts = admin_posts();
    assert!(posts.len() >= 10, "the walk covers the table: {posts:?}");
    for path in posts {
        let url = path
            .replace("{ws}", "acme")
            .replace("{id}", &target_member.to_string())
            .replace("{eid}", "1");
        let page = client.post_raw(&url, &[("csrf_token", &token)]).await;
        assert_eq!(page.status, 403, "{email} POST {url}: {}", page.body);
    }
    let join = client
        .post_raw("/w/acme/join", &[("csrf_token", &token)])
        .await;
    assert_eq!(join.status, 422, "{email} POST /w/acme/join: {}", join.body);
    join.assert_contains("You are already a member of this workspace.");
    // Sign-ins are audited too; nothing else may have been recorded.
    assert_eq!(
        app.count("audit_events"),
        audit_before,
        "refusals change nothing"
    );
}

async fn a_member_is_refused_every_admin_post_in_the_route_table(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    app.add_member(
        ws.workspace_id,
        "mia@acme.example",
        "Mia Member",
        BuiltinRole::Member,
    );
    refused_everywhere(&app, "mia@acme.example", ws.member_id).await;
}

async fn a_viewer_is_read_only_on_every_screen(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    app.add_member(
        ws.workspace_id,
        "vic@acme.example",
        "Vic Viewer",
        BuiltinRole::Viewer,
    );
    refused_everywhere(&app, "vic@acme.example", ws.member_id).await;
    let client = app.client();
    client.sign_in("vic@acme.example", PASSWORD).await;
    let admin_role = app.role_id(ws.workspace_id, BuiltinRole::Admin);
    for (method, path) in gatehouse::web::ROUTES {
        if *method != "GET" || !path.starts_with("/w/{ws}") || SELF_SERVICE_POSTS.contains(path) {
            continue;
        }
        let id = if path.starts_with("/w/{ws}/roles/") {
            admin_role
        } else {
            ws.member_id
        };
        let url = path
            .replace("{ws}", "acme")
            .replace("{id}", &id.to_string());
        let page = client.get(&url).await;
        assert!(
            [200, 303, 403].contains(&page.status.as_u16()),
            "GET {url}: {}",
            page.status
        );
        if page.status == 200 {
            // The only forms a Viewer gets are sign-out (and asking for a permission).
            let posts = page.body.matches("method=\"post\"").count();
            let allowed = page.body.matches("action=\"/logout\"").count();
            assert_eq!(posts, allowed, "GET {url} offers a form:\n{}", page.body);
        }
    }
}
