//! A workspace's settings values: how long invitations last and its module catalogue.

use super::{validation, Invalid, Slug};
use crate::text;

/// How many days an invitation lasts: 1 to 30.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InviteExpiryDays(i32);

impl InviteExpiryDays {
    pub const RANGE: std::ops::RangeInclusive<i32> = 1..=30;

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        match input.trim().parse::<i32>() {
            Ok(days) if Self::RANGE.contains(&days) => Ok(InviteExpiryDays(days)),
            _ => Err(Invalid::new("Invitations last between 1 and 30 days")),
        }
    }

    pub fn validate(input: &str) -> Result<(), validator::ValidationError> {
        validation(Self::parse(input))
    }

    pub fn days(self) -> i32 {
        self.0
    }
}

/// The module catalogue as typed, one name per line: at most 50, each at most 60
/// characters, no two with the same key (the slug of the name, which keeps a module's
/// identity and its per-member revocations across renames).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleList(Vec<(String, String)>);

impl ModuleList {
    pub const MAX_MODULES: usize = 50;
    pub const MAX_NAME_CHARS: usize = 60;

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let names: Vec<&str> = input
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        if names.len() > Self::MAX_MODULES {
            return Err(Invalid::new(format!(
                "At most {} modules",
                Self::MAX_MODULES
            )));
        }
        let mut modules: Vec<(String, String)> = Vec::with_capacity(names.len());
        for name in names {
            text::single_line(name).map_err(|e| Invalid::new(format!("A module name: {e}")))?;
            if name.chars().count() > Self::MAX_NAME_CHARS {
                return Err(Invalid::new(format!(
                    "“{name}” is longer than {} characters",
                    Self::MAX_NAME_CHARS
                )));
            }
            let key = Slug::from_name(name).into_inner();
            if modules.iter().any(|(k, _)| *k == key) {
                return Err(Invalid::new(format!("“{name}” is listed twice")));
            }
            modules.push((key, name.to_string()));
        }
        Ok(ModuleList(modules))
    }

    pub fn validate(input: &str) -> Result<(), validator::ValidationError> {
        validation(Self::parse(input))
    }

    /// (key, name) in the order typed.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, n)| (k.as_str(), n.as_str()))
    }

    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|(_, n)| n.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_are_keyed_by_their_slug() {
        let list = ModuleList::parse("Billing\n\n  Reports \n").expect("valid");
        assert_eq!(
            list.iter().collect::<Vec<_>>(),
            [("billing", "Billing"), ("reports", "Reports")]
        );
        assert!(ModuleList::parse("Billing\nbilling").is_err());
        assert!(ModuleList::parse(&"m\n".repeat(51)).is_err());
        assert!(InviteExpiryDays::parse("31").is_err());
        assert_eq!(
            InviteExpiryDays::parse(" 7 ").map(InviteExpiryDays::days),
            Ok(7)
        );
    }
}
