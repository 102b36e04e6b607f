//! Bad input never answers 500 and never changes a row (SPEC §4.13). The walk reads every
//! form off the pages a signed-in Owner and a visitor are served (as a browser would), posts
//! NUL, text-direction overrides, zero-width characters and invalid UTF-8 into each field in
//! turn, and does the same to every query parameter and path segment of `web::ROUTES`.

use std::collections::{BTreeMap, BTreeSet};

use diesel::RunQueryDsl;
use gatehouse::permissions::BuiltinRole;
use gatehouse::services::domains;
use scraper::{ElementRef, Html, Selector};

use crate::support::{account_name, link, mail_to, Backend, Client, TestApp, PASSWORD};
use crate::tests;

tests![
    every_form_field_refuses_control_direction_and_invisible_characters_and_changes_nothing,
    the_setup_form_refuses_bad_text_in_every_field_and_changes_nothing,
    every_query_parameter_and_path_segment_with_bad_text_answers_without_a_server_error,
    a_name_that_hides_its_extension_behind_a_direction_override_is_refused_on_every_name_path,
    every_form_naming_an_object_answers_404_to_another_workspaces_owner_and_changes_nothing,
];

/// Already percent-encoded, so invalid UTF-8 (a lone surrogate, 0xFF) reaches the server raw.
const BAD: &[(&str, &str)] = &[
    ("NUL inside", "a%00b"),
    ("NUL alone", "%00"),
    ("a bell", "ring%07"),
    ("a right-to-left override", "Mem%20%E2%80%AEgnp.exe"),
    ("a left-to-right isolate", "%E2%81%A6x"),
    ("a zero-width space", "zero%E2%80%8Bwidth"),
    ("a byte-order mark", "%EF%BB%BFbom"),
    ("a lone surrogate", "x%ED%A0%80y"),
    ("invalid UTF-8", "x%FF%FEy"),
];

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    /// A field a person types into: refusals must name it (422).
    Typed,
    /// Hidden fields, choices, checkboxes, buttons.
    Fixed,
}

#[derive(Clone, Debug)]
struct Field {
    name: String,
    value: String,
    kind: Kind,
}

#[derive(Clone, Debug)]
struct Form {
    page: String,
    action: String,
    fields: Vec<Field>,
}

fn selector(css: &str) -> Selector {
    Selector::parse(css).unwrap()
}

/// Every POST form on a page, with the values a browser would submit untouched.
fn forms(page: &str, body: &str) -> Vec<Form> {
    let html = Html::parse_document(body);
    let mut out = Vec::new();
    for form in html.select(&selector("form")) {
        let method = form.value().attr("method").unwrap_or("get");
        if !method.eq_ignore_ascii_case("post") {
            continue;
        }
        let action = form.value().attr("action").unwrap_or(page).to_string();
        out.push(Form {
            page: page.to_string(),
            action,
            fields: fields(&form),
        });
    }
    out
}

fn fields(form: &ElementRef) -> Vec<Field> {
    let mut out = Vec::new();
    let mut button_taken = false;
    for el in form.select(&selector("input, textarea, select, button")) {
        let v = el.value();
        let Some(name) = v.attr("name") else { continue };
        let name = name.to_string();
        match v.name() {
            "textarea" => out.push(Field {
                name,
                value: el.text().collect(),
                kind: Kind::Typed,
            }),
            "select" => {
                let options: Vec<ElementRef> = el.select(&selector("option")).collect();
                let selected: Vec<&ElementRef> = options
                    .iter()
                    .filter(|o| o.value().attr("selected").is_some())
                    .collect();
                let chosen: Vec<&ElementRef> = if selected.is_empty() {
                    options.iter().take(1).collect()
                } else {
                    selected
                };
                for option in chosen {
                    let value = option
                        .value()
                        .attr("value")
                        .map(str::to_string)
                        .unwrap_or_else(|| option.text().collect());
                    out.push(Field {
                        name: name.clone(),
                        value,
                        kind: Kind::Fixed,
                    });
                }
            }
            "button" => {
                // A form is submitted by one button: the first named one.
                if !button_taken {
                    button_taken = true;
                    out.push(Field {
                        name,
                        value: v.attr("value").unwrap_or("").to_string(),
                        kind: Kind::Fixed,
                    });
                }
            }
            _ => {
                let kind = v.attr("type").unwrap_or("text").to_ascii_lowercase();
                let value = v.attr("value").unwrap_or("").to_string();
                match kind.as_str() {
                    "checkbox" | "radio" => {
                        if v.attr("checked").is_some() {
                            out.push(Field {
                                name,
                                value: if value.is_empty() { "on".into() } else { value },
                                kind: Kind::Fixed,
                            });
                        }
                    }
                    "hidden" => out.push(Field {
                        name,
                        value,
                        kind: Kind::Fixed,
                    }),
                    "submit" | "button" | "reset" | "image" | "file" => {}
                    _ => out.push(Field {
                        name,
                        value,
                        kind: Kind::Typed,
                    }),
                }
            }
        }
    }
    out
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The per-field routes of SPEC §5 (`/roles`, `/seat`, …) that the member page's one
/// "Edit member" form (`POST /w/{ws}/users/{id}`) replaced on the page but which scripts
/// still post: each as the form it was, that form's fields for it (and the CSRF token).
fn per_field_forms(form: &Form) -> Vec<Form> {
    const ROUTES: &[(&str, &[&str])] = &[
        ("roles", &["role", "primary_role"]),
        ("seat", &["seat_type"]),
        ("manager", &["manager_id"]),
        ("department", &["department"]),
        ("modules", &["module"]),
        ("metadata", &["metadata"]),
        ("name", &["name"]),
    ];
    let is_edit_form = matches("/w/{ws}/users/{id}", &form.action)
        && form.fields.iter().any(|f| f.name == "seat_type");
    if !is_edit_form {
        return Vec::new();
    }
    ROUTES
        .iter()
        .filter(|(_, names)| form.fields.iter().any(|f| names.contains(&f.name.as_str())))
        .map(|(suffix, names)| Form {
            page: format!("{} (per-field route)", form.page),
            action: format!("{}/{suffix}", form.action),
            fields: form
                .fields
                .iter()
                // The one form also sends its lists once empty; the old forms did not.
                .filter(|f| {
                    f.name == "csrf_token"
                        || (names.contains(&f.name.as_str())
                            && !(f.value.is_empty()
                                && matches!(f.name.as_str(), "role" | "module")))
                })
                .cloned()
                .collect(),
        })
        .collect()
}

/// The form's body with every value of `target` replaced by one raw (encoded) value.
fn body_with(form: &Form, target: &str, raw: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut replaced = false;
    for field in &form.fields {
        if field.name == target {
            if !replaced {
                parts.push(format!("{}={raw}", encode(&field.name)));
                replaced = true;
            }
        } else {
            parts.push(format!("{}={}", encode(&field.name), encode(&field.value)));
        }
    }
    parts.join("&")
}

async fn post_body(client: &Client, action: &str, body: String) -> (u16, String) {
    let response = client
        .http
        .post(client.url(action))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", client.base.clone())
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn get_status(client: &Client, path: &str) -> (u16, String) {
    let response = client.http.get(client.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// Whether the re-rendered form marks the field itself as invalid.
fn marked_invalid(body: &str, name: &str) -> bool {
    let html = Html::parse_document(body);
    let css = format!("[name=\"{name}\"][aria-invalid=\"true\"]");
    html.select(&selector(&css)).next().is_some()
}

/// Every table's content (sessions aside: they record activity), to compare before and after.
fn fingerprint(app: &TestApp) -> BTreeMap<String, String> {
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    #[derive(diesel::QueryableByName)]
    struct Value {
        #[diesel(sql_type = diesel::sql_types::Text)]
        v: String,
    }
    app.with_db(|conn| {
        let mut out = BTreeMap::new();
        let tables: Vec<Name> = match app.backend {
            Backend::Sqlite => diesel::sql_query(
                "SELECT name FROM sqlite_master WHERE type IN ('table') \
                 AND name NOT LIKE 'sqlite_%' AND name <> 'sessions' \
                 AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name",
            ),
            Backend::Postgres => diesel::sql_query(
                "SELECT tablename::text AS name FROM pg_tables \
                 WHERE schemaname = current_schema() AND tablename <> 'sessions' ORDER BY 1",
            ),
        }
        .load(conn)
        .unwrap();
        for Name { name } in tables {
            // The worker marks mail delivered and blanks its body: only new rows count.
            if name == "outbox" {
                let ids: Value = diesel::sql_query(match app.backend {
                    Backend::Sqlite => "SELECT COALESCE(group_concat(id), '') AS v FROM (SELECT id FROM outbox ORDER BY id)",
                    Backend::Postgres => "SELECT COALESCE(string_agg(id::text, ',' ORDER BY id), '') AS v FROM outbox",
                })
                .get_result(conn)
                .unwrap();
                out.insert(name, ids.v);
                continue;
            }
            let sql = match app.backend {
                Backend::Sqlite => {
                    let columns: Vec<Name> = diesel::sql_query(format!(
                        "SELECT name FROM pragma_table_info('{name}') ORDER BY cid"
                    ))
                    .load(conn)
                    .unwrap();
                    let row = columns
                        .iter()
                        .map(|c| format!("quote(\"{}\")", c.name))
                        .collect::<Vec<_>>()
                        .join("||','||");
                    format!(
                        "SELECT COALESCE(group_concat(r, char(10)), '') AS v \
                         FROM (SELECT {row} AS r FROM \"{name}\" ORDER BY 1)"
                    )
                }
                Backend::Postgres => format!(
                    "SELECT COALESCE(string_agg(t::text, E'\\n' ORDER BY t::text), '') AS v \
                     FROM \"{name}\" t"
                ),
            };
            let value: Value = diesel::sql_query(sql).get_result(conn).unwrap();
            out.insert(name, value.v);
        }
        out
    })
}

fn assert_unchanged(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
    what: &str,
) {
    for (table, rows) in before {
        assert_eq!(
            after.get(table),
            Some(rows),
            "{what} changed the {table} table"
        );
    }
    assert_eq!(before.len(), after.len(), "{what} created a table?");
}

/// A route pattern (`/w/{ws}/users/{id}`) matching a concrete path.
fn matches(pattern: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    let (p, c): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == c.len()
        && p.iter()
            .zip(&c)
            .all(|(p, c)| (p.starts_with('{') && !c.is_empty()) || p == c)
}

/// What the walk has to work with: a workspace with a member on a verified domain, a custom
/// role, a pending invite, a permission request, and live links of every kind.
struct World {
    owner: Client,
    visitor: Client,
    /// GET paths to read forms from, with the client that opens them.
    pages: Vec<(bool, String)>,
}

async fn world(app: &TestApp) -> World {
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    app.with_db(|conn| domains::verify_by_operator(conn, "acme", "acme.example").unwrap());
    // A pending domain too, so the Domains screen offers Check now.
    app.with_db(|conn| domains::add_by_operator(conn, "acme", "pending.example").unwrap());
    let mia = app.add_member(
        ws.workspace_id,
        "mia@acme.example",
        "Mia Member",
        BuiltinRole::Member,
    );
    let member_role = app.role_id(ws.workspace_id, BuiltinRole::Member);
    // A direct grant, so Mia's page offers its Revoke button.
    app.with_db(|conn| {
        use gatehouse::permissions::{Grant, Permission};
        gatehouse::models::role::Role::grant(
            conn,
            mia,
            &Grant {
                permission: Permission::RecordsDelete,
                scope: None,
            },
            None,
            ws.account_id,
            gatehouse::models::now(),
        )
        .unwrap()
    });

    let owner = app.client();
    assert_eq!(
        owner.sign_in("olivia@acme.example", PASSWORD).await.status,
        303
    );
    let role = owner
        .submit(
            "/w/acme/roles/new",
            "/w/acme/roles/new",
            &[
                ("name", "Auditor"),
                ("description", "Reads"),
                ("perm.members.view", "all"),
            ],
        )
        .await;
    assert_eq!(role.status, 303, "custom role: {}", role.body);
    let role_path = format!("/w/acme/roles/{}", role_id(app, "Auditor"));
    let invite = owner
        .submit(
            "/w/acme/invites",
            "/w/acme/invites",
            &[
                ("emails", "newcomer@elsewhere.example"),
                ("role", &member_role.to_string()),
                ("seat_type", "member"),
                ("name", ""),
                ("message", ""),
                ("notification_email", ""),
                ("metadata", ""),
            ],
        )
        .await;
    assert_eq!(invite.status, 303, "invite: {}", invite.body);
    let added = owner
        .submit(
            "/account",
            "/account/emails",
            &[
                ("email", "olivia@second.example"),
                ("current_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "second address: {}", added.body);

    let settings = owner
        .submit(
            "/w/acme/settings",
            "/w/acme/settings",
            &[
                ("section", "general"),
                ("name", "Acme"),
                ("slug", "acme"),
                ("invite_expiry_days", "7"),
                ("modules", "CRM\nBilling"),
            ],
        )
        .await;
    assert_eq!(settings.status, 303, "modules: {}", settings.body);
    let gone = app.add_member(
        ws.workspace_id,
        "gus@acme.example",
        "Gus Gone",
        BuiltinRole::Member,
    );
    let archived = owner
        .submit(
            &format!("/w/acme/users/{gone}"),
            &format!("/w/acme/users/{gone}/archive"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(archived.status, 303, "archive: {}", archived.body);
    // A second confirmed address for Mia (on the verified domain) and for Olivia, so the
    // make-primary and remove forms appear; Olivia also belongs to Beta, so Leave appears.
    app.add_confirmed_address("mia@acme.example", "mia.m@acme.example");
    app.add_confirmed_address("olivia@acme.example", "olivia@third.example");
    let beta = app.create_workspace("Beta", "bob@beta.example", "Bob Beta");
    app.add_member(
        beta.workspace_id,
        "olivia@acme.example",
        "Olivia Owner",
        BuiltinRole::Member,
    );
    // Gamma lets people with a confirmed address on third.example ask to join: Olivia has
    // one, so her home page offers "Ask to join Gamma" (POST /w/{ws}/join).
    let gamma = app.create_workspace("Gamma", "gail@gamma.example", "Gail Gamma");
    let gamma_member = app.role_id(gamma.workspace_id, BuiltinRole::Member);
    app.with_db(|conn| {
        let claimed = domains::verify_by_operator(conn, "gamma", "third.example").unwrap();
        gatehouse::models::domain::Domain::set_policy(
            conn,
            claimed.id,
            "approval",
            &[gamma_member],
            false,
            gamma.account_id,
        )
        .unwrap()
    });
    let other_device = app.client();
    assert_eq!(
        other_device
            .sign_in("olivia@acme.example", PASSWORD)
            .await
            .status,
        303
    );

    let mia_client = app.client();
    assert_eq!(
        mia_client
            .sign_in("mia@acme.example", PASSWORD)
            .await
            .status,
        303
    );
    let asked = mia_client
        .submit(
            "/w/acme/requests/new",
            "/w/acme/requests/new",
            &[
                ("permission", "records.export"),
                ("scope", "own"),
                ("reason", "Quarterly report"),
            ],
        )
        .await;
    assert_eq!(asked.status, 303, "permission request: {}", asked.body);

    let visitor = app.client();
    let forgot = visitor
        .submit(
            "/forgot-password",
            "/forgot-password",
            &[("email", "mia@acme.example")],
        )
        .await;
    assert!(forgot.status.is_success() || forgot.status == 303);

    let mut mails = app.mail.wait_for(3).await;
    for _ in 0..100 {
        let to: BTreeSet<&str> = mails.iter().map(|m| m.to.as_str()).collect();
        if [
            "newcomer@elsewhere.example",
            "olivia@second.example",
            "mia@acme.example",
        ]
        .iter()
        .all(|a| to.contains(a))
        {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
        mails = app.mail.received();
    }
    let invite_path = mail_to(
        &mails,
        "newcomer@elsewhere.example",
        "You've been invited to Acme",
    )
    .invite_path();
    let verify_path = link(
        mails
            .iter()
            .find(|m| m.to == "olivia@second.example")
            .unwrap(),
        "/account/emails/verify/",
    );
    let reset_path = link(
        mails.iter().find(|m| m.to == "mia@acme.example").unwrap(),
        "/reset/",
    );

    let mut pages = vec![
        (true, "/".to_string()),
        (true, "/w/acme/users".to_string()),
        (true, format!("/w/acme/users/{mia}")),
        (true, "/w/acme/invites".to_string()),
        (true, "/w/acme/roles".to_string()),
        (true, "/w/acme/roles/new".to_string()),
        (true, role_path),
        (true, "/w/acme/settings".to_string()),
        (true, "/w/acme/settings/domains".to_string()),
        (true, "/w/acme/requests".to_string()),
        (true, "/w/acme/requests/new".to_string()),
        (true, "/account".to_string()),
        (true, verify_path),
        (false, "/login".to_string()),
        (false, "/forgot-password".to_string()),
        (false, invite_path),
        (false, reset_path),
    ];
    // The Owner's own member page (transfer of ownership needs another Admin).
    let ada = app.add_member(
        ws.workspace_id,
        "ada@acme.example",
        "Ada Admin",
        BuiltinRole::Admin,
    );
    pages.push((true, format!("/w/acme/users/{ada}")));
    pages.push((true, format!("/w/acme/users/{gone}")));
    // The invite link, on and requiring approval: its settings page (with Rotate), a join
    // request waiting on Requests, the link's page for a new person and a new person's
    // confirmation page.
    let enabled = owner
        .submit(
            "/w/acme/settings/link",
            "/w/acme/settings/link",
            &[
                ("enabled", "on"),
                ("require_approval", "on"),
                ("role", &member_role.to_string()),
            ],
        )
        .await;
    assert_eq!(enabled.status, 303, "invite link: {}", enabled.body);
    let shown = owner.get("/w/acme/settings/link").await.body;
    let at = shown
        .find("id=\"join-url\"")
        .expect("the link is shown once");
    let start = shown[at..].find("/join/").unwrap() + at;
    let join_path = shown[start..start + shown[start..].find('"').unwrap()].to_string();
    let bob = app.client();
    bob.sign_in("bob@beta.example", PASSWORD).await;
    let asked = bob.submit(&join_path, &join_path, &[]).await;
    assert_eq!(asked.status, 303, "join request: {}", asked.body);
    let newcomer = app.client();
    let started = newcomer
        .submit(
            &join_path,
            &join_path,
            &[
                ("name", "Nell New"),
                ("email", "nell@new.example"),
                ("password", "a long enough password"),
                ("password_confirm", "a long enough password"),
            ],
        )
        .await;
    assert_eq!(started.status, 303, "new person: {}", started.body);
    let mut confirm_path = None;
    for _ in 0..100 {
        if let Some(m) = app
            .mail
            .received()
            .iter()
            .find(|m| m.to == "nell@new.example")
        {
            confirm_path = Some(link(m, "/join/confirm/"));
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    pages.push((true, "/w/acme/settings/link".to_string()));
    pages.push((false, join_path));
    pages.push((false, confirm_path.expect("the confirmation mail")));
    World {
        owner,
        visitor,
        pages,
    }
}

fn role_id(app: &TestApp, name: &str) -> i64 {
    use diesel::prelude::*;
    use gatehouse::db::schema::roles;
    app.with_db(|conn| {
        roles::table
            .filter(roles::name.eq(name))
            .select(roles::id)
            .first(conn)
            .unwrap()
    })
}

/// Reads the POST forms of these pages and posts every bad value into each field in turn;
/// returns how many posts were made, the forms found, and what went wrong.
async fn walk_forms(app: &TestApp, pages: &[(&Client, String)]) -> (usize, Vec<Form>, Vec<String>) {
    let mut found: Vec<(&Client, Form)> = Vec::new();
    for (client, page) in pages {
        let (status, body) = get_status(client, page).await;
        assert_eq!(status, 200, "GET {page}: {body}");
        for form in forms(page, &body) {
            for per_field in per_field_forms(&form) {
                found.push((client, per_field));
            }
            found.push((client, form));
        }
    }
    let mut tried = 0;
    let mut failures: Vec<String> = Vec::new();
    for (client, form) in &found {
        if form.action == "/logout" {
            continue;
        }
        let names: BTreeSet<String> = form.fields.iter().map(|f| f.name.clone()).collect();
        for name in names {
            let kind = form
                .fields
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.kind.clone())
                .unwrap();
            let before = fingerprint(app);
            for (label, raw) in BAD {
                let (status, body) =
                    post_body(client, &form.action, body_with(form, &name, raw)).await;
                let what = format!(
                    "POST {} (form on {}) with {label} in `{name}`",
                    form.action, form.page
                );
                tried += 1;
                if !(400..500).contains(&status) {
                    failures.push(format!("{what} answered {status}"));
                } else if kind == Kind::Typed && name != "csrf_token" {
                    if status != 422 {
                        failures.push(format!("{what} answered {status}, not 422"));
                    } else if !marked_invalid(&body, &name) {
                        failures.push(format!("{what}: the field is not marked invalid"));
                    }
                }
            }
            let after = fingerprint(app);
            for (table, rows) in &before {
                if after.get(table) != Some(rows) {
                    failures.push(format!("POST {} `{name}` changed {table}", form.action));
                }
            }
        }
    }
    (tried, found.into_iter().map(|(_, f)| f).collect(), failures)
}

async fn the_setup_form_refuses_bad_text_in_every_field_and_changes_nothing(app: TestApp) {
    let token = app
        .setup_token
        .clone()
        .expect("an empty database offers setup");
    let visitor = app.client();
    let page = format!("/setup?token={token}");
    let (tried, found, failures) = walk_forms(&app, &[(&visitor, page)]).await;
    assert!(
        found.iter().any(|f| matches("/setup", &f.action)),
        "the setup form: {found:?}"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(tried >= 5 * BAD.len(), "the walk posted {tried} bad values");
}

async fn every_form_field_refuses_control_direction_and_invisible_characters_and_changes_nothing(
    app: TestApp,
) {
    let world = world(&app).await;
    let pages: Vec<(&Client, String)> = world
        .pages
        .iter()
        .map(|(signed_in, page)| {
            let client = if *signed_in {
                &world.owner
            } else {
                &world.visitor
            };
            (client, page.clone())
        })
        .collect();
    let (tried, found, failures) = walk_forms(&app, &pages).await;

    // Every POST of the route table is reached by some form (else the walk misses a path);
    // first-run setup has its own walk.
    let unreached: Vec<&str> = gatehouse::web::ROUTES
        .iter()
        .filter(|(m, p)| *m == "POST" && *p != "/setup")
        .map(|(_, p)| *p)
        .filter(|p| !found.iter().any(|f| matches(p, &f.action)))
        .collect();
    assert!(unreached.is_empty(), "no form found for POST {unreached:?}");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(tried > 300, "the walk posted {tried} bad values");
}

async fn every_query_parameter_and_path_segment_with_bad_text_answers_without_a_server_error(
    app: TestApp,
) {
    let world = world(&app).await;
    let before = fingerprint(&app);
    let mut params: BTreeSet<String> = [
        "q",
        "status",
        "role",
        "seat",
        "department",
        "sort",
        "page",
        "next",
        "token",
        "permission",
        "scope",
        "format",
        "as_of",
        "from",
        "to",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (signed_in, page) in &world.pages {
        let client = if *signed_in {
            &world.owner
        } else {
            &world.visitor
        };
        let (_, body) = get_status(client, page).await;
        let html = Html::parse_document(&body);
        for el in html.select(&selector("form:not([method=post]) [name]")) {
            params.insert(el.value().attr("name").unwrap().to_string());
        }
        for a in html.select(&selector("a[href*='?']")) {
            let href = a.value().attr("href").unwrap();
            let query = href.split_once('?').map(|(_, q)| q).unwrap_or("");
            for (k, _) in form_urlencoded::parse(query.as_bytes()) {
                params.insert(k.into_owned());
            }
        }
    }
    let mut tried = 0;
    let mut failures: Vec<String> = Vec::new();
    for (signed_in, page) in &world.pages {
        let client = if *signed_in {
            &world.owner
        } else {
            &world.visitor
        };
        let path = page.split('?').next().unwrap();
        for param in &params {
            for (label, raw) in BAD {
                let url = format!("{path}?{}={raw}", encode(param));
                let (status, _) = get_status(client, &url).await;
                if status >= 500 {
                    failures.push(format!("GET {url} ({label}) answered {status}"));
                }
                tried += 1;
            }
        }
    }
    // Path segments: every placeholder of every route, signed in and not, GET and POST.
    let token = world.owner.get("/account").await.csrf();
    for (method, pattern) in gatehouse::web::ROUTES {
        let placeholders: Vec<&str> = pattern.split('/').filter(|s| s.starts_with('{')).collect();
        for placeholder in placeholders {
            for (label, raw) in BAD {
                let path = pattern
                    .replace(placeholder, raw)
                    .replace("{ws}", "acme")
                    .replace("{id}", "1")
                    .replace("{eid}", "1")
                    .replace("{token}", "x")
                    .replace("{file}", "app.css");
                for client in [&world.owner, &world.visitor] {
                    let (status, _) = if *method == "GET" {
                        get_status(client, &path).await
                    } else {
                        post_body(client, &path, format!("csrf_token={}", encode(&token))).await
                    };
                    if status >= 500 {
                        failures.push(format!(
                            "{method} {path} ({label} in {placeholder}) answered {status}"
                        ));
                    }
                    tried += 1;
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(tried > 500, "the walk sent {tried} requests");
    assert_unchanged(
        &before,
        &fingerprint(&app),
        "bad query parameters and paths",
    );
}

async fn a_name_that_hides_its_extension_behind_a_direction_override_is_refused_on_every_name_path(
    app: TestApp,
) {
    // "Mem \u{202e}gnp.exe" displays as "Mem exe.png".
    let spoof = "Mem \u{202e}gnp.exe";
    let ws = app.create_workspace("Acme", "olivia@acme.example", "Olivia Owner");
    app.with_db(|conn| domains::verify_by_operator(conn, "acme", "acme.example").unwrap());
    let mia = app.add_member(
        ws.workspace_id,
        "mia@acme.example",
        "Mia Member",
        BuiltinRole::Member,
    );
    let owner = app.client();
    owner.sign_in("olivia@acme.example", PASSWORD).await;

    let own = owner
        .submit("/account", "/account/name", &[("name", spoof)])
        .await;
    assert_eq!(own.status, 422);
    own.assert_contains("text-direction characters");
    assert_eq!(account_name(&app, "olivia@acme.example"), "Olivia Owner");

    let member_page = format!("/w/acme/users/{mia}");
    let theirs = owner
        .submit(
            &member_page,
            &format!("{member_page}/name"),
            &[("name", spoof)],
        )
        .await;
    assert_eq!(theirs.status, 422);
    assert_eq!(account_name(&app, "mia@acme.example"), "Mia Member");

    let role = owner
        .submit(
            "/w/acme/roles/new",
            "/w/acme/roles/new",
            &[("name", spoof), ("description", "")],
        )
        .await;
    assert_eq!(role.status, 422);

    let member_role = app
        .role_id(ws.workspace_id, BuiltinRole::Member)
        .to_string();
    let invite = owner
        .submit(
            "/w/acme/invites",
            "/w/acme/invites",
            &[
                ("emails", "new@elsewhere.example"),
                ("role", &member_role),
                ("seat_type", "member"),
                ("name", spoof),
            ],
        )
        .await;
    assert_eq!(invite.status, 422);
    assert_eq!(app.count("invites"), 0);
    let invite = owner
        .submit(
            "/w/acme/invites",
            "/w/acme/invites",
            &[
                ("emails", "new@elsewhere.example"),
                ("role", &member_role),
                ("seat_type", "member"),
            ],
        )
        .await;
    assert_eq!(invite.status, 303);
    let mail = app.mail.wait_for(1).await;
    let path = mail_to(
        &mail,
        "new@elsewhere.example",
        "You've been invited to Acme",
    )
    .invite_path();
    let invitee = app.client();
    let accepted = invitee
        .submit(
            &path,
            &path,
            &[
                ("name", spoof),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(accepted.status, 422);
    assert_eq!(app.count("accounts"), 2, "no account was made");
    assert_eq!(app.count("roles"), 5, "no role was made");
}

/// SPEC §4.2, walked over the route table: every form of Acme's pages that names an object
/// by id (`{id}`, `{eid}`, `{gid}`), posted as it is by the Owner of another workspace —
/// aimed at their own workspace's URL, or at the account route as it stands — answers
/// 404 and changes nothing (sessions included: nobody else's is ended).
async fn every_form_naming_an_object_answers_404_to_another_workspaces_owner_and_changes_nothing(
    app: TestApp,
) {
    let world = world(&app).await;
    let mut found: Vec<Form> = Vec::new();
    for (signed_in, page) in &world.pages {
        if *signed_in {
            let (status, body) = get_status(&world.owner, page).await;
            assert_eq!(status, 200, "GET {page}");
            for form in forms(page, &body) {
                found.extend(per_field_forms(&form));
                found.push(form);
            }
        }
    }
    app.create_workspace("Zed Corp", "zed@zed.example", "Zed Owner");
    let zed = app.client();
    assert_eq!(zed.sign_in("zed@zed.example", PASSWORD).await.status, 303);
    let token = zed.get("/w/zed-corp/users").await.csrf();
    let id_routes: Vec<&str> = gatehouse::web::ROUTES
        .iter()
        .filter(|(m, p)| *m == "POST" && ["{id}", "{eid}", "{gid}"].iter().any(|k| p.contains(k)))
        .map(|(_, p)| *p)
        .collect();
    let sessions = app.count("sessions");
    let before = fingerprint(&app);
    let mut tried: BTreeSet<&str> = BTreeSet::new();
    let mut failures: Vec<String> = Vec::new();
    for form in &found {
        // `/roles/new` is its own route, not `/roles/{id}`.
        let named = gatehouse::web::ROUTES
            .iter()
            .any(|(m, p)| *m == "POST" && !id_routes.contains(p) && matches(p, &form.action));
        let Some(pattern) = id_routes.iter().find(|p| matches(p, &form.action)) else {
            continue;
        };
        if named {
            continue;
        }
        let path = match form.action.strip_prefix("/w/acme/") {
            Some(rest) => format!("/w/zed-corp/{rest}"),
            None if form.action.starts_with("/w/") => continue,
            None => form.action.clone(),
        };
        let (status, _) =
            post_body(&zed, &path, body_with(form, "csrf_token", &encode(&token))).await;
        tried.insert(pattern);
        if status != 404 {
            failures.push(format!(
                "POST {path} (form on {}) answered {status}",
                form.page
            ));
        }
    }
    assert_unchanged(&before, &fingerprint(&app), "a foreign id");
    assert_eq!(
        app.count("sessions"),
        sessions,
        "nobody's session was ended"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let untried: Vec<&&str> = id_routes.iter().filter(|p| !tried.contains(**p)).collect();
    assert!(untried.is_empty(), "no form reached {untried:?}");
}
