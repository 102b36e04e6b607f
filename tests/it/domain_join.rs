//! Joining through a verified domain (issue 12.2): the policy form on the Domains screen,
//! the "Join <workspace>" section of the home page and `POST /w/{ws}/join`, over real HTTP
//! on both databases. Domains are verified with the operator's command-line service here:
//! DNS is not the point (tests/it/domains.rs covers it).

use diesel::prelude::*;
use gatehouse::db::schema::{domains, join_requests, members};
use gatehouse::models::role::Role;
use gatehouse::permissions::BuiltinRole;
use gatehouse::services::domains as domain_service;

use crate::support::{address_id, link, mail_to, Client, Page, TestApp, PASSWORD};
use crate::tests;

tests![
    the_policy_form_offers_only_grantable_roles_and_refuses_pending_domains,
    auto_join_needs_a_confirmed_address_on_exactly_the_domain,
    joining_is_refused_once_the_address_is_removed_and_a_removed_member_comes_back,
    with_approval_the_request_is_mailed_and_approving_it_joins_through_the_domain,
    approving_is_refused_once_the_requester_lost_the_address,
    removing_the_domain_declines_the_requests_waiting_through_it,
    domain_joins_respect_seats_and_the_daily_limit,
    a_policy_set_by_a_demoted_admin_no_longer_grants_admin,
    parallel_joins_never_exceed_the_seat_limit,
    a_member_posting_join_is_told_so_and_nothing_changes,
];

const DOMAINS: &str = "/w/acme/settings/domains";

/// Acme (Olivia, Owner, signed in) with acme.test verified.
async fn acme(app: &TestApp) -> (i64, Client) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    app.with_db(|conn| domain_service::verify_by_operator(conn, "acme", "acme.test").unwrap());
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    (ws.workspace_id, client)
}

fn domain_id(app: &TestApp, name: &str) -> i64 {
    app.with_db(|conn| {
        domains::table
            .filter(domains::domain.eq(name))
            .select(domains::id)
            .first(conn)
            .unwrap()
    })
}

/// `(join_policy, role_ids, include_subdomains, policy_author_account_id)`.
fn policy_of(app: &TestApp, name: &str) -> (String, String, bool, Option<i64>) {
    app.with_db(|conn| {
        domains::table
            .filter(domains::domain.eq(name))
            .select((
                domains::join_policy,
                domains::role_ids,
                domains::include_subdomains,
                domains::policy_author_account_id,
            ))
            .first(conn)
            .unwrap()
    })
}

/// Posts a domain's policy form from the Domains screen.
async fn set_policy(client: &Client, app: &TestApp, name: &str, fields: &[(&str, &str)]) -> Page {
    let action = format!("{DOMAINS}/{}/policy", domain_id(app, name));
    client.submit(DOMAINS, &action, fields).await
}

/// A signed-in account that owns its own workspace (so it belongs to one), with `email`
/// as its confirmed primary address.
async fn person(app: &TestApp, email: &str, name: &str, workspace: &str) -> Client {
    app.create_workspace(workspace, email, name);
    let client = app.client();
    client.sign_in(email, PASSWORD).await;
    client
}

/// Presses "Join" (or "Ask to join") for Acme, as the home page's form does.
async fn press_join(client: &Client) -> Page {
    let token = client.get("/account").await.csrf();
    client
        .post_raw("/w/acme/join", &[("csrf_token", &token)])
        .await
}

fn acme_members(app: &TestApp, workspace_id: i64) -> i64 {
    app.with_db(|conn| {
        members::table
            .filter(members::workspace_id.eq(workspace_id))
            .filter(members::status.eq("active"))
            .count()
            .get_result(conn)
            .unwrap()
    })
}

/// `(status, joined_via, approved_by)` of the account's membership of the workspace.
fn membership(
    app: &TestApp,
    workspace_id: i64,
    email: &str,
) -> Option<(String, Option<String>, Option<i64>)> {
    let account = account_id(app, email);
    app.with_db(|conn| {
        members::table
            .filter(members::workspace_id.eq(workspace_id))
            .filter(members::account_id.eq(account))
            .select((members::status, members::joined_via, members::approved_by))
            .first(conn)
            .optional()
            .unwrap()
    })
}

fn account_id(app: &TestApp, email: &str) -> i64 {
    use gatehouse::db::schema::email_addresses as e;
    app.with_db(|conn| {
        e::table
            .filter(e::canonical.eq(email))
            .select(e::account_id)
            .first(conn)
            .unwrap()
    })
}

async fn the_policy_form_offers_only_grantable_roles_and_refuses_pending_domains(app: TestApp) {
    let (ws, _olivia) = acme(&app).await;
    app.with_db(|conn| domain_service::add_by_operator(conn, "acme", "pending.test").unwrap());
    app.add_member(ws, "ada@acme.example", "Ada Admin", BuiltinRole::Admin);
    let ada = app.client();
    ada.sign_in("ada@acme.example", PASSWORD).await;
    let member_role = app.role_id(ws, BuiltinRole::Member);
    let owner_role = app.role_id(ws, BuiltinRole::Owner);
    let verified_id = domain_id(&app, "acme.test");
    let pending_id = domain_id(&app, "pending.test");

    let page = ada.get(DOMAINS).await;
    assert_eq!(page.status, 200);
    page.assert_contains(&format!("action=\"{DOMAINS}/{verified_id}/policy\""));
    page.assert_lacks(&format!("action=\"{DOMAINS}/{pending_id}/policy\""));
    page.assert_contains("Join policy: <strong>Off</strong>");
    // A new policy offers the Member role, pre-selected; the Owner role is not offered.
    page.assert_contains(&format!("value=\"{member_role}\" checked"));
    page.assert_lacks(&format!("name=\"role\" value=\"{owner_role}\""));

    let owner = owner_role.to_string();
    let refused = set_policy(
        &ada,
        &app,
        "acme.test",
        &[("policy", "auto"), ("role", &owner)],
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    refused.assert_contains(&format!(
        "id=\"role-{verified_id}-error\">You can only offer roles whose every permission you hold yourself."
    ));
    let none = set_policy(&ada, &app, "acme.test", &[("policy", "approval")]).await;
    assert_eq!(none.status, 422);
    none.assert_contains("Choose at least one role");
    let member = member_role.to_string();
    let pending = ada
        .submit(
            DOMAINS,
            &format!("{DOMAINS}/{pending_id}/policy"),
            &[("policy", "auto"), ("role", &member)],
        )
        .await;
    assert_eq!(pending.status, 422);
    pending.assert_contains("pending.test is still Pending");
    let bogus = set_policy(
        &ada,
        &app,
        "acme.test",
        &[("policy", "always"), ("role", &member)],
    )
    .await;
    assert_eq!(bogus.status, 400);
    assert_eq!(policy_of(&app, "acme.test").0, "off");
    assert_eq!(policy_of(&app, "pending.test").0, "off");
    assert_eq!(app.count_audit("domain.policy_changed"), 0);

    // A Member may not set it.
    app.add_member(ws, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    let mia = app.client();
    mia.sign_in("mia@acme.example", PASSWORD).await;
    let token = mia.get("/w/acme/users").await.csrf();
    let forbidden = mia
        .post_raw(
            &format!("{DOMAINS}/{verified_id}/policy"),
            &[
                ("csrf_token", &token),
                ("policy", "auto"),
                ("role", &member),
            ],
        )
        .await;
    assert_eq!(forbidden.status, 403);

    let saved = set_policy(
        &ada,
        &app,
        "acme.test",
        &[
            ("policy", "auto"),
            ("role", &member),
            ("include_subdomains", "on"),
        ],
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let (policy, roles, subdomains, author) = policy_of(&app, "acme.test");
    assert_eq!(policy, "auto");
    assert_eq!(roles, format!("[{member_role}]"));
    assert!(subdomains);
    assert_eq!(author, Some(account_id(&app, "ada@acme.example")));
    let shown = ada.get(DOMAINS).await;
    shown.assert_contains("Join policy of acme.test saved");
    shown.assert_contains("Anyone with a confirmed address joins</strong>, as Member");
    assert_eq!(app.count_audit("domain.policy_changed"), 1);
    let changes: String = app.with_db(|conn| {
        use gatehouse::db::schema::audit_events as a;
        a::table
            .filter(a::action.eq("domain.policy_changed"))
            .select(a::changes)
            .first::<String>(conn)
            .unwrap()
    });
    assert!(changes.contains("\"policy\":\"Off\""), "{changes}");
    assert!(changes.contains("\"roles\":\"Member\""), "{changes}");
    assert!(changes.contains("\"include_subdomains\":true"), "{changes}");
}

async fn auto_join_needs_a_confirmed_address_on_exactly_the_domain(app: TestApp) {
    let (ws, olivia) = acme(&app).await;
    let member = app.role_id(ws, BuiltinRole::Member).to_string();
    let saved = set_policy(
        &olivia,
        &app,
        "acme.test",
        &[("policy", "auto"), ("role", &member)],
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);

    // Jo belongs to one workspace: home goes straight there while nothing can be joined.
    let jo = person(&app, "jo@else.example", "Jo Else", "Else").await;
    let home = jo.get("/").await;
    assert_eq!(home.status, 303);
    // An unconfirmed address on acme.test counts for nothing.
    let added = jo
        .submit(
            "/account",
            "/account/emails",
            &[("email", "jo@acme.test"), ("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    assert_eq!(
        jo.get("/").await.status,
        303,
        "no Join without a confirmed address"
    );
    let refused = press_join(&jo).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    refused.assert_contains("You need a confirmed address on acme.test to join Acme");
    assert_eq!(membership(&app, ws, "jo@else.example"), None);

    // Neither a lookalike domain nor a subdomain (not included) match.
    let eve = person(&app, "eve@evil-acme.test", "Eve Evil", "Evil").await;
    assert_eq!(eve.get("/").await.status, 303);
    assert_eq!(press_join(&eve).await.status, 422);
    let sam = person(&app, "sam@sub.acme.test", "Sam Sub", "Sub").await;
    assert_eq!(sam.get("/").await.status, 303);
    let sub_refused = press_join(&sam).await;
    assert_eq!(sub_refused.status, 422);
    sub_refused.assert_contains("You need a confirmed address on acme.test");
    assert_eq!(acme_members(&app, ws), 1);
    assert_eq!(app.count("join_requests"), 0);

    // Jo opens the link mailed to the address: now Jo may join.
    let mails = app.mail.wait_for(1).await;
    let verify = link(
        mails.iter().find(|m| m.to == "jo@acme.test").unwrap(),
        "/account/emails/verify/",
    );
    let confirmed = jo.submit(&verify, &verify, &[]).await;
    assert_eq!(confirmed.status, 303, "{}", confirmed.body);
    let home = jo.get("/").await;
    assert_eq!(
        home.status, 200,
        "home offers the join instead of redirecting"
    );
    home.assert_contains("Join Acme");
    home.assert_contains("action=\"/w/acme/join\"");
    let joined = jo.submit("/", "/w/acme/join", &[]).await;
    assert_eq!(joined.status, 303, "{}", joined.body);
    assert_eq!(
        joined.headers.get("location").unwrap().to_str().unwrap(),
        "/w/acme/users"
    );
    assert_eq!(
        membership(&app, ws, "jo@else.example"),
        Some(("active".into(), Some("domain".into()), None))
    );
    assert_eq!(app.count_audit("domain.join"), 1);
    olivia
        .get("/w/acme/users")
        .await
        .assert_contains("Joined through a verified domain");
    // Once a member, nothing more to join.
    let again = press_join(&jo).await;
    assert_eq!(again.status, 422);
    again.assert_contains("You are already a member of this workspace.");

    // Subdomains, once included; the lookalike still not.
    let included = set_policy(
        &olivia,
        &app,
        "acme.test",
        &[
            ("policy", "auto"),
            ("role", &member),
            ("include_subdomains", "on"),
        ],
    )
    .await;
    assert_eq!(included.status, 303);
    sam.get("/").await.assert_contains("Join Acme");
    assert_eq!(press_join(&sam).await.status, 303);
    assert_eq!(press_join(&eve).await.status, 422);
    assert_eq!(eve.get("/").await.status, 303);
    assert_eq!(acme_members(&app, ws), 3);
    assert_eq!(app.count_audit("domain.join"), 2);
}

async fn joining_is_refused_once_the_address_is_removed_and_a_removed_member_comes_back(
    app: TestApp,
) {
    let (ws, olivia) = acme(&app).await;
    let member = app.role_id(ws, BuiltinRole::Member).to_string();
    set_policy(
        &olivia,
        &app,
        "acme.test",
        &[("policy", "auto"), ("role", &member)],
    )
    .await;
    let jo = person(&app, "jo@else.example", "Jo Else", "Else").await;
    app.add_confirmed_address("jo@else.example", "jo@acme.test");
    assert_eq!(press_join(&jo).await.status, 303);
    let jo_member: i64 = app.with_db(|conn| {
        members::table
            .filter(members::workspace_id.eq(ws))
            .filter(members::account_id.eq(account_id(&app, "jo@else.example")))
            .select(members::id)
            .first(conn)
            .unwrap()
    });
    let removed = olivia
        .submit(
            &format!("/w/acme/users/{jo_member}"),
            &format!("/w/acme/users/{jo_member}/remove"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    // Removal ended Jo's sessions.
    jo.sign_in("jo@else.example", PASSWORD).await;
    jo.get("/").await.assert_contains("Join Acme");

    // Jo removes the address on /account: the offer goes, and a join is refused.
    let eid = address_id(&app, "jo@acme.test");
    let gone = jo
        .submit("/account", &format!("/account/emails/{eid}/delete"), &[])
        .await;
    assert_eq!(gone.status, 303, "{}", gone.body);
    assert_eq!(jo.get("/").await.status, 303, "nothing to join any more");
    let audit_before = app.count("audit_events");
    let refused = press_join(&jo).await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("You need a confirmed address on acme.test to join Acme");
    assert_eq!(
        membership(&app, ws, "jo@else.example").map(|m| m.0),
        Some("removed".into())
    );
    assert_eq!(
        app.count("audit_events"),
        audit_before,
        "a refusal writes nothing"
    );

    // Confirmed again, the former member comes back.
    app.add_confirmed_address("jo@else.example", "jo@acme.test");
    assert_eq!(press_join(&jo).await.status, 303);
    assert_eq!(
        membership(&app, ws, "jo@else.example"),
        Some(("active".into(), Some("domain".into()), None))
    );
    assert_eq!(app.count_audit("domain.join"), 2);
}

async fn with_approval_the_request_is_mailed_and_approving_it_joins_through_the_domain(
    app: TestApp,
) {
    let (ws, olivia) = acme(&app).await;
    let member = app.role_id(ws, BuiltinRole::Member).to_string();
    set_policy(
        &olivia,
        &app,
        "acme.test",
        &[("policy", "approval"), ("role", &member)],
    )
    .await;
    let jo = person(&app, "jo@acme.test", "Jo Acme", "Else").await;
    let home = jo.get("/").await;
    assert_eq!(home.status, 200);
    home.assert_contains("Ask to join Acme");
    let asked = jo.submit("/", "/w/acme/join", &[]).await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    assert_eq!(
        asked.headers.get("location").unwrap().to_str().unwrap(),
        "/"
    );
    jo.get("/")
        .await
        .assert_contains("Your request to join Acme was sent to its admins");
    assert_eq!(acme_members(&app, ws), 1, "nothing joined yet");
    let (id, domain): (i64, Option<i64>) = app.with_db(|conn| {
        join_requests::table
            .filter(join_requests::status.eq("pending"))
            .select((join_requests::id, join_requests::domain_id))
            .first(conn)
            .unwrap()
    });
    assert_eq!(domain, Some(domain_id(&app, "acme.test")));
    let mails = app.mail.wait_for(1).await;
    let told = mail_to(&mails, "olivia@acme.example", "Jo Acme asks to join Acme");
    assert!(
        told.text.contains("has a confirmed address on acme.test"),
        "{}",
        told.text
    );
    let waiting = jo.get("/").await;
    waiting.assert_contains("waiting for approval");
    waiting.assert_lacks("action=\"/w/acme/join\"");
    let twice = press_join(&jo).await;
    assert_eq!(twice.status, 422);
    twice.assert_contains("You already asked to join");
    assert_eq!(app.count("join_requests"), 1);

    let approved = olivia
        .submit(
            "/w/acme/requests",
            &format!("/w/acme/requests/join/{id}/approve"),
            &[],
        )
        .await;
    assert_eq!(approved.status, 303, "{}", approved.body);
    let olivia_id = account_id(&app, "olivia@acme.example");
    assert_eq!(
        membership(&app, ws, "jo@acme.test"),
        Some(("active".into(), Some("domain".into()), Some(olivia_id)))
    );
    let mails = app.mail.wait_for(2).await;
    mail_to(&mails, "jo@acme.test", "You have joined Acme");
    olivia
        .get("/w/acme/users")
        .await
        .assert_contains("Joined through a verified domain, approved by Olivia Owner");
    assert_eq!(app.count_audit("join_request.created"), 1);
    assert_eq!(app.count_audit("join_request.approved"), 1);
}

async fn approving_is_refused_once_the_requester_lost_the_address(app: TestApp) {
    let (ws, olivia) = acme(&app).await;
    let member = app.role_id(ws, BuiltinRole::Member).to_string();
    set_policy(
        &olivia,
        &app,
        "acme.test",
        &[("policy", "approval"), ("role", &member)],
    )
    .await;
    let jo = person(&app, "jo@else.example", "Jo Else", "Else").await;
    app.add_confirmed_address("jo@else.example", "jo@acme.test");
    assert_eq!(press_join(&jo).await.status, 303);
    let eid = address_id(&app, "jo@acme.test");
    let gone = jo
        .submit("/account", &format!("/account/emails/{eid}/delete"), &[])
        .await;
    assert_eq!(gone.status, 303, "{}", gone.body);
    let id: i64 = app.with_db(|conn| {
        join_requests::table
            .select(join_requests::id)
            .first(conn)
            .unwrap()
    });
    let refused = olivia
        .submit(
            "/w/acme/requests",
            &format!("/w/acme/requests/join/{id}/approve"),
            &[],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    refused.assert_contains("no longer has a confirmed address on acme.test");
    assert_eq!(membership(&app, ws, "jo@else.example"), None);
    assert_eq!(app.count_audit("join_request.approved"), 0);
}

async fn removing_the_domain_declines_the_requests_waiting_through_it(app: TestApp) {
    let (ws, olivia) = acme(&app).await;
    let member = app.role_id(ws, BuiltinRole::Member).to_string();
    set_policy(
        &olivia,
        &app,
        "acme.test",
        &[("policy", "approval"), ("role", &member)],
    )
    .await;
    let jo = person(&app, "jo@acme.test", "Jo Acme", "Else").await;
    assert_eq!(press_join(&jo).await.status, 303);
    app.mail.wait_for(1).await;
    let id = domain_id(&app, "acme.test");
    let asked = olivia
        .submit(
            "/w/acme/settings/domains",
            &format!("/w/acme/settings/domains/{id}/delete"),
            &[],
        )
        .await;
    assert_eq!(asked.status, 200);
    asked.assert_contains("requests to join through it that still wait are declined");
    let removed = olivia
        .submit(
            "/w/acme/settings/domains",
            &format!("/w/acme/settings/domains/{id}/delete"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    let (request_id, status, decided_by): (i64, String, Option<i64>) = app.with_db(|conn| {
        join_requests::table
            .select((
                join_requests::id,
                join_requests::status,
                join_requests::decided_by,
            ))
            .first(conn)
            .unwrap()
    });
    assert_eq!(status, "denied");
    assert_eq!(decided_by, Some(account_id(&app, "olivia@acme.example")));
    let mails = app.mail.wait_for(2).await;
    mail_to(
        &mails,
        "jo@acme.test",
        "Your request to join Acme was declined",
    );
    assert_eq!(app.count_audit("join_request.denied"), 1);
    let late = olivia
        .submit(
            "/w/acme/requests",
            &format!("/w/acme/requests/join/{request_id}/approve"),
            &[],
        )
        .await;
    assert_eq!(late.status, 422, "{}", late.body);
    late.assert_contains("already decided");
    assert_eq!(membership(&app, ws, "jo@acme.test"), None);
    jo.get("/").await.assert_lacks("Acme");
}

async fn domain_joins_respect_seats_and_the_daily_limit(app: TestApp) {
    let (ws, olivia) = acme(&app).await;
    let member = app.role_id(ws, BuiltinRole::Member).to_string();
    set_policy(
        &olivia,
        &app,
        "acme.test",
        &[("policy", "auto"), ("role", &member)],
    )
    .await;
    let jo = person(&app, "jo@acme.test", "Jo Acme", "Else").await;
    let audit_before = app.count("audit_events");
    app.set_limits(ws, Some(1), 20);
    let full = press_join(&jo).await;
    assert_eq!(full.status, 422);
    full.assert_contains("Not enough seats");
    app.set_limits(ws, None, 0);
    let daily = press_join(&jo).await;
    assert_eq!(daily.status, 422);
    daily.assert_contains("daily limit");
    assert_eq!(acme_members(&app, ws), 1);
    assert_eq!(app.count("join_requests"), 0, "nothing written");
    assert_eq!(app.count("audit_events"), audit_before, "nothing recorded");
    // The limit counts domain joins too: with room for one, the second is refused.
    app.set_limits(ws, None, 1);
    assert_eq!(press_join(&jo).await.status, 303);
    let kim = person(&app, "kim@acme.test", "Kim Acme", "Kim").await;
    let second = press_join(&kim).await;
    assert_eq!(second.status, 422);
    second.assert_contains("daily limit");
    assert_eq!(acme_members(&app, ws), 2);
    assert_eq!(app.count_audit("domain.join"), 1);
}

async fn a_policy_set_by_a_demoted_admin_no_longer_grants_admin(app: TestApp) {
    let (ws, _olivia) = acme(&app).await;
    let ada = app.add_member(ws, "ada@acme.example", "Ada Admin", BuiltinRole::Admin);
    let admin_role = app.role_id(ws, BuiltinRole::Admin);
    let member_role = app.role_id(ws, BuiltinRole::Member);
    let ada_client = app.client();
    ada_client.sign_in("ada@acme.example", PASSWORD).await;
    let saved = set_policy(
        &ada_client,
        &app,
        "acme.test",
        &[("policy", "auto"), ("role", &admin_role.to_string())],
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    app.with_db(|conn| Role::replace_for_member(conn, ada, &[(member_role, true)]).unwrap());
    let jo = person(&app, "jo@acme.test", "Jo Acme", "Else").await;
    let refused = press_join(&jo).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    refused.assert_contains("can no longer offer its roles");
    assert_eq!(membership(&app, ws, "jo@acme.test"), None);
    assert_eq!(acme_members(&app, ws), 2, "Olivia and Ada only");
    assert_eq!(app.count_audit("domain.join"), 0);
}

async fn parallel_joins_never_exceed_the_seat_limit(app: TestApp) {
    let (ws, olivia) = acme(&app).await;
    let member = app.role_id(ws, BuiltinRole::Member).to_string();
    set_policy(
        &olivia,
        &app,
        "acme.test",
        &[("policy", "auto"), ("role", &member)],
    )
    .await;
    app.set_limits(ws, Some(3), 20);
    let mut people = Vec::new();
    for i in 0..6 {
        people.push(
            person(
                &app,
                &format!("p{i}@acme.test"),
                &format!("Person {i}"),
                &format!("Home {i}"),
            )
            .await,
        );
    }
    let mut tokens = Vec::new();
    for p in &people {
        tokens.push(p.get("/").await.csrf());
    }
    let posts = people
        .iter()
        .zip(&tokens)
        .map(|(p, t)| async move { p.post_raw("/w/acme/join", &[("csrf_token", t)]).await });
    let pages = futures_util::future::join_all(posts).await;
    let joined = pages.iter().filter(|p| p.status == 303).count();
    assert!(
        pages
            .iter()
            .all(|p| [303, 409, 422].contains(&p.status.as_u16())),
        "{:?}",
        pages.iter().map(|p| p.status).collect::<Vec<_>>()
    );
    assert_eq!(acme_members(&app, ws), 3, "the seat limit holds");
    assert_eq!(joined, 2, "exactly the two free seats were taken");
    assert_eq!(app.count_audit("domain.join"), 2);
}

async fn a_member_posting_join_is_told_so_and_nothing_changes(app: TestApp) {
    let (ws, olivia) = acme(&app).await;
    let member = app.role_id(ws, BuiltinRole::Member).to_string();
    set_policy(
        &olivia,
        &app,
        "acme.test",
        &[("policy", "auto"), ("role", &member)],
    )
    .await;
    app.add_member(ws, "mia@acme.test", "Mia Member", BuiltinRole::Member);
    let mia = app.client();
    mia.sign_in("mia@acme.test", PASSWORD).await;
    assert_eq!(
        mia.get("/").await.status,
        303,
        "a member has nothing to join"
    );
    let audit_before = app.count("audit_events");
    let requests_before = app.count("join_requests");
    let page = press_join(&mia).await;
    assert_eq!(page.status, 422);
    page.assert_contains("You are already a member of this workspace.");
    assert_eq!(app.count("audit_events"), audit_before);
    assert_eq!(app.count("join_requests"), requests_before);
    assert_eq!(acme_members(&app, ws), 2);
    // Not signed in: to the sign-in page, nothing else; an unknown workspace is a 404.
    let visitor = app.client();
    let token = visitor.get("/login").await.csrf();
    let out = visitor
        .post_raw("/w/acme/join", &[("csrf_token", &token)])
        .await;
    assert!([303, 403].contains(&out.status.as_u16()), "{}", out.status);
    let token = mia.get("/account").await.csrf();
    let unknown = mia
        .post_raw("/w/nowhere/join", &[("csrf_token", &token)])
        .await;
    assert_eq!(unknown.status, 404);
}
