//! Pages that say what happened and what to do next (issue 11, items 13 and 14): signing
//! out, being sent to sign in, used links, error pages that keep the top bar, and words.

use gatehouse::permissions::BuiltinRole;

use crate::invites::{accept_new, invite, owner, workspace};
use crate::support::{TestApp, PASSWORD};
use crate::tests;

tests![
    signing_out_says_so_and_being_sent_to_sign_in_says_why,
    error_pages_keep_the_top_bar_for_whoever_is_signed_in,
    a_used_invitation_leads_a_signed_in_person_to_the_workspace,
    permissions_read_by_their_label_first_and_their_key_second,
    settings_call_the_slug_the_url_name,
    the_invitation_names_the_seat_who_wrote_the_message_and_has_a_title,
];

async fn signing_out_says_so_and_being_sent_to_sign_in_says_why(app: TestApp) {
    workspace(&app);
    let client = owner(&app).await;
    let out = client.submit("/w/acme/users", "/logout", &[]).await;
    assert_eq!(out.location.as_deref(), Some("/login"));
    let login = client.get("/login").await;
    login.assert_contains("You are signed out.");
    login.assert_lacks("needs you to be signed in");
    // Once: a reload no longer says it.
    client
        .get("/login")
        .await
        .assert_lacks("You are signed out.");
    assert_eq!(client.get("/w/acme/users").await.status, 303);

    let stranger = app.client();
    let sent = stranger.get("/w/acme/users?status=archived").await;
    assert_eq!(sent.status, 303);
    let location = sent.location.expect("to sign in");
    assert!(location.starts_with("/login?next="), "{location}");
    let why = stranger.get(&location).await;
    why.assert_contains("The page you opened needs you to be signed in.");
    // Signing in there goes where they were going.
    let token = why.csrf();
    let signed = stranger
        .post_raw(
            "/login",
            &[
                ("csrf_token", &token),
                ("email", "olivia@acme.example"),
                ("password", PASSWORD),
                ("next", "/w/acme/users?status=archived"),
            ],
        )
        .await;
    assert_eq!(
        signed.location.as_deref(),
        Some("/w/acme/users?status=archived")
    );
}

async fn error_pages_keep_the_top_bar_for_whoever_is_signed_in(app: TestApp) {
    let ws = workspace(&app);
    app.add_member(ws.id, "mia@acme.example", "Mia Member", BuiltinRole::Member);
    let mia = app.client();
    mia.sign_in("mia@acme.example", PASSWORD).await;
    // A refusal inside the workspace: the workspace's navigation, the account, sign out.
    let refused = mia.get("/w/acme/invites").await;
    assert_eq!(refused.status, 403);
    refused.assert_contains("<span class=\"account-name\">Mia Member</span>");
    refused.assert_contains("action=\"/logout\"");
    refused.assert_contains("<nav class=\"mainnav\" aria-label=\"Workspace\">");
    refused.assert_contains("href=\"/w/acme/users\"");
    refused.assert_contains("<h1>Not allowed</h1>");
    refused.assert_contains("Ask an admin for this permission");
    // A form refused for its missing token keeps the top bar too.
    let stale = mia.post_raw("/w/acme/requests/new", &[]).await;
    assert_eq!(stale.status, 403);
    stale.assert_contains("This form has expired");
    stale.assert_contains("<span class=\"account-name\">Mia Member</span>");
    stale.assert_contains("class=\"mainnav\"");
    // Its sign-out button works: the token it carries is the session's.
    let token = refused.csrf();
    let out = mia.post_raw("/logout", &[("csrf_token", &token)]).await;
    assert_eq!(out.location.as_deref(), Some("/login"));

    // A workspace one is not in: 404, with the account's top bar but no workspace's.
    let olivia = owner(&app).await;
    let missing = olivia.get("/w/elsewhere/users").await;
    assert_eq!(missing.status, 404);
    missing.assert_contains("<span class=\"account-name\">Olivia Owner</span>");
    missing.assert_contains("action=\"/logout\"");
    missing.assert_lacks("class=\"mainnav\"");
    missing.assert_contains("Go to your workspace");
    // A missing page inside one's own workspace keeps its navigation too.
    let unknown = olivia.get("/w/acme/users/999999").await;
    assert_eq!(unknown.status, 404);
    unknown.assert_contains("class=\"mainnav\"");

    // Nobody signed in: the public top bar, a way to sign in, and no session made.
    let stranger = app.client();
    let nowhere = stranger.get("/no/such/page").await;
    assert_eq!(nowhere.status, 404);
    nowhere.assert_contains("class=\"topbar\"");
    nowhere.assert_lacks("action=\"/logout\"");
    nowhere.assert_contains("href=\"/login\">Sign in</a>");
    assert!(stranger.session_cookie().is_none());
}

async fn a_used_invitation_leads_a_signed_in_person_to_the_workspace(app: TestApp) {
    let ws = workspace(&app);
    let client = owner(&app).await;
    let member = app.role_id(ws.id, BuiltinRole::Member);
    assert_eq!(
        invite(&client, &ws, "grace@example.com", &[member], "member")
            .await
            .status,
        303
    );
    let mails = app.mail.wait_for(1).await;
    let path = mails[0].invite_path();
    let (grace, joined) = accept_new(&app, &path, "Grace Hopper").await;
    assert_eq!(joined.status, 303);
    let used = grace.get(&path).await;
    assert_eq!(used.status, 410);
    used.assert_contains("<h1>This invitation was already used</h1>");
    used.assert_contains("<a href=\"/w/acme/users\">Open Acme</a>");
    used.assert_lacks(">Sign in</a> to open");
    let anonymous = app.client().get(&path).await;
    assert_eq!(anonymous.status, 410);
    anonymous.assert_contains(
        "<a href=\"/login?next=/w/acme/users\">Sign in</a> to open the workspace.",
    );
}

async fn permissions_read_by_their_label_first_and_their_key_second(app: TestApp) {
    workspace(&app);
    let client = owner(&app).await;
    let roles = client.get("/w/acme/roles").await;
    roles.assert_contains("View members <code class=\"perm-key\">members.view</code>");
    // A role's permissions in its card read as words, with the scope in words.
    roles.assert_contains("Edit members (their team)");
    let form = client.get("/w/acme/roles/new").await;
    form.assert_contains("Edit members <code class=\"perm-key\">members.edit</code>");
    form.assert_contains("Manage roles <code class=\"perm-key\">roles.manage</code>");
    let ask = client.get("/w/acme/requests/new").await;
    ask.assert_contains(">Export records (records.export)</option>");
}

async fn settings_call_the_slug_the_url_name(app: TestApp) {
    workspace(&app);
    let client = owner(&app).await;
    let settings = client.get("/w/acme/settings").await;
    settings.assert_contains(">URL name</label>");
    settings.assert_lacks(">Address</label>");
}

async fn the_invitation_names_the_seat_who_wrote_the_message_and_has_a_title(app: TestApp) {
    let ws = workspace(&app);
    let client = owner(&app).await;
    let member = app.role_id(ws.id, BuiltinRole::Member).to_string();
    let sent = client
        .submit(
            "/w/acme/invites",
            "/w/acme/invites",
            &[
                ("emails", "grace@example.com"),
                ("role", &member),
                ("seat_type", "builder"),
                ("message", "Welcome <aboard>!"),
            ],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let mails = app.mail.wait_for(1).await;
    let mail = &mails[0];
    assert!(mail.text.contains("with a Builder seat"), "{}", mail.text);
    assert!(
        mail.text
            .replace("\r\n", "\n")
            .contains("Olivia Owner wrote:\n  Welcome <aboard>!"),
        "{}",
        mail.text
    );
    assert!(
        mail.html
            .contains("<title>You&#39;ve been invited to Acme</title>")
            || mail
                .html
                .contains("<title>You've been invited to Acme</title>"),
        "{}",
        mail.html
    );
    assert!(mail.html.contains("Olivia Owner wrote:"), "{}", mail.html);
    assert!(
        mail.html.contains("Welcome &#60;aboard&#62;!"),
        "{}",
        mail.html
    );
    assert!(mail.html.contains("Builder"), "{}", mail.html);
    let id = mail.message_id.as_deref().expect("a Message-ID");
    assert!(id.starts_with("gatehouse.outbox."), "{id}");
}
