//! Membership as of a date (`/w/{ws}/users?as_of=`) and the membership diff
//! (`/w/{ws}/audit/diff`): a history made over HTTP, its audit rows moved to chosen past
//! days (the only way to make days pass), then each view compared with the list worked
//! out by hand.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use gatehouse::permissions::BuiltinRole;
use scraper::{Html, Selector};

use crate::invites::{accept_new, invite, owner, workspace, Ws};
use crate::support::{Client, TestApp, PASSWORD};
use crate::tests;

tests![
    the_list_as_of_each_day_matches_the_history_worked_out_by_hand,
    the_diff_between_two_days_matches_the_history_worked_out_by_hand,
    without_audit_view_both_views_are_forbidden,
    bad_and_future_dates_are_refused_beside_the_field_and_change_nothing,
    a_long_list_as_of_a_date_comes_in_pages,
    a_long_history_replays_from_checkpoints_to_the_lists_worked_out_by_hand,
];

/// The first invite link mailed to `to` beyond the first `seen` ones.
async fn nth_invite_link(app: &TestApp, to: &str, nth: usize) -> String {
    for _ in 0..150 {
        let links: Vec<String> = app
            .mail
            .received()
            .into_iter()
            .filter(|m| m.to == to && m.text.contains("/invite/"))
            .map(|m| m.invite_path())
            .collect();
        if links.len() >= nth {
            return links[nth - 1].clone();
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no invite number {nth} to {to}: {:?}", app.mail.received());
}

fn member_id(app: &TestApp, ws: &Ws, email: &str) -> i64 {
    use gatehouse::db::schema::{email_addresses, members};
    app.with_db(|conn| {
        members::table
            .inner_join(
                email_addresses::table.on(email_addresses::account_id.eq(members::account_id)),
            )
            .filter(members::workspace_id.eq(ws.id))
            .filter(email_addresses::canonical.eq(email))
            .select(members::id)
            .first(conn)
            .unwrap()
    })
}

fn max_event_id(app: &TestApp) -> i64 {
    use gatehouse::db::schema::audit_events;
    app.with_db(|conn| {
        audit_events::table
            .select(diesel::dsl::max(audit_events::id))
            .first::<Option<i64>>(conn)
            .unwrap()
            .unwrap_or(0)
    })
}

/// Moves every audit row newer than `after` to noon of `day` (in id order, a second
/// apart, so the order they were recorded in stays); returns the newest id.
fn happened_on(app: &TestApp, after: i64, day: &str) -> i64 {
    use gatehouse::db::schema::audit_events;
    let noon: NaiveDateTime = NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap();
    app.with_db(|conn| {
        let ids: Vec<i64> = audit_events::table
            .filter(audit_events::id.gt(after))
            .order(audit_events::id)
            .select(audit_events::id)
            .load(conn)
            .unwrap();
        for (i, id) in ids.iter().enumerate() {
            diesel::update(audit_events::table.find(id))
                .set(audit_events::created_at.eq(noon + chrono::TimeDelta::seconds(i as i64)))
                .execute(conn)
                .unwrap();
        }
    });
    max_event_id(app)
}

async fn invite_and_accept(
    app: &TestApp,
    olivia: &Client,
    ws: &Ws,
    email: &str,
    name: &str,
    role: BuiltinRole,
) {
    let done = invite(olivia, ws, email, &[app.role_id(ws.id, role)], "member").await;
    assert_eq!(done.status, 303, "{}", done.body);
    let path = nth_invite_link(app, email, 1).await;
    let (_, accepted) = accept_new(app, &path, name).await;
    assert_eq!(accepted.status, 303, "{}", accepted.body);
}

/// The history, one day at a time (all made over HTTP):
/// - 1 Nov: Olivia creates Acme (Owner); Ana and Ben join as Members.
/// - 2 Nov: Ana becomes Admin (primary) and Member; Ben is archived.
/// - 3 Nov: Ben is restored; Cara joins as Viewer.
/// - 4 Nov: Ana is removed; Cara leaves.
/// - 5 Nov: Ana is invited again, as Viewer, and accepts.
async fn history(app: &TestApp) -> (Ws, Client) {
    let ws = workspace(app);
    let olivia = owner(app).await;
    invite_and_accept(
        app,
        &olivia,
        &ws,
        "ana@example.com",
        "Ana Archer",
        BuiltinRole::Member,
    )
    .await;
    invite_and_accept(
        app,
        &olivia,
        &ws,
        "ben@example.com",
        "Ben Baker",
        BuiltinRole::Member,
    )
    .await;
    let mark = happened_on(app, 0, "2026-11-01");

    let (ana, ben) = (
        member_id(app, &ws, "ana@example.com"),
        member_id(app, &ws, "ben@example.com"),
    );
    let (admin, member) = (
        app.role_id(ws.id, BuiltinRole::Admin).to_string(),
        app.role_id(ws.id, BuiltinRole::Member).to_string(),
    );
    let ana_page = format!("/w/acme/users/{ana}");
    let changed = olivia
        .submit(
            &ana_page,
            &format!("{ana_page}/roles"),
            &[
                ("role", &member),
                ("role", &admin),
                ("primary_role", &admin),
            ],
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    let ben_page = format!("/w/acme/users/{ben}");
    let archived = olivia
        .submit(
            &ben_page,
            &format!("{ben_page}/archive"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(archived.status, 303, "{}", archived.body);
    let mark = happened_on(app, mark, "2026-11-02");

    let restored = olivia
        .submit(&ben_page, &format!("{ben_page}/restore"), &[])
        .await;
    assert_eq!(restored.status, 303, "{}", restored.body);
    invite_and_accept(
        app,
        &olivia,
        &ws,
        "cara@example.com",
        "Cara Cole",
        BuiltinRole::Viewer,
    )
    .await;
    let mark = happened_on(app, mark, "2026-11-03");

    let removed = olivia
        .submit(
            &ana_page,
            &format!("{ana_page}/remove"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    let cara = app.client();
    assert_eq!(cara.sign_in("cara@example.com", PASSWORD).await.status, 303);
    let left = cara
        .submit("/account", "/w/acme/leave", &[("confirm", "yes")])
        .await;
    assert_eq!(left.status, 303, "{}", left.body);
    let mark = happened_on(app, mark, "2026-11-04");

    let viewer = app.role_id(ws.id, BuiltinRole::Viewer);
    assert_eq!(
        invite(&olivia, &ws, "ana@example.com", &[viewer], "member")
            .await
            .status,
        303
    );
    let path = nth_invite_link(app, "ana@example.com", 2).await;
    let ana_again = app.client();
    assert_eq!(
        ana_again.sign_in("ana@example.com", PASSWORD).await.status,
        303
    );
    let rejoined = ana_again.submit(&path, &path, &[]).await;
    assert_eq!(rejoined.status, 303, "{}", rejoined.body);
    happened_on(app, mark, "2026-11-05");
    (ws, olivia)
}

fn text(el: scraper::ElementRef<'_>) -> String {
    el.text().collect::<String>().trim().to_string()
}

/// The historical list's rows: "Name: Role, Role (Status)".
async fn as_of(client: &Client, day: &str) -> Vec<String> {
    let page = client.get(&format!("/w/acme/users?as_of={day}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_contains("end of day (UTC), from the audit log");
    page.assert_contains("href=\"/w/acme/users\"");
    let html = Html::parse_document(&page.body);
    let row = Selector::parse("table.members-as-of tbody tr").unwrap();
    let (name, badge, status) = (
        Selector::parse(".member-name").unwrap(),
        Selector::parse(".badge").unwrap(),
        Selector::parse(".status").unwrap(),
    );
    html.select(&row)
        .map(|tr| {
            let roles: Vec<String> = tr.select(&badge).map(text).collect();
            format!(
                "{}: {} ({})",
                text(tr.select(&name).next().unwrap()),
                roles.join(", "),
                text(tr.select(&status).next().unwrap())
            )
        })
        .collect()
}

async fn the_list_as_of_each_day_matches_the_history_worked_out_by_hand(app: TestApp) {
    let (_, olivia) = history(&app).await;
    assert!(as_of(&olivia, "2026-10-31").await.is_empty());
    assert_eq!(
        as_of(&olivia, "2026-11-01").await,
        [
            "Ana Archer: Member (Active)",
            "Ben Baker: Member (Active)",
            "Olivia Owner: Owner (Active)"
        ]
    );
    assert_eq!(
        as_of(&olivia, "2026-11-02").await,
        [
            "Ana Archer: Admin, Member (Active)",
            "Ben Baker: Member (Archived)",
            "Olivia Owner: Owner (Active)"
        ]
    );
    assert_eq!(
        as_of(&olivia, "2026-11-03").await,
        [
            "Ana Archer: Admin, Member (Active)",
            "Ben Baker: Member (Active)",
            "Cara Cole: Viewer (Active)",
            "Olivia Owner: Owner (Active)"
        ]
    );
    assert_eq!(
        as_of(&olivia, "2026-11-04").await,
        ["Ben Baker: Member (Active)", "Olivia Owner: Owner (Active)"]
    );
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    for day in ["2026-11-05", today.as_str()] {
        assert_eq!(
            as_of(&olivia, day).await,
            [
                "Ana Archer: Viewer (Active)",
                "Ben Baker: Member (Active)",
                "Olivia Owner: Owner (Active)"
            ]
        );
    }
    let page = olivia.get("/w/acme/users?as_of=2026-11-02").await;
    page.assert_contains("Members as of 2 November 2026, end of day (UTC), from the audit log.");
    page.assert_contains("<label for=\"as_of\"");
    page.assert_lacks("/archive\"");
    page.assert_lacks("Invite people");
}

/// The diff's sections: "Name: how; before → after" per section id.
async fn diff(client: &Client, from: &str, to: &str) -> [Vec<String>; 3] {
    let page = client
        .get(&format!("/w/acme/audit/diff?from={from}&to={to}"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let html = Html::parse_document(&page.body);
    let cell = Selector::parse("td").unwrap();
    let name = Selector::parse(".member-name").unwrap();
    ["joined", "left", "changed"].map(|section| {
        let rows = Selector::parse(&format!("table.diff-{section} tbody tr")).unwrap();
        html.select(&rows)
            .map(|tr| {
                let cells: Vec<String> = tr.select(&cell).map(text).collect();
                format!(
                    "{}: {}; {} → {}",
                    text(tr.select(&name).next().unwrap()),
                    cells[1],
                    cells[2],
                    cells[3]
                )
            })
            .collect()
    })
}

async fn the_diff_between_two_days_matches_the_history_worked_out_by_hand(app: TestApp) {
    let (_, olivia) = history(&app).await;
    let log = olivia.get("/w/acme/audit").await;
    log.assert_contains("href=\"/w/acme/audit/diff\"");
    let form = olivia.get("/w/acme/audit/diff").await;
    assert_eq!(form.status, 200);
    form.assert_contains("<label for=\"from\"");
    form.assert_contains("<label for=\"to\"");

    let none: Vec<String> = Vec::new();
    assert_eq!(
        diff(&olivia, "2026-10-31", "2026-11-01").await,
        [
            vec![
                "Ana Archer: joined; — → Member".to_string(),
                "Ben Baker: joined; — → Member".into(),
                "Olivia Owner: joined; — → Owner".into(),
            ],
            none.clone(),
            none.clone(),
        ]
    );
    assert_eq!(
        diff(&olivia, "2026-11-01", "2026-11-02").await,
        [
            none.clone(),
            vec!["Ben Baker: archived; Member → Member".to_string()],
            vec!["Ana Archer: roles changed; Member → Admin, Member".to_string()],
        ]
    );
    // Ben was archived and restored inside the span: no change. Cara came.
    assert_eq!(
        diff(&olivia, "2026-11-01", "2026-11-03").await,
        [
            vec!["Cara Cole: joined; — → Viewer".to_string()],
            none.clone(),
            vec!["Ana Archer: roles changed; Member → Admin, Member".to_string()],
        ]
    );
    // Cara joined and left inside the span: nothing to say about her.
    assert_eq!(
        diff(&olivia, "2026-11-02", "2026-11-04").await,
        [
            vec!["Ben Baker: restored; Member → Member".to_string()],
            vec!["Ana Archer: removed; Admin, Member → —".to_string()],
            none.clone(),
        ]
    );
    assert_eq!(
        diff(&olivia, "2026-11-03", "2026-11-05").await,
        [
            none.clone(),
            vec!["Cara Cole: left; Viewer → —".to_string()],
            vec!["Ana Archer: roles changed; Admin, Member → Viewer".to_string()],
        ]
    );
    assert_eq!(
        diff(&olivia, "2026-11-05", "2026-11-05").await,
        [none.clone(), none.clone(), none]
    );
}

async fn without_audit_view_both_views_are_forbidden(app: TestApp) {
    let ws = workspace(&app);
    app.add_member(ws.id, "mia@example.com", "Mia Member", BuiltinRole::Member);
    let mia = app.client();
    assert_eq!(mia.sign_in("mia@example.com", PASSWORD).await.status, 303);
    for path in [
        "/w/acme/users?as_of=2026-11-01",
        "/w/acme/users?as_of=nonsense",
        "/w/acme/audit/diff",
        "/w/acme/audit/diff?from=2026-11-01&to=2026-11-02",
    ] {
        let page = mia.get(path).await;
        assert_eq!(page.status, 403, "{path}: {}", page.body);
        page.assert_lacks("Mia Member</span><span class=\"email\">");
    }
    // The live list stays hers to see, without the link to the history.
    let live = mia.get("/w/acme/users").await;
    assert_eq!(live.status, 200);
    live.assert_lacks("Members as of a date");
}

async fn bad_and_future_dates_are_refused_beside_the_field_and_change_nothing(app: TestApp) {
    workspace(&app);
    let olivia = owner(&app).await;
    let events = app.count("audit_events");
    for (path, field, message) in [
        (
            "/w/acme/users?as_of=2026-13-40",
            "as_of",
            "Enter a date like 2026-12-31.",
        ),
        (
            "/w/acme/users?as_of=last%20tuesday",
            "as_of",
            "Enter a date like 2026-12-31.",
        ),
        (
            "/w/acme/users?as_of=",
            "as_of",
            "Enter a date like 2026-12-31.",
        ),
        (
            "/w/acme/users?as_of=2999-01-01",
            "as_of",
            "or an earlier day",
        ),
        (
            "/w/acme/audit/diff?from=2026-11-05&to=2026-11-01",
            "to",
            "Choose a day on or after the first day.",
        ),
        (
            "/w/acme/audit/diff?from=2026-02-30&to=2026-11-01",
            "from",
            "Enter a date like 2026-12-31.",
        ),
        (
            "/w/acme/audit/diff?from=2026-11-01&to=2999-01-01",
            "to",
            "or an earlier day",
        ),
        (
            "/w/acme/audit/diff?from=2026-11-01",
            "to",
            "Enter a date like 2026-12-31.",
        ),
    ] {
        let page = olivia.get(path).await;
        assert_eq!(page.status, 422, "{path}: {}", page.body);
        page.assert_contains(message);
        page.assert_contains(&format!("id=\"{field}\""));
        page.assert_contains("aria-invalid=\"true\"");
    }
    assert_eq!(app.count("audit_events"), events, "nothing was recorded");
}

async fn a_long_list_as_of_a_date_comes_in_pages(app: TestApp) {
    let ws = workspace(&app);
    for n in 0..60 {
        app.add_member(
            ws.id,
            &format!("p{n:02}@example.com"),
            &format!("Person {n:02}"),
            BuiltinRole::Member,
        );
    }
    let olivia = owner(&app).await;
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let first = olivia.get(&format!("/w/acme/users?as_of={today}")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    first.assert_contains("61 members · Showing 1–50 of 61");
    first.assert_contains("Person 00");
    first.assert_lacks("Person 59");
    first.assert_contains(&format!(
        "href=\"/w/acme/users?as_of={today}&#38;page=2\" rel=\"next\""
    ));
    let second = olivia
        .get(&format!("/w/acme/users?as_of={today}&page=2"))
        .await;
    assert_eq!(second.status, 200);
    second.assert_contains("Showing 51–61 of 61");
    second.assert_contains("Person 59");
    second.assert_lacks("Person 00");
    second.assert_lacks("rel=\"next\"");
    // A page past the end shows the last one; a page that is not a number, the first.
    olivia
        .get(&format!("/w/acme/users?as_of={today}&page=9"))
        .await
        .assert_contains("Showing 51–61 of 61");
    olivia
        .get(&format!("/w/acme/users?as_of={today}&page=x"))
        .await
        .assert_contains("Showing 1–50 of 61");
}

/// 2 × MIN_SPACING + 300 role changes over thirty members, written straight into the log
/// (HTTP would take minutes), spread evenly from 2 September to the end of November: change
/// `i` gives member `i % 30` the role `ROTATION[(i / 30) % 3]`.
const ROTATION: [&str; 3] = ["Viewer", "Admin", "Member"];
const PEOPLE: i64 = 30;

fn long_history(app: &TestApp, ws: &Ws) -> (Vec<(i64, String)>, Vec<NaiveDateTime>) {
    use gatehouse::db::schema::roles;
    let people: Vec<(i64, String)> = (0..PEOPLE)
        .map(|n| {
            let email = format!("p{n:02}@example.com");
            let id = app.add_member(
                ws.id,
                &email,
                &format!("Person {n:02}"),
                BuiltinRole::Member,
            );
            (id, email)
        })
        .collect();
    happened_on(app, 0, "2026-09-01");
    let role_ids: Vec<i64> = ROTATION
        .iter()
        .map(|name| {
            app.with_db(|conn| {
                roles::table
                    .filter(roles::workspace_id.eq(ws.id))
                    .filter(roles::name.eq(*name))
                    .select(roles::id)
                    .first(conn)
                    .unwrap()
            })
        })
        .collect();
    let changes = 2 * gatehouse::services::membership_history::MIN_SPACING + 300;
    let start = NaiveDate::from_ymd_opt(2026, 9, 2)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let step = (89 * 24 * 3600 * 1000) / changes;
    let times: Vec<NaiveDateTime> = (0..changes)
        .map(|i| start + chrono::TimeDelta::milliseconds(i * step))
        .collect();
    // One multi-row INSERT per 500 (diesel's batch insert does not cover both databases).
    let rows: Vec<String> = (0..changes)
        .map(|i| {
            let (member, email) = &people[(i % PEOPLE) as usize];
            let turn = ((i / PEOPLE) % 3) as usize;
            format!(
                r#"({}, 'member.roles_changed', 'member', {member}, '{email}', '{{"after":{{"roles":["{}"],"role_ids":[{}]}}}}', '{}')"#,
                ws.id,
                ROTATION[turn],
                role_ids[turn],
                times[i as usize].format("%Y-%m-%d %H:%M:%S%.3f")
            )
        })
        .collect();
    app.with_db(|conn| {
        for chunk in rows.chunks(500) {
            diesel::sql_query(format!(
                "INSERT INTO audit_events \
                 (workspace_id, action, target_type, target_id, target_label, changes, created_at) \
                 VALUES {}",
                chunk.join(", ")
            ))
            .execute(conn)
            .unwrap();
        }
    });
    (people, times)
}

/// The list at the end of `day` worked out from the rule of [`long_history`].
fn expected_as_of(times: &[NaiveDateTime], day: &str) -> Vec<String> {
    let end = NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .unwrap()
        .succ_opt()
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let happened = times.partition_point(|t| *t < end) as i64;
    let mut rows: Vec<String> = (0..PEOPLE)
        .map(|n| {
            // The last change of member n before the end of the day, if any.
            let role = (0..happened)
                .rev()
                .find(|i| i % PEOPLE == n)
                .map_or("Member", |i| ROTATION[((i / PEOPLE) % 3) as usize]);
            format!("Person {n:02}: {role} (Active)")
        })
        .collect();
    rows.insert(0, "Olivia Owner: Owner (Active)".into());
    rows
}

fn checkpoints(app: &TestApp) -> Vec<i64> {
    use gatehouse::db::schema::roster_snapshots;
    app.with_db(|conn| {
        roster_snapshots::table
            .order(roster_snapshots::events)
            .select(roster_snapshots::events)
            .load(conn)
            .unwrap()
    })
}

async fn a_long_history_replays_from_checkpoints_to_the_lists_worked_out_by_hand(app: TestApp) {
    use gatehouse::services::membership_history::MIN_SPACING;
    let ws = workspace(&app);
    let (_, times) = long_history(&app, &ws);
    let olivia = owner(&app).await;
    assert!(checkpoints(&app).is_empty());
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    // The first replay starts from nothing and leaves a checkpoint every MIN_SPACING
    // membership events (the 31 joins count too).
    let first = as_of(&olivia, &today).await;
    assert_eq!(first, expected_as_of(&times, &today));
    assert_eq!(checkpoints(&app), [MIN_SPACING, 2 * MIN_SPACING]);
    // Later ones start from them: the same lists, and no more checkpoints.
    assert_eq!(as_of(&olivia, &today).await, first);
    for day in [
        "2026-09-01",
        "2026-09-20",
        "2026-10-15",
        "2026-10-16",
        "2026-11-29",
    ] {
        assert_eq!(
            as_of(&olivia, day).await,
            expected_as_of(&times, day),
            "as of {day}"
        );
    }
    assert_eq!(checkpoints(&app), [MIN_SPACING, 2 * MIN_SPACING]);
    // The diff across both checkpoints names every member whose role differs.
    let [joined, left, changed] = diff(&olivia, "2026-09-10", "2026-11-29").await;
    assert!(joined.is_empty() && left.is_empty(), "{joined:?} {left:?}");
    let (before, after) = (
        expected_as_of(&times, "2026-09-10"),
        expected_as_of(&times, "2026-11-29"),
    );
    let differing = before.iter().zip(&after).filter(|(b, a)| b != a).count();
    assert!(differing > 0);
    assert_eq!(changed.len(), differing, "{changed:?}");
}
