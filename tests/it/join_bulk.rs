//! Join requests decided several at once (issue 12.4, "one by one or several at once"):
//! `POST /w/{ws}/requests/join/bulk` with the ticked `request`s and `decision`, each
//! decided by the rules of one decision in its own transaction.

use diesel::prelude::*;
use gatehouse::db::schema::{join_requests, members};
use gatehouse::permissions::BuiltinRole;

use crate::support::{mail_to, Client, Page, TestApp, PASSWORD};
use crate::tests;

tests![
    approving_several_joins_each_and_mails_each_requester,
    denying_several_mails_each_and_joins_nobody,
    when_seats_run_out_half_way_what_fits_is_approved_and_the_rest_reported,
    nothing_ticked_is_refused_and_an_unknown_or_foreign_request_is_not_found,
    a_member_is_refused,
];

const REQUESTS: &str = "/w/acme/requests";
const BULK: &str = "/w/acme/requests/join/bulk";

async fn signed_in(app: &TestApp, email: &str) -> Client {
    let client = app.client();
    assert_eq!(client.sign_in(email, PASSWORD).await.status, 303);
    client
}

/// The Owner of `slug`'s workspace with its invite link on, requiring approval: their
/// browser and the link's path.
async fn link_with_approval(app: &TestApp, slug: &str, ws: i64, owner: &str) -> (Client, String) {
    let client = signed_in(app, owner).await;
    let settings = format!("/w/{slug}/settings/link");
    let member_role = app.role_id(ws, BuiltinRole::Member).to_string();
    let saved = client
        .submit(
            &settings,
            &settings,
            &[
                ("enabled", "on"),
                ("require_approval", "on"),
                ("role", &member_role),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = client.get(&settings).await.body;
    let at = page
        .find("id=\"join-url\"")
        .expect("the link is shown once");
    let start = page[at..].find("/join/").unwrap() + at;
    let path = page[start..start + page[start..].find('"').unwrap()].to_string();
    (client, path)
}

/// Acme, its Owner's browser and the link's path.
async fn acme(app: &TestApp) -> (i64, Client, String) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let (owner, path) =
        link_with_approval(app, "acme", ws.workspace_id, "olivia@acme.example").await;
    (ws.workspace_id, owner, path)
}

/// A new account (owning workspace `ws`) asks to join through `path`; its request's id.
async fn asks(app: &TestApp, path: &str, ws: &str, email: &str, name: &str) -> i64 {
    app.create_workspace(ws, email, name);
    let them = signed_in(app, email).await;
    let asked = them.submit(path, path, &[]).await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    app.with_db(|conn| {
        join_requests::table
            .select(diesel::dsl::max(join_requests::id))
            .first::<Option<i64>>(conn)
            .unwrap()
            .unwrap()
    })
}

fn statuses(app: &TestApp, ids: &[i64]) -> Vec<String> {
    app.with_db(|conn| {
        join_requests::table
            .filter(join_requests::id.eq_any(ids))
            .order(join_requests::id)
            .select(join_requests::status)
            .load(conn)
            .unwrap()
    })
}

fn active_members(app: &TestApp, ws: i64) -> i64 {
    app.with_db(|conn| {
        members::table
            .filter(members::workspace_id.eq(ws))
            .filter(members::status.eq("active"))
            .count()
            .get_result(conn)
            .unwrap()
    })
}

/// Waits (up to 15 s) for the mail to `to` with this subject.
async fn mailed(app: &TestApp, to: &str, subject: &str) {
    for _ in 0..150 {
        if app
            .mail
            .received()
            .iter()
            .any(|m| m.to == to && m.subject == subject)
        {
            return;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    mail_to(&app.mail.received(), to, subject);
}

async fn bulk(client: &Client, ids: &[i64], decision: &str) -> Page {
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    let mut fields: Vec<(&str, &str)> = ids.iter().map(|id| ("request", id.as_str())).collect();
    fields.push(("decision", decision));
    client.submit(REQUESTS, BULK, &fields).await
}

async fn three_requests(app: &TestApp, path: &str) -> Vec<i64> {
    vec![
        asks(app, path, "Beta", "bob@beta.example", "Bob Beta").await,
        asks(app, path, "Gamma", "gail@gamma.example", "Gail Gamma").await,
        asks(app, path, "Eps", "eve@eps.example", "Eve Eps").await,
    ]
}

async fn approving_several_joins_each_and_mails_each_requester(app: TestApp) {
    let (ws, owner, path) = acme(&app).await;
    let ids = three_requests(&app, &path).await;
    let page = owner.get(REQUESTS).await;
    // A labelled checkbox per waiting request, and the two buttons of the one form.
    for (id, name) in ids.iter().zip(["Bob Beta", "Gail Gamma", "Eve Eps"]) {
        page.assert_contains(&format!(
            "<input type=\"checkbox\" name=\"request\" value=\"{id}\" id=\"bulk-join-{id}\"> <label for=\"bulk-join-{id}\">{name}</label>"
        ));
    }
    page.assert_contains(&format!("action=\"{BULK}\""));
    page.assert_contains("name=\"decision\" value=\"approve\"");
    page.assert_contains("name=\"decision\" value=\"deny\"");
    let done = bulk(&owner, &ids, "approve").await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some(REQUESTS));
    owner
        .get(REQUESTS)
        .await
        .assert_contains("Approved 3 requests. Each requester was emailed.");
    assert_eq!(statuses(&app, &ids), ["approved", "approved", "approved"]);
    assert_eq!(active_members(&app, ws), 4);
    assert_eq!(app.count_audit("join_request.approved"), 3);
    for to in ["bob@beta.example", "gail@gamma.example", "eve@eps.example"] {
        mailed(&app, to, "You have joined Acme").await;
    }
}

async fn denying_several_mails_each_and_joins_nobody(app: TestApp) {
    let (ws, owner, path) = acme(&app).await;
    let ids = three_requests(&app, &path).await;
    let done = bulk(&owner, &ids[..2], "deny").await;
    assert_eq!(done.status, 303, "{}", done.body);
    owner
        .get(REQUESTS)
        .await
        .assert_contains("Denied 2 requests.");
    assert_eq!(statuses(&app, &ids), ["denied", "denied", "pending"]);
    assert_eq!(active_members(&app, ws), 1);
    for to in ["bob@beta.example", "gail@gamma.example"] {
        mailed(&app, to, "Your request to join Acme was declined").await;
    }
}

async fn when_seats_run_out_half_way_what_fits_is_approved_and_the_rest_reported(app: TestApp) {
    let (ws, owner, path) = acme(&app).await;
    let ids = three_requests(&app, &path).await;
    // The Owner and two more.
    app.with_db(|conn| {
        gatehouse::models::workspace::Workspace::set_limits(
            conn,
            ws,
            None,
            Some(3),
            20,
            gatehouse::models::now(),
        )
        .unwrap()
    });
    let done = bulk(&owner, &ids, "approve").await;
    assert_eq!(done.status, 303, "{}", done.body);
    let page = owner.get(REQUESTS).await;
    page.assert_contains("Approved 2 requests. Each requester was emailed. 1 could not be approved: Eve Eps — not enough seats");
    assert_eq!(statuses(&app, &ids), ["approved", "approved", "pending"]);
    assert_eq!(active_members(&app, ws), 3);

    // Only what cannot be approved is left: the page again (422) saying why, nothing changed.
    let again = bulk(&owner, &ids[2..], "approve").await;
    assert_eq!(again.status, 422, "{}", again.body);
    again.assert_contains("1 could not be approved: Eve Eps — not enough seats");
    assert_eq!(statuses(&app, &ids[2..]), ["pending"]);
}

async fn nothing_ticked_is_refused_and_an_unknown_or_foreign_request_is_not_found(app: TestApp) {
    let (ws, owner, path) = acme(&app).await;
    let ours = asks(&app, &path, "Gamma", "gail@gamma.example", "Gail Gamma").await;
    // A request waiting in another workspace.
    let beta = app.create_workspace("Beta", "bob@beta.example", "Bob Beta");
    let (_, beta_path) =
        link_with_approval(&app, "beta", beta.workspace_id, "bob@beta.example").await;
    let theirs = asks(&app, &beta_path, "Delta", "dan@delta.example", "Dan Delta").await;
    let audit_before = app.count("audit_events");

    let none = bulk(&owner, &[], "approve").await;
    assert_eq!(none.status, 422, "{}", none.body);
    none.assert_contains("Choose at least one join request first: nothing was changed.");

    let foreign = bulk(&owner, &[ours, theirs], "approve").await;
    assert_eq!(foreign.status, 404, "{}", foreign.body);
    let unknown = bulk(&owner, &[ours, theirs + 1000], "deny").await;
    assert_eq!(unknown.status, 404);
    let token = owner.get(REQUESTS).await.csrf();
    let not_a_number = owner
        .post_raw(
            BULK,
            &[
                ("csrf_token", &token),
                ("request", "abc"),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(not_a_number.status, 404);
    let not_a_decision = owner
        .post_raw(
            BULK,
            &[
                ("csrf_token", &token),
                ("request", &ours.to_string()),
                ("decision", "maybe"),
            ],
        )
        .await;
    assert_eq!(not_a_decision.status, 400);

    assert_eq!(statuses(&app, &[ours, theirs]), ["pending", "pending"]);
    assert_eq!(active_members(&app, ws), 1);
    assert_eq!(app.count("audit_events"), audit_before, "nothing changed");
}

async fn a_member_is_refused(app: TestApp) {
    let (ws, _, path) = acme(&app).await;
    let id = asks(&app, &path, "Gamma", "gail@gamma.example", "Gail Gamma").await;
    app.add_member(ws, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    let mia = signed_in(&app, "mia@acme.example").await;
    let token = mia.get("/account").await.csrf();
    let refused = mia
        .post_raw(
            BULK,
            &[
                ("csrf_token", &token),
                ("request", &id.to_string()),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(statuses(&app, &[id]), ["pending"]);
    assert_eq!(active_members(&app, ws), 2);
}
