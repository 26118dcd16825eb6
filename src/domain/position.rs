//! A position in PostgreSQL's write-ahead log (an LSN), as PostgreSQL writes it (`16/B374D848`):
//! what a write answers with, and what a reader sends back so that a replica serves it only once
//! it has replayed that far.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position(u64);

impl Position {
    pub fn from_u64(value: u64) -> Self {
        Self(value)
    }

    pub fn as_u64(self) -> u64 {
        self.0
    }

    /// `X/Y`, each half one to eight hexadecimal digits; anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let (high, low) = text.split_once('/')?;
        let half = |part: &str| {
            (1..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_hexdigit())
        };
        if !half(high) || !half(low) {
            return None;
        }
        let high = u64::from_str_radix(high, 16).ok()?;
        let low = u64::from_str_radix(low, 16).ok()?;
        Some(Self((high << 32) | low))
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

#[cfg(test)]
mod tests {
    use super::Position;

    #[test]
    fn positions_read_and_print_as_postgresql_writes_them() {
        let position = Position::parse("16/B374D848").unwrap();
        assert_eq!(position.as_u64(), (0x16 << 32) | 0xB374_D848);
        assert_eq!(position.to_string(), "16/B374D848");
        assert_eq!(Position::parse("0/0"), Some(Position::from_u64(0)));
        assert!(Position::parse("0/1") > Position::parse("0/0"));
        assert!(Position::parse("1/0") > Position::parse("0/FFFFFFFF"));
        for bad in [
            "",
            "16",
            "/1",
            "1/",
            "g/1",
            "1/123456789",
            "1/2/3",
            " 1/2",
            "-1/2",
        ] {
            assert_eq!(Position::parse(bad), None, "{bad:?}");
        }
    }
}
