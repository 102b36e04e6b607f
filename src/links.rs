//! Absolute links for mail and for what the operator is shown: the one place a URL is
//! built from the configured base URL (`GATEHOUSE_BASE_URL`).

use crate::config::Config;

#[derive(Clone, Debug)]
pub struct Links {
    /// The base URL without a trailing slash.
    base: String,
}

impl Links {
    pub fn new(base_url: &str) -> Self {
        Links {
            base: base_url.trim_end_matches('/').to_string(),
        }
    }

    pub fn from_config(config: &Config) -> Self {
        Links::new(&config.base_url)
    }

    /// Any path of the app, absolute: `links.to("/login")`.
    pub fn to(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn invite(&self, token: &str) -> String {
        self.to(&format!("/invite/{token}"))
    }

    pub fn verify_email(&self, token: &str) -> String {
        self.to(&format!("/account/emails/verify/{token}"))
    }

    pub fn reset_password(&self, token: &str) -> String {
        self.to(&format!("/reset/{token}"))
    }

    pub fn account(&self) -> String {
        self.to("/account")
    }

    /// A member's page in a workspace.
    pub fn member(&self, workspace_slug: &str, member_id: i64) -> String {
        self.to(&format!("/w/{workspace_slug}/users/{member_id}"))
    }

    /// A workspace page: `links.workspace("acme", "/requests")`.
    pub fn workspace(&self, workspace_slug: &str, suffix: &str) -> String {
        self.to(&format!("/w/{workspace_slug}{suffix}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_base_without_double_slashes() {
        let links = Links::new("https://gate.example.com/");
        assert_eq!(links.invite("t"), "https://gate.example.com/invite/t");
        assert_eq!(
            links.member("acme", 7),
            "https://gate.example.com/w/acme/users/7"
        );
        assert_eq!(
            links.workspace("acme", "/requests"),
            "https://gate.example.com/w/acme/requests"
        );
    }
}
