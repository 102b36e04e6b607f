//! The database: one connection type over SQLite and PostgreSQL, the pool, migrations,
//! and the few helpers that must differ per backend (write transactions, raw SQL).

pub mod schema;

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryResult};

use crate::error::AppResult;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

/// One connection type for both backends; queries are written once against it.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

pub type DbPool = r2d2::Pool<DbManager>;
pub type PooledConn = r2d2::PooledConnection<DbManager>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Set on every SQLite connection: integrity, concurrency (WAL + a busy wait instead of
/// SQLITE_BUSY), a 64 MiB page cache, and reads through a 256 MiB mmap: every pooled
/// connection then shares the OS's copy of the file instead of copying pages into its own
/// cache (Users page 1 under wrk: +18 % req/s; RSS counts the file per connection's
/// mapping, but the proportional set size stays the same and the private heap shrinks).
const SQLITE_PRAGMAS: &str = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
     PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536; \
     PRAGMA temp_store = MEMORY; PRAGMA mmap_size = 268435456;";

/// Which database a `DATABASE_URL` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbTarget {
    Sqlite(String),
    Postgres(String),
}

impl DbTarget {
    /// Accepts `sqlite://PATH` and `postgres://…` / `postgresql://…`; anything else is refused,
    /// so a typo never silently creates a new SQLite file.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(
                    "DATABASE_URL `sqlite://` needs a file path, e.g. sqlite://gatehouse.db".into(),
                );
            }
            return Ok(DbTarget::Sqlite(path.to_string()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DbTarget::Postgres(url.to_string()));
        }
        Err(format!(
            "DATABASE_URL must start with sqlite:// or postgres:// (got `{}`)",
            redact_url(url)
        ))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            DbTarget::Sqlite(_) => "SQLite",
            DbTarget::Postgres(_) => "PostgreSQL",
        }
    }
}

/// The URL without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &userinfo[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// r2d2 manager that opens the backend the target names (the derived `establish` would try
/// each backend in turn and hide the real error) and applies the SQLite pragmas.
#[derive(Clone, Debug)]
pub struct DbManager {
    target: DbTarget,
}

impl ManageConnection for DbManager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        match &self.target {
            DbTarget::Sqlite(path) => {
                let mut conn =
                    SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(conn))
            }
            DbTarget::Postgres(url) => Ok(DbConn::Pg(
                PgConnection::establish(url).map_err(r2d2::Error::ConnectionError)?,
            )),
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// Opens the pool, failing fast with the database's own error when it cannot connect.
pub fn connect(target: &DbTarget, max_size: u32) -> Result<DbPool, String> {
    if let DbTarget::Sqlite(path) = target {
        let parent = std::path::Path::new(path).parent();
        if let Some(dir) = parent.filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                return Err(format!(
                    "the folder of the SQLite file `{path}` does not exist"
                ));
            }
        }
    }
    let manager = DbManager {
        target: target.clone(),
    };
    // Open one connection first so a bad URL reports its real cause, not a pool timeout.
    manager
        .connect()
        .map_err(|e| format!("cannot open the {} database: {e}", target.backend_name()))?;
    r2d2::Pool::builder()
        .max_size(max_size)
        .connection_timeout(Duration::from_secs(10))
        // No `SELECT 1` on every checkout: a broken connection is caught by `has_broken`
        // and its error reaches the request, which is cheaper than a ping per query batch.
        .test_on_check_out(false)
        .build(manager)
        .map_err(|e| format!("cannot open the {} database: {e}", target.backend_name()))
}

/// Applies the pending migrations of the backend in use; returns how many ran.
pub fn migrate(conn: &mut DbConn) -> Result<usize, String> {
    let applied = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        DbConn::Pg(c) => c.run_pending_migrations(PG_MIGRATIONS).map(|v| v.len()),
    };
    applied.map_err(|e| format!("migration failed: {e}"))
}

/// A transaction that takes the write lock at `BEGIN` on SQLite (`BEGIN IMMEDIATE`), so a
/// check-then-write never fails half-way with SQLITE_BUSY; a plain transaction on
/// PostgreSQL, where the function takes row locks (`lock_workspace`) as it needs them.
pub fn write_transaction<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    if let DbConn::Sqlite(sqlite) = conn {
        AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
        return match f(conn) {
            Ok(value) => {
                if let DbConn::Sqlite(sqlite) = conn {
                    AnsiTransactionManager::commit_transaction(sqlite)?;
                }
                Ok(value)
            }
            Err(err) => {
                if let DbConn::Sqlite(sqlite) = conn {
                    AnsiTransactionManager::rollback_transaction(sqlite)?;
                }
                Err(err)
            }
        };
    }
    conn.transaction(f)
}

/// True for PostgreSQL, for the rare statement that differs (kept inside model functions).
pub fn is_postgres(conn: &DbConn) -> bool {
    matches!(conn, DbConn::Pg(_))
}

/// Rewrites `?` placeholders to PostgreSQL's `$n` so one raw statement serves both backends.
pub fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(ch);
        }
    }
    out
}

/// The statement text for this connection's backend (`?` placeholders written once).
pub fn dialect(conn: &DbConn, sql: &str) -> String {
    if is_postgres(conn) {
        numbered_placeholders(sql)
    } else {
        sql.to_string()
    }
}

/// Runs a check that the connection answers (for `/healthz`).
pub fn ping(conn: &mut DbConn) -> QueryResult<()> {
    conn.batch_execute("SELECT 1")
}

/// `column IN (ids)` with the ids as one JSON array bind: the statement text is the same
/// for any number of ids, so it can stay prepared (wrap the query in [`cached`]: diesel
/// never keeps raw SQL by itself; an `IN (?, ?, …)` list would differ by length).
/// Returns the SQL before the bind, the bind, and the SQL after it, for
/// `sql::<Bool>(&before).bind::<Text, _>(json).sql(after)`. `column` is written in the code.
pub fn ids_in(conn: &DbConn, column: &str, ids: &[i64]) -> (String, String, &'static str) {
    let json = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
    if is_postgres(conn) {
        (
            format!("{column} IN (SELECT value::bigint FROM json_array_elements_text(CAST("),
            json,
            " AS json)))",
        )
    } else {
        (
            format!("{column} IN (SELECT value FROM json_each("),
            json,
            "))",
        )
    }
}

/// A query whose prepared statement diesel may keep although it contains raw SQL (`sql(…)`,
/// `ids_in`): diesel never caches those, because raw text could take unboundedly many forms,
/// so each execution would pay a full prepare (parse + plan). The caller vouches that the
/// text comes from a small fixed set (binds carry the values). `cache: false` keeps diesel's
/// own decision, for shapes that do vary (an `IN (?, ?, …)` list).
#[derive(Debug, Clone, Copy)]
pub struct Cached<T> {
    query: T,
    cache: bool,
}

/// Marks a fixed-shape query as cacheable (see [`Cached`]).
pub fn cached<T>(query: T) -> Cached<T> {
    cached_if(query, true)
}

/// Marks a query as cacheable when `cache` holds (see [`Cached`]).
pub fn cached_if<T>(query: T, cache: bool) -> Cached<T> {
    Cached { query, cache }
}

impl<T> diesel::query_builder::QueryId for Cached<T> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<T: diesel::query_builder::Query> diesel::query_builder::Query for Cached<T> {
    type SqlType = T::SqlType;
}

impl<T> diesel::query_builder::QueryFragment<MultiBackend> for Cached<T>
where
    T: diesel::query_builder::QueryFragment<MultiBackend>,
{
    fn walk_ast<'b>(
        &'b self,
        pass: diesel::query_builder::AstPass<'_, 'b, MultiBackend>,
    ) -> QueryResult<()> {
        self.query.walk_ast(pass)
    }

    // A provided method of diesel's trait (documented only under its third-party-backend
    // feature, hidden but overridable otherwise): the derived MultiConnection asks the
    // inner query through it. The Users statement test fails if this stops taking effect.
    fn is_safe_to_cache_prepared(&self, backend: &MultiBackend) -> QueryResult<bool> {
        if self.cache {
            Ok(true)
        } else {
            self.query.is_safe_to_cache_prepared(backend)
        }
    }
}

impl<T, Conn> diesel::query_dsl::RunQueryDsl<Conn> for Cached<T> {}

/// `.first(conn).optional()` for a lookup by a unique key, kept prepared: diesel's `.first()`
/// adds `LIMIT ?`, and SQLite expires a statement whose bare `LIMIT ?` is re-bound (its
/// planner looked at the value), so it would prepare it again on every execution. A unique
/// key needs no limit: this loads the (at most one) row instead. Only for queries that
/// match at most one row (a primary or unique key); it loads every row it matches.
pub trait FirstByKey: diesel::query_dsl::RunQueryDsl<DbConn> + Sized {
    fn first_by_key<'query, U>(self, conn: &mut DbConn) -> QueryResult<Option<U>>
    where
        Self: diesel::query_dsl::LoadQuery<'query, DbConn, U>,
    {
        let mut rows = diesel::query_dsl::RunQueryDsl::load(self, conn)?;
        debug_assert!(
            rows.len() <= 1,
            "first_by_key on a query that matched several rows"
        );
        Ok(rows.pop())
    }
}

impl<T: diesel::query_dsl::RunQueryDsl<DbConn>> FirstByKey for T {}

/// Runs database work on the blocking pool; a pooled connection never crosses an `.await`.
pub async fn run<T, F>(pool: &DbPool, work: F) -> AppResult<T>
where
    F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get()?;
        work(&mut conn)
    })
    .await?
}
