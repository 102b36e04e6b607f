//! The invite form and its review: a name per address, the daily limit's offer, every
//! error in one round (issue 11, items 1, 3 and 10).

use gatehouse::permissions::BuiltinRole;

use crate::invites::{invite, owner, workspace, Ws};
use crate::support::{Page, TestApp};
use crate::tests;

tests![
    each_address_carries_its_own_name_into_its_invite_and_its_mail,
    the_name_field_with_several_addresses_is_refused_beside_it,
    the_daily_limit_says_how_many_can_still_go_and_its_button_sends_exactly_those,
    no_role_and_a_bad_address_are_both_shown_in_one_round_above_the_form,
    a_fresh_form_has_the_member_role_ticked,
    an_address_listed_twice_is_a_note_and_the_rest_are_sent,
];

const PAGE: &str = "/w/acme/invites";

fn member_role(app: &TestApp, ws: &Ws) -> i64 {
    app.role_id(ws.id, BuiltinRole::Member)
}

/// (canonical address, name) of every invite, by address.
fn invite_names(app: &TestApp) -> Vec<(String, Option<String>)> {
    app.with_db(|conn| {
        use diesel::prelude::*;
        use gatehouse::db::schema::invites;
        invites::table
            .order(invites::canonical)
            .select((invites::canonical, invites::name))
            .load(conn)
            .unwrap()
    })
}

fn set_daily_limit(app: &TestApp, limit: i32) {
    app.with_db(|conn| {
        let change = gatehouse::services::workspaces::LimitsChange {
            daily_invites: Some(limit),
            ..Default::default()
        };
        gatehouse::services::workspaces::set_limits(
            conn,
            &gatehouse::models::audit::Actor::operator(),
            "acme",
            &change,
        )
        .unwrap();
    });
}

/// The `emails` the review's send button posts, unescaped; `None` without the button.
fn offered_emails(page: &Page) -> Option<String> {
    let form = &page.body[page.body.find("class=\"send-acceptable\"")?..];
    let form = &form[..form.find("</form>")?];
    let value = &form[form.find("name=\"emails\" value=\"")? + 21..];
    let value = &value[..value.find('"')?];
    Some(
        value
            .replace("&#34;", "\"")
            .replace("&#60;", "<")
            .replace("&#62;", ">")
            .replace("&#39;", "'")
            .replace("&#38;", "&"),
    )
}

/// Posts the review's send button as a browser would: its hidden fields as rendered.
async fn press_send(client: &crate::support::Client, page: &Page, role: i64) -> Page {
    let token = page.csrf();
    let emails = offered_emails(page).expect("the review offers to send");
    let role = role.to_string();
    client
        .post_raw(
            PAGE,
            &[
                ("csrf_token", &token),
                ("emails", &emails),
                ("role", &role),
                ("seat_type", "member"),
                ("name", ""),
                ("message", ""),
                ("notification_email", ""),
                ("metadata", ""),
            ],
        )
        .await
}

async fn each_address_carries_its_own_name_into_its_invite_and_its_mail(app: TestApp) {
    let ws = workspace(&app);
    let client = owner(&app).await;
    let done = invite(
        &client,
        &ws,
        "Ada Lovelace <Ada@Example.com>\n\"Lovelace, Ada\" <ada2@example.com>, bob@example.com",
        &[member_role(&app, &ws)],
        "member",
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        invite_names(&app),
        [
            (
                "ada2@example.com".to_string(),
                Some("Lovelace, Ada".to_string())
            ),
            (
                "ada@example.com".to_string(),
                Some("Ada Lovelace".to_string())
            ),
            ("bob@example.com".to_string(), None),
        ]
    );
    let mails = app.mail.wait_for(3).await;
    let greeting = |to: &str| {
        let mail = mails.iter().find(|m| m.to == to).expect("a mail to each");
        mail.text
            .lines()
            .find(|l| l.starts_with("Hello"))
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(greeting("ada@example.com"), "Hello Ada Lovelace,");
    assert_eq!(greeting("ada2@example.com"), "Hello Lovelace, Ada,");
    assert_eq!(greeting("bob@example.com"), "Hello,");
    // The list shows each address with its own name, not the batch's.
    let list = client.get(PAGE).await;
    list.assert_contains("<div class=\"email-address\">Ada@Example.com</div><div class=\"invitee-name\">Ada Lovelace</div>");
    // A name written with an address goes through the rule of every name.
    let long = format!("{} <carl@example.com>", "n".repeat(101));
    let refused = invite(&client, &ws, &long, &[member_role(&app, &ws)], "member").await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("Invalid: The name: At most 100 characters");
    // The review shows the name beside its address.
    let review = invite(
        &client,
        &ws,
        "Dee Dee <dee@example.com>, nobody",
        &[member_role(&app, &ws)],
        "member",
    )
    .await;
    assert_eq!(review.status, 422);
    review.assert_contains(
        "<td>dee@example.com<span class=\"email\">Dee Dee</span></td><td>New: will be invited</td>",
    );
    assert_eq!(
        offered_emails(&review).as_deref(),
        Some("Dee Dee <dee@example.com>")
    );
    let sent = press_send(&client, &review, member_role(&app, &ws)).await;
    assert_eq!(sent.status, 303);
    assert!(invite_names(&app).contains(&("dee@example.com".into(), Some("Dee Dee".into()))));
}

async fn the_name_field_with_several_addresses_is_refused_beside_it(app: TestApp) {
    let ws = workspace(&app);
    let client = owner(&app).await;
    let role = member_role(&app, &ws).to_string();
    let refused = client
        .submit(
            PAGE,
            PAGE,
            &[
                (
                    "emails",
                    "erin@example.com, fred@example.com, gus@example.com",
                ),
                ("role", &role),
                ("seat_type", "member"),
                ("name", "Erin Example"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    refused.assert_contains(
        "<p class=\"field-error\" id=\"name-error\">Name is for a single address.",
    );
    refused.assert_contains("value=\"Erin Example\"");
    assert_eq!(app.count("invites"), 0);
    assert_eq!(app.count("outbox"), 0);
    // With one address the field names it.
    let one = client
        .submit(
            PAGE,
            PAGE,
            &[
                ("emails", "erin@example.com"),
                ("role", &role),
                ("seat_type", "member"),
                ("name", "Erin Example"),
            ],
        )
        .await;
    assert_eq!(one.status, 303);
    assert_eq!(
        invite_names(&app),
        [(
            "erin@example.com".to_string(),
            Some("Erin Example".to_string())
        )]
    );
    let mail = &app.mail.wait_for(1).await[0];
    assert!(mail.text.contains("Hello Erin Example,"), "{}", mail.text);
}

async fn the_daily_limit_says_how_many_can_still_go_and_its_button_sends_exactly_those(
    app: TestApp,
) {
    let ws = workspace(&app);
    set_daily_limit(&app, 5);
    let client = owner(&app).await;
    let role = member_role(&app, &ws);
    let first = invite(
        &client,
        &ws,
        "a@example.com b@example.com",
        &[role],
        "member",
    )
    .await;
    assert_eq!(first.status, 303);
    let over = invite(
        &client,
        &ws,
        "c@example.com, d@example.com, e@example.com, f@example.com",
        &[role],
        "member",
    )
    .await;
    assert_eq!(over.status, 422);
    over.assert_contains(
        "3 can still be sent today, not all 4: 2 of the daily limit of 5 were sent in the last 24 hours. More can go from ",
    );
    over.assert_contains("UTC tomorrow (in 2");
    over.assert_lacks("limit reached");
    over.assert_contains(">Send the first 3</button>");
    assert_eq!(
        offered_emails(&over).as_deref(),
        Some("c@example.com\nd@example.com\ne@example.com")
    );
    assert_eq!(app.count("invites"), 2);
    let sent = press_send(&client, &over, role).await;
    assert_eq!(sent.status, 303);
    client
        .get(PAGE)
        .await
        .assert_contains("Sent 3 invitations.");
    assert_eq!(app.count("invites"), 5);
    // Nothing left: said so, with the time, and nothing offered.
    let none = invite(&client, &ws, "f@example.com", &[role], "member").await;
    assert_eq!(none.status, 422);
    none.assert_contains(
        "The daily limit of 5 invitations is used up: 5 were sent in the last 24 hours. 0 can be sent now; the next can go from ",
    );
    assert_eq!(offered_emails(&none), None);
    assert_eq!(app.count("invites"), 5);
}

async fn no_role_and_a_bad_address_are_both_shown_in_one_round_above_the_form(app: TestApp) {
    let _ws = workspace(&app);
    let client = owner(&app).await;
    let page = client
        .submit(
            PAGE,
            PAGE,
            &[
                ("emails", "ana@example.com, not-an-address"),
                ("seat_type", "captain"),
                ("notification_email", "nope"),
                ("metadata", "{\"team\": north}"),
            ],
        )
        .await;
    assert_eq!(page.status, 422);
    page.assert_contains("Choose at least one role");
    page.assert_contains("Choose Member or Builder");
    page.assert_contains("<td>not-an-address</td><td>Invalid: An email address needs an @");
    page.assert_contains("Nothing was sent: 1 of 2 addresses need attention");
    page.assert_contains("id=\"notification_email-error\"");
    page.assert_contains("Metadata must be a JSON object, like {&#34;team&#34;: &#34;north&#34;}");
    page.assert_lacks("expected ident");
    page.assert_contains("4 fields need attention (marked in the form).");
    // The review comes first, focused; no button while the form has its own errors.
    let review = page.body.find("id=\"review-h\"").expect("a review heading");
    let form = page.body.find("id=\"invite-h\"").expect("the form");
    assert!(review < form);
    page.assert_contains("<h2 id=\"review-h\" tabindex=\"-1\" autofocus>");
    assert_eq!(offered_emails(&page), None);
    assert_eq!(app.count("invites"), 0);
    // With nothing readable in `emails`, the summary still comes first.
    let empty = client.submit(PAGE, PAGE, &[("emails", " ")]).await;
    assert_eq!(empty.status, 422);
    empty.assert_contains("Enter at least one email address");
    empty.assert_contains("Choose at least one role");
    empty.assert_contains("fields need attention (marked in the form).");
}

async fn a_fresh_form_has_the_member_role_ticked(app: TestApp) {
    let ws = workspace(&app);
    let client = owner(&app).await;
    let member = member_role(&app, &ws);
    let admin = app.role_id(ws.id, BuiltinRole::Admin);
    let fresh = client.get(PAGE).await;
    fresh.assert_contains(&format!("name=\"role\" value=\"{member}\" checked>"));
    fresh.assert_contains(&format!("name=\"role\" value=\"{admin}\">"));
    assert!(fresh.body.matches("name=\"role\" value=\"").count() > 1);
    assert_eq!(
        fresh.body.matches(" checked> ").count(),
        2,
        "Member and the Member seat"
    );
    // A submit without a role comes back as it was sent: nothing ticked for the inviter.
    let back = client
        .submit(
            PAGE,
            PAGE,
            &[("emails", "ana@example.com"), ("seat_type", "member")],
        )
        .await;
    assert_eq!(back.status, 422);
    back.assert_contains(&format!("name=\"role\" value=\"{member}\">"));
}

async fn an_address_listed_twice_is_a_note_and_the_rest_are_sent(app: TestApp) {
    let ws = workspace(&app);
    let client = owner(&app).await;
    let role = member_role(&app, &ws);
    let done = invite(
        &client,
        &ws,
        "ana@example.com, Ana Example <ANA@example.com>\nben@example.com",
        &[role],
        "member",
    )
    .await;
    assert_eq!(done.status, 303);
    client
        .get(PAGE)
        .await
        .assert_contains("Sent 2 invitations. 1 address was listed twice and got one invitation.");
    assert_eq!(app.count("invites"), 2);
    assert_eq!(app.mail.wait_for(2).await.len(), 2);
    // Beside a real problem the repeat is a note, not counted, and does not hold back the rest.
    let review = invite(
        &client,
        &ws,
        "cy@example.com cy@example.com dan@example.com oops",
        &[role],
        "member",
    )
    .await;
    assert_eq!(review.status, 422);
    review.assert_contains("Nothing was sent: 1 of 4 addresses need attention");
    review.assert_contains(
        "<tr class=\"note\"><td>cy@example.com</td><td>Listed twice: gets one invitation</td></tr>",
    );
    review.assert_contains("1 address is listed twice: it gets one invitation.");
    review.assert_contains(">Send the 2 that can go</button>");
    let sent = press_send(&client, &review, role).await;
    assert_eq!(sent.status, 303);
    assert_eq!(app.count("invites"), 4);
}
