//! Per-article rating statistics, kept as counters so reading them is O(1).

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate, TimeDelta};

use super::{FieldError, FieldErrorCode};

/// Counters for one article's published reviews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RatingCounters {
    /// Reviews with rating 1 to 5, at index 0 to 4.
    pub histogram: [i64; 5],
    /// Reviews without a rating: counted among the reviews, never in the average.
    pub unrated: i64,
}

impl RatingCounters {
    /// Every published review, rated or not.
    pub fn review_count(&self) -> i64 {
        self.rated_count() + self.unrated
    }

    /// The published reviews with a rating, which the average and histogram are made of.
    pub fn rated_count(&self) -> i64 {
        self.histogram.iter().sum()
    }

    pub fn rating_sum(&self) -> i64 {
        self.histogram
            .iter()
            .zip(1..)
            .map(|(count, rating)| count * rating)
            .sum()
    }

    /// Mean rating rounded to two decimals, or `None` before the first rated review.
    pub fn average(&self) -> Option<f64> {
        let count = self.rated_count();
        (count > 0).then(|| {
            let mean = self.rating_sum() as f64 / count as f64;
            (mean * 100.0).round() / 100.0
        })
    }
}

/// The days a time series covers, both ends included, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DayRange {
    /// Most days one series may cover: a year, leap day included.
    pub const MAX_DAYS: i64 = 366;
    /// Days covered when the range is not given: the last 30, today included.
    pub const DEFAULT_DAYS: i64 = 30;

    /// `from` and `to` as `YYYY-MM-DD`, each optional: `to` defaults to `today`, `from` to the
    /// default span before `to`.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        today: NaiveDate,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut day = |field: &str, raw: Option<&str>| {
            raw.and_then(|raw| {
                NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                    .ok()
                    .filter(|date| (1..=9999).contains(&date.year()))
                    .or_else(|| {
                        errors.push(FieldError::new(
                            field,
                            FieldErrorCode::Format,
                            "must be a date such as 2026-11-26",
                        ));
                        None
                    })
            })
        };
        let to_day = day("to", to);
        let from_day = day("from", from);
        if !errors.is_empty() {
            return Err(errors);
        }
        let to = to_day.unwrap_or(today);
        let from = from_day.unwrap_or_else(|| {
            to.checked_sub_signed(TimeDelta::days(Self::DEFAULT_DAYS - 1))
                .unwrap_or(NaiveDate::MIN)
        });
        let range = Self { from, to };
        if from > to {
            return Err(vec![FieldError::new(
                "from",
                FieldErrorCode::Range,
                "must not be after `to`",
            )]);
        }
        if range.days() > Self::MAX_DAYS {
            return Err(vec![FieldError::new(
                "from",
                FieldErrorCode::Range,
                format!("a series covers at most {} days", Self::MAX_DAYS),
            )]);
        }
        Ok(range)
    }

    /// How many days the range covers.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// Every day of the range, oldest first, with its counters from `found` (zero if absent).
    pub fn series(
        &self,
        mut found: HashMap<NaiveDate, RatingCounters>,
    ) -> Vec<(NaiveDate, RatingCounters)> {
        self.from
            .iter_days()
            .take_while(|day| *day <= self.to)
            .map(|day| (day, found.remove(&day).unwrap_or_default()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_has_every_day_of_its_range() {
        let date = |month, day| NaiveDate::from_ymd_opt(2026, month, day).expect("a valid date");
        let range = DayRange {
            from: date(2, 27),
            to: date(3, 2),
        };
        let busy = RatingCounters {
            histogram: [0, 0, 1, 0, 2],
            unrated: 0,
        };
        let series = range.series(HashMap::from([
            (date(2, 28), busy),
            (date(3, 1), busy),
            (date(3, 3), busy),
        ]));
        let days: Vec<NaiveDate> = series.iter().map(|(day, _)| *day).collect();
        assert_eq!(days, [date(2, 27), date(2, 28), date(3, 1), date(3, 2)]);
        assert_eq!(series[0].1, RatingCounters::default());
        assert_eq!(series[1].1, busy);
        assert_eq!(series.iter().map(|(_, c)| c.review_count()).sum::<i64>(), 6);
    }

    #[test]
    fn day_ranges_default_to_the_last_30_days_and_are_bounded() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let range = DayRange::parse(None, None, today).unwrap();
        assert_eq!(
            (range.from.to_string(), range.days()),
            ("2026-10-28".into(), 30)
        );
        let given = DayRange::parse(Some("2026-01-01"), Some("2026-12-31"), today).unwrap();
        assert_eq!(given.days(), 365);
        let fields = |result: Result<DayRange, Vec<FieldError>>| -> Vec<String> {
            result.unwrap_err().into_iter().map(|e| e.field).collect()
        };
        assert_eq!(
            fields(DayRange::parse(Some("2026-02-30"), None, today)),
            ["from"]
        );
        assert_eq!(
            fields(DayRange::parse(None, Some("yesterday"), today)),
            ["to"]
        );
        assert_eq!(
            fields(DayRange::parse(Some("2026-11-27"), None, today)),
            ["from"]
        );
        assert_eq!(
            fields(DayRange::parse(Some("2024-01-01"), None, today)),
            ["from"]
        );
    }

    #[test]
    fn empty_counters_have_no_average() {
        let counters = RatingCounters::default();
        assert_eq!(counters.review_count(), 0);
        assert_eq!(counters.average(), None);
    }

    #[test]
    fn average_and_sum_follow_the_histogram() {
        let counters = RatingCounters {
            histogram: [1, 1, 1, 1, 1],
            unrated: 0,
        };
        assert_eq!(counters.review_count(), 5);
        assert_eq!(counters.rating_sum(), 15);
        assert_eq!(counters.average(), Some(3.0));
        let skewed = RatingCounters {
            histogram: [0, 0, 1, 0, 2],
            unrated: 0,
        };
        assert_eq!(skewed.average(), Some(4.33));
    }

    #[test]
    fn unrated_reviews_count_among_reviews_but_not_in_the_average() {
        let counters = RatingCounters {
            histogram: [0, 0, 0, 1, 1],
            unrated: 3,
        };
        assert_eq!((counters.review_count(), counters.rated_count()), (5, 2));
        assert_eq!(counters.average(), Some(4.5));
        let only_unrated = RatingCounters {
            unrated: 2,
            ..RatingCounters::default()
        };
        assert_eq!(only_unrated.average(), None);
    }
}
