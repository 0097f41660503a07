//! Value parsers with BuildKit's error texts.

use crate::error::{Error, Result};

/// Go `strconv.ParseBool`.
fn go_parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A boolean whose empty value is an error (`oci-mediatypes`, `rewrite-timestamp`, …).
pub fn parse_bool(key: &str, value: &str) -> Result<bool> {
    go_parse_bool(value).ok_or_else(|| {
        Error::option(format!(
            "non-bool value specified for {key}: strconv.ParseBool: parsing {value:?}: invalid syntax"
        ))
    })
}

/// A boolean whose empty value means true (`push`, `tar`, `store`, …).
pub fn parse_bool_empty_true(key: &str, value: &str) -> Result<bool> {
    if value.is_empty() {
        return Ok(true);
    }
    parse_bool(key, value)
}

/// Levenshtein distance, for "did you mean" suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools_like_go() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert!(parse_bool("k", t).unwrap());
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert!(!parse_bool("k", f).unwrap());
        }
        assert_eq!(
            parse_bool("oci-mediatypes", "").unwrap_err().message,
            "non-bool value specified for oci-mediatypes: strconv.ParseBool: parsing \"\": invalid syntax"
        );
        assert!(parse_bool("push", "yes").is_err());
        assert!(parse_bool_empty_true("tar", "").unwrap());
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("compresion", "compression"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
