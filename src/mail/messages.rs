//! The messages Gatehouse sends, rendered from askama templates (text and HTML parts).
//!
//! Each mail is `templates/emails/<name>.txt` and `.html`, holding only its content: they
//! extend the shared frames `emails/layout.txt` and `emails/layout.html` (which shows the
//! subject as the HTML part's title), and take the button and small print of the HTML part
//! from `emails/macros.html`.

use crate::models::outbox::NewMail;
use askama::Template;

/// A rendered message: subject, plain text and HTML.
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Rendered {
    /// The outbox row sending this message to `recipient` (outside any workspace or
    /// invite; set those with struct update syntax).
    pub fn mail(self, kind: &'static str, recipient: impl Into<String>) -> NewMail {
        NewMail {
            workspace_id: None,
            invite_id: None,
            kind,
            recipient: recipient.into(),
            subject: self.subject,
            text_body: self.text,
            html_body: self.html,
        }
    }
}

/// The two templates of one mail, for its data type `$mail`: `$mail::render(subject)`.
macro_rules! mail_templates {
    ($mail:ident, $text:ident = $text_path:literal, $html:ident = $html_path:literal) => {
        #[derive(Template)]
        #[template(path = $text_path)]
        struct $text<'a> {
            m: &'a $mail<'a>,
        }

        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            subject: &'a str,
            m: &'a $mail<'a>,
        }

        impl $mail<'_> {
            fn render(&self, subject: String) -> Result<Rendered, askama::Error> {
                Ok(Rendered {
                    text: $text { m: self }.render()?,
                    html: $html {
                        subject: &subject,
                        m: self,
                    }
                    .render()?,
                    subject,
                })
            }
        }
    };
}

pub struct InvitationMail<'a> {
    pub workspace: &'a str,
    pub inviter: &'a str,
    pub invitee_name: Option<&'a str>,
    pub roles: &'a [String],
    /// The seat the invitation offers ("Member", "Builder").
    pub seat: &'a str,
    pub message: Option<&'a str>,
    pub expires_on: String,
    pub link: &'a str,
}

mail_templates!(
    InvitationMail,
    InvitationText = "emails/invitation.txt",
    InvitationHtml = "emails/invitation.html"
);

pub fn invitation(m: &InvitationMail<'_>) -> Result<Rendered, askama::Error> {
    m.render(format!("You've been invited to {}", m.workspace))
}

pub struct AcceptedMail<'a> {
    pub workspace: &'a str,
    pub who: &'a str,
    pub email: &'a str,
    pub link: &'a str,
}

mail_templates!(
    AcceptedMail,
    AcceptedText = "emails/accepted.txt",
    AcceptedHtml = "emails/accepted.html"
);

pub fn accepted(m: &AcceptedMail<'_>) -> Result<Rendered, askama::Error> {
    m.render(format!("{} joined {}", m.who, m.workspace))
}

pub struct DecisionMail<'a> {
    pub workspace: &'a str,
    /// `Export records (everyone)`.
    pub permission: &'a str,
    /// `records.export (all)`.
    pub keys: &'a str,
    pub approved: bool,
    pub decided_by: &'a str,
    /// The last day of an expiring grant.
    pub until: Option<&'a str>,
    pub note: Option<&'a str>,
    pub link: &'a str,
}

mail_templates!(
    DecisionMail,
    DecisionText = "emails/decision.txt",
    DecisionHtml = "emails/decision.html"
);

/// The outcome of a permission request, for the member who asked.
pub fn decision(m: &DecisionMail<'_>) -> Result<Rendered, askama::Error> {
    let outcome = if m.approved { "approved" } else { "denied" };
    m.render(format!(
        "Your request for {} in {} was {outcome}",
        m.permission, m.workspace
    ))
}

pub struct RequestMail<'a> {
    pub workspace: &'a str,
    /// Who asks.
    pub who: &'a str,
    /// `Export records (everyone)`.
    pub permission: &'a str,
    /// `records.export (all)`.
    pub keys: &'a str,
    pub reason: &'a str,
    /// The Requests page, where it is decided.
    pub link: &'a str,
}

mail_templates!(
    RequestMail,
    RequestText = "emails/request.txt",
    RequestHtml = "emails/request.html"
);

/// A new permission request, for whoever may decide it.
pub fn request(m: &RequestMail<'_>) -> Result<Rendered, askama::Error> {
    m.render(format!(
        "{} asks for {} in {}",
        m.who, m.permission, m.workspace
    ))
}

pub struct OwnershipMail<'a> {
    pub workspace: &'a str,
    pub old_owner: &'a str,
    pub new_owner: &'a str,
    /// Which of the two this copy goes to.
    pub to_new_owner: bool,
}

mail_templates!(
    OwnershipMail,
    OwnershipText = "emails/ownership.txt",
    OwnershipHtml = "emails/ownership.html"
);

/// A transfer of ownership, for the new and the previous Owner.
pub fn ownership(m: &OwnershipMail<'_>) -> Result<Rendered, askama::Error> {
    m.render(format!(
        "{} is now the Owner of {}",
        m.new_owner, m.workspace
    ))
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

mail_templates!(
    VerifyEmailMail,
    VerifyEmailText = "emails/verify_email.txt",
    VerifyEmailHtml = "emails/verify_email.html"
);

pub fn verify_email(m: &VerifyEmailMail<'_>) -> Result<Rendered, askama::Error> {
    m.render("Confirm your email address".into())
}

pub struct PasswordResetMail<'a> {
    pub name: &'a str,
    pub link: &'a str,
    pub minutes: i64,
}

mail_templates!(
    PasswordResetMail,
    PasswordResetText = "emails/password_reset.txt",
    PasswordResetHtml = "emails/password_reset.html"
);

pub fn password_reset(m: &PasswordResetMail<'_>) -> Result<Rendered, askama::Error> {
    m.render("Reset your Gatehouse password".into())
}

/// A security notice to an account's address: what changed, and what to do if it was
/// not them (SPEC §4.8: the old address is told of changes).
pub struct AccountNoticeMail<'a> {
    pub subject: &'a str,
    pub name: &'a str,
    pub what: &'a str,
    pub link: &'a str,
}

mail_templates!(
    AccountNoticeMail,
    AccountNoticeText = "emails/account_notice.txt",
    AccountNoticeHtml = "emails/account_notice.html"
);

pub fn account_notice(m: &AccountNoticeMail<'_>) -> Result<Rendered, askama::Error> {
    m.render(m.subject.to_string())
}

/// A mail about the invite link: a new join request (to whoever decides it), its outcome
/// (to the requester), or the confirmation a new person opens before joining.
pub struct JoinMail<'a> {
    pub subject: &'a str,
    pub name: &'a str,
    pub what: &'a str,
    pub action: &'a str,
    pub link: &'a str,
}

mail_templates!(
    JoinMail,
    JoinText = "emails/join.txt",
    JoinHtml = "emails/join.html"
);

pub fn join(m: &JoinMail<'_>) -> Result<Rendered, askama::Error> {
    m.render(m.subject.to_string())
}
