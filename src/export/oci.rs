//! The `oci` exporter's options (BuildKit exporter/oci, buildx client-side `dest`/`tar`).

use crate::compress::Compression;
use crate::error::{Error, Result};
use crate::image::mediatypes::MediaTypes;
use crate::options::{parse_bool, parse_bool_empty_true, unknown_key_warning, OutputSpec, KNOWN_KEYS};
use crate::request::parse_epoch;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciOptions {
    /// A file path or "-" (standard output) when `tar`; a directory otherwise.
    pub dest: String,
    pub tar: bool,
    pub compression: Compression,
    pub media_types: MediaTypes,
    /// `source-date-epoch`: Some(None) = explicitly none, None = not given.
    pub epoch: Option<Option<i64>>,
}

/// Options BuildKit's oci exporter takes that this version does not honour yet: refusing them is
/// better than silently producing something else.
const NOT_YET: &[&str] = &[
    "name",
    "oci-artifact",
    "force-compression",
    "rewrite-timestamp",
    "prefer-nondist-layers",
    "attestation-inline",
];

impl OciOptions {
    pub fn from_spec(spec: &OutputSpec, warnings: &mut Vec<String>) -> Result<OciOptions> {
        let attrs = &spec.attrs;
        let tar = attrs
            .get("tar")
            .map(|v| parse_bool_empty_true("tar", v))
            .transpose()?
            .unwrap_or(true);
        let dest = match spec.dest.as_deref() {
            Some("") => return Err(Error::option("dest must not be empty for type=oci")),
            Some(d) => d.to_string(),
            None if tar => "-".to_string(),
            None => return Err(Error::option("dest directory is required for type=oci,tar=false")),
        };
        if !tar && dest == "-" {
            return Err(Error::option("dest cannot be stdout for type=oci,tar=false"));
        }
        let compression = Compression::from_options(
            attrs.get("compression").map(String::as_str),
            attrs.get("compression-level").map(String::as_str),
        )?;
        let oci = attrs
            .get("oci-mediatypes")
            .map(|v| parse_bool("oci-mediatypes", v))
            .transpose()?
            .unwrap_or(true);
        let epoch = match attrs.get("source-date-epoch") {
            None => None,
            Some(v) if v.is_empty() => Some(None),
            Some(v) => Some(Some(parse_epoch("source-date-epoch", v)?)),
        };
        for key in attrs.keys() {
            if key.starts_with("annotation") || NOT_YET.contains(&key.as_str()) {
                return Err(Error::option(format!(
                    "option {key:?} of type=oci is not implemented yet in this version of outport"
                )));
            }
            let handled = [
                "tar",
                "compression",
                "compression-level",
                "oci-mediatypes",
                "source-date-epoch",
            ];
            if handled.contains(&key.as_str()) {
                continue;
            }
            warnings.push(if KNOWN_KEYS.contains(&key.as_str()) {
                format!("option {key:?} does not apply to type=oci; ignored")
            } else {
                unknown_key_warning(spec.kind, key)
            });
        }
        Ok(OciOptions {
            dest,
            tar,
            compression,
            media_types: if oci { MediaTypes::Oci } else { MediaTypes::Docker },
            epoch,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<OciOptions> {
        OciOptions::from_spec(&OutputSpec::parse(s).unwrap(), &mut Vec::new())
    }

    #[test]
    fn defaults() {
        let o = parse("type=oci,dest=a.tar").unwrap();
        assert_eq!(
            o,
            OciOptions {
                dest: "a.tar".into(),
                tar: true,
                compression: Compression::Gzip { level: 6 },
                media_types: MediaTypes::Oci,
                epoch: None
            }
        );
        assert_eq!(parse("type=oci").unwrap().dest, "-");
    }

    #[test]
    fn table_of_bad_values() {
        for (spec, needle) in [
            ("type=oci,dest=a,tar=maybe", "non-bool value specified for tar"),
            (
                "type=oci,dest=a,oci-mediatypes=",
                "non-bool value specified for oci-mediatypes",
            ),
            ("type=oci,dest=a,compression=lz4", "unsupported compression type lz4"),
            ("type=oci,dest=a,compression-level=11", "compression-level=11"),
            ("type=oci,tar=false", "dest directory is required"),
            ("type=oci,dest=-,tar=false", "dest cannot be stdout"),
            ("type=oci,dest=", "dest must not be empty"),
            (
                "type=oci,dest=a,source-date-epoch=yesterday",
                "invalid source-date-epoch",
            ),
            ("type=oci,dest=a,annotation.x=y", "\"annotation.x\""),
        ] {
            let err = parse(spec).unwrap_err();
            assert!(err.message.contains(needle), "{spec}: {err}");
        }
    }

    #[test]
    fn warns_on_unknown_and_inapplicable_keys() {
        let mut warnings = Vec::new();
        OciOptions::from_spec(
            &OutputSpec::parse("type=oci,dest=a,compresion=gzip,push=true").unwrap(),
            &mut warnings,
        )
        .unwrap();
        assert_eq!(warnings.len(), 2);
        assert!(warnings[0].contains("did you mean \"compression\""));
        assert!(warnings[1].contains("does not apply"));
    }
}
