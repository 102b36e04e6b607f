//! First run: the one-time setup link.

use crate::support::{TestApp, PASSWORD};
use crate::tests;

tests![
    the_setup_link_creates_the_first_workspace_and_signs_in_once,
    setup_validates_every_field_and_keeps_what_was_typed,
    a_wrong_setup_token_is_not_found,
    the_root_page_lists_workspaces_when_there_are_several,
];

async fn the_setup_link_creates_the_first_workspace_and_signs_in_once(app: TestApp) {
    let token = app
        .setup_token
        .clone()
        .expect("an empty database prints a setup link");
    let client = app.client();
    let link = format!("/setup?token={token}");
    let form = client.get(&link).await;
    assert_eq!(form.status, 200);
    form.assert_contains("Create workspace");
    assert_eq!(form.headers.get("referrer-policy").unwrap(), "no-referrer");
    let done = client
        .submit(
            &link,
            &link,
            &[
                ("workspace", "Acme Corp"),
                ("name", "Olivia Owner"),
                ("email", "Olivia@Acme.example"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        (done.status.as_u16(), done.location.as_deref()),
        (303, Some("/w/acme-corp/users"))
    );
    let users = client.get("/w/acme-corp/users").await;
    assert_eq!(users.status, 200);
    users.assert_contains("Your workspace is ready.");
    users.assert_contains("Olivia Owner");
    users.assert_contains("1 of 10 seats used");
    assert_eq!(app.count("accounts"), 1);
    assert_eq!(app.count("roles"), 5);
    assert_eq!(app.count_audit("setup.completed"), 1);
    // The link dies after use, for everyone, and says why: setup is complete.
    let used = app.client().get(&link).await;
    assert_eq!(used.status, 410);
    used.assert_contains("<h1>Setup is complete</h1>");
    used.assert_contains("href=\"/login\"");
    used.assert_lacks("name=\"password\"");
    // Signed in, the page leads to the workspace instead.
    let done = client.get(&link).await;
    assert_eq!(done.status, 410);
    done.assert_contains("Open your workspace");
    let again = app.client();
    let replay = again.post_raw(&link, &[]).await;
    assert_eq!(
        replay.status, 403,
        "no token from a page that no longer renders"
    );
    assert_eq!(app.count("workspaces"), 1);
    // A new start on a non-empty database prints no link.
    let restarted = app.another_instance(|_| {}).await;
    assert!(restarted.setup_token.is_none());
}

async fn setup_validates_every_field_and_keeps_what_was_typed(app: TestApp) {
    let token = app.setup_token.clone().expect("token");
    let link = format!("/setup?token={token}");
    let client = app.client();
    let page = client
        .submit(
            &link,
            &link,
            &[
                ("workspace", ""),
                ("name", "Olivia <b>Owner</b>"),
                ("email", "olivia-at-acme"),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(page.status, 422);
    // The workspace name's one rule (`WorkspaceName`), as Settings says it.
    page.assert_contains("Enter the workspace");
    page.assert_contains("An email address needs an @");
    page.assert_contains("Use at least 12 characters");
    page.assert_contains("value=\"Olivia &#60;b&#62;Owner&#60;/b&#62;\"");
    page.assert_contains("value=\"olivia-at-acme\"");
    page.assert_lacks("value=\"short\"");
    let mismatch = client
        .submit(
            &link,
            &link,
            &[
                ("workspace", "Acme"),
                ("name", "Olivia"),
                ("email", "olivia@acme.example"),
                ("password", PASSWORD),
                ("password_confirm", "correct horse battery!"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, 422);
    mismatch.assert_contains("The passwords do not match");
    let common = client
        .submit(
            &link,
            &link,
            &[
                ("workspace", "Acme"),
                ("name", "Olivia"),
                ("email", "olivia@acme.example"),
                ("password", "1qaz2wsx3edc"),
                ("password_confirm", "1qaz2wsx3edc"),
            ],
        )
        .await;
    assert_eq!(common.status, 422);
    common.assert_contains("too common");
    assert_eq!(app.count("accounts"), 0);
    assert_eq!(app.count("workspaces"), 0);
}

async fn a_wrong_setup_token_is_not_found(app: TestApp) {
    assert!(app.setup_token.is_some());
    let client = app.client();
    assert_eq!(client.get("/setup?token=not-the-token").await.status, 404);
    assert_eq!(client.get("/setup").await.status, 404);
}

async fn the_root_page_lists_workspaces_when_there_are_several(app: TestApp) {
    let first = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let second = app.create_workspace("Globex", "olivia@acme.example", "Olivia Owner");
    assert_eq!(
        first.account_id, second.account_id,
        "create-owner reuses the account"
    );
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    let home = client.get("/").await;
    assert_eq!(home.status, 200);
    home.assert_contains("href=\"/w/acme/users\"");
    home.assert_contains("href=\"/w/globex/users\"");
    let users = client.get("/w/globex/users").await;
    users.assert_contains("switch workspace");
    users.assert_contains("aria-current=\"page\">Globex</a>");
}
