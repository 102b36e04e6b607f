//! The two migration folders and `src/db/schema.rs` must describe the same tables and
//! columns (types and nullability), so one code path really serves both backends.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use gatehouse::db::{self, DbConn, DbTarget};

use crate::support::{Backend, TestDb};

type Columns = BTreeSet<String>;

#[derive(QueryableByName)]
struct SqliteColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = BigInt)]
    not_null: i64,
    #[diesel(sql_type = BigInt)]
    pk: i64,
}

#[derive(QueryableByName)]
struct PgColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
}

fn line(table: &str, column: &str, kind: &str, nullable: bool) -> String {
    if nullable {
        format!("{table}.{column}: Nullable<{kind}>")
    } else {
        format!("{table}.{column}: {kind}")
    }
}

fn migrated(backend: Backend) -> (TestDb, db::PooledConn) {
    let test_db = TestDb::new(backend);
    let pool = db::connect(&test_db.target, 1).expect("connect");
    let mut conn = pool.get().expect("conn");
    db::migrate(&mut conn).expect("migrate");
    (test_db, conn)
}

fn sqlite_columns() -> Columns {
    let (_db, mut conn) = migrated(Backend::Sqlite);
    let DbConn::Sqlite(conn) = &mut *conn else {
        panic!("sqlite")
    };
    let rows: Vec<SqliteColumn> = diesel::sql_query(
        "SELECT m.name AS table_name, p.name AS name, p.type AS kind, p.\"notnull\" AS not_null, p.pk AS pk \
         FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '__diesel%' \
         AND m.name NOT LIKE 'account_search%'",
    )
    .load(conn)
    .expect("introspect sqlite");
    rows.into_iter()
        .map(|c| {
            let kind = match (c.kind.as_str(), c.pk) {
                ("INTEGER", 1) | ("BIGINT", _) => "BigInt",
                ("INTEGER", _) => "Integer",
                ("TEXT", _) => "Text",
                ("BOOLEAN", _) => "Bool",
                ("TIMESTAMP", _) => "Timestamp",
                (other, _) => panic!(
                    "unexpected SQLite type {other} for {}.{}",
                    c.table_name, c.name
                ),
            };
            line(&c.table_name, &c.name, kind, c.not_null == 0 && c.pk == 0)
        })
        .collect()
}

fn postgres_columns() -> Columns {
    let (_db, mut conn) = migrated(Backend::Postgres);
    let DbConn::Pg(conn) = &mut *conn else {
        panic!("postgres")
    };
    let rows: Vec<PgColumn> = diesel::sql_query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name, data_type::text AS data_type, \
         is_nullable::text AS is_nullable FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '__diesel%'",
    )
    .load(conn)
    .expect("introspect postgres");
    rows.into_iter()
        .map(|c| {
            let kind = match c.data_type.as_str() {
                "bigint" => "BigInt",
                "integer" => "Integer",
                "text" => "Text",
                "boolean" => "Bool",
                "timestamp without time zone" => "Timestamp",
                other => panic!(
                    "unexpected PostgreSQL type {other} for {}.{}",
                    c.table_name, c.column_name
                ),
            };
            line(&c.table_name, &c.column_name, kind, c.is_nullable == "YES")
        })
        .collect()
}

/// Reads the `diesel::table!` blocks of `src/db/schema.rs`.
fn schema_rs_columns() -> Columns {
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/db/schema.rs"))
        .expect("schema.rs");
    let mut table = String::new();
    let mut out = Columns::new();
    for raw in source.lines() {
        let l = raw.trim();
        if let Some((name, _)) = l
            .split_once(" (")
            .filter(|_| raw.starts_with("    ") && !raw.starts_with("        ") && l.ends_with('{'))
        {
            table = name.to_string();
        } else if let Some((column, kind)) =
            l.split_once(" -> ").filter(|_| raw.starts_with("        "))
        {
            let kind = kind.trim_end_matches(',');
            match kind
                .strip_prefix("Nullable<")
                .and_then(|k| k.strip_suffix('>'))
            {
                Some(inner) => out.insert(line(&table, column, inner, true)),
                None => out.insert(line(&table, column, kind, false)),
            };
        }
    }
    out
}

fn diff(a: &Columns, b: &Columns) -> Vec<String> {
    a.symmetric_difference(b).cloned().collect()
}

pub fn both_migration_folders_match_schema_rs() {
    let declared = schema_rs_columns();
    assert!(declared.len() > 50, "parsed schema.rs: {declared:?}");
    let sqlite = sqlite_columns();
    let postgres = postgres_columns();
    assert!(
        diff(&declared, &sqlite).is_empty(),
        "schema.rs vs SQLite migrations differ: {:?}",
        diff(&declared, &sqlite)
    );
    assert!(
        diff(&declared, &postgres).is_empty(),
        "schema.rs vs PostgreSQL migrations differ: {:?}",
        diff(&declared, &postgres)
    );
    let _ = DbTarget::parse("sqlite://x").expect("parse");
}
