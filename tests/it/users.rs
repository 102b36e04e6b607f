//! The Users screen and member detail: search, filters, pagination, scoping, escaping.

use gatehouse::permissions::BuiltinRole;

use crate::support::{TestApp, PASSWORD};
use crate::tests;

tests![
    the_users_screen_pages_through_members_fifty_at_a_time,
    search_finds_members_by_name_or_any_address,
    filters_by_status_role_seat_and_department_return_the_right_rows,
    a_search_query_with_markup_is_escaped,
    unknown_and_foreign_ids_and_workspaces_are_not_found,
    member_detail_shows_roles_addresses_and_effective_permissions_with_sources,
    a_manager_sees_exactly_their_transitive_reports,
    a_member_sees_everyone_but_the_nav_offers_only_what_they_may_open,
    a_search_spanning_pages_counts_every_match_and_clamps_past_the_end,
    a_search_orders_like_the_list_and_follows_each_workspace_s_members,
    the_users_list_runs_a_fixed_set_of_statements_that_stay_prepared,
];

/// An owner plus 120 seeded members (see `gatehouse::seed` for the deterministic pattern).
fn seeded(app: &TestApp) -> String {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Zelda Owner");
    app.with_db(|conn| gatehouse::seed::seed_members(conn, &ws.slug, 120))
        .expect("seed");
    ws.slug
}

async fn the_users_screen_pages_through_members_fifty_at_a_time(app: TestApp) {
    let slug = seeded(&app);
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    // 121 members, 3 of them not active (two archived, one removed): 118 active.
    let first = client.get(&format!("/w/{slug}/users")).await;
    assert_eq!(first.status, 200);
    first.assert_contains("118 members · page 1 of 3");
    // The one seat label (`Seats::label`): members + pending invitations, as on Invites.
    first.assert_contains("118 seats used (unlimited): 118 members, 0 pending invitations");
    assert_eq!(first.member_rows(), 50);
    first.assert_contains("href=\"/w/acme/users?page=2\" rel=\"next\"");
    let third = client.get(&format!("/w/{slug}/users?page=3")).await;
    assert_eq!(third.member_rows(), 18);
    third.assert_contains("Zelda Owner"); // sorted by name: last
    let beyond = client.get(&format!("/w/{slug}/users?page=99")).await;
    beyond.assert_contains("page 3 of 3");
    // Names come sorted: the first row of page 1 is alphabetically first.
    let names: Vec<&str> = first
        .body
        .split("class=\"member-name\">")
        .skip(1)
        .map(|s| s.split('<').next().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, sorted);
    let joined = client.get(&format!("/w/{slug}/users?sort=joined")).await;
    let newest = joined
        .body
        .split("class=\"member-name\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    assert_eq!(newest, "Ana Silva", "seed member 0 joined last");
}

async fn search_finds_members_by_name_or_any_address(app: TestApp) {
    let slug = seeded(&app);
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    // Seed members 5, 53 and 101 are called Farah.
    let by_name = client.get(&format!("/w/{slug}/users?q=FARAH")).await;
    by_name.assert_contains("3 members");
    assert_eq!(by_name.member_rows(), 3);
    // Member 5's address is farah.silva5@initech.example; the substring is unique.
    let by_address = client.get(&format!("/w/{slug}/users?q=silva5%40")).await;
    by_address.assert_contains("1 member");
    by_address.assert_contains("farah.silva5@initech.example");
    // Short queries still search (without the trigram index).
    let short = client.get(&format!("/w/{slug}/users?q=ah")).await;
    short.assert_contains("Farah Silva");
    let none = client
        .get(&format!("/w/{slug}/users?q=nobody-has-this"))
        .await;
    none.assert_contains("No members match these filters.");
    // Search combines with filters and keeps them in page links.
    let combined = client
        .get(&format!("/w/{slug}/users?q=silva&status=all"))
        .await;
    assert!(combined.member_rows() >= 3);
    combined.assert_contains("value=\"silva\"");
}

async fn filters_by_status_role_seat_and_department_return_the_right_rows(app: TestApp) {
    let slug = seeded(&app);
    let ws = app.workspace(&slug);
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    let count = |page: &crate::support::Page| page.member_rows();
    let archived = client
        .get(&format!("/w/{slug}/users?status=archived"))
        .await;
    assert_eq!(count(&archived), 2);
    archived.assert_contains("Archived");
    let removed = client.get(&format!("/w/{slug}/users?status=removed")).await;
    assert_eq!(count(&removed), 1);
    let all = client.get(&format!("/w/{slug}/users?status=all")).await;
    all.assert_contains("121 members");
    // Engineering: seed members 0, 12, …, 108.
    let engineering = client
        .get(&format!("/w/{slug}/users?department=Engineering"))
        .await;
    assert_eq!(count(&engineering), 10);
    engineering.assert_contains("<option value=\"Engineering\" selected>");
    // Builders: every seventh seed member (one of them archived) plus the Owner.
    let builders = client.get(&format!("/w/{slug}/users?seat=builder")).await;
    assert_eq!(count(&builders), 18);
    // Viewers: members 23, 33, …, 113.
    let viewer = app.role_id(ws.id, BuiltinRole::Viewer);
    let viewers = client.get(&format!("/w/{slug}/users?role={viewer}")).await;
    assert_eq!(count(&viewers), 10);
    let owners = client
        .get(&format!(
            "/w/{slug}/users?role={}",
            app.role_id(ws.id, BuiltinRole::Owner)
        ))
        .await;
    assert_eq!(count(&owners), 1);
    owners.assert_contains("Zelda Owner");
    // Nonsense filter values fall back to defaults instead of failing.
    let odd = client
        .get(&format!(
            "/w/{slug}/users?status=weird&seat=x&role=y&page=-4&sort=z"
        ))
        .await;
    assert_eq!(odd.status, 200);
    odd.assert_contains("118 members");
}

async fn a_search_query_with_markup_is_escaped(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    app.add_member(
        ws.workspace_id,
        "mallory@acme.example",
        "<script>alert(1)</script> Mallory",
        BuiltinRole::Member,
    );
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    let page = client
        .get(&format!(
            "/w/{}/users?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            ws.slug
        ))
        .await;
    assert_eq!(page.status, 200);
    page.assert_lacks("<script>");
    page.assert_contains("&#60;script&#62;alert(1)&#60;/script&#62; Mallory");
    page.assert_contains("1 member");
}

async fn unknown_and_foreign_ids_and_workspaces_are_not_found(app: TestApp) {
    let acme = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let globex = app.create_workspace("Globex", "gary@globex.example", "Gary Globex");
    let globex_member = app.add_member(
        globex.workspace_id,
        "gina@globex.example",
        "Gina",
        BuiltinRole::Member,
    );
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    let own = client
        .get(&format!("/w/acme/users/{}", acme.member_id))
        .await;
    assert_eq!(own.status, 200);
    for path in [
        "/w/acme/users/999999".to_string(),
        "/w/acme/users/not-a-number".to_string(),
        format!("/w/acme/users/{globex_member}"),
        format!("/w/acme/users/{}", globex.member_id),
        "/w/no-such-workspace/users".to_string(),
        "/w/globex/users".to_string(),
        format!("/w/globex/users/{globex_member}"),
    ] {
        let page = client.get(&path).await;
        assert_eq!(page.status, 404, "{path}");
        page.assert_contains("Not found");
    }
}

async fn member_detail_shows_roles_addresses_and_effective_permissions_with_sources(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let manager = app.add_member_with(
        ws.workspace_id,
        "max@acme.example",
        "Max Manager",
        BuiltinRole::Manager,
        None,
        Some("Sales"),
    );
    let report = app.add_member_with(
        ws.workspace_id,
        "rita@acme.example",
        "Rita Report",
        BuiltinRole::Member,
        Some(manager),
        Some("Sales"),
    );
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    let page = client.get(&format!("/w/acme/users/{report}")).await;
    assert_eq!(page.status, 200);
    page.assert_contains("Rita Report");
    page.assert_contains("rita@acme.example");
    page.assert_contains(&format!(
        "<a href=\"/w/acme/users/{manager}\">Max Manager</a>"
    ));
    page.assert_contains("Sales");
    page.assert_contains("<code>records.edit</code>");
    page.assert_lacks("<code>records.delete</code>");
    let max = client.get(&format!("/w/acme/users/{manager}")).await;
    max.assert_contains("<dt>Direct reports</dt>\n    <dd>1</dd>");
    assert!(max.body.contains("<code>members.edit</code>"));
}

async fn a_manager_sees_exactly_their_transitive_reports(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let id = ws.workspace_id;
    let boss = app.add_member_with(
        id,
        "boss@acme.example",
        "Bea Boss",
        BuiltinRole::Manager,
        None,
        None,
    );
    let lead = app.add_member_with(
        id,
        "lead@acme.example",
        "Leo Lead",
        BuiltinRole::Member,
        Some(boss),
        None,
    );
    let dev = app.add_member_with(
        id,
        "dev@acme.example",
        "Dora Dev",
        BuiltinRole::Member,
        Some(lead),
        None,
    );
    let intern = app.add_member_with(
        id,
        "intern@acme.example",
        "Ivo Intern",
        BuiltinRole::Member,
        Some(dev),
        None,
    );
    let outsider = app.add_member(id, "out@acme.example", "Otto Outside", BuiltinRole::Member);
    let client = app.client();
    client.sign_in("boss@acme.example", PASSWORD).await;
    let page = client.get("/w/acme/users").await;
    assert_eq!(page.status, 200);
    page.assert_contains("4 members");
    for name in ["Bea Boss", "Leo Lead", "Dora Dev", "Ivo Intern"] {
        page.assert_contains(name);
    }
    page.assert_lacks("Otto Outside");
    page.assert_lacks("Olivia Owner");
    assert_eq!(
        client.get(&format!("/w/acme/users/{intern}")).await.status,
        200,
        "three levels down"
    );
    assert_eq!(
        client
            .get(&format!("/w/acme/users/{outsider}"))
            .await
            .status,
        404
    );
    assert_eq!(
        client
            .get(&format!("/w/acme/users/{}", ws.member_id))
            .await
            .status,
        404
    );
    let search = client.get("/w/acme/users?q=otto").await;
    search.assert_contains("No members match");
    // Within the team, a search finds (by name and by address) as it does for the Owner.
    let team_search = client.get("/w/acme/users?q=dora").await;
    team_search.assert_contains("1 member");
    team_search.assert_contains("Dora Dev");
    let by_address = client.get("/w/acme/users?q=intern@acme").await;
    by_address.assert_contains("1 member");
    by_address.assert_contains("Ivo Intern");
}

async fn a_member_sees_everyone_but_the_nav_offers_only_what_they_may_open(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    app.add_member(
        ws.workspace_id,
        "mia@acme.example",
        "Mia Member",
        BuiltinRole::Member,
    );
    app.add_member(
        ws.workspace_id,
        "vic@acme.example",
        "Vic Viewer",
        BuiltinRole::Viewer,
    );
    for email in ["mia@acme.example", "vic@acme.example"] {
        let client = app.client();
        client.sign_in(email, PASSWORD).await;
        let page = client.get("/w/acme/users").await;
        assert_eq!(page.status, 200, "{email}");
        page.assert_contains("3 members");
        page.assert_contains("Olivia Owner");
        page.assert_contains(">Users</a>");
    }
}

async fn a_search_spanning_pages_counts_every_match_and_clamps_past_the_end(app: TestApp) {
    let slug = seeded(&app);
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    // Every active member's address ends in .example: 118 matches over 3 pages.
    let second = client
        .get(&format!("/w/{slug}/users?q=example&page=2"))
        .await;
    second.assert_contains("118 members · page 2 of 3");
    assert_eq!(second.member_rows(), 50);
    let beyond = client
        .get(&format!("/w/{slug}/users?q=example&page=99"))
        .await;
    beyond.assert_contains("118 members · page 3 of 3");
    assert_eq!(beyond.member_rows(), 18);
    // Newest first within a search, too.
    let joined = client
        .get(&format!("/w/{slug}/users?q=example&sort=joined"))
        .await;
    joined.assert_contains("118 members · page 1 of 3");
    let newest = joined.body.split("class=\"member-name\">").nth(1).unwrap();
    assert!(
        newest.starts_with("Ana Silva<"),
        "seed member 0 joined last"
    );
    let none = client
        .get(&format!("/w/{slug}/users?q=nobody-has-this&page=2"))
        .await;
    none.assert_contains("0 members");
    none.assert_contains("No members match these filters.");
}

/// The names shown on a Users page, in order.
fn shown_names(page: &crate::support::Page) -> Vec<String> {
    page.body
        .split("class=\"member-name\">")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_string())
        .collect()
}

/// A search sorts its matches itself on SQLite (the trigram index hands them over
/// unsorted): every page must show what the unsearched list shows when every member
/// matches. The index is kept per member: an account that joins a second workspace is
/// found there, and never in a workspace it is not a member of.
async fn a_search_orders_like_the_list_and_follows_each_workspace_s_members(app: TestApp) {
    let slug = seeded(&app);
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    for sort in ["", "&sort=joined"] {
        for page in 1..=3 {
            let listed = client
                .get(&format!("/w/{slug}/users?page={page}{sort}"))
                .await;
            let searched = client
                .get(&format!("/w/{slug}/users?q=example&page={page}{sort}"))
                .await;
            searched.assert_contains(&format!("118 members · page {page} of 3"));
            assert_eq!(
                shown_names(&searched),
                shown_names(&listed),
                "page {page}{sort}"
            );
        }
    }
    let beta = app.create_workspace("Beta", "bea@beta.example", "Bea Owner");
    // Olivia's account (already in Acme) joins Beta; Bea never joins Acme.
    app.add_member(
        beta.workspace_id,
        "olivia@acme.example",
        "Zelda Owner",
        BuiltinRole::Member,
    );
    let in_beta = client
        .get(&format!("/w/{}/users?q=olivia@acme", beta.slug))
        .await;
    in_beta.assert_contains("1 member");
    in_beta.assert_contains("Zelda Owner");
    let in_acme = client.get(&format!("/w/{slug}/users?q=olivia@acme")).await;
    in_acme.assert_contains("1 member");
    let bea = client.get(&format!("/w/{slug}/users?q=bea@beta")).await;
    bea.assert_contains("No members match these filters.");
}

/// Statements that `directory::list` and `access::load` run: every one of them is kept
/// prepared (a raw-SQL shape that diesel would not cache is prepared on every request),
/// none binds a bare SQLite LIMIT/OFFSET (re-prepared on every execution), and how
/// many there are does not depend on the rows shown (no query per row).
async fn the_users_list_runs_a_fixed_set_of_statements_that_stay_prepared(app: TestApp) {
    use diesel::connection::{Connection, InstrumentationEvent};
    use gatehouse::services::{access, members::directory};
    use std::sync::{Arc, Mutex};

    let ws = app.create_workspace("Acme", "olivia@acme.example", "Zelda Owner");
    app.with_db(|conn| gatehouse::seed::seed_members(conn, &ws.slug, 120))
        .expect("seed");
    app.with_db(|conn| {
        let started: Arc<Mutex<Vec<String>>> = Arc::default();
        let cached: Arc<Mutex<Vec<String>>> = Arc::default();
        let (s, c) = (started.clone(), cached.clone());
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                let text = query.to_string();
                let sql = text.split(" -- binds:").next().unwrap_or_default();
                s.lock().unwrap().push(sql.to_string());
            }
            InstrumentationEvent::CacheQuery { sql, .. } => c.lock().unwrap().push(sql.to_string()),
            _ => {}
        });
        let filters = [
            directory::MemberFilter {
                page: 1,
                ..Default::default()
            },
            directory::MemberFilter {
                status: Some(gatehouse::models::member::MemberStatus::Active),
                page: 1,
                ..Default::default()
            },
            directory::MemberFilter {
                status: Some(gatehouse::models::member::MemberStatus::Active),
                page: 3,
                ..Default::default()
            },
            directory::MemberFilter {
                q: Some("example".into()),
                status: Some(gatehouse::models::member::MemberStatus::Active),
                page: 2,
                ..Default::default()
            },
            // `status=all`: members, then pending invitations (their statement too).
            directory::MemberFilter {
                q: Some("example".into()),
                invitees: directory::InviteeListing::Included,
                page: 1,
                ..Default::default()
            },
        ];
        let mut run = || {
            let mut counts = Vec::new();
            started.lock().unwrap().clear();
            for filter in &filters {
                let before = started.lock().unwrap().len();
                let access::Loaded::Member(access) =
                    access::load(conn, ws.account_id, &ws.slug).unwrap()
                else {
                    panic!("the owner is a member");
                };
                let page = directory::list(conn, &access, filter).unwrap();
                assert!(!page.rows.is_empty());
                counts.push(started.lock().unwrap().len() - before);
            }
            counts
        };
        let first = run();
        let statements_before = cached.lock().unwrap().len();
        let second = run();
        assert_eq!(first, second);
        // Page 1 (50 rows) and page 3 (18 rows) of the same list: the same statements.
        assert_eq!(first[1], first[2], "statements per page: {first:?}");
        assert_eq!(
            cached.lock().unwrap().len(),
            statements_before,
            "the second round prepared statements again: {:?}",
            &cached.lock().unwrap()[statements_before..]
        );
        let cached = cached.lock().unwrap();
        for sql in started.lock().unwrap().iter() {
            assert!(cached.contains(sql), "not kept prepared: {sql}");
            // SQLite's placeholders; PostgreSQL's `$n` do not cause a re-prepare.
            for bare in [" LIMIT ?", " OFFSET ?"] {
                assert!(!sql.contains(bare), "bare LIMIT/OFFSET bind: {sql}");
            }
        }
        conn.set_instrumentation(|_: InstrumentationEvent<'_>| {});
    });
}
