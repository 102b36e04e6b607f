//! The messages Gatehouse sends, rendered from askama templates (text and HTML parts).

use askama::Template;

/// A rendered message: subject, plain text and HTML.
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct InvitationMail<'a> {
    pub workspace: &'a str,
    pub inviter: &'a str,
    pub invitee_name: Option<&'a str>,
    pub roles: &'a [String],
    pub message: Option<&'a str>,
    pub expires_on: String,
    pub link: &'a str,
}

#[derive(Template)]
#[template(path = "emails/invitation.txt")]
struct InvitationText<'a> {
    m: &'a InvitationMail<'a>,
}

#[derive(Template)]
#[template(path = "emails/invitation.html")]
struct InvitationHtml<'a> {
    m: &'a InvitationMail<'a>,
}

pub fn invitation(m: &InvitationMail<'_>) -> Result<Rendered, askama::Error> {
    Ok(Rendered {
        subject: format!("You've been invited to {}", m.workspace),
        text: InvitationText { m }.render()?,
        html: InvitationHtml { m }.render()?,
    })
}

pub struct AcceptedMail<'a> {
    pub workspace: &'a str,
    pub who: &'a str,
    pub email: &'a str,
    pub link: &'a str,
}

#[derive(Template)]
#[template(path = "emails/accepted.txt")]
struct AcceptedText<'a> {
    m: &'a AcceptedMail<'a>,
}

#[derive(Template)]
#[template(path = "emails/accepted.html")]
struct AcceptedHtml<'a> {
    m: &'a AcceptedMail<'a>,
}

pub fn accepted(m: &AcceptedMail<'_>) -> Result<Rendered, askama::Error> {
    Ok(Rendered {
        subject: format!("{} joined {}", m.who, m.workspace),
        text: AcceptedText { m }.render()?,
        html: AcceptedHtml { m }.render()?,
    })
}

pub struct DecisionMail<'a> {
    pub workspace: &'a str,
    /// `records.export (all)`.
    pub permission: &'a str,
    pub approved: bool,
    pub decided_by: &'a str,
    /// The last day of an expiring grant.
    pub until: Option<&'a str>,
    pub note: Option<&'a str>,
    pub link: &'a str,
}

#[derive(Template)]
#[template(path = "emails/decision.txt")]
struct DecisionText<'a> {
    m: &'a DecisionMail<'a>,
}

#[derive(Template)]
#[template(path = "emails/decision.html")]
struct DecisionHtml<'a> {
    m: &'a DecisionMail<'a>,
}

/// The outcome of a permission request, for the member who asked.
pub fn decision(m: &DecisionMail<'_>) -> Result<Rendered, askama::Error> {
    let outcome = if m.approved { "approved" } else { "denied" };
    Ok(Rendered {
        subject: format!(
            "Your request for {} in {} was {outcome}",
            m.permission, m.workspace
        ),
        text: DecisionText { m }.render()?,
        html: DecisionHtml { m }.render()?,
    })
}

pub struct OwnershipMail<'a> {
    pub workspace: &'a str,
    pub old_owner: &'a str,
    pub new_owner: &'a str,
    /// Which of the two this copy goes to.
    pub to_new_owner: bool,
}

#[derive(Template)]
#[template(path = "emails/ownership.txt")]
struct OwnershipText<'a> {
    m: &'a OwnershipMail<'a>,
}

#[derive(Template)]
#[template(path = "emails/ownership.html")]
struct OwnershipHtml<'a> {
    m: &'a OwnershipMail<'a>,
}

/// A transfer of ownership, for the new and the previous Owner.
pub fn ownership(m: &OwnershipMail<'_>) -> Result<Rendered, askama::Error> {
    Ok(Rendered {
        subject: format!("{} is now the Owner of {}", m.new_owner, m.workspace),
        text: OwnershipText { m }.render()?,
        html: OwnershipHtml { m }.render()?,
    })
}

pub struct VerifyEmailMail<'a> {
    pub name: &'a str,
    pub address: &'a str,
    pub link: &'a str,
    pub expires: String,
    /// A sentence saying who added the address, when it was not the account's owner (an
    /// admin of a workspace).
    pub added_by: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "emails/verify_email.txt")]
struct VerifyEmailText<'a> {
    m: &'a VerifyEmailMail<'a>,
}

#[derive(Template)]
#[template(path = "emails/verify_email.html")]
struct VerifyEmailHtml<'a> {
    m: &'a VerifyEmailMail<'a>,
}

pub fn verify_email(m: &VerifyEmailMail<'_>) -> Result<Rendered, askama::Error> {
    Ok(Rendered {
        subject: "Confirm your email address".into(),
        text: VerifyEmailText { m }.render()?,
        html: VerifyEmailHtml { m }.render()?,
    })
}

pub struct PasswordResetMail<'a> {
    pub name: &'a str,
    pub link: &'a str,
    pub minutes: i64,
}

#[derive(Template)]
#[template(path = "emails/password_reset.txt")]
struct PasswordResetText<'a> {
    m: &'a PasswordResetMail<'a>,
}

#[derive(Template)]
#[template(path = "emails/password_reset.html")]
struct PasswordResetHtml<'a> {
    m: &'a PasswordResetMail<'a>,
}

pub fn password_reset(m: &PasswordResetMail<'_>) -> Result<Rendered, askama::Error> {
    Ok(Rendered {
        subject: "Reset your Gatehouse password".into(),
        text: PasswordResetText { m }.render()?,
        html: PasswordResetHtml { m }.render()?,
    })
}

/// A security notice to an account's address: what changed, and what to do if it was
/// not them (SPEC §4.8: the old address is told of changes).
pub struct AccountNoticeMail<'a> {
    pub subject: &'a str,
    pub name: &'a str,
    pub what: &'a str,
    pub link: &'a str,
}

#[derive(Template)]
#[template(path = "emails/account_notice.txt")]
struct AccountNoticeText<'a> {
    m: &'a AccountNoticeMail<'a>,
}

#[derive(Template)]
#[template(path = "emails/account_notice.html")]
struct AccountNoticeHtml<'a> {
    m: &'a AccountNoticeMail<'a>,
}

pub fn account_notice(m: &AccountNoticeMail<'_>) -> Result<Rendered, askama::Error> {
    Ok(Rendered {
        subject: m.subject.to_string(),
        text: AccountNoticeText { m }.render()?,
        html: AccountNoticeHtml { m }.render()?,
    })
}
