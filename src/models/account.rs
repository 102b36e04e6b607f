//! Accounts: a person's global login identity.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{accounts, email_addresses};
use crate::db::{DbConn, FirstByKey};

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = accounts)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub password_hash: Option<String>,
    pub search_text: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = accounts)]
pub struct NewAccount<'a> {
    pub name: &'a str,
    pub password_hash: Option<&'a str>,
    pub search_text: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl NewAccount<'_> {
    pub fn insert(&self, conn: &mut DbConn) -> QueryResult<i64> {
        diesel::insert_into(accounts::table)
            .values(self)
            .returning(accounts::id)
            .get_result(conn)
    }
}

/// What search matches: the lower-cased name and every address of the account.
pub fn search_text<'a>(name: &str, addresses: impl IntoIterator<Item = &'a str>) -> String {
    let mut text = name.to_lowercase();
    for address in addresses {
        text.push(' ');
        text.push_str(&address.to_lowercase());
    }
    text
}

impl Account {
    /// (id, name, primary address) of an account: the signed-in summary every request
    /// reads, by key (kept prepared).
    pub fn name_and_primary(
        conn: &mut DbConn,
        account_id: i64,
    ) -> QueryResult<Option<(i64, String, Option<String>)>> {
        accounts::table
            .left_join(
                email_addresses::table.on(email_addresses::account_id
                    .eq(accounts::id)
                    .and(email_addresses::is_primary)),
            )
            .filter(accounts::id.eq(account_id))
            .select((
                accounts::id,
                accounts::name,
                email_addresses::address.nullable(),
            ))
            .first_by_key(conn)
    }

    pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<Account>> {
        accounts::table
            .find(id)
            .select(Account::as_select())
            .first(conn)
            .optional()
    }

    /// The account that signs in with this address: the one whose primary address it is,
    /// verified. An unconfirmed primary address is a login too — an account made through an
    /// invite link that proved nothing (SPEC §3) signs in with the password it just set — but
    /// only while no account holds the address verified: whoever proves it wins it.
    pub fn find_by_login(conn: &mut DbConn, canonical: &str) -> QueryResult<Option<Account>> {
        let rows: Vec<(Account, bool)> = accounts::table
            .inner_join(email_addresses::table)
            .filter(email_addresses::canonical.eq(canonical))
            .filter(email_addresses::is_primary.eq(true))
            .order((email_addresses::verified.desc(), accounts::id))
            .select((Account::as_select(), email_addresses::verified))
            .load(conn)?;
        let Some((account, verified)) = rows.into_iter().next() else {
            return Ok(None);
        };
        if verified {
            return Ok(Some(account));
        }
        let proven_elsewhere = diesel::select(diesel::dsl::exists(
            email_addresses::table
                .filter(email_addresses::canonical.eq(canonical))
                .filter(email_addresses::verified.eq(true)),
        ))
        .get_result::<bool>(conn)?;
        Ok((!proven_elsewhere).then_some(account))
    }

    /// The account owning this verified address, primary or not.
    pub fn find_by_verified_email(
        conn: &mut DbConn,
        canonical: &str,
    ) -> QueryResult<Option<Account>> {
        accounts::table
            .inner_join(email_addresses::table)
            .filter(email_addresses::canonical.eq(canonical))
            .filter(email_addresses::verified.eq(true))
            .select(Account::as_select())
            .first(conn)
            .optional()
    }

    /// The account, its row locked until the transaction ends, so changes to one account
    /// (its addresses, its password, its sessions, a password attempt) run one after the
    /// other: PostgreSQL `SELECT … FOR UPDATE`; on SQLite the write transaction
    /// (`BEGIN IMMEDIATE`) already holds the database's write lock, and this is a read.
    pub fn lock_for_update(conn: &mut DbConn, id: i64) -> QueryResult<Option<Account>> {
        match conn {
            DbConn::Pg(pg) => accounts::table
                .find(id)
                .select(Account::as_select())
                .for_update()
                .first(pg)
                .optional(),
            DbConn::Sqlite(_) => Account::find(conn, id),
        }
    }

    /// Replaces the password hash only if it is still `expected` (the one the current
    /// password was verified against); false when it changed meanwhile.
    pub fn replace_password_hash(
        conn: &mut DbConn,
        id: i64,
        expected: &str,
        new_hash: &str,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let n = diesel::update(
            accounts::table
                .find(id)
                .filter(accounts::password_hash.eq(expected)),
        )
        .set((
            accounts::password_hash.eq(new_hash),
            accounts::updated_at.eq(now),
        ))
        .execute(conn)?;
        Ok(n == 1)
    }

    /// Sets the password hash, whatever it was (a completed reset).
    pub fn set_password_hash(
        conn: &mut DbConn,
        id: i64,
        new_hash: &str,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::update(accounts::table.find(id))
            .set((
                accounts::password_hash.eq(new_hash),
                accounts::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    }

    pub fn exists_any(conn: &mut DbConn) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(accounts::table.select(accounts::id))).get_result(conn)
    }

    /// Renames an account: its name, its search text and the sort key of every membership.
    pub fn rename(conn: &mut DbConn, id: i64, name: &str, now: NaiveDateTime) -> QueryResult<()> {
        use crate::db::schema::members;
        diesel::update(accounts::table.find(id))
            .set((accounts::name.eq(name), accounts::updated_at.eq(now)))
            .execute(conn)?;
        diesel::update(members::table.filter(members::account_id.eq(id)))
            .set(members::sort_name.eq(name.to_lowercase()))
            .execute(conn)?;
        Account::refresh_search_text(conn, id)
    }

    /// Recomputes the search text after a change of name or addresses.
    pub fn refresh_search_text(conn: &mut DbConn, id: i64) -> QueryResult<()> {
        let name: String = accounts::table
            .find(id)
            .select(accounts::name)
            .first(conn)?;
        let addresses: Vec<String> = email_addresses::table
            .filter(email_addresses::account_id.eq(id))
            .order(email_addresses::id)
            .select(email_addresses::canonical)
            .load(conn)?;
        let text = search_text(&name, addresses.iter().map(String::as_str));
        diesel::update(accounts::table.find(id))
            .set(accounts::search_text.eq(text))
            .execute(conn)?;
        Ok(())
    }
}
