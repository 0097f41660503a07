//! RFC 3339 timestamps as Go's time.Time marshals and parses them (RFC3339Nano: fraction with
//! trailing zeros trimmed, the offset the time was written with, `Z` for a zero offset).

/// `2015-10-21T07:28:00Z` for 1445412480.
pub fn rfc3339(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let secs = unix_seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", y, m, d, secs / 3600, secs % 3600 / 60, secs % 60)
}

/// `2015-10-21T07:28:00.5Z` for 1445412480 s + 500000000 ns (Go's RFC3339Nano in UTC).
pub fn rfc3339_nano(unix_seconds: i64, nanos: u32) -> String {
    GoTime { unix: unix_seconds, nanos, offset: 0 }.to_string()
}

/// A time as Go's `time.Time` holds one parsed from JSON: the instant and the offset it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoTime {
    /// Seconds since the Unix epoch (UTC).
    pub unix: i64,
    pub nanos: u32,
    /// Seconds east of UTC, as written.
    pub offset: i32,
}

impl GoTime {
    /// The instant, for comparisons (Go's `After` ignores the offset).
    pub fn instant(&self) -> (i64, u32) {
        (self.unix, self.nanos)
    }

    /// RFC 3339 as Go's `Time.UnmarshalJSON` reads it: `YYYY-MM-DDTHH:MM:SS`, an optional `.`
    /// fraction (digits beyond nanoseconds dropped), then `Z` or `±hh:mm`.
    pub fn parse(text: &str) -> Option<GoTime> {
        let b = text.as_bytes();
        let num = |from: usize, len: usize| -> Option<i64> {
            let part = b.get(from..from + len)?;
            part.iter().all(u8::is_ascii_digit).then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
        };
        let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
        let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
        if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || b.get(10) != Some(&b'T') {
            return None;
        }
        if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
            return None;
        }
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
            2 => 28,
            _ => return None,
        };
        if day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let mut at = 19;
        let mut nanos = 0u32;
        // A period only: Go (1.20 on, which BuildKit is built with) refuses a comma in JSON times.
        if b.get(at) == Some(&b'.') {
            let digits = b[at + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return None;
            }
            for i in 0..9 {
                let d = if i < digits { u32::from(b[at + 1 + i] - b'0') } else { 0 };
                nanos = nanos * 10 + d;
            }
            at += 1 + digits;
        }
        let offset = match &b[at..] {
            [b'Z'] => 0,
            [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
                let (h, m) = (num(at + 1, 2)?, num(at + 4, 2)?);
                if h > 23 || m > 59 {
                    return None;
                }
                let east = (h * 3600 + m * 60) as i32;
                if *sign == b'-' {
                    -east
                } else {
                    east
                }
            }
            _ => return None,
        };
        let local = days_from_civil(year, month as u32, day as u32) * 86_400 + hour * 3600 + minute * 60 + second;
        Some(GoTime { unix: local - i64::from(offset), nanos, offset })
    }
}

impl std::fmt::Display for GoTime {
    /// RFC3339Nano, in the offset the time carries.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let local = self.unix + i64::from(self.offset);
        let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        write!(f, "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", y, m, d, secs / 3600, secs % 3600 / 60, secs % 60)?;
        if self.nanos != 0 {
            let fraction = format!("{:09}", self.nanos);
            write!(f, ".{}", fraction.trim_end_matches('0'))?;
        }
        match self.offset {
            0 => f.write_str("Z"),
            o => {
                let sign = if o < 0 { '-' } else { '+' };
                write!(f, "{sign}{:02}:{:02}", o.abs() / 3600, o.abs() % 3600 / 60)
            }
        }
    }
}

/// Howard Hinnant's days-from-civil (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(1_445_412_480), "2015-10-21T07:28:00Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(4_102_444_800), "2100-01-01T00:00:00Z");
    }

    #[test]
    fn go_times_round_trip_as_go_marshals_them() {
        for (text, out) in [
            ("2015-10-21T07:28:00Z", "2015-10-21T07:28:00Z"),
            ("2015-10-21T07:28:00.000Z", "2015-10-21T07:28:00Z"),
            ("2015-10-21T07:28:00.1234567891Z", "2015-10-21T07:28:00.123456789Z"),
            ("2010-01-01T02:00:00+02:00", "2010-01-01T02:00:00+02:00"),
            ("2010-01-01T02:00:00.50-05:30", "2010-01-01T02:00:00.5-05:30"),
            ("2010-01-01T00:00:00+00:00", "2010-01-01T00:00:00Z"),
            ("2000-02-29T23:59:59Z", "2000-02-29T23:59:59Z"),
            // ko's and Nix's zero times.
            ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
            ("1970-01-01T00:00:01Z", "1970-01-01T00:00:01Z"),
        ] {
            assert_eq!(GoTime::parse(text).unwrap().to_string(), out, "{text}");
        }
        assert_eq!(GoTime::parse("2010-01-01T02:00:00+02:00").unwrap().unix, 1_262_304_000);
        for bad in [
            "",
            "2015-10-21",
            "2015-10-21 07:28:00Z",
            "2015-10-21T07:28:00",
            "2015-02-30T00:00:00Z",
            "2015-10-21T07:28:00.Z",
            "2015-10-21T07:28:60Z",
        ] {
            assert!(GoTime::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(rfc3339_nano(1_445_412_480, 120_000_000), "2015-10-21T07:28:00.12Z");
        assert_eq!(rfc3339_nano(1_445_412_480, 0), rfc3339(1_445_412_480));
    }
}
