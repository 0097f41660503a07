//! Numbers in tar headers and PAX records, read as Go's archive/tar reads them (strconv.go): octal
//! text or base-256 in header fields, decimal in PAX records. None where Go sets ErrHeader.

/// Bytes up to the first NUL (Go's parseString).
pub fn c_string(field: &[u8]) -> &[u8] {
    &field[..field.iter().position(|&b| b == 0).unwrap_or(field.len())]
}

/// Go's parseOctal: spaces and NULs trimmed from both ends (nothing left is 0), then octal digits up
/// to the first NUL; a value above i64::MAX wraps as Go's int64 conversion does.
pub fn parse_octal(field: &[u8]) -> Option<i64> {
    let Some(start) = field.iter().position(|&b| b != 0 && b != b' ') else { return Some(0) };
    let end = field.iter().rposition(|&b| b != 0 && b != b' ').map_or(start, |i| i + 1);
    let digits = c_string(&field[start..end]);
    if digits.is_empty() || !digits.iter().all(|b| (b'0'..=b'7').contains(b)) {
        return None;
    }
    let mut value = 0u64;
    for &d in digits {
        value = value.checked_mul(8)?.checked_add((d - b'0') as u64)?;
    }
    Some(value as i64)
}

/// Go's parseNumeric: base-256 two's complement when the first byte's high bit is set (GNU tar's
/// form for sizes of 8 GiB and more, negative times, big ids), otherwise octal.
pub fn parse_numeric(field: &[u8]) -> Option<i64> {
    if field.first().is_none_or(|b| b & 0x80 == 0) {
        return parse_octal(field);
    }
    let inv = if field[0] & 0x40 != 0 { 0xff } else { 0 };
    let mut x = 0u64;
    for (i, &c) in field.iter().enumerate() {
        let c = if i == 0 { (c ^ inv) & 0x7f } else { c ^ inv };
        if x >> 56 > 0 {
            return None;
        }
        x = x << 8 | c as u64;
    }
    if x >> 63 > 0 {
        return None;
    }
    Some(if inv == 0xff { !(x as i64) } else { x as i64 })
}

/// Go's strconv.ParseInt(s, 10, 64): an optional sign, then decimal digits.
pub fn parse_decimal(s: &[u8]) -> Option<i64> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Go's parsePAXTime: `[-]seconds[.digits]`, the fraction cut to nanoseconds and signed like the
/// seconds.
pub fn parse_pax_time(value: &[u8]) -> Option<(i64, i64)> {
    let (seconds, fraction) = match value.iter().position(|&b| b == b'.') {
        Some(dot) => (&value[..dot], &value[dot + 1..]),
        None => (value, &[][..]),
    };
    let secs = parse_decimal(seconds)?;
    if !fraction.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let nanos = fraction.iter().chain(std::iter::repeat(&b'0')).take(9).fold(0i64, |n, &d| n * 10 + (d - b'0') as i64);
    Some((secs, if seconds.starts_with(b"-") { -nanos } else { nanos }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_go_reads_them() {
        assert_eq!(parse_numeric(b"0000644\0"), Some(0o644));
        assert_eq!(parse_numeric(b"  644 \0"), Some(0o644));
        assert_eq!(parse_numeric(b"\0\0\0\0"), Some(0));
        assert_eq!(parse_numeric(b"        "), Some(0));
        assert_eq!(parse_numeric(b"12 4\0"), None);
        assert_eq!(parse_numeric(b"9\0"), None);
        assert_eq!(parse_numeric(b"0009\0"), None);
        // Digits end at the first NUL once the ends are trimmed.
        assert_eq!(parse_numeric(b"12\x0034\0"), Some(0o12));
        assert_eq!(parse_numeric(&[0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]), Some(1 << 32));
        assert_eq!(parse_numeric(&[0x80, 0, 0, 0, 0, 0, 1, 0]), Some(256));
        assert_eq!(parse_numeric(&[0xff; 8]), Some(-1));
        assert_eq!(parse_numeric(&[0x80, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(parse_octal(b"0012345\0"), Some(0o12345));
        assert_eq!(parse_octal(&[0x80, 0, 0, 1]), None, "the checksum is octal only");
        assert_eq!(parse_pax_time(b"1.5"), Some((1, 500_000_000)));
        assert_eq!(parse_pax_time(b"-1.25"), Some((-1, -250_000_000)));
        assert_eq!(parse_pax_time(b"1700000000.1234567891"), Some((1_700_000_000, 123_456_789)));
        assert_eq!(parse_pax_time(b"7"), Some((7, 0)));
        assert_eq!(parse_pax_time(b"-5"), Some((-5, 0)));
        assert_eq!(parse_pax_time(b".5"), None);
        assert_eq!(parse_pax_time(b"1.x"), None);
        assert_eq!(parse_decimal(b"+5"), Some(5));
        assert_eq!(parse_decimal(b"1_0"), None);
    }
}
