//! `gatehouse seed`: fills a workspace with realistic members for benchmarks — names,
//! addresses, roles, an eight-wide reporting tree, departments — in large batches.

use diesel::prelude::*;
use serde_json::json;

use crate::db::schema::{accounts, email_addresses, member_roles, members, workspaces};
use crate::db::{is_postgres, write_transaction, DbConn};
use crate::models;
use crate::models::account::search_text;
use crate::models::audit::{self, Actor, Event};
use crate::models::role::Role;
use crate::models::workspace::Workspace;
use crate::permissions::BuiltinRole;

const FIRST: &[&str] = &[
    "Ana",
    "Ben",
    "Chloé",
    "Dmitri",
    "Elena",
    "Farah",
    "Gustavo",
    "Hana",
    "Ivan",
    "Jasmine",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Oscar",
    "Priya",
    "Quentin",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Viktor",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoe",
    "Aiko",
    "Bruno",
    "Carmen",
    "Diego",
    "Emeka",
    "Fatima",
    "Giulia",
    "Hugo",
    "Ines",
    "Jonas",
    "Kira",
    "Luca",
    "Maya",
    "Noah",
    "Olga",
    "Pablo",
    "Rania",
    "Samir",
    "Tomás",
    "Valentina",
    "William",
    "Yara",
];
const LAST: &[&str] = &[
    "Silva",
    "Okafor",
    "Müller",
    "Nakamura",
    "Kowalski",
    "Haddad",
    "Johansson",
    "Rossi",
    "Dubois",
    "García",
    "Smith",
    "Chen",
    "Patel",
    "Ivanova",
    "Andersen",
    "Costa",
    "Novak",
    "Fischer",
    "Ali",
    "Kim",
    "Moreau",
    "Santos",
    "Schmidt",
    "Yilmaz",
    "Tanaka",
    "O'Brien",
    "Mendes",
    "Larsen",
    "Nguyen",
    "Hoffmann",
    "Popescu",
    "Ramírez",
    "Svensson",
    "Kaur",
    "Lindqvist",
    "Bianchi",
    "Dvořák",
    "Mwangi",
    "Park",
    "Horvat",
];
const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Sales",
    "Marketing",
    "Support",
    "Finance",
    "People",
    "Legal",
    "Operations",
    "Design",
    "Product",
    "Data",
    "Security",
];
const BATCH: usize = 500;

/// Multi-row INSERT on the concrete connection (the portable backend has no batch insert).
macro_rules! batch_insert {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            DbConn::Sqlite(c) => diesel::insert_into($table).values($rows).execute(c)?,
            DbConn::Pg(c) => diesel::insert_into($table).values($rows).execute(c)?,
        }
    };
}

fn ascii_slug(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            'á' | 'à' | 'ã' => Some('a'),
            'é' | 'è' => Some('e'),
            'í' => Some('i'),
            'ó' | 'ö' => Some('o'),
            'ü' | 'ú' => Some('u'),
            'ř' => Some('r'),
            'ž' => Some('z'),
            c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

fn next_id(conn: &mut DbConn, table: &str) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Max {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let row: Max = diesel::sql_query(format!("SELECT COALESCE(MAX(id), 0) AS id FROM {table}"))
        .get_result(conn)?;
    Ok(row.id + 1)
}

/// Adds `count` members to the workspace with this slug and makes it unlimited.
pub fn seed_members(conn: &mut DbConn, slug: &str, count: usize) -> Result<(), String> {
    let err = |e: diesel::result::Error| e.to_string();
    let workspace = Workspace::find_by_slug(conn, slug)
        .map_err(err)?
        .ok_or_else(|| {
            format!("no workspace with slug `{slug}` (create it with create-owner first)")
        })?;
    let builtin = |conn: &mut DbConn, r| Role::find_builtin(conn, workspace.id, r);
    let roles = [
        builtin(conn, BuiltinRole::Admin).map_err(err)?,
        builtin(conn, BuiltinRole::Manager).map_err(err)?,
        builtin(conn, BuiltinRole::Member).map_err(err)?,
        builtin(conn, BuiltinRole::Viewer).map_err(err)?,
    ];
    let (admin, manager, member, viewer) = (roles[0].id, roles[1].id, roles[2].id, roles[3].id);
    let role_name = |id: i64| {
        roles
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.name.clone())
            .unwrap_or_default()
    };
    let first_account = next_id(conn, "accounts").map_err(err)?;
    let first_member = next_id(conn, "members").map_err(err)?;
    let first_email = next_id(conn, "email_addresses").map_err(err)?;
    let now = models::now();
    let mut done = 0;
    while done < count {
        let n = BATCH.min(count - done);
        write_transaction(conn, |conn| -> QueryResult<()> {
            let mut account_rows = Vec::with_capacity(n);
            let mut email_rows = Vec::with_capacity(n);
            let mut member_rows = Vec::with_capacity(n);
            let mut role_rows = Vec::with_capacity(n);
            // (member id, address, status, role id): each seeded member's `member.joined`.
            let mut joined = Vec::with_capacity(n);
            for k in 0..n {
                let i = done + k;
                let first = FIRST[i % FIRST.len()];
                let last = LAST[(i / FIRST.len()) % LAST.len()];
                let name = format!("{first} {last}");
                let address = format!(
                    "{}.{}{}@{}.example",
                    ascii_slug(first),
                    ascii_slug(last),
                    i,
                    ["acme", "globex", "initech"][i % 3]
                );
                let account_id = first_account + i as i64;
                let member_id = first_member + i as i64;
                // An eight-wide reporting tree under the first seeded member.
                let manager_id = (i > 0).then(|| first_member + ((i - 1) / 8) as i64);
                let has_reports = i * 8 + 1 < count;
                let status = match i % 100 {
                    97 | 98 => "archived",
                    99 => "removed",
                    _ => "active",
                };
                account_rows.push((
                    accounts::id.eq(account_id),
                    accounts::name.eq(name.clone()),
                    accounts::password_hash.eq(None::<String>),
                    accounts::search_text.eq(search_text(&name, [address.as_str()])),
                    accounts::created_at.eq(now),
                    accounts::updated_at.eq(now),
                ));
                email_rows.push((
                    email_addresses::id.eq(first_email + i as i64),
                    email_addresses::account_id.eq(account_id),
                    email_addresses::address.eq(address.clone()),
                    email_addresses::canonical.eq(address.clone()),
                    email_addresses::verified.eq(true),
                    email_addresses::is_primary.eq(true),
                    email_addresses::created_at.eq(now),
                    email_addresses::verified_at.eq(Some(now)),
                ));
                member_rows.push((
                    members::id.eq(member_id),
                    members::workspace_id.eq(workspace.id),
                    members::account_id.eq(account_id),
                    members::status.eq(status),
                    members::seat_type.eq(if i % 7 == 0 { "builder" } else { "member" }),
                    members::manager_id.eq(manager_id),
                    members::department.eq(Some(DEPARTMENTS[i % DEPARTMENTS.len()])),
                    members::metadata.eq("{}"),
                    members::sort_name.eq(name.to_lowercase()),
                    members::joined_at.eq(now - chrono::TimeDelta::minutes(i as i64)),
                    members::updated_at.eq(now),
                ));
                let role = if i % 500 == 0 {
                    admin
                } else if has_reports {
                    manager
                } else if i % 10 == 3 {
                    viewer
                } else {
                    member
                };
                joined.push((member_id, address, status, role));
                if status != "removed" {
                    role_rows.push((
                        member_roles::member_id.eq(member_id),
                        member_roles::role_id.eq(role),
                        member_roles::is_primary.eq(true),
                    ));
                }
            }
            batch_insert!(conn, accounts::table, account_rows);
            batch_insert!(conn, email_addresses::table, email_rows);
            batch_insert!(conn, members::table, member_rows);
            batch_insert!(conn, member_roles::table, role_rows);
            // The membership history (`services::membership_history`) reads joins from the
            // log: each seeded member is recorded as joined in the status it was seeded in.
            let events: Vec<Event<'_>> = joined
                .iter()
                .map(|(member_id, address, status, role)| {
                    let roles = if *status == "removed" {
                        json!({"roles": [], "role_ids": []})
                    } else {
                        json!({"roles": [role_name(*role)], "role_ids": [role]})
                    };
                    let mut after = json!({"status": status, "seeded": true});
                    after["roles"] = roles["roles"].clone();
                    after["role_ids"] = roles["role_ids"].clone();
                    Event::new("member.joined")
                        .workspace(workspace.id)
                        .target("member", *member_id, address)
                        .changes(json!({ "after": after }))
                })
                .collect();
            audit::record_all(conn, &Actor::operator(), &events)?;
            Ok(())
        })
        .map_err(err)?;
        done += n;
    }
    write_transaction(conn, |conn| -> QueryResult<()> {
        if is_postgres(conn) {
            // Explicit ids were used for speed: move the identity sequences past them.
            for table in ["accounts", "email_addresses", "members"] {
                diesel::sql_query(format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                ))
                .execute(conn)?;
            }
        }
        let active: i64 = members::table
            .filter(members::workspace_id.eq(workspace.id))
            .filter(members::status.eq("active"))
            .count()
            .get_result(conn)?;
        diesel::update(workspaces::table.find(workspace.id))
            .set((
                workspaces::active_members.eq(active as i32),
                workspaces::seat_limit.eq(None::<i32>),
                workspaces::plan.eq(Some("enterprise")),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            &Actor::operator(),
            Event::new("workspace.seeded")
                .workspace(workspace.id)
                .label(slug)
                .changes(json!({"members_added": count, "plan": "enterprise"})),
        )
    })
    .map_err(err)?;
    // Fresh statistics so both planners pick the list and search indexes; after a bulk
    // load, merge the FTS5 segments (SQLite) and set the visibility map (PostgreSQL), or
    // searches and index-only scans pay for the load until background work catches up.
    if is_postgres(conn) {
        diesel::sql_query("VACUUM (ANALYZE)")
            .execute(conn)
            .map_err(err)?;
    } else {
        diesel::sql_query(
            "INSERT INTO account_search_member(account_search_member) VALUES ('optimize')",
        )
        .execute(conn)
        .map_err(err)?;
        diesel::sql_query("ANALYZE").execute(conn).map_err(err)?;
    }
    Ok(())
}
