//! JSON bytes as Go's encoding/json writes them, because digests depend on every byte:
//! `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u003c`…; pretty form = `json.MarshalIndent(v, "", "  ")`.

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};
use std::io;

struct GoEscaping<F>(F);

impl<F: Formatter> Formatter for GoEscaping<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, w: &mut W, fragment: &str) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escaped = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            w.write_all(&fragment.as_bytes()[start..i])?;
            w.write_all(escaped.as_bytes())?;
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    // Delegate the layout to the wrapped formatter.
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

fn write<T: Serialize, F: Formatter>(value: &T, formatter: F) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoEscaping(formatter));
    // Serializing our own plain data types into a Vec cannot fail.
    value.serialize(&mut ser).expect("serializing image JSON");
    out
}

/// `json.Marshal`: compact.
pub fn compact<T: Serialize>(value: &T) -> Vec<u8> {
    write(value, CompactFormatter)
}

/// `json.MarshalIndent(v, "", "  ")`: no trailing newline.
pub fn pretty<T: Serialize>(value: &T) -> Vec<u8> {
    write(value, PrettyFormatter::with_indent(b"  "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_like_go() {
        let v = json!({"a": "x > y && <z>\u{2028}é"});
        assert_eq!(String::from_utf8(compact(&v)).unwrap(), r#"{"a":"x \u003e y \u0026\u0026 \u003cz\u003e\u2028é"}"#);
    }

    #[test]
    fn pretty_matches_marshal_indent() {
        let v = json!({"schemaVersion": 2, "layers": [], "config": {"size": 1}});
        assert_eq!(
            String::from_utf8(pretty(&v)).unwrap(),
            "{\n  \"schemaVersion\": 2,\n  \"layers\": [],\n  \"config\": {\n    \"size\": 1\n  }\n}"
        );
    }
}
