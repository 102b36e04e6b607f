//! A day a person picks: the last day of a permission grant.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Utc};

use super::{validation, Invalid};
use crate::text;

/// The last day a grant works (UTC), typed as `YYYY-MM-DD`: today or later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastDay(NaiveDate);

impl LastDay {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        Self::on(input, Utc::now().date_naive())
    }

    /// Empty input is `None`: the grant does not end.
    pub fn parse_optional(input: &str) -> Result<Option<Self>, Invalid> {
        if input.trim().is_empty() {
            Ok(None)
        } else {
            Self::parse(input).map(Some)
        }
    }

    pub fn validate_optional(input: &str) -> Result<(), validator::ValidationError> {
        validation(Self::parse_optional(input))
    }

    /// `parse` as of `today`.
    fn on(input: &str, today: NaiveDate) -> Result<Self, Invalid> {
        let typed = text::single_line(input.trim())?;
        match NaiveDate::parse_from_str(typed, "%Y-%m-%d") {
            Ok(date) if date >= today => Ok(LastDay(date)),
            Ok(_) => Err(Invalid::new("The end date must be today or later.")),
            Err(_) => Err(Invalid::new("The end date must be a date like 2027-01-31.")),
        }
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }

    /// The moment the grant ends: the end of the day, so "until 5 March" works all of it.
    pub fn end(self) -> NaiveDateTime {
        self.0.succ_opt().unwrap_or(self.0).and_time(NaiveTime::MIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_last_day_is_today_or_later_and_ends_at_midnight_after_it() {
        let today = NaiveDate::from_ymd_opt(2027, 3, 5).expect("a date");
        let day = LastDay::on(" 2027-03-05 ", today).expect("today");
        assert_eq!(day.end().to_string(), "2027-03-06 00:00:00");
        assert!(LastDay::on("2027-03-04", today).is_err());
        assert!(LastDay::on("5 March", today).is_err());
        assert_eq!(LastDay::parse_optional("  "), Ok(None));
    }
}
