//! The route-table audit walk (issue 12: "every POST of `web::ROUTES` that changes state
//! leaves an audit row"). [`WALK`] maps every POST pattern of the route table to the audit
//! action(s) doing it successfully must record, and [`prepare`] to a scenario that does it
//! over HTTP with whatever it needs first; the walk fails on a POST of ROUTES that is in
//! neither [`WALK`] nor [`EXEMPT`]. For each row it notes the newest audit id, posts,
//! checks the status, finds a new row of each expected action, and finds that row on the
//! workspace's `/w/{ws}/audit` page (members' account-level events show there too). At the
//! end every action recorded during the walk must be in the screen's catalogue
//! (`models::audit::ACTIONS`).
//!
//! To extend: add a row to [`WALK`] and an arm to [`prepare`].

use std::time::Duration;

use diesel::RunQueryDsl;
use gatehouse::permissions::BuiltinRole;
use gatehouse::services::domains;

use crate::domains::{app_with_dns, dns_server, Dns};
use crate::support::{link, Client, Mail, Page, TestApp, PASSWORD};
use crate::tests;

tests![every_state_changing_post_of_the_route_table_leaves_an_audit_row_the_log_shows];

/// (POST pattern of `web::ROUTES`, the audit actions doing it must record). Rows run in
/// this order; each scenario prepares what it needs. Transferring ownership comes last
/// (the Owner who watches the log is an Admin afterwards).
const WALK: &[(&str, &[&str])] = &[
    (
        "/setup",
        &["setup.completed", "workspace.created", "member.joined"],
    ),
    ("/login", &["login.succeeded"]),
    ("/logout", &["account.signed_out"]),
    ("/w/{ws}/users/{id}/roles", &["member.roles_changed"]),
    ("/w/{ws}/users/{id}/seat", &["member.seat_changed"]),
    ("/w/{ws}/users/{id}/manager", &["member.manager_changed"]),
    (
        "/w/{ws}/users/{id}/department",
        &["member.department_changed"],
    ),
    ("/w/{ws}/users/{id}/modules", &["member.modules_changed"]),
    ("/w/{ws}/users/{id}/metadata", &["member.metadata_changed"]),
    ("/w/{ws}/users/{id}/name", &["member.name_changed"]),
    ("/w/{ws}/users/{id}", &["member.department_changed"]),
    ("/w/{ws}/users/{id}/emails", &["member.email_added"]),
    (
        "/w/{ws}/users/{id}/emails/{eid}/primary",
        &["member.primary_email_changed"],
    ),
    (
        "/w/{ws}/users/{id}/emails/{eid}/delete",
        &["member.email_removed"],
    ),
    (
        "/w/{ws}/users/{id}/grants/{gid}/revoke",
        &["permission_grant.revoked"],
    ),
    ("/w/{ws}/users/{id}/archive", &["member.archived"]),
    ("/w/{ws}/users/{id}/restore", &["member.restored"]),
    ("/w/{ws}/users/{id}/remove", &["member.removed"]),
    ("/w/{ws}/invites", &["invite.created"]),
    ("/w/{ws}/invites/{id}/resend", &["invite.resent"]),
    ("/w/{ws}/invites/{id}/link", &["invite.link_renewed"]),
    ("/w/{ws}/invites/{id}/revoke", &["invite.revoked"]),
    (
        "/invite/{token}",
        &["invite.accepted", "account.created", "member.joined"],
    ),
    ("/w/{ws}/roles/new", &["role.created"]),
    ("/w/{ws}/roles/{id}", &["role.updated"]),
    ("/w/{ws}/roles/{id}/delete", &["role.deleted"]),
    ("/w/{ws}/settings", &["workspace.settings_changed"]),
    ("/w/{ws}/requests/new", &["permission_request.created"]),
    (
        "/w/{ws}/requests/{id}/approve",
        &["permission_request.approved"],
    ),
    ("/w/{ws}/requests/{id}/deny", &["permission_request.denied"]),
    ("/account/name", &["account.renamed"]),
    ("/account/password", &["account.password_changed"]),
    ("/account/emails", &["account.email_added"]),
    (
        "/account/emails/verify/{token}",
        &["account.email_verified"],
    ),
    (
        "/account/emails/{eid}/primary",
        &["account.primary_email_changed"],
    ),
    ("/account/emails/{eid}/delete", &["account.email_removed"]),
    ("/account/sessions/end-others", &["account.sessions_ended"]),
    ("/account/sessions/{id}/end", &["account.session_ended"]),
    ("/w/{ws}/leave", &["member.left"]),
    ("/forgot-password", &["password.reset_requested"]),
    ("/reset/{token}", &["account.password_reset"]),
    ("/w/{ws}/settings/link", &["join_link.updated"]),
    ("/w/{ws}/settings/link/rotate", &["join_link.rotated"]),
    ("/join/{token}", &["join_request.created"]),
    ("/join/confirm/{token}", &["join_request.created"]),
    (
        "/w/{ws}/requests/join/{id}/approve",
        &["join_request.approved", "member.joined"],
    ),
    ("/w/{ws}/requests/join/{id}/deny", &["join_request.denied"]),
    (
        "/w/{ws}/requests/join/bulk",
        &["join_request.approved", "member.joined"],
    ),
    ("/w/{ws}/settings/domains", &["domain.added"]),
    ("/w/{ws}/settings/domains/{id}/check", &["domain.verified"]),
    (
        "/w/{ws}/settings/domains/{id}/policy",
        &["domain.policy_changed"],
    ),
    ("/w/{ws}/join", &["domain.join", "member.joined"]),
    ("/w/{ws}/settings/domains/{id}/delete", &["domain.removed"]),
    (
        "/w/{ws}/users/{id}/transfer-ownership",
        &["workspace.ownership_transferred"],
    ),
];

/// POSTs of the route table that change no stored state, each with why. (None today:
/// signing in and out are audited like every other change.)
const EXEMPT: &[(&str, &str)] = &[];

/// One POST, ready to send: who sends it, the page its CSRF token comes from, where it
/// goes and with what, and the status success answers.
struct Post {
    client: Client,
    page: String,
    path: String,
    fields: Vec<(String, String)>,
    status: u16,
}

impl Post {
    fn new(client: Client, page: &str, path: &str, fields: &[(&str, &str)]) -> Post {
        Post {
            client,
            page: page.to_string(),
            path: path.to_string(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            status: 303,
        }
    }
}

/// What the scenarios share: the app, the Owner's browser (signed in by the setup), a
/// second instance on the same database whose TXT checks ask [`Dns`], and that server.
struct Walk {
    app: TestApp,
    owner: Client,
    dns_app: Option<TestApp>,
    dns: Dns,
}

/// A number from SQL (`… AS n`).
fn scalar(app: &TestApp, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    app.with_db(|conn| {
        let row: N = diesel::sql_query(sql)
            .get_result(conn)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        row.n
    })
}

/// The audit rows newer than `after`: (id, action).
fn events_after(app: &TestApp, after: i64) -> Vec<(i64, String)> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
        #[diesel(sql_type = diesel::sql_types::Text)]
        action: String,
    }
    app.with_db(|conn| {
        let rows: Vec<Row> = diesel::sql_query(format!(
            "SELECT id, action FROM audit_events WHERE id > {after} ORDER BY id"
        ))
        .load(conn)
        .unwrap();
        rows.into_iter().map(|r| (r.id, r.action)).collect()
    })
}

fn newest_event(app: &TestApp) -> i64 {
    scalar(app, "SELECT COALESCE(MAX(id), 0) AS n FROM audit_events")
}

fn workspace_id(app: &TestApp) -> i64 {
    app.workspace("acme").id
}

/// The member id of `email` in Acme, adding a new account with `role` when there is none.
fn member(app: &TestApp, email: &str, name: &str, role: BuiltinRole) -> i64 {
    let found = scalar(
        app,
        &format!(
            "SELECT COALESCE(MAX(m.id), 0) AS n FROM members m JOIN email_addresses e \
             ON e.account_id = m.account_id WHERE e.canonical = '{email}' \
             AND m.workspace_id = {}",
            workspace_id(app)
        ),
    );
    if found > 0 {
        return found;
    }
    app.add_member(workspace_id(app), email, name, role)
}

fn role_id(app: &TestApp, name: &str) -> i64 {
    scalar(
        app,
        &format!(
            "SELECT MAX(id) AS n FROM roles WHERE name = '{name}' AND workspace_id = {}",
            workspace_id(app)
        ),
    )
}

fn address_id(app: &TestApp, canonical: &str) -> i64 {
    scalar(
        app,
        &format!("SELECT id AS n FROM email_addresses WHERE canonical = '{canonical}'"),
    )
}

async fn signed_in(app: &TestApp, email: &str) -> Client {
    let client = app.client();
    let done = client.sign_in(email, PASSWORD).await;
    assert_eq!(done.status, 303, "sign in as {email}: {}", done.body);
    client
}

/// The newest mail to `to` whose text holds `prefix`, waiting for it.
async fn mail_with(app: &TestApp, to: &str, prefix: &str) -> Mail {
    for _ in 0..150 {
        if let Some(mail) = app
            .mail
            .received()
            .into_iter()
            .rev()
            .find(|m| m.to == to && m.text.contains(prefix))
        {
            return mail;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let came: Vec<(String, String)> = app
        .mail
        .received()
        .into_iter()
        .map(|m| (m.to, m.subject))
        .collect();
    panic!(
        "no mail to {to} with {prefix}; outbox rows to {to}: {:?}; mails that came: {came:?}",
        outbox_rows(app, to)
    );
}

/// (status, attempts, last error, how it left) of each outbox row to `to`: why a mail
/// did not come.
fn outbox_rows(app: &TestApp, to: &str) -> Vec<(String, i32, Option<String>, Option<String>)> {
    use diesel::prelude::*;
    use gatehouse::db::schema::outbox;
    app.with_db(|conn| {
        outbox::table
            .filter(outbox::recipient.eq(to))
            .select((
                outbox::status,
                outbox::attempts,
                outbox::last_error,
                outbox::delivered_via,
            ))
            .load(conn)
            .unwrap()
    })
}

/// The action of the first form on `page` whose action starts with `prefix` and ends with
/// `suffix`, skipping `skip` of them.
fn form_action(page: &Page, prefix: &str, suffix: &str, skip: usize) -> String {
    page.body
        .match_indices("action=\"")
        .map(|(at, m)| {
            let rest = &page.body[at + m.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .filter(|a| a.starts_with(prefix) && a.ends_with(suffix))
        .nth(skip)
        .unwrap_or_else(|| panic!("no form {prefix}…{suffix} on:\n{}", page.body))
}

async fn submitted(client: &Client, page: &str, path: &str, fields: &[(&str, &str)]) -> Page {
    let done = client.submit(page, path, fields).await;
    assert_eq!(done.status, 303, "POST {path} (preparing): {}", done.body);
    done
}

/// The invite link on (approval required, the Member role) and its URL, rotated so the
/// page shows it once.
async fn join_path(w: &Walk) -> String {
    let member_role = role_id(&w.app, "Member").to_string();
    submitted(
        &w.owner,
        "/w/acme/settings/link",
        "/w/acme/settings/link",
        &[
            ("enabled", "on"),
            ("require_approval", "on"),
            ("role", &member_role),
        ],
    )
    .await;
    submitted(
        &w.owner,
        "/w/acme/settings/link",
        "/w/acme/settings/link/rotate",
        &[],
    )
    .await;
    let shown = w.owner.get("/w/acme/settings/link").await.body;
    let at = shown
        .find("id=\"join-url\"")
        .expect("the link is shown once");
    let start = shown[at..].find("/join/").unwrap() + at;
    shown[start..start + shown[start..].find('"').unwrap()].to_string()
}

/// A pending join request from a new account outside Acme (the Owner of workspace
/// `other`), returning its id.
async fn pending_join_request(w: &Walk, other: &str, email: &str, name: &str) -> i64 {
    w.app.create_workspace(other, email, name);
    let path = join_path(w).await;
    let them = signed_in(&w.app, email).await;
    submitted(&them, &path, &path, &[]).await;
    scalar(
        &w.app,
        "SELECT MAX(id) AS n FROM join_requests WHERE status = 'pending'",
    )
}

/// A pending invitation to `email`, returning its id.
async fn invite(w: &Walk, email: &str) -> i64 {
    let member_role = role_id(&w.app, "Member").to_string();
    submitted(
        &w.owner,
        "/w/acme/invites",
        "/w/acme/invites",
        &[
            ("emails", email),
            ("role", &member_role),
            ("seat_type", "member"),
            ("name", ""),
            ("message", ""),
            ("notification_email", ""),
            ("metadata", ""),
        ],
    )
    .await;
    scalar(
        &w.app,
        &format!("SELECT MAX(id) AS n FROM invites WHERE email = '{email}'"),
    )
}

/// A pending permission request of Mia's, returning its id.
async fn permission_request(w: &Walk, permission: &str) -> i64 {
    member(
        &w.app,
        "mia@acme.example",
        "Mia Member",
        BuiltinRole::Member,
    );
    let mia = signed_in(&w.app, "mia@acme.example").await;
    submitted(
        &mia,
        "/w/acme/requests/new",
        "/w/acme/requests/new",
        &[
            ("permission", permission),
            ("scope", "all"),
            ("reason", "For the walk"),
        ],
    )
    .await;
    scalar(
        &w.app,
        "SELECT MAX(id) AS n FROM permission_requests WHERE status = 'pending'",
    )
}

fn domain_id(app: &TestApp, domain: &str) -> i64 {
    scalar(
        app,
        &format!("SELECT id AS n FROM domains WHERE domain = '{domain}'"),
    )
}

/// Does whatever `pattern` needs first, and says which POST does it.
async fn prepare(w: &Walk, pattern: &str) -> Post {
    let app = &w.app;
    let owner = || Client::with_cookie(&app.base_url, &w.owner.session_cookie().unwrap());
    let mia = || member(app, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    let users = |id: i64, rest: &str| format!("/w/acme/users/{id}{rest}");
    match pattern {
        "/setup" => {
            let token = app
                .setup_token
                .clone()
                .expect("an empty database offers setup");
            let page = format!("/setup?token={token}");
            // The Owner's own browser: the setup signs it in.
            Post::new(
                Client::new(&app.base_url),
                &page,
                &page,
                &[
                    ("workspace", "Acme"),
                    ("name", "Olivia Owner"),
                    ("email", "olivia@acme.example"),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                ],
            )
        }
        "/login" => {
            mia();
            Post::new(
                app.client(),
                "/login",
                "/login",
                &[
                    ("email", "mia@acme.example"),
                    ("password", PASSWORD),
                    ("next", ""),
                ],
            )
        }
        "/logout" => {
            mia();
            Post::new(
                signed_in(app, "mia@acme.example").await,
                "/account",
                "/logout",
                &[],
            )
        }
        "/w/{ws}/users/{id}/roles" => {
            let manager = role_id(app, "Manager").to_string();
            Post::new(
                owner(),
                &users(mia(), ""),
                &users(mia(), "/roles"),
                &[("role", &manager), ("primary_role", &manager)],
            )
        }
        "/w/{ws}/users/{id}/seat" => Post::new(
            owner(),
            &users(mia(), ""),
            &users(mia(), "/seat"),
            &[("seat_type", "builder")],
        ),
        "/w/{ws}/users/{id}/manager" => {
            let olivia = app.workspace_owner_member(workspace_id(app)).to_string();
            Post::new(
                owner(),
                &users(mia(), ""),
                &users(mia(), "/manager"),
                &[("manager_id", &olivia)],
            )
        }
        "/w/{ws}/users/{id}/department" => Post::new(
            owner(),
            &users(mia(), ""),
            &users(mia(), "/department"),
            &[("department", "Sales")],
        ),
        "/w/{ws}/users/{id}/modules" => {
            submitted(
                &w.owner,
                "/w/acme/settings",
                "/w/acme/settings",
                &[
                    ("section", "general"),
                    ("name", "Acme"),
                    ("slug", "acme"),
                    ("invite_expiry_days", "7"),
                    ("modules", "CRM\nBilling"),
                ],
            )
            .await;
            let crm = scalar(app, "SELECT id AS n FROM modules WHERE name = 'CRM'").to_string();
            Post::new(
                owner(),
                &users(mia(), ""),
                &users(mia(), "/modules"),
                &[("module", &crm)],
            )
        }
        "/w/{ws}/users/{id}/metadata" => Post::new(
            owner(),
            &users(mia(), ""),
            &users(mia(), "/metadata"),
            &[("metadata", r#"{"cost_centre": "42"}"#)],
        ),
        "/w/{ws}/users/{id}/name" => {
            // Admins edit a name only of a member with a verified address on a verified
            // domain.
            app.with_db(|conn| domains::verify_by_operator(conn, "acme", "acme.example").unwrap());
            Post::new(
                owner(),
                &users(mia(), ""),
                &users(mia(), "/name"),
                &[("name", "Mia Renamed")],
            )
        }
        "/w/{ws}/users/{id}" => Post::new(
            owner(),
            &users(mia(), ""),
            &users(mia(), ""),
            &[("department", "Support")],
        ),
        "/w/{ws}/users/{id}/emails" => {
            app.with_db(|conn| domains::verify_by_operator(conn, "acme", "acme.example").unwrap());
            let emma = member(app, "emma@acme.example", "Emma Email", BuiltinRole::Member);
            Post::new(
                owner(),
                &users(emma, ""),
                &users(emma, "/emails"),
                &[("email", "emma.two@acme.example")],
            )
        }
        "/w/{ws}/users/{id}/emails/{eid}/primary" => {
            let emma = member(app, "emma@acme.example", "Emma Email", BuiltinRole::Member);
            let eid = app.add_confirmed_address("emma@acme.example", "emma.m@acme.example");
            Post::new(
                owner(),
                &users(emma, ""),
                &users(emma, &format!("/emails/{eid}/primary")),
                &[],
            )
        }
        "/w/{ws}/users/{id}/emails/{eid}/delete" => {
            let emma = member(app, "emma@acme.example", "Emma Email", BuiltinRole::Member);
            let eid = app.add_confirmed_address("emma.m@acme.example", "emma.x@acme.example");
            Post::new(
                owner(),
                &users(emma, ""),
                &users(emma, &format!("/emails/{eid}/delete")),
                &[],
            )
        }
        "/w/{ws}/users/{id}/grants/{gid}/revoke" => {
            let mia = mia();
            let owner_account = scalar(app, "SELECT MIN(id) AS n FROM accounts");
            let gid = app.with_db(|conn| {
                use gatehouse::permissions::{Grant, Permission};
                gatehouse::models::role::Role::grant(
                    conn,
                    mia,
                    &Grant {
                        permission: Permission::RecordsDelete,
                        scope: None,
                    },
                    None,
                    owner_account,
                    gatehouse::models::now(),
                )
                .unwrap()
            });
            Post::new(
                owner(),
                &users(mia, ""),
                &users(mia, &format!("/grants/{gid}/revoke")),
                &[],
            )
        }
        "/w/{ws}/users/{id}/archive" => {
            let gus = member(app, "gus@acme.example", "Gus Gone", BuiltinRole::Member);
            Post::new(
                owner(),
                &users(gus, ""),
                &users(gus, "/archive"),
                &[("confirm", "yes")],
            )
        }
        "/w/{ws}/users/{id}/restore" => {
            let gus = member(app, "gus@acme.example", "Gus Gone", BuiltinRole::Member);
            Post::new(owner(), &users(gus, ""), &users(gus, "/restore"), &[])
        }
        "/w/{ws}/users/{id}/remove" => {
            let gus = member(app, "gus@acme.example", "Gus Gone", BuiltinRole::Member);
            Post::new(
                owner(),
                &users(gus, ""),
                &users(gus, "/remove"),
                &[("confirm", "yes")],
            )
        }
        "/w/{ws}/invites" => {
            let member_role = role_id(app, "Member").to_string();
            Post::new(
                owner(),
                "/w/acme/invites",
                "/w/acme/invites",
                &[
                    ("emails", "newcomer@elsewhere.example"),
                    ("role", &member_role),
                    ("seat_type", "member"),
                    ("name", ""),
                    ("message", ""),
                    ("notification_email", ""),
                    ("metadata", ""),
                ],
            )
        }
        "/w/{ws}/invites/{id}/resend" => {
            let id = invite(w, "resent@elsewhere.example").await;
            Post::new(
                owner(),
                "/w/acme/invites",
                &format!("/w/acme/invites/{id}/resend"),
                &[],
            )
        }
        "/w/{ws}/invites/{id}/link" => {
            let id = invite(w, "linked@elsewhere.example").await;
            Post::new(
                owner(),
                "/w/acme/invites",
                &format!("/w/acme/invites/{id}/link"),
                &[],
            )
        }
        "/w/{ws}/invites/{id}/revoke" => {
            let id = invite(w, "revoked@elsewhere.example").await;
            Post::new(
                owner(),
                "/w/acme/invites",
                &format!("/w/acme/invites/{id}/revoke"),
                &[("confirm", "yes")],
            )
        }
        "/invite/{token}" => {
            invite(w, "ivy@elsewhere.example").await;
            let path = mail_with(app, "ivy@elsewhere.example", "/invite/")
                .await
                .invite_path();
            Post::new(
                app.client(),
                &path,
                &path,
                &[
                    ("name", "Ivy Invited"),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                ],
            )
        }
        "/w/{ws}/roles/new" => Post::new(
            owner(),
            "/w/acme/roles/new",
            "/w/acme/roles/new",
            &[
                ("name", "Auditor"),
                ("description", "Reads"),
                ("perm.members.view", "all"),
            ],
        ),
        "/w/{ws}/roles/{id}" => {
            let id = role_id(app, "Auditor");
            let path = format!("/w/acme/roles/{id}");
            Post::new(
                owner(),
                &path,
                &path,
                &[
                    ("name", "Auditor"),
                    ("description", "Reads the directory"),
                    ("perm.members.view", "all"),
                ],
            )
        }
        "/w/{ws}/roles/{id}/delete" => {
            let id = role_id(app, "Auditor");
            let path = format!("/w/acme/roles/{id}");
            Post::new(
                owner(),
                &path,
                &format!("{path}/delete"),
                &[("confirm", "yes")],
            )
        }
        "/w/{ws}/settings" => Post::new(
            owner(),
            "/w/acme/settings",
            "/w/acme/settings",
            &[
                ("section", "general"),
                ("name", "Acme"),
                ("slug", "acme"),
                ("invite_expiry_days", "10"),
                ("modules", "CRM\nBilling"),
            ],
        ),
        "/w/{ws}/requests/new" => {
            mia();
            Post::new(
                signed_in(app, "mia@acme.example").await,
                "/w/acme/requests/new",
                "/w/acme/requests/new",
                &[
                    ("permission", "billing.manage"),
                    ("scope", "all"),
                    ("reason", "For the invoices"),
                ],
            )
        }
        "/w/{ws}/requests/{id}/approve" => {
            let id = permission_request(w, "records.export").await;
            Post::new(
                owner(),
                "/w/acme/requests",
                &format!("/w/acme/requests/{id}/approve"),
                &[("expires_on", "")],
            )
        }
        "/w/{ws}/requests/{id}/deny" => {
            let id = permission_request(w, "records.delete").await;
            Post::new(
                owner(),
                "/w/acme/requests",
                &format!("/w/acme/requests/{id}/deny"),
                &[("note", "Not now")],
            )
        }
        "/account/name" => {
            member(app, "pat@acme.example", "Pat Self", BuiltinRole::Member);
            Post::new(
                signed_in(app, "pat@acme.example").await,
                "/account",
                "/account/name",
                &[("name", "Pat Renamed")],
            )
        }
        "/account/password" => {
            member(app, "ned@acme.example", "Ned Newpass", BuiltinRole::Member);
            Post::new(
                signed_in(app, "ned@acme.example").await,
                "/account",
                "/account/password",
                &[
                    ("current_password", PASSWORD),
                    ("new_password", "a brand new long password"),
                    ("new_password_confirm", "a brand new long password"),
                ],
            )
        }
        "/account/emails" => {
            member(app, "pat@acme.example", "Pat Self", BuiltinRole::Member);
            Post::new(
                signed_in(app, "pat@acme.example").await,
                "/account",
                "/account/emails",
                &[
                    ("email", "pat@second.example"),
                    ("current_password", PASSWORD),
                ],
            )
        }
        "/account/emails/verify/{token}" => {
            let path = link(
                &mail_with(app, "pat@second.example", "/account/emails/verify/").await,
                "/account/emails/verify/",
            );
            Post::new(signed_in(app, "pat@acme.example").await, &path, &path, &[])
        }
        "/account/emails/{eid}/primary" => {
            let eid = address_id(app, "pat@second.example");
            Post::new(
                signed_in(app, "pat@acme.example").await,
                "/account",
                &format!("/account/emails/{eid}/primary"),
                &[("current_password", PASSWORD)],
            )
        }
        "/account/emails/{eid}/delete" => {
            // Pat's first address, no longer the primary.
            let eid = address_id(app, "pat@acme.example");
            Post::new(
                signed_in(app, "pat@second.example").await,
                "/account",
                &format!("/account/emails/{eid}/delete"),
                &[],
            )
        }
        "/account/sessions/end-others" => {
            member(app, "sam@acme.example", "Sam Sessions", BuiltinRole::Member);
            signed_in(app, "sam@acme.example").await;
            Post::new(
                signed_in(app, "sam@acme.example").await,
                "/account",
                "/account/sessions/end-others",
                &[],
            )
        }
        "/account/sessions/{id}/end" => {
            member(app, "sam@acme.example", "Sam Sessions", BuiltinRole::Member);
            signed_in(app, "sam@acme.example").await;
            let sam = signed_in(app, "sam@acme.example").await;
            // The current session is listed first: end the other one.
            let path = form_action(&sam.get("/account").await, "/account/sessions/", "/end", 1);
            Post::new(sam, "/account", &path, &[])
        }
        "/w/{ws}/leave" => {
            member(app, "leo@acme.example", "Leo Leaving", BuiltinRole::Member);
            Post::new(
                signed_in(app, "leo@acme.example").await,
                "/account",
                "/w/acme/leave",
                &[("confirm", "yes")],
            )
        }
        "/forgot-password" => {
            member(app, "rita@acme.example", "Rita Reset", BuiltinRole::Member);
            // The same page whether or not the address has an account (no redirect).
            let mut post = Post::new(
                app.client(),
                "/forgot-password",
                "/forgot-password",
                &[("email", "rita@acme.example")],
            );
            post.status = 200;
            post
        }
        "/reset/{token}" => {
            let path = link(
                &mail_with(app, "rita@acme.example", "/reset/").await,
                "/reset/",
            );
            Post::new(
                app.client(),
                &path,
                &path,
                &[
                    ("new_password", "a brand new long password"),
                    ("new_password_confirm", "a brand new long password"),
                ],
            )
        }
        "/w/{ws}/settings/link" => {
            let member_role = role_id(app, "Member").to_string();
            Post::new(
                owner(),
                "/w/acme/settings/link",
                "/w/acme/settings/link",
                &[
                    ("enabled", "on"),
                    ("require_approval", "on"),
                    ("role", &member_role),
                ],
            )
        }
        "/w/{ws}/settings/link/rotate" => Post::new(
            owner(),
            "/w/acme/settings/link",
            "/w/acme/settings/link/rotate",
            &[],
        ),
        "/join/{token}" => {
            app.create_workspace("Delta", "dan@delta.example", "Dan Delta");
            let path = join_path(w).await;
            Post::new(signed_in(app, "dan@delta.example").await, &path, &path, &[])
        }
        "/join/confirm/{token}" => {
            let path = join_path(w).await;
            submitted(
                &app.client(),
                &path,
                &path,
                &[
                    ("name", "Nell New"),
                    ("email", "nell@new.example"),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                ],
            )
            .await;
            let path = link(
                &mail_with(app, "nell@new.example", "/join/confirm/").await,
                "/join/confirm/",
            );
            Post::new(app.client(), &path, &path, &[])
        }
        "/w/{ws}/requests/join/{id}/approve" => {
            let id = pending_join_request(w, "Beta", "bob@beta.example", "Bob Beta").await;
            Post::new(
                owner(),
                "/w/acme/requests",
                &format!("/w/acme/requests/join/{id}/approve"),
                &[],
            )
        }
        "/w/{ws}/requests/join/{id}/deny" => {
            let id = pending_join_request(w, "Gamma", "gail@gamma.example", "Gail Gamma").await;
            Post::new(
                owner(),
                "/w/acme/requests",
                &format!("/w/acme/requests/join/{id}/deny"),
                &[],
            )
        }
        "/w/{ws}/requests/join/bulk" => {
            let first = pending_join_request(w, "Eps", "eli@eps.example", "Eli Eps").await;
            let second = pending_join_request(w, "Zeta", "zoe@zeta.example", "Zoe Zeta").await;
            let (first, second) = (first.to_string(), second.to_string());
            Post::new(
                owner(),
                "/w/acme/requests",
                "/w/acme/requests/join/bulk",
                &[
                    ("request", &first),
                    ("request", &second),
                    ("decision", "approve"),
                ],
            )
        }
        "/w/{ws}/settings/domains" => Post::new(
            owner(),
            "/w/acme/settings/domains",
            "/w/acme/settings/domains",
            &[("domain", "newco.test")],
        ),
        "/w/{ws}/settings/domains/{id}/check" => {
            let claimed =
                app.with_db(|conn| domains::add_by_operator(conn, "acme", "checked.test").unwrap());
            w.dns
                .publish(
                    "checked.test",
                    &format!("gatehouse-verification={}", claimed.verification_token),
                )
                .await;
            // The instance that asks the walk's nameserver, with the Owner's session.
            let client = Client::with_cookie(
                &w.dns_app.as_ref().expect("started after setup").base_url,
                &w.owner.session_cookie().unwrap(),
            );
            Post::new(
                client,
                "/w/acme/settings/domains",
                &format!("/w/acme/settings/domains/{}/check", claimed.id),
                &[],
            )
        }
        "/w/{ws}/settings/domains/{id}/policy" => {
            let id = domain_id(app, "checked.test");
            let role = role_id(app, "Member").to_string();
            Post::new(
                owner(),
                "/w/acme/settings/domains",
                &format!("/w/acme/settings/domains/{id}/policy"),
                &[("policy", "auto"), ("role", &role)],
            )
        }
        "/w/{ws}/join" => {
            // Jo's confirmed primary address is on checked.test, verified with auto-join
            // by the rows before.
            app.create_workspace("Elsewhere", "jo@checked.test", "Jo Checked");
            Post::new(
                signed_in(app, "jo@checked.test").await,
                "/",
                "/w/acme/join",
                &[],
            )
        }
        "/w/{ws}/settings/domains/{id}/delete" => {
            let id = domain_id(app, "newco.test");
            Post::new(
                owner(),
                "/w/acme/settings/domains",
                &format!("/w/acme/settings/domains/{id}/delete"),
                &[("confirm", "yes")],
            )
        }
        "/w/{ws}/users/{id}/transfer-ownership" => {
            let ada = member(app, "ada@acme.example", "Ada Admin", BuiltinRole::Admin);
            Post::new(
                owner(),
                &users(ada, ""),
                &users(ada, "/transfer-ownership"),
                &[("current_password", PASSWORD)],
            )
        }
        other => panic!("{other} is in WALK but has no scenario in `prepare`"),
    }
}

async fn every_state_changing_post_of_the_route_table_leaves_an_audit_row_the_log_shows(
    app: TestApp,
) {
    // Every POST of the route table is walked or exempt, and the walk names only real routes.
    let posts: Vec<&str> = gatehouse::web::ROUTES
        .iter()
        .filter(|(m, _)| *m == "POST")
        .map(|(_, p)| *p)
        .collect();
    let missing: Vec<&&str> = posts
        .iter()
        .filter(|p| !WALK.iter().any(|(w, _)| w == *p) && !EXEMPT.iter().any(|(e, _)| e == *p))
        .collect();
    assert!(
        missing.is_empty(),
        "POSTs of web::ROUTES neither walked nor exempt: {missing:?}"
    );
    for (pattern, _) in WALK {
        assert!(posts.contains(pattern), "{pattern} is not a POST of ROUTES");
    }

    let dns = dns_server().await;
    let mut walk = Walk {
        owner: app.client(),
        app,
        dns_app: None,
        dns,
    };
    for (pattern, actions) in WALK {
        let post = prepare(&walk, pattern).await;
        let before = newest_event(&walk.app);
        let fields: Vec<(&str, &str)> = post
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let done = post.client.submit(&post.page, &post.path, &fields).await;
        assert_eq!(
            done.status.as_u16(),
            post.status,
            "POST {} ({pattern}): {}",
            post.path,
            done.body
        );
        if *pattern == "/setup" {
            walk.owner = post.client;
            // Only now: an instance started on an empty database issues a new setup link.
            walk.dns_app = Some(app_with_dns(&walk.app, walk.dns.addr).await);
            // Room for everyone the walk adds (the starter plan has 10 seats).
            let ws = workspace_id(&walk.app);
            walk.app.with_db(|conn| {
                gatehouse::models::workspace::Workspace::set_limits(
                    conn,
                    ws,
                    None,
                    None,
                    100,
                    gatehouse::models::now(),
                )
                .unwrap()
            });
        }
        let new = events_after(&walk.app, before);
        for action in *actions {
            let (id, _) = new.iter().find(|(_, a)| a == action).unwrap_or_else(|| {
                panic!(
                    "POST {} ({pattern}) recorded no {action}: {new:?}",
                    post.path
                )
            });
            let log = walk
                .owner
                .get(&format!("/w/acme/audit?action={action}"))
                .await;
            assert_eq!(log.status, 200, "{}", log.body);
            assert!(
                log.body.contains(&format!("id=\"event-{id}\"")),
                "the log of Acme does not show {action} #{id} of POST {pattern}:\n{}",
                log.body
            );
        }
    }
    // Every action recorded is one the screen's filter offers.
    let unknown: Vec<String> = events_after(&walk.app, 0)
        .into_iter()
        .map(|(_, a)| a)
        .filter(|a| !gatehouse::models::audit::ACTIONS.contains(&a.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "actions missing from models::audit::ACTIONS: {unknown:?}"
    );
}
