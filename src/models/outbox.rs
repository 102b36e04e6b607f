//! The mail outbox: mail is a row written in the same transaction as the change that
//! causes it; the worker delivers it later, with retries.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamp};

use crate::db::schema::outbox;
use crate::db::{dialect, is_postgres, DbConn};

pub const QUEUED: &str = "queued";
pub const SENDING: &str = "sending";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";

#[derive(Queryable, Selectable, QueryableByName, Clone, Debug)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: i64,
    pub workspace_id: Option<i64>,
    pub invite_id: Option<i64>,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub claimed_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
    /// How it left once delivered ([`DeliveredVia`]); `None` until then.
    pub delivered_via: Option<String>,
}

/// How a delivered mail left, as recorded on its row (`delivered_via`): over SMTP, or only
/// written as an `.eml` file into a folder because no SMTP server was configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveredVia {
    Smtp,
    /// The folder the file was written to, as configured then.
    Files(String),
}

impl DeliveredVia {
    const FILES_PREFIX: &'static str = "files:";

    /// The stored form: `smtp` or `files:<folder>`.
    pub fn key(&self) -> String {
        match self {
            DeliveredVia::Smtp => "smtp".into(),
            DeliveredVia::Files(folder) => format!("{}{folder}", Self::FILES_PREFIX),
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        match key {
            "smtp" => Some(DeliveredVia::Smtp),
            _ => key
                .strip_prefix(Self::FILES_PREFIX)
                .map(|folder| DeliveredVia::Files(folder.to_string())),
        }
    }
}

/// A rendered message waiting for delivery.
pub struct NewMail {
    pub workspace_id: Option<i64>,
    pub invite_id: Option<i64>,
    pub kind: &'static str,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
}

/// Queues many messages with one multi-row INSERT per 100 (a 100-address invite is one
/// round trip to PostgreSQL instead of a hundred).
pub fn enqueue_all(conn: &mut DbConn, mails: &[NewMail], now: NaiveDateTime) -> QueryResult<()> {
    for chunk in mails.chunks(100) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|mail| {
                (
                    outbox::workspace_id.eq(mail.workspace_id),
                    outbox::invite_id.eq(mail.invite_id),
                    outbox::kind.eq(mail.kind),
                    outbox::recipient.eq(&mail.recipient),
                    outbox::subject.eq(&mail.subject),
                    outbox::text_body.eq(&mail.text_body),
                    outbox::html_body.eq(&mail.html_body),
                    outbox::status.eq(QUEUED),
                    outbox::attempts.eq(0),
                    outbox::next_attempt_at.eq(now),
                    outbox::created_at.eq(now),
                )
            })
            .collect();
        match conn {
            DbConn::Sqlite(c) => diesel::insert_into(outbox::table).values(rows).execute(c)?,
            DbConn::Pg(c) => diesel::insert_into(outbox::table).values(rows).execute(c)?,
        };
    }
    Ok(())
}

pub fn enqueue(conn: &mut DbConn, mail: &NewMail, now: NaiveDateTime) -> QueryResult<()> {
    enqueue_all(conn, std::slice::from_ref(mail), now)
}

/// Claims up to `limit` due rows for this worker until `lease_until`: queued rows whose
/// time has come, and rows a crashed worker left in `sending` past their lease.
/// PostgreSQL: `FOR UPDATE SKIP LOCKED`, so instances never claim the same row;
/// SQLite: one writer at a time, each claim a conditional update.
pub fn claim_due(
    conn: &mut DbConn,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<OutboxRow>> {
    if is_postgres(conn) {
        let sql = dialect(
            conn,
            "UPDATE outbox SET status = 'sending', claimed_until = ?, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox \
                 WHERE (status = 'queued' AND next_attempt_at <= ?) OR (status = 'sending' AND claimed_until < ?) \
                 ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED) \
             RETURNING *",
        );
        return diesel::sql_query(sql)
            .bind::<Timestamp, _>(lease_until)
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(now)
            .bind::<BigInt, _>(limit)
            .load(conn);
    }
    let candidates: Vec<i64> = outbox::table
        .filter(
            outbox::status
                .eq(QUEUED)
                .and(outbox::next_attempt_at.le(now))
                .or(outbox::status
                    .eq(SENDING)
                    .and(outbox::claimed_until.lt(now))),
        )
        .order(outbox::id)
        .limit(limit)
        .select(outbox::id)
        .load(conn)?;
    let mut claimed = Vec::new();
    for id in candidates {
        let n = diesel::update(
            outbox::table.find(id).filter(
                outbox::status
                    .eq(QUEUED)
                    .and(outbox::next_attempt_at.le(now))
                    .or(outbox::status
                        .eq(SENDING)
                        .and(outbox::claimed_until.lt(now))),
            ),
        )
        .set((
            outbox::status.eq(SENDING),
            outbox::claimed_until.eq(Some(lease_until)),
            outbox::attempts.eq(outbox::attempts + 1),
        ))
        .execute(conn)?;
        if n == 1 {
            claimed.push(
                outbox::table
                    .find(id)
                    .select(OutboxRow::as_select())
                    .first(conn)?,
            );
        }
    }
    Ok(claimed)
}

/// Delivered (`via` says how): the bodies (which may carry a one-time link) are not kept.
pub fn mark_sent(
    conn: &mut DbConn,
    id: i64,
    now: NaiveDateTime,
    via: &DeliveredVia,
) -> QueryResult<()> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::status.eq(SENT),
            outbox::sent_at.eq(Some(now)),
            outbox::delivered_via.eq(Some(via.key())),
            outbox::claimed_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(None::<String>),
            outbox::text_body.eq(""),
            outbox::html_body.eq(""),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn mark_retry(
    conn: &mut DbConn,
    id: i64,
    next_attempt_at: NaiveDateTime,
    error: &str,
) -> QueryResult<()> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::status.eq(QUEUED),
            outbox::next_attempt_at.eq(next_attempt_at),
            outbox::claimed_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(Some(error)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn mark_failed(conn: &mut DbConn, id: i64, error: &str) -> QueryResult<()> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::status.eq(FAILED),
            outbox::claimed_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(Some(error)),
            outbox::text_body.eq(""),
            outbox::html_body.eq(""),
        ))
        .execute(conn)?;
    Ok(())
}

/// Mail for an invite that no longer matters (resent or revoked) is not delivered late.
pub fn cancel_queued_for_invite(conn: &mut DbConn, invite_id: i64) -> QueryResult<usize> {
    diesel::update(
        outbox::table
            .filter(outbox::invite_id.eq(invite_id))
            .filter(outbox::kind.eq("invitation"))
            .filter(outbox::status.eq(QUEUED)),
    )
    .set((
        outbox::status.eq(FAILED),
        outbox::last_error.eq(Some("cancelled: the invitation changed")),
        outbox::text_body.eq(""),
        outbox::html_body.eq(""),
    ))
    .execute(conn)
}

/// How many of an invite's invitation mails are still waiting to go out.
pub fn queued_for_invite(conn: &mut DbConn, invite_id: i64) -> QueryResult<i64> {
    outbox::table
        .filter(outbox::invite_id.eq(invite_id))
        .filter(outbox::kind.eq("invitation"))
        .filter(outbox::status.eq_any([QUEUED, SENDING]))
        .count()
        .get_result(conn)
}
