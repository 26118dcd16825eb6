//! Timestamps as the public representations write them: RFC 3339 in UTC with `Z`, and as many
//! fractional digits as the value needs (none, 3, 6 or 9). Byte for byte what chrono's serde
//! support writes (a test holds the two equal), without the `fmt` machinery chrono goes through:
//! a page of twenty reviews carries forty timestamps, and formatting them through `collect_str`
//! cost more than escaping every review's text.

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::Serializer;

/// `2026-11-25T19:00:00.123456789Z`: the longest a year of four digits can be.
const LONGEST: usize = 30;

/// Serializes `at` as an RFC 3339 string (`#[serde(serialize_with = "…")]`).
pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buffer = [0_u8; LONGEST];
    match write(at, &mut buffer) {
        Some(text) => serializer.serialize_str(text),
        // Years before 0 or after 9999 take a sign and more digits: chrono's own path.
        None => serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
    }
}

/// `serialize` for an optional timestamp: `null` when absent.
pub fn serialize_option<S: Serializer>(
    at: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serialize(at, serializer),
        None => serializer.serialize_none(),
    }
}

/// Writes `at` into `buffer`; `None` for a year outside 0–9999.
fn write<'a>(at: &DateTime<Utc>, buffer: &'a mut [u8; LONGEST]) -> Option<&'a str> {
    let year = u32::try_from(at.year()).ok().filter(|year| *year <= 9999)?;
    let mut nanos = at.nanosecond();
    let mut second = at.second();
    // chrono keeps a leap second as a nanosecond count past 1,000,000,000.
    if nanos >= 1_000_000_000 {
        second += 1;
        nanos -= 1_000_000_000;
    }
    let fraction = if nanos == 0 {
        None
    } else if nanos % 1_000_000 == 0 {
        Some((nanos / 1_000_000, 3))
    } else if nanos % 1_000 == 0 {
        Some((nanos / 1_000, 6))
    } else {
        Some((nanos, 9))
    };
    let mut out = Cursor { buffer, length: 0 };
    out.digits(year, 4);
    out.byte(b'-');
    out.digits(at.month(), 2);
    out.byte(b'-');
    out.digits(at.day(), 2);
    out.byte(b'T');
    out.digits(at.hour(), 2);
    out.byte(b':');
    out.digits(at.minute(), 2);
    out.byte(b':');
    out.digits(second, 2);
    if let Some((value, width)) = fraction {
        out.byte(b'.');
        out.digits(value, width);
    }
    out.byte(b'Z');
    let length = out.length;
    std::str::from_utf8(&buffer[..length]).ok()
}

/// Appends ASCII to a buffer long enough for any timestamp `write` accepts.
struct Cursor<'a> {
    buffer: &'a mut [u8; LONGEST],
    length: usize,
}

impl Cursor<'_> {
    fn byte(&mut self, byte: u8) {
        self.buffer[self.length] = byte;
        self.length += 1;
    }

    /// `value` in `width` decimal digits, zero-padded (every value `write` passes fits).
    fn digits(&mut self, value: u32, width: usize) {
        let mut rest = value;
        for index in (0..width).rev() {
            // A remainder of ten is below 256.
            self.buffer[self.length + index] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        self.length += width;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};
    use proptest::prelude::*;

    fn ours(at: &DateTime<Utc>) -> String {
        let mut json = Vec::new();
        serialize(at, &mut serde_json::Serializer::new(&mut json)).unwrap();
        String::from_utf8(json).unwrap()
    }

    fn chrono_writes(at: &DateTime<Utc>) -> String {
        serde_json::to_string(at).unwrap()
    }

    #[test]
    fn every_precision_and_the_edges_match_chrono() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        for (hms_nano, expected) in [
            ((19, 0, 0, 0), "\"2026-11-25T19:00:00Z\""),
            ((19, 0, 0, 120_000_000), "\"2026-11-25T19:00:00.120Z\""),
            ((19, 0, 0, 123_456_000), "\"2026-11-25T19:00:00.123456Z\""),
            (
                (19, 0, 0, 123_456_789),
                "\"2026-11-25T19:00:00.123456789Z\"",
            ),
            ((23, 59, 59, 1_500_000_000), "\"2026-11-25T23:59:60.500Z\""),
        ] {
            let (h, m, s, n) = hms_nano;
            let at = Utc.from_utc_datetime(&day.and_hms_nano_opt(h, m, s, n).unwrap());
            assert_eq!(ours(&at), expected);
            assert_eq!(ours(&at), chrono_writes(&at));
        }
        for year in [0, 7, 999, 9999, 10_000, -1] {
            let at = Utc.from_utc_datetime(
                &NaiveDate::from_ymd_opt(year, 1, 2)
                    .unwrap()
                    .and_hms_opt(3, 4, 5)
                    .unwrap(),
            );
            assert_eq!(ours(&at), chrono_writes(&at), "year {year}");
        }
        let mut json = Vec::new();
        serialize_option(&None, &mut serde_json::Serializer::new(&mut json)).unwrap();
        assert_eq!(json, b"null");
    }

    proptest! {
        #[test]
        fn any_instant_is_written_as_chrono_writes_it(
            seconds in -62_000_000_000_i64..300_000_000_000,
            nanos in prop_oneof![Just(0_u32), 0_u32..1_000_000_000, (0_u32..1_000).prop_map(|ms| ms * 1_000_000), (0_u32..1_000_000).prop_map(|us| us * 1_000)],
        ) {
            let at = DateTime::from_timestamp(seconds, nanos).unwrap();
            prop_assert_eq!(ours(&at), chrono_writes(&at));
        }
    }
}
