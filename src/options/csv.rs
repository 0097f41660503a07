//! One `--output` value is one CSV record, parsed as go-csvvalue does (comma separator, no lazy
//! quotes, no trimming), with Go encoding/csv's error texts.

use crate::error::{Error, Result};

pub fn fields(record: &str) -> Result<Vec<String>> {
    let err = |col: usize, what: &str| {
        Error::option(format!("invalid --output {record:?}: parse error on line 1, column {col}: {what}"))
    };
    let chars: Vec<char> = record.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let mut field = String::new();
        if chars.get(i) == Some(&'"') {
            // Quoted field: runs to the closing quote; "" is a literal quote.
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(err(i + 1, "extraneous or missing \" in quoted-field")),
                    Some('"') if chars.get(i + 1) == Some(&'"') => {
                        field.push('"');
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        field.push(c);
                        i += 1;
                    }
                }
            }
            if !matches!(chars.get(i), None | Some(',')) {
                return Err(err(i + 1, "extraneous or missing \" in quoted-field"));
            }
        } else {
            while let Some(&c) = chars.get(i) {
                match c {
                    ',' => break,
                    '"' => return Err(err(i + 1, "bare \" in non-quoted-field")),
                    _ => field.push(c),
                }
                i += 1;
            }
        }
        out.push(field);
        if i >= chars.len() {
            return Ok(out);
        }
        i += 1; // the comma
    }
}

#[cfg(test)]
mod tests {
    use super::fields;

    #[test]
    fn splits_and_unquotes() {
        assert_eq!(fields("type=oci,dest=a.tar").unwrap(), ["type=oci", "dest=a.tar"]);
        assert_eq!(
            fields(r#"type=image,"name=r/a:1,r/a:2",push=true"#).unwrap(),
            ["type=image", "name=r/a:1,r/a:2", "push=true"]
        );
        assert_eq!(fields(r#""a=""q""""#).unwrap(), [r#"a="q""#]);
        assert_eq!(fields("a=1,,b= 2").unwrap(), ["a=1", "", "b= 2"]);
        assert_eq!(fields("").unwrap(), [""]);
    }

    #[test]
    fn rejects_stray_quotes() {
        assert!(fields(r#"name="a,b""#).unwrap_err().message.contains("bare \" in non-quoted-field"));
        assert!(fields(r#""name=a"x"#).unwrap_err().message.contains("extraneous or missing \""));
        assert!(fields(r#""open"#).is_err());
    }
}
