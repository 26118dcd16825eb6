//! Timestamps the database can store: RFC 3339 years (0001–9999), well inside PostgreSQL's
//! `timestamptz` range (4713 BC to 294276 AD), so that no parsed time is refused by the database.

use chrono::{DateTime, NaiveDate, Utc};
use validator::ValidationError;

/// The earliest storable instant: 0001-01-01T00:00:00Z.
pub fn earliest() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(1, 1, 1)
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|naive| naive.and_utc())
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The latest storable instant: 9999-12-31T23:59:59.999999Z.
pub fn latest() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|date| date.and_hms_micro_opt(23, 59, 59, 999_999))
        .map(|naive| naive.and_utc())
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

pub fn is_storable(instant: &DateTime<Utc>) -> bool {
    (earliest()..=latest()).contains(instant)
}

/// The validator rule for timestamps read from requests.
pub fn storable(instant: &DateTime<Utc>) -> Result<(), ValidationError> {
    if is_storable(instant) {
        Ok(())
    } else {
        let mut error = ValidationError::new("range");
        error.message =
            Some("must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z".into());
        Err(error)
    }
}

/// The current time at the database's precision (microseconds), so that a time computed here
/// and stored reads back unchanged.
pub fn now_stored() -> DateTime<Utc> {
    use chrono::{DurationRound, TimeDelta};
    let now = Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_rfc3339_years() {
        assert!(is_storable(&earliest()));
        assert!(is_storable(&latest()));
        assert!(is_storable(&Utc::now()));
        assert!(!is_storable(&DateTime::<Utc>::MIN_UTC));
        assert!(!is_storable(&DateTime::<Utc>::MAX_UTC));
        assert!(earliest().timestamp() < 0 && latest().timestamp() > 0);
    }
}
