//! Configuration, read once at start and passed down (no global statics).

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::db::DbTarget;

#[derive(Clone, Debug)]
pub struct Config {
    pub database: DbTarget,
    pub bind: SocketAddr,
    /// Origin used for links in mail and for the same-origin check; never the request's Host.
    pub base_url: String,
    /// Session cookie key material; generated and kept in the database when unset.
    pub secret_key: Option<String>,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    /// Where mail is written as `.eml` files when `smtp_url` is unset.
    pub mail_dir: PathBuf,
    /// Idle timeout of a signed-in session.
    pub session_idle_minutes: i64,
    /// HTTP worker threads (defaults to the number of cores).
    pub workers: usize,
    /// Nameserver for domain TXT checks (`GATEHOUSE_DNS_SERVER`); `None`: the system's.
    pub dns_server: Option<SocketAddr>,
    /// How long a TXT check waits for the nameserver.
    pub dns_timeout: std::time::Duration,
}

impl Config {
    /// A configuration for the given database with every other setting at its default.
    pub fn for_database(database: DbTarget) -> Self {
        Config {
            database,
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            base_url: "http://127.0.0.1:8080".into(),
            secret_key: None,
            smtp_url: None,
            mail_from: "Gatehouse <gatehouse@localhost>".into(),
            mail_dir: PathBuf::from(crate::mail::DEFAULT_MAIL_DIR),
            session_idle_minutes: 30,
            workers: num_cpus::get(),
            dns_server: None,
            dns_timeout: std::time::Duration::from_secs(5),
        }
    }

    pub fn is_https(&self) -> bool {
        self.base_url.starts_with("https://")
    }

    /// `scheme://host[:port]` of the base URL, for comparing with an `Origin` header.
    pub fn base_origin(&self) -> &str {
        let url = self.base_url.trim_end_matches('/');
        match url.find("://") {
            Some(i) => match url[i + 3..].find('/') {
                Some(j) => &url[..i + 3 + j],
                None => url,
            },
            None => url,
        }
    }
}
