//! The command line, run as the real binary against the test database.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::support::{TestApp, PASSWORD};
use crate::tests;

tests![
    create_owner_reads_the_password_from_stdin_and_the_owner_can_sign_in,
    create_owner_adds_a_second_workspace_for_an_existing_account,
    an_unknown_database_url_is_refused_with_a_clear_message,
    migrate_is_idempotent,
];

fn gatehouse(app: &TestApp, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .env("DATABASE_URL", app.db.url())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gatehouse");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("gatehouse exits")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn create_owner_reads_the_password_from_stdin_and_the_owner_can_sign_in(app: TestApp) {
    let out = gatehouse(
        &app,
        &[
            "create-owner",
            "--workspace",
            "Acme Corp",
            "--email",
            "Olivia@Acme.example",
            "--name",
            "Olivia Owner",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("/w/acme-corp/users"), "{}", text(&out));
    let client = app.client();
    assert_eq!(
        client.sign_in("olivia@acme.example", PASSWORD).await.status,
        303
    );
    let users = client.get("/w/acme-corp/users").await;
    users.assert_contains("Olivia Owner");
    users.assert_contains("<span class=\"badge primary\">Owner</span>");
    let weak = gatehouse(
        &app,
        &[
            "create-owner",
            "--workspace",
            "Weak",
            "--email",
            "w@acme.example",
            "--name",
            "W",
        ],
        "short\n",
    );
    assert!(!weak.status.success());
    assert!(
        text(&weak).contains("at least 12 characters"),
        "{}",
        text(&weak)
    );
    assert_eq!(
        app.count("workspaces"),
        1,
        "a refused command creates nothing"
    );
}

async fn create_owner_adds_a_second_workspace_for_an_existing_account(app: TestApp) {
    app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    let out = gatehouse(
        &app,
        &[
            "create-owner",
            "--workspace",
            "Side Project",
            "--slug",
            "side",
            "--email",
            "OLIVIA@acme.example",
            "--name",
            "Ignored",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("existing account"));
    assert_eq!(app.count("accounts"), 1);
    let taken = gatehouse(
        &app,
        &[
            "create-owner",
            "--workspace",
            "Again",
            "--slug",
            "side",
            "--email",
            "olivia@acme.example",
            "--name",
            "O",
        ],
        "",
    );
    assert!(!taken.status.success());
    assert!(text(&taken).contains("taken"), "{}", text(&taken));
    let client = app.client();
    client.sign_in("olivia@acme.example", PASSWORD).await;
    let side = client.get("/w/side/users").await;
    assert_eq!(side.status, 200);
    side.assert_contains("Olivia Owner");
}

async fn an_unknown_database_url_is_refused_with_a_clear_message(app: TestApp) {
    let dir = tempfile::tempdir().expect("dir");
    for url in ["mysql://root@localhost/x", "gatehouse.db"] {
        let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("migrate")
            .env("DATABASE_URL", url)
            .current_dir(dir.path())
            .output()
            .expect("run");
        assert!(!out.status.success(), "{url}");
        assert!(
            text(&out).contains("DATABASE_URL must start with sqlite:// or postgres://"),
            "{}",
            text(&out)
        );
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("list").count(),
        0,
        "no file was created"
    );
    let missing_dir = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("migrate")
        .env("DATABASE_URL", "sqlite://no/such/folder/g.db")
        .current_dir(dir.path())
        .output()
        .expect("run");
    assert!(!missing_dir.status.success());
    assert!(
        text(&missing_dir).contains("does not exist"),
        "{}",
        text(&missing_dir)
    );
    drop(app);
}

async fn migrate_is_idempotent(app: TestApp) {
    let out = gatehouse(&app, &["migrate"], "");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("0 migration(s) applied"),
        "{}",
        text(&out)
    );
}
