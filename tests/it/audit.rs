//! The audit log screen (`/w/{ws}/audit`): entries with actor, target and before → after,
//! filters, keyset pages, the members' account events, the 403 for a Member, and the
//! streamed CSV export (also at 100,000 rows within a memory ceiling).

use diesel::prelude::*;
use gatehouse::db::schema::{audit_events, members};
use gatehouse::models::audit::{self, Actor, Event};
use gatehouse::permissions::BuiltinRole;
use serde_json::json;

use crate::support::{TestApp, PASSWORD};
use crate::tests;

tests![
    the_log_shows_changes_with_actor_target_and_before_after,
    filters_narrow_the_log,
    keyset_pages_neither_repeat_nor_skip,
    pages_across_both_parts_of_the_log_link_exactly_to_their_neighbours,
    a_date_range_finds_events_whose_ids_and_times_disagree_near_its_bounds,
    a_member_without_audit_view_is_refused,
    the_csv_has_a_header_and_every_filtered_row,
    a_csv_of_100k_rows_streams_within_a_memory_ceiling,
    representative_state_changing_posts_of_the_route_table_leave_an_audit_row,
];

fn account_of(app: &TestApp, member_id: i64) -> i64 {
    app.with_db(|conn| {
        members::table
            .find(member_id)
            .select(members::account_id)
            .first(conn)
            .unwrap()
    })
}

/// `n` events in the workspace, straight through the model, in transactions of 1000.
fn insert_events(app: &TestApp, workspace_id: i64, n: usize, action: &str, padding: usize) {
    let pad = "x".repeat(padding);
    let labels: Vec<String> = (0..n).map(|i| format!("target-{i}")).collect();
    for chunk in labels.chunks(1000) {
        app.with_db(|conn| {
            conn.transaction::<_, diesel::result::Error, _>(|conn| {
                let events: Vec<Event<'_>> = chunk
                    .iter()
                    .map(|label| {
                        Event::new(action)
                            .workspace(workspace_id)
                            .label(label)
                            .changes(json!({"before": {"note": pad}, "after": {"note": label}}))
                    })
                    .collect();
                audit::record_all(conn, &Actor::operator(), &events)
            })
            .unwrap()
        });
    }
}

async fn the_log_shows_changes_with_actor_target_and_before_after(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    app.add_member(
        ws.workspace_id,
        "mia@acme.example",
        "Mia Member",
        BuiltinRole::Member,
    );
    // Another workspace's member renames themselves: not in Acme's log.
    app.create_workspace("Other", "otto@other.example", "Otto Other");
    let mia = app.client();
    mia.sign_in("mia@acme.example", PASSWORD).await;
    let done = mia
        .submit("/account", "/account/name", &[("name", "Mia <Renamed>")])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let otto = app.client();
    otto.sign_in("otto@other.example", PASSWORD).await;
    otto.submit("/account", "/account/name", &[("name", "Otto Elsewhere")])
        .await;

    let owner = app.client();
    owner.sign_in("olivia@acme.example", PASSWORD).await;
    let page = owner.get("/w/acme/audit").await;
    assert_eq!(page.status, 200, "{}", page.body);
    // The nav offers the screen to an audit.view holder.
    page.assert_contains("href=\"/w/acme/audit\" aria-current=\"page\">Audit</a>");
    // The member's account-level rename shows, readable and escaped, with its actor and address.
    page.assert_contains("account.renamed");
    page.assert_contains("name: Mia Member → Mia &#60;Renamed&#62;");
    page.assert_contains("Mia &#60;Renamed&#62; &lt;mia@acme.example&gt;");
    page.assert_contains("from <span class=\"audit-ip\">127.0.0.1</span>");
    page.assert_contains("member.joined");
    // Not the raw JSON, and not another workspace's member.
    page.assert_lacks("{&quot;before&quot;");
    page.assert_lacks("Otto Elsewhere");
}

async fn filters_narrow_the_log(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    app.add_member(
        ws.workspace_id,
        "mia@acme.example",
        "Mia Member",
        BuiltinRole::Member,
    );
    let mia = app.client();
    mia.sign_in("mia@acme.example", PASSWORD).await;
    mia.submit("/account", "/account/name", &[("name", "Mia Renamed")])
        .await;
    insert_events(&app, ws.workspace_id, 3, "role.updated", 0);
    let owner = app.client();
    owner.sign_in("olivia@acme.example", PASSWORD).await;

    let all = owner.get("/w/acme/audit").await;
    all.assert_contains("account.renamed");
    all.assert_contains("role.updated");
    // The action select lists the actions that exist.
    all.assert_contains("<option value=\"role.updated\">role.updated</option>");

    let by_action = owner.get("/w/acme/audit?action=role.updated").await;
    assert_eq!(by_action.body.matches("class=\"audit-entry\"").count(), 3);
    by_action.assert_lacks("<code class=\"audit-action\">account.renamed");

    let by_actor = owner.get("/w/acme/audit?actor=MIA@ACME").await;
    by_actor.assert_contains("account.renamed");
    by_actor.assert_lacks("<code class=\"audit-action\">role.updated");

    let by_target = owner.get("/w/acme/audit?target=TARGET-1").await;
    assert_eq!(by_target.body.matches("class=\"audit-entry\"").count(), 1);

    let today = chrono::Utc::now().date_naive();
    let tomorrow = (today + chrono::TimeDelta::days(1)).to_string();
    let future = owner.get(&format!("/w/acme/audit?from={tomorrow}")).await;
    future.assert_contains("No entries match these filters.");
    let within = owner
        .get(&format!(
            "/w/acme/audit?from={today}&to={today}&action=role.updated"
        ))
        .await;
    assert_eq!(within.body.matches("class=\"audit-entry\"").count(), 3);

    let bad = owner.get("/w/acme/audit?from=yesterday").await;
    assert_eq!(bad.status, 422);
    bad.assert_contains("Enter a date like 2026-12-31.");
    assert_eq!(owner.get("/w/acme/audit?before=abc").await.status, 400);
}

fn ids_on(body: &str) -> Vec<i64> {
    body.match_indices("id=\"event-")
        .map(|(at, m)| {
            let rest = &body[at + m.len()..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        })
        .collect()
}

fn href(body: &str, label: &str) -> Option<String> {
    let end = body.find(&format!("\" rel=\"{label}\">"))?;
    let start = body[..end].rfind("href=\"")? + 6;
    Some(body[start..end].replace("&#38;", "&").replace("&amp;", "&"))
}

async fn keyset_pages_neither_repeat_nor_skip(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    insert_events(&app, ws.workspace_id, 250, "test.bulk", 0);
    let owner = app.client();
    owner.sign_in("olivia@acme.example", PASSWORD).await;
    let expected: Vec<i64> = app.with_db(|conn| {
        audit::batch(
            conn,
            ws.workspace_id,
            &audit::LogFilter {
                action: Some("test.bulk".into()),
                ..Default::default()
            },
            None,
            1000,
        )
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect()
    });
    assert_eq!(expected.len(), 250);

    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut url = "/w/acme/audit?action=test.bulk".to_string();
    loop {
        let page = owner.get(&url).await;
        assert_eq!(page.status, 200);
        seen.extend(ids_on(&page.body));
        pages.push(url.clone());
        match href(&page.body, "next") {
            Some(next) => url = next,
            None => break,
        }
    }
    assert_eq!(pages.len(), 5, "50 a page: {pages:?}");
    assert_eq!(seen, expected, "newest first, no repeats, no gaps");
    assert!(pages[1].contains("before=") && pages[1].contains("action=test%2Ebulk"));
    // Back with Newer from the last page gives the pages in reverse.
    let mut back = Vec::new();
    let mut page = owner.get(&url).await;
    while let Some(newer) = href(&page.body, "prev") {
        page = owner.get(&newer).await;
        let mut ids = ids_on(&page.body);
        ids.extend(back);
        back = ids;
    }
    assert_eq!(back, expected[..200].to_vec());
}

/// Pages whose events come from both parts (the workspace's and a member's account-level
/// events), with a filter that leaves a short last page: each page's Older and Newer links
/// are there exactly when events lie that way, walking down and back up.
async fn pages_across_both_parts_of_the_log_link_exactly_to_their_neighbours(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    app.add_member(
        ws.workspace_id,
        "mia@acme.example",
        "Mia Member",
        BuiltinRole::Member,
    );
    let mia = app.client();
    mia.sign_in("mia@acme.example", PASSWORD).await;
    for round in 0..4 {
        insert_events(&app, ws.workspace_id, 30, "test.mixed", 0);
        let name = format!("Mia Round {round}");
        mia.submit("/account", "/account/name", &[("name", name.as_str())])
            .await;
    }
    let owner = app.client();
    owner.sign_in("olivia@acme.example", PASSWORD).await;
    // Every event, and those whose target label holds "a" (the members' accounts' addresses
    // and target-… labels: not the workspace's own rows).
    for filter in ["", "&target=a"] {
        let expected: Vec<i64> = app.with_db(|conn| {
            audit::batch(
                conn,
                ws.workspace_id,
                &audit::LogFilter {
                    target: (!filter.is_empty()).then(|| "a".to_string()),
                    ..Default::default()
                },
                None,
                10_000,
            )
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect()
        });
        assert!(expected.len() > 100, "{}", expected.len());
        let mut url = format!("/w/acme/audit?{filter}");
        let mut seen = Vec::new();
        let mut last;
        loop {
            let page = owner.get(&url).await;
            assert_eq!(page.status, 200);
            assert!(
                !ids_on(&page.body).is_empty(),
                "a link to an empty page: {url}"
            );
            seen.extend(ids_on(&page.body));
            last = page;
            match href(&last.body, "next") {
                Some(next) => url = next,
                None => break,
            }
        }
        assert_eq!(seen, expected, "down, filter {filter:?}");
        let mut back = ids_on(&last.body);
        let mut page = last;
        while let Some(newer) = href(&page.body, "prev") {
            page = owner.get(&newer).await;
            let mut ids = ids_on(&page.body);
            assert!(!ids.is_empty(), "a link to an empty page: {newer}");
            ids.extend(back);
            back = ids;
        }
        assert_eq!(back, expected, "back up, filter {filter:?}");
    }
}

/// Sets the time of the newest event (or of every event so far, `all`).
fn date_events(app: &TestApp, label: Option<&str>, at: chrono::NaiveDateTime, all: bool) {
    app.with_db(|conn| {
        let newest: i64 = audit_events::table
            .select(diesel::dsl::max(audit_events::id))
            .first::<Option<i64>>(conn)
            .unwrap()
            .unwrap();
        let rows = match (label, all) {
            (_, true) => diesel::update(audit_events::table)
                .set(audit_events::created_at.eq(at))
                .execute(conn),
            (Some(label), false) => {
                diesel::update(audit_events::table.filter(audit_events::target_label.eq(label)))
                    .set(audit_events::created_at.eq(at))
                    .execute(conn)
            }
            (None, false) => diesel::update(audit_events::table.find(newest))
                .set(audit_events::created_at.eq(at))
                .execute(conn),
        };
        assert!(rows.unwrap() >= 1);
    });
}

fn event_id(app: &TestApp, label: &str) -> i64 {
    app.with_db(|conn| {
        audit_events::table
            .filter(audit_events::target_label.eq(label))
            .select(audit_events::id)
            .first(conn)
            .unwrap()
    })
}

/// The date filter narrows the log's id walk to the ids its range can hold, allowing an
/// hour of disorder between ids and times: events recorded a few seconds out of order just
/// inside either bound are still found, in both parts of the log, and none outside is.
async fn a_date_range_finds_events_whose_ids_and_times_disagree_near_its_bounds(app: TestApp) {
    let at = |day: u32, h: u32, m: u32, s: u32| {
        chrono::NaiveDate::from_ymd_opt(2026, 3, day)
            .unwrap()
            .and_hms_opt(h, m, s)
            .unwrap()
    };
    let feb28 = |h: u32, m: u32, s: u32| at(1, h, m, s) - chrono::TimeDelta::days(1);
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    app.add_member(
        ws.workspace_id,
        "mia@acme.example",
        "Mia Member",
        BuiltinRole::Member,
    );
    let mia = app.client();
    mia.sign_in("mia@acme.example", PASSWORD).await;
    // Everything so far happened well before the range.
    date_events(
        &app,
        None,
        at(1, 0, 0, 0) - chrono::TimeDelta::days(10),
        true,
    );
    // Mia's account-level events (recorded with no workspace): out just after the range,
    // then in just before its end.
    mia.submit("/account", "/account/name", &[("name", "Mia Late")])
        .await;
    date_events(&app, None, at(2, 0, 0, 2), false);
    mia.submit("/account", "/account/name", &[("name", "Mia Inside")])
        .await;
    date_events(&app, None, at(1, 23, 59, 58), false);
    // The workspace's events, in id order.
    insert_events(&app, ws.workspace_id, 7, "test.dated", 0);
    let times = [
        feb28(21, 0, 0),   // target-0: out
        at(1, 0, 0, 2),    // target-1: in
        feb28(23, 59, 58), // target-2: out, after an event that is in
        at(1, 0, 0, 0),    // target-3: in (the first instant of the range)
        at(2, 0, 0, 1),    // target-4: out
        at(1, 23, 59, 57), // target-5: in, after an event that is out
        at(2, 3, 0, 0),    // target-6: out
    ];
    for (i, time) in times.into_iter().enumerate() {
        date_events(&app, Some(&format!("target-{i}")), time, false);
    }
    let renamed = app.with_db(|conn| {
        audit_events::table
            .filter(audit_events::action.eq("account.renamed"))
            .filter(audit_events::created_at.eq(at(1, 23, 59, 58)))
            .select(audit_events::id)
            .first::<i64>(conn)
            .unwrap()
    });
    let expected = vec![
        event_id(&app, "target-5"),
        event_id(&app, "target-3"),
        event_id(&app, "target-1"),
        renamed,
    ];

    let owner = app.client();
    owner.sign_in("olivia@acme.example", PASSWORD).await;
    let page = owner
        .get("/w/acme/audit?from=2026-03-01&to=2026-03-01")
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(ids_on(&page.body), expected, "{}", page.body);
    page.assert_contains("name: Mia Late → Mia Inside");
    page.assert_lacks("name: Mia Member → Mia Late");
    // The export reads the same range.
    let csv = owner
        .get("/w/acme/audit?format=csv&from=2026-03-01&to=2026-03-01")
        .await;
    let ids: Vec<i64> = csv
        .body
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, expected);
    // A day's range on either side holds only the events outside.
    let before = owner
        .get("/w/acme/audit?from=2026-02-28&to=2026-02-28&action=test.dated")
        .await;
    assert_eq!(
        ids_on(&before.body),
        vec![event_id(&app, "target-2"), event_id(&app, "target-0")]
    );
    let after = owner
        .get("/w/acme/audit?from=2026-03-02&to=2026-03-02&action=test.dated")
        .await;
    assert_eq!(
        ids_on(&after.body),
        vec![event_id(&app, "target-6"), event_id(&app, "target-4")]
    );
}

async fn a_member_without_audit_view_is_refused(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    app.add_member(
        ws.workspace_id,
        "mia@acme.example",
        "Mia Member",
        BuiltinRole::Member,
    );
    let mia = app.client();
    mia.sign_in("mia@acme.example", PASSWORD).await;
    assert_eq!(mia.get("/w/acme/audit").await.status, 403);
    assert_eq!(mia.get("/w/acme/audit?format=csv").await.status, 403);
    mia.get("/w/acme/users").await.assert_lacks(">Audit</a>");
    let admin = app.add_member(
        ws.workspace_id,
        "ada@acme.example",
        "Ada Admin",
        BuiltinRole::Admin,
    );
    assert!(account_of(&app, admin) > 0);
    let ada = app.client();
    ada.sign_in("ada@acme.example", PASSWORD).await;
    assert_eq!(ada.get("/w/acme/audit").await.status, 200);
}

async fn the_csv_has_a_header_and_every_filtered_row(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    insert_events(&app, ws.workspace_id, 2345, "test.bulk", 0);
    let owner = app.client();
    owner.sign_in("olivia@acme.example", PASSWORD).await;
    let response = owner
        .http
        .get(owner.url("/w/acme/audit?format=csv&action=test.bulk"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(disposition, "attachment; filename=\"audit-acme.csv\"");
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let body = response.text().await.unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        lines[0],
        "id,time,actor,actor_email,client_ip,action,target_type,target_id,target,changes,changes_json"
    );
    assert_eq!(
        lines.len(),
        1 + 2345,
        "header and every row, across batches"
    );
    assert!(lines[1..].iter().all(|l| l.contains(",test.bulk,")));
    assert!(body.contains("note: — → target-0") || body.contains("note:  → target-0"));
    let ids: std::collections::HashSet<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(ids.len(), 2345, "no row twice");
    // The filter applies: another action is not there.
    assert!(!body.contains("member.joined"));
}

fn status_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

async fn a_csv_of_100k_rows_streams_within_a_memory_ceiling(app: TestApp) {
    const ROWS: usize = 100_000;
    // Generous for what other tests running beside this one allocate (argon2 hashes take
    // ~19 MiB each), far below the ~400 MiB a buffered body would take.
    const CEILING_KIB: u64 = 160 * 1024;
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    // Each row carries ~2 KiB twice (readable and JSON): the whole file is ~400 MiB, so a
    // server that buffered it (or loaded every event) would pass the ceiling several times.
    insert_events(&app, ws.workspace_id, ROWS, "test.bulk", 2000);
    let owner = app.client();
    owner.sign_in("olivia@acme.example", PASSWORD).await;
    // The server runs in this process: sample its anonymous memory (heap; not SQLite's
    // memory-mapped file pages, which VmRSS counts) while the file streams.
    let baseline = status_kib("RssAnon:");
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(status_kib("RssAnon:"));
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            peak
        })
    };
    let mut response = owner
        .http
        .get(owner.url("/w/acme/audit?format=csv&action=test.bulk"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().get("content-length").is_none(),
        "streamed, not sized"
    );
    let (mut bytes, mut newlines, mut chunks) = (0usize, 0usize, 0usize);
    while let Some(chunk) = response.chunk().await.unwrap() {
        bytes += chunk.len();
        newlines += chunk.iter().filter(|b| **b == b'\n').count();
        chunks += 1;
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.join().unwrap();
    assert_eq!(newlines, ROWS + 1, "header and every row");
    assert!(bytes > 350 * 1024 * 1024, "the file is big: {bytes} bytes");
    assert!(chunks > 50, "arrived in many chunks: {chunks}");
    assert!(
        peak.saturating_sub(baseline) < CEILING_KIB,
        "memory grew by {} KiB while streaming {bytes} bytes",
        peak.saturating_sub(baseline)
    );
}

/// A representative, table-driven slice of the route-table walk (not every POST): each
/// state-changing POST, done successfully, adds at least one audit row that the log shows.
/// (who: 'o' the Owner, 'm' the Member; `{id}` is the Member's member id.)
/// (who, POST pattern, form fields, the action recorded)
type StateChange = (
    char,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

const STATE_CHANGES: &[StateChange] = &[
    (
        'o',
        "/w/{ws}/users/{id}/department",
        &[("department", "Sales")],
        "member.department_changed",
    ),
    (
        'm',
        "/account/name",
        &[("name", "Mia Selfnamed")],
        "account.renamed",
    ),
    (
        'm',
        "/w/{ws}/requests/new",
        &[
            ("permission", "billing.manage"),
            ("scope", "all"),
            ("reason", "For the invoices"),
        ],
        "permission_request.created",
    ),
    (
        'o',
        "/w/{ws}/users/{id}/archive",
        &[("confirm", "yes")],
        "member.archived",
    ),
];

async fn representative_state_changing_posts_of_the_route_table_leave_an_audit_row(app: TestApp) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let mia = app.add_member(
        ws.workspace_id,
        "mia@acme.example",
        "Mia Member",
        BuiltinRole::Member,
    );
    let (owner, member) = (app.client(), app.client());
    owner.sign_in("olivia@acme.example", PASSWORD).await;
    member.sign_in("mia@acme.example", PASSWORD).await;
    for (who, pattern, fields, action) in STATE_CHANGES {
        assert!(
            gatehouse::web::ROUTES.contains(&("POST", pattern)),
            "{pattern} is a POST of the route table"
        );
        let path = pattern
            .replace("{ws}", "acme")
            .replace("{id}", &mia.to_string());
        let client = if *who == 'o' { &owner } else { &member };
        let before = app.count("audit_events");
        let page_for_token = if path.starts_with("/account") {
            "/account".to_string()
        } else {
            "/w/acme/requests/new".to_string()
        };
        let done = client.submit(&page_for_token, &path, fields).await;
        assert_eq!(done.status, 303, "POST {path}: {}", done.body);
        assert!(
            app.count("audit_events") > before,
            "POST {path} left no audit row"
        );
        let log = owner.get("/w/acme/audit").await;
        log.assert_contains(&format!("<code class=\"audit-action\">{action}"));
    }
}
