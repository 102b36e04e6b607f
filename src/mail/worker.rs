//! The delivery worker: claims due outbox rows, sends them, records the outcome.
//! Transient failures retry with exponential backoff (15 s, 30 s, 1 min … capped at 2 h)
//! and give up 24 hours after the mail was queued; permanent refusals fail at once.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use chrono::{NaiveDateTime, TimeDelta};
use tokio::sync::Notify;

use crate::db::DbPool;
use crate::mail::{Mailer, SendError};
use crate::models::{self, outbox};

const BATCH: i64 = 10;
const LEASE_SECS: i64 = 120;
const GIVE_UP_HOURS: i64 = 24;

/// When to try again after `attempts` failed tries, or `None` to give up.
pub fn next_attempt(
    created_at: NaiveDateTime,
    attempts: i32,
    now: NaiveDateTime,
) -> Option<NaiveDateTime> {
    let exponent = attempts.clamp(1, 20) as u32 - 1;
    let delay = TimeDelta::seconds((15i64 << exponent.min(9)).min(2 * 3600));
    let next = now + delay;
    (next < created_at + TimeDelta::hours(GIVE_UP_HOURS)).then_some(next)
}

/// Delivers everything due now; returns how many rows were handled.
pub async fn deliver_due(pool: &DbPool, mailer: &Mailer, from: &str) -> Result<usize, String> {
    let mut handled = 0;
    loop {
        let claim_pool = pool.clone();
        let rows = web::block(move || -> Result<Vec<outbox::OutboxRow>, String> {
            let mut conn = claim_pool.get().map_err(|e| e.to_string())?;
            let now = models::now();
            outbox::claim_due(&mut conn, now, now + TimeDelta::seconds(LEASE_SECS), BATCH)
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())??;
        if rows.is_empty() {
            return Ok(handled);
        }
        let via = mailer.via();
        for row in rows {
            let via = via.clone();
            let (mailer, from_owned) = (mailer.clone(), from.to_string());
            let sent_row = row.clone();
            let result = web::block(move || mailer.send(&from_owned, &sent_row))
                .await
                .map_err(|e| e.to_string())?;
            let record_pool = pool.clone();
            web::block(move || -> Result<(), String> {
                let mut conn = record_pool.get().map_err(|e| e.to_string())?;
                let now = models::now();
                let outcome = match result {
                    Ok(()) => outbox::mark_sent(&mut conn, row.id, now, &via),
                    Err(SendError::Permanent(error)) => {
                        tracing::warn!(outbox_id = row.id, %error, "mail refused");
                        outbox::mark_failed(&mut conn, row.id, &error)
                    }
                    Err(SendError::Transient(error)) => match next_attempt(row.created_at, row.attempts, now) {
                        Some(at) => {
                            tracing::info!(outbox_id = row.id, %error, attempts = row.attempts, "mail delivery will be retried");
                            outbox::mark_retry(&mut conn, row.id, at, &error)
                        }
                        None => outbox::mark_failed(&mut conn, row.id, &format!("gave up after {GIVE_UP_HOURS} hours: {error}")),
                    },
                };
                outcome.map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| e.to_string())??;
            handled += 1;
        }
    }
}

/// Runs for the life of the server: wakes when mail is queued, and every second for retries
/// and for mail queued by other instances.
pub fn spawn(pool: DbPool, mailer: Mailer, from: String, wake: Arc<Notify>) {
    actix_web::rt::spawn(async move {
        loop {
            if let Err(error) = deliver_due(&pool, &mailer, &from).await {
                tracing::warn!(%error, "mail worker");
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = actix_web::rt::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_within_thirty_seconds_and_gives_up_after_a_day() {
        let created = models::now();
        assert_eq!(
            next_attempt(created, 1, created),
            Some(created + TimeDelta::seconds(15))
        );
        assert_eq!(
            next_attempt(created, 2, created),
            Some(created + TimeDelta::seconds(30))
        );
        assert_eq!(
            next_attempt(created, 20, created),
            Some(created + TimeDelta::hours(2))
        );
        let late = created + TimeDelta::hours(23);
        assert_eq!(
            next_attempt(created, 3, late),
            Some(late + TimeDelta::seconds(60))
        );
        let too_late = created + TimeDelta::minutes(24 * 60 - 1);
        assert_eq!(next_attempt(created, 3, too_late), None);
    }
}
