//! Mail: messages are rendered by askama into the outbox inside the business transaction;
//! the worker (a task in `serve`) delivers them over SMTP, or as `.eml` files when no SMTP
//! server is configured. Mail never runs on the request path.

pub mod messages;
pub mod worker;

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::SmtpTransport;
use lettre::{FileTransport, Message, Transport};

use crate::models::outbox::{DeliveredVia, OutboxRow};

/// Where `.eml` files go when no SMTP server is configured (relative to the working
/// directory).
pub const DEFAULT_MAIL_DIR: &str = "mail";

/// A folder as shown to people: its path with one trailing slash (`mail/`).
fn folder_label(dir: &Path) -> String {
    let shown = dir.display().to_string();
    format!("{}/", shown.trim_end_matches('/'))
}

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    Smtp(Box<SmtpTransport>),
    /// Local development: each message becomes a `.eml` file in this folder.
    Files(PathBuf),
}

/// The outcome of one delivery attempt.
#[derive(Debug)]
pub enum SendError {
    /// Worth retrying (connection refused, timeout, 4xx).
    Transient(String),
    /// The server refused for good (5xx), or the message cannot be built.
    Permanent(String),
}

impl Mailer {
    /// From `GATEHOUSE_SMTP_URL` (`smtp://host:port`, `smtp://host?tls=required` for STARTTLS,
    /// `smtps://host` for TLS); 15 s timeout. No URL: `.eml` files under `mail/`.
    pub fn from_config(smtp_url: Option<&str>) -> Result<Self, String> {
        Self::from_settings(smtp_url, Path::new(DEFAULT_MAIL_DIR))
    }

    /// As [`Mailer::from_config`], with the folder `.eml` files go to when there is no URL
    /// (`Config::mail_dir`).
    pub fn from_settings(smtp_url: Option<&str>, mail_dir: &Path) -> Result<Self, String> {
        match smtp_url {
            Some(url) => {
                let transport = SmtpTransport::from_url(url)
                    .map_err(|e| format!("GATEHOUSE_SMTP_URL: {e}"))?
                    .timeout(Some(Duration::from_secs(15)))
                    .build();
                Ok(Mailer::Smtp(Box::new(transport)))
            }
            None => Ok(Mailer::Files(mail_dir.to_path_buf())),
        }
    }

    pub fn is_files(&self) -> bool {
        matches!(self, Mailer::Files(_))
    }

    /// The folder mail is written to when there is no SMTP server, as people should read
    /// it (`mail/`); `None` with SMTP.
    pub fn files_folder(&self) -> Option<String> {
        match self {
            Mailer::Files(dir) => Some(folder_label(dir)),
            Mailer::Smtp(_) => None,
        }
    }

    /// How a message this mailer delivers left, for its outbox row.
    pub fn via(&self) -> DeliveredVia {
        match self {
            Mailer::Smtp(_) => DeliveredVia::Smtp,
            Mailer::Files(dir) => DeliveredVia::Files(folder_label(dir)),
        }
    }

    /// Builds the message with lettre's typed builders (no header can be injected) and sends it.
    pub fn send(&self, from: &str, row: &OutboxRow) -> Result<(), SendError> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| SendError::Permanent(format!("sender address: {e}")))?;
        let to: Mailbox = row
            .recipient
            .parse()
            .map_err(|e| SendError::Permanent(format!("recipient address: {e}")))?;
        // One Message-ID per outbox row, the same on every retry, so a receiver that got
        // an attempt the server reported as failed can recognise the repeat.
        let message_id = format!(
            "<gatehouse.outbox.{}.{}@{}>",
            row.id,
            row.created_at.and_utc().timestamp(),
            from.email.domain()
        );
        let message = Message::builder()
            .message_id(Some(message_id))
            .from(from)
            .to(to)
            .subject(row.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                row.text_body.clone(),
                row.html_body.clone(),
            ))
            .map_err(|e| SendError::Permanent(format!("message: {e}")))?;
        match self {
            Mailer::Smtp(transport) => transport.send(&message).map(|_| ()).map_err(|e| {
                if e.is_permanent() {
                    SendError::Permanent(e.to_string())
                } else {
                    SendError::Transient(e.to_string())
                }
            }),
            Mailer::Files(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| SendError::Transient(format!("mail folder: {e}")))?;
                FileTransport::new(dir)
                    .send(&message)
                    .map(|_| ())
                    .map_err(|e| SendError::Transient(e.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_smtp_mail_is_written_as_eml_files() {
        let dir = tempfile::tempdir().expect("dir");
        let mailer = Mailer::Files(dir.path().join("mail"));
        let now = crate::models::now();
        let row = OutboxRow {
            id: 1,
            workspace_id: None,
            invite_id: None,
            kind: "invitation".into(),
            recipient: "ana@example.com".into(),
            subject: "You've been invited to Acme".into(),
            text_body: "Accept: http://127.0.0.1:8080/invite/abc".into(),
            html_body: "<p>Accept</p>".into(),
            status: "sending".into(),
            attempts: 1,
            next_attempt_at: now,
            claimed_until: None,
            last_error: None,
            created_at: now,
            sent_at: None,
            delivered_via: None,
        };
        mailer
            .send("Gatehouse <gatehouse@localhost>", &row)
            .expect("written");
        let files: Vec<_> = std::fs::read_dir(dir.path().join("mail"))
            .expect("folder")
            .collect();
        assert_eq!(files.len(), 1);
        let path = files[0].as_ref().expect("entry").path();
        assert_eq!(path.extension().and_then(|e| e.to_str()), Some("eml"));
        let text = std::fs::read_to_string(path).expect("read");
        assert!(
            text.contains("Subject: You've been invited to Acme"),
            "{text}"
        );
        assert!(text.contains("To: ana@example.com"), "{text}");
        assert!(Mailer::from_config(Some("not a url")).is_err());
        assert_eq!(
            mailer.via(),
            DeliveredVia::Files(format!("{}/", dir.path().join("mail").display()))
        );
        let default = Mailer::from_config(None).expect("files");
        assert_eq!(default.files_folder().as_deref(), Some("mail/"));
        assert_eq!(
            DeliveredVia::from_key(&default.via().key()),
            Some(DeliveredVia::Files("mail/".into()))
        );
        assert_eq!(DeliveredVia::from_key("smtp"), Some(DeliveredVia::Smtp));
    }
}
