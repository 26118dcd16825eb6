//! Whole numbers of milliseconds or seconds in flags, read as `Duration`s, so nothing after start
//! converts units again.

use std::ops::RangeInclusive;
use std::time::Duration;

/// A clap parser for a whole number of milliseconds within `range`.
pub fn millis(
    range: RangeInclusive<u64>,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |raw| whole_number(raw, &range).map(Duration::from_millis)
}

/// A clap parser for a whole number of seconds within `range`.
pub fn seconds(
    range: RangeInclusive<u64>,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |raw| whole_number(raw, &range).map(Duration::from_secs)
}

fn whole_number(raw: &str, range: &RangeInclusive<u64>) -> Result<u64, String> {
    let number: u64 = raw.parse().map_err(|error| format!("{error}"))?;
    if !range.contains(&number) {
        return Err(format!(
            "{number} is not in {}..={}",
            range.start(),
            range.end()
        ));
    }
    Ok(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_in_range_become_durations_and_others_are_named() {
        let timeout = millis(10..=60_000);
        assert_eq!(timeout("10"), Ok(Duration::from_millis(10)));
        assert_eq!(timeout("60000"), Ok(Duration::from_secs(60)));
        assert_eq!(timeout("9"), Err("9 is not in 10..=60000".to_owned()));
        assert!(timeout("1.5").is_err());
        assert!(timeout("-1").is_err());
        assert_eq!(seconds(0..=u64::MAX)("30"), Ok(Duration::from_secs(30)));
    }
}
