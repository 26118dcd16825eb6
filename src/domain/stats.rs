//! Per-article rating statistics, kept as counters so reading them is O(1).

/// Counters for one article's published reviews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RatingCounters {
    /// Reviews with rating 1 to 5, at index 0 to 4.
    pub histogram: [i64; 5],
}

impl RatingCounters {
    pub fn review_count(&self) -> i64 {
        self.histogram.iter().sum()
    }

    pub fn rating_sum(&self) -> i64 {
        self.histogram
            .iter()
            .zip(1..)
            .map(|(count, rating)| count * rating)
            .sum()
    }

    /// Mean rating rounded to two decimals, or `None` before the first review.
    pub fn average(&self) -> Option<f64> {
        let count = self.review_count();
        (count > 0).then(|| {
            let mean = self.rating_sum() as f64 / count as f64;
            (mean * 100.0).round() / 100.0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        };
        assert_eq!(counters.review_count(), 5);
        assert_eq!(counters.rating_sum(), 15);
        assert_eq!(counters.average(), Some(3.0));
        let skewed = RatingCounters {
            histogram: [0, 0, 1, 0, 2],
        };
        assert_eq!(skewed.average(), Some(4.33));
    }
}
