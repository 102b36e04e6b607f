//! What a mailed link (an address's verification, a password reset) leads to. Reading a
//! link changes nothing (mail scanners open links); it is used by the POST of its page,
//! which refuses, with the same words, a link that can no longer be used.

use crate::db::DbConn;
use crate::error::{AppResult, ServiceError};
use crate::models::account_token::{AccountToken, Purpose, TokenState};
use crate::tokens;

/// Why a link cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkProblem {
    /// Unknown, or the address it was for is gone.
    Unknown,
    Used,
    Expired,
    /// The link belongs to another account than the one signed in.
    WrongAccount,
    /// Another account verified this address first.
    TakenElsewhere,
}

impl LinkProblem {
    pub fn message(&self) -> &'static str {
        match self {
            LinkProblem::Unknown => "This link is not valid. Check that you copied all of it, or ask for a new one.",
            LinkProblem::Used => "This link has already been used. Each link works once.",
            LinkProblem::Expired => "This link has expired. Ask for a new one.",
            LinkProblem::WrongAccount => "This link belongs to a different account. Sign in with the account that asked for it.",
            LinkProblem::TakenElsewhere => "Another account has confirmed this address first, so it cannot be confirmed for yours. Remove it from your account, or contact your administrator.",
        }
    }

    /// A token's state as a problem (`None`: usable).
    fn of_state(state: TokenState) -> Option<Self> {
        match state {
            TokenState::Usable => None,
            TokenState::Used => Some(LinkProblem::Used),
            TokenState::Expired => Some(LinkProblem::Expired),
        }
    }
}

/// Using a link that cannot be used is refused as a whole, in the problem's words.
impl From<LinkProblem> for ServiceError {
    fn from(problem: LinkProblem) -> Self {
        ServiceError::general(problem.message())
    }
}

/// A link as it stands: usable, with what it leads to, or why not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link<T> {
    Usable(T),
    Unusable(LinkProblem),
}

impl<T> Link<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Link<U> {
        match self {
            Link::Usable(value) => Link::Usable(f(value)),
            Link::Unusable(problem) => Link::Unusable(problem),
        }
    }

    /// What a POST does with it: the usable value, or the problem as a refusal.
    pub(super) fn or_refuse(self) -> Result<T, ServiceError> {
        match self {
            Link::Usable(value) => Ok(value),
            Link::Unusable(problem) => Err(problem.into()),
        }
    }
}

/// The token of `purpose` that `token` names (its hash compared in constant time),
/// whatever its state.
pub(super) fn find_token(
    conn: &mut DbConn,
    purpose: Purpose,
    token: &str,
) -> AppResult<Option<AccountToken>> {
    let hash = tokens::hash(token);
    Ok(AccountToken::find(conn, purpose, &hash)?
        .filter(|row| tokens::constant_time_eq(&row.token_hash, &hash)))
}

/// The problem of a found token at `now`, if it is used or expired.
pub(super) fn state_problem(
    token: &AccountToken,
    now: chrono::NaiveDateTime,
) -> Option<LinkProblem> {
    LinkProblem::of_state(token.state_at(now))
}
