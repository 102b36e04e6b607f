//! Re-authentication: `current_password` on every form that asks for it is throttled like
//! signing in, per account, counted in the database and recorded in the audit trail.

use diesel::prelude::*;
use gatehouse::db::schema::{accounts, audit_events, email_addresses};
use gatehouse::permissions::BuiltinRole;
use gatehouse::services::signin::MAX_FAILURES_PER_ACCOUNT_AND_CLIENT as LIMIT;

use crate::support::{Client, TestApp, PASSWORD};
use crate::tests;

tests![
    guessing_the_current_password_is_refused_past_the_limit_on_every_account_form,
    failures_on_the_transfer_form_count_with_the_account_forms_and_refuse_the_transfer,
    concurrent_guesses_cannot_overrun_the_limit,
];

const WRONG: &str = "not the password at all";
const NEW_PASSWORD: &str = "a brand new passphrase";
const THROTTLED: &str = "Too many wrong passwords. Try again in about 15 minutes.";

async fn signed_in(app: &TestApp, email: &str) -> Client {
    let client = app.client();
    assert_eq!(client.sign_in(email, PASSWORD).await.status, 303);
    client
}

fn account_id(app: &TestApp, email: &str) -> i64 {
    app.with_db(|conn| {
        email_addresses::table
            .filter(email_addresses::canonical.eq(email))
            .select(email_addresses::account_id)
            .first(conn)
            .unwrap()
    })
}

fn stored_hash(app: &TestApp, account: i64) -> Option<String> {
    app.with_db(|conn| {
        accounts::table
            .find(account)
            .select(accounts::password_hash)
            .first(conn)
            .unwrap()
    })
}

/// A second, confirmed address on the account (one that could be made primary).
fn add_verified_address(app: &TestApp, account: i64, address: &str) -> i64 {
    app.with_db(|conn| {
        diesel::insert_into(email_addresses::table)
            .values((
                email_addresses::account_id.eq(account),
                email_addresses::address.eq(address),
                email_addresses::canonical.eq(address),
                email_addresses::verified.eq(true),
                email_addresses::is_primary.eq(false),
                email_addresses::created_at.eq(gatehouse::models::now()),
            ))
            .returning(email_addresses::id)
            .get_result(conn)
            .unwrap()
    })
}

async fn change_password(client: &Client, current: &str) -> crate::support::Page {
    client
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", current),
                ("new_password", NEW_PASSWORD),
                ("new_password_confirm", NEW_PASSWORD),
            ],
        )
        .await
}

/// Moves every audit event back in time, as if `minutes` had passed.
fn time_passes(app: &TestApp, minutes: i64) {
    app.with_db(|conn| {
        let events: Vec<(i64, chrono::NaiveDateTime)> = audit_events::table
            .select((audit_events::id, audit_events::created_at))
            .load(conn)
            .unwrap();
        for (id, at) in events {
            diesel::update(audit_events::table.find(id))
                .set(audit_events::created_at.eq(at - chrono::TimeDelta::minutes(minutes)))
                .execute(conn)
                .unwrap();
        }
    });
}

async fn guessing_the_current_password_is_refused_past_the_limit_on_every_account_form(
    app: TestApp,
) {
    app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let olivia = account_id(&app, "olivia@acme.example");
    let other = add_verified_address(&app, olivia, "olivia@home.example");
    let session = signed_in(&app, "olivia@acme.example").await;
    let hash = stored_hash(&app, olivia);
    for _ in 0..LIMIT {
        let wrong = change_password(&session, WRONG).await;
        assert_eq!(wrong.status, 422);
        wrong.assert_contains("id=\"pw-current-error\">That is not your current password</p>");
    }

    // Past the limit even the right password is refused, beside the field, with when.
    let right = change_password(&session, PASSWORD).await;
    assert_eq!(right.status, 422);
    right.assert_contains(&format!("id=\"pw-current-error\">{THROTTLED}</p>"));
    assert_eq!(stored_hash(&app, olivia), hash, "the password is unchanged");

    let add = session
        .submit(
            "/account",
            "/account/emails",
            &[
                ("email", "olivia@elsewhere.example"),
                ("current_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(add.status, 422);
    add.assert_contains(&format!("id=\"email-current-error\">{THROTTLED}</p>"));
    assert_eq!(app.count("email_addresses"), 2, "no address added");

    let primary = session
        .submit(
            "/account",
            &format!("/account/emails/{other}/primary"),
            &[("current_password", PASSWORD)],
        )
        .await;
    assert_eq!(primary.status, 422);
    primary.assert_contains(&format!(
        "id=\"primary-{other}-error\" role=\"alert\">{THROTTLED}</p>"
    ));
    assert_eq!(
        crate::support::address_state(&app, "olivia@home.example"),
        Some((true, false)),
        "not made primary"
    );

    // Each guess and each refusal is in the audit trail, naming the account and the client.
    assert_eq!(app.count_audit("reauth.failed"), LIMIT);
    assert_eq!(app.count_audit("reauth.throttled"), 3);
    let refusals: Vec<(Option<i64>, Option<i64>, Option<String>)> = app.with_db(|conn| {
        audit_events::table
            .filter(audit_events::action.eq("reauth.throttled"))
            .select((
                audit_events::target_id,
                audit_events::actor_account_id,
                audit_events::ip,
            ))
            .load(conn)
            .unwrap()
    });
    assert!(refusals
        .iter()
        .all(|r| *r == (Some(olivia), Some(olivia), Some("127.0.0.1".into()))));

    // Once the window has passed, the right password works again.
    time_passes(&app, 16);
    let changed = change_password(&session, PASSWORD).await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    assert_ne!(stored_hash(&app, olivia), hash);
}

async fn failures_on_the_transfer_form_count_with_the_account_forms_and_refuse_the_transfer(
    app: TestApp,
) {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let ada = app.add_member(
        ws.workspace_id,
        "ada@acme.example",
        "Ada Admin",
        BuiltinRole::Admin,
    );
    let owner = signed_in(&app, "olivia@acme.example").await;
    let ada_page = format!("/w/acme/users/{ada}");
    let transfer = format!("{ada_page}/transfer-ownership");
    for _ in 0..LIMIT / 2 {
        let wrong = owner
            .submit(&ada_page, &transfer, &[("current_password", WRONG)])
            .await;
        assert_eq!(wrong.status, 422);
        wrong
            .assert_contains("id=\"current_password-error\">That is not your current password</p>");
    }
    for _ in LIMIT / 2..LIMIT {
        assert_eq!(change_password(&owner, WRONG).await.status, 422);
    }
    let right = owner
        .submit(&ada_page, &transfer, &[("current_password", PASSWORD)])
        .await;
    assert_eq!(right.status, 422);
    right.assert_contains(&format!("id=\"current_password-error\">{THROTTLED}</p>"));
    assert_eq!(app.count_audit("workspace.ownership_transferred"), 0);
    assert_eq!(app.workspace_owner_member(ws.workspace_id), ws.member_id);
    assert_eq!(app.count_audit("reauth.throttled"), 1);
}

async fn concurrent_guesses_cannot_overrun_the_limit(app: TestApp) {
    app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let session = signed_in(&app, "olivia@acme.example").await;
    let token = session.get("/account").await.csrf();
    let fields = [
        ("csrf_token", token.as_str()),
        ("current_password", WRONG),
        ("new_password", NEW_PASSWORD),
        ("new_password_confirm", NEW_PASSWORD),
    ];
    let guesses = (0..LIMIT * 2).map(|_| session.post_raw("/account/password", &fields));
    let pages = futures_util::future::join_all(guesses).await;
    assert!(pages.iter().all(|p| p.status == 422));
    assert_eq!(
        app.count_audit("reauth.failed"),
        LIMIT,
        "only the limit's worth of guesses were checked"
    );
    assert_eq!(app.count_audit("reauth.throttled"), LIMIT);
}
