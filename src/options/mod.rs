//! `--output` strings, parsed as buildx parses them, then validated per exporter type.

mod csv;
mod values;

pub use values::{parse_bool, parse_bool_empty_true};

use crate::error::{Error, Result};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExporterType {
    Image,
    Registry,
    Oci,
    Docker,
    Local,
    Tar,
    CacheOnly,
}

impl ExporterType {
    const ALL: [(&'static str, ExporterType); 7] = [
        ("image", ExporterType::Image),
        ("registry", ExporterType::Registry),
        ("oci", ExporterType::Oci),
        ("docker", ExporterType::Docker),
        ("local", ExporterType::Local),
        ("tar", ExporterType::Tar),
        ("cacheonly", ExporterType::CacheOnly),
    ];

    fn parse(name: &str) -> Result<ExporterType> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|(n, _)| *n).collect();
            Error::option(format!("unknown output type {name:?} (expected one of {})", names.join(", ")))
        })
    }

    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, t)| *t == self).map(|(n, _)| *n).unwrap_or("?")
    }
}

/// One `--output` value after CSV parsing: its type, destination and remaining attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSpec {
    pub kind: ExporterType,
    pub dest: Option<String>,
    pub attrs: BTreeMap<String, String>,
}

impl OutputSpec {
    /// A CSV record of `key=value` fields (keys lower-cased and trimmed), as `--attest` takes it.
    pub fn parse_attrs(raw: &str) -> Result<BTreeMap<String, String>> {
        let mut attrs = BTreeMap::new();
        for field in csv::fields(raw)? {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| Error::option(format!("invalid value {field:?}: expected KEY=VALUE")))?;
            attrs.insert(key.trim().to_ascii_lowercase(), value.to_string());
        }
        Ok(attrs)
    }

    /// Parse one `--output` value exactly as buildx does (util/buildflags/export.go).
    pub fn parse(raw: &str) -> Result<OutputSpec> {
        let fields = csv::fields(raw)?;
        // Shorthand: a single field that is not `type=…` is a destination.
        if let [only] = fields.as_slice() {
            if !only.starts_with("type=") {
                let (kind, dest) =
                    if only == "-" { (ExporterType::Tar, "-") } else { (ExporterType::Local, only.as_str()) };
                if dest.is_empty() {
                    return Err(Error::option(
                        "invalid --output \"\": expected type=TYPE[,KEY=VALUE…] or a destination",
                    ));
                }
                return Ok(OutputSpec { kind, dest: Some(dest.to_string()), attrs: BTreeMap::new() });
            }
        }
        let mut kind = None;
        let mut dest = None;
        let mut attrs = BTreeMap::new();
        for field in &fields {
            let (key, value) = field.split_once('=').ok_or_else(|| {
                Error::option(format!("invalid value {field:?} in --output {raw:?}: expected KEY=VALUE"))
            })?;
            let key = key.trim().to_ascii_lowercase();
            match key.as_str() {
                "type" => kind = Some(ExporterType::parse(value)?),
                "dest" => dest = Some(value.to_string()),
                _ => {
                    attrs.insert(key, value.to_string());
                }
            }
        }
        let kind = kind.ok_or_else(|| Error::option(format!("type is required for output {raw:?}")))?;
        Ok(OutputSpec { kind, dest, attrs })
    }
}

/// The outputs of one run after buildx's command-line rules: `--push` sets push=true on the image
/// outputs (or adds one), `--load` adds a docker output without dest (the Docker engine) unless there is
/// one, no output at all means the local store, and `-t/--tag` replaces `name` of image, registry, oci and
/// docker outputs.
pub fn expand_outputs(outputs: &[String], tags: &[String], push: bool, load: bool) -> Result<Vec<OutputSpec>> {
    let mut specs = outputs.iter().map(|o| OutputSpec::parse(o)).collect::<Result<Vec<_>>>()?;
    let is_image = |s: &OutputSpec| matches!(s.kind, ExporterType::Image | ExporterType::Registry);
    let image_output = || OutputSpec { kind: ExporterType::Image, dest: None, attrs: BTreeMap::new() };
    if push {
        if !specs.iter().any(is_image) {
            specs.push(image_output());
        }
        for spec in specs.iter_mut().filter(|s| is_image(s)) {
            spec.attrs.insert("push".into(), "true".into());
        }
    }
    // --load is buildx's type=docker into the engine; outport's own store stays the default output.
    let loads = |s: &OutputSpec| s.kind == ExporterType::Docker && s.dest.is_none();
    if load && !specs.iter().any(loads) {
        specs.push(OutputSpec { kind: ExporterType::Docker, dest: None, attrs: BTreeMap::new() });
    }
    if specs.is_empty() {
        specs.push(image_output());
    }
    if !tags.is_empty() {
        let names = tags.join(",");
        for spec in
            specs.iter_mut().filter(|s| is_image(s) || matches!(s.kind, ExporterType::Oci | ExporterType::Docker))
        {
            spec.attrs.insert("name".into(), names.clone());
        }
    }
    Ok(specs)
}

/// `--annotation` values as buildx parses them (`[TYPE[,TYPE…][\[PLATFORM\]]:]KEY=VALUE`, TYPE
/// manifest by default), added to every image-producing output as BuildKit's `annotation-…` keys.
pub fn apply_annotation_flags(specs: &mut [OutputSpec], annotations: &[String]) -> Result<()> {
    let mut attrs = Vec::new();
    for annotation in annotations {
        let (key, value) = annotation
            .split_once('=')
            .ok_or_else(|| Error::option(format!("invalid annotation {annotation:?}, expected key=value")))?;
        let (types, key) = key.split_once(':').unwrap_or(("manifest", key));
        for type_and_platform in types.split(',') {
            let (kind, platform) = match type_and_platform.split_once('[') {
                Some((kind, rest)) => match rest.strip_suffix(']') {
                    Some(platform) if !platform.is_empty() => (kind, Some(platform)),
                    _ => return Err(bad_annotation_type(type_and_platform)),
                },
                None => (type_and_platform, None),
            };
            if !kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
                return Err(bad_annotation_type(type_and_platform));
            }
            let prefix = match kind {
                "" => "annotation".to_string(),
                "manifest" | "manifest-descriptor" | "index" | "index-descriptor" => format!("annotation-{kind}"),
                other => return Err(Error::option(format!("unknown annotation type {other:?}"))),
            };
            let platform = match platform {
                Some(p) => {
                    let parsed = crate::platform::Platform::parse(p)
                        .map_err(|e| Error::option(format!("invalid annotation platform {p:?}: {}", e.message)))?;
                    format!("[{}]", parsed.id())
                }
                None => String::new(),
            };
            attrs.push((format!("{prefix}{platform}.{key}"), value.to_string()));
        }
    }
    let image_producing = |s: &OutputSpec| {
        matches!(s.kind, ExporterType::Image | ExporterType::Registry | ExporterType::Oci | ExporterType::Docker)
    };
    for spec in specs.iter_mut().filter(|s| image_producing(s)) {
        for (key, value) in &attrs {
            spec.attrs.insert(key.clone(), value.clone());
        }
    }
    Ok(())
}

fn bad_annotation_type(given: &str) -> Error {
    Error::option(format!("invalid annotation type {given:?}, expected type and optional platform in brackets"))
}

/// Keys every image-producing exporter reads (BuildKit's commit options).
pub const IMAGE_KEYS: &[&str] = &[
    "name",
    "compression",
    "compression-level",
    "force-compression",
    "oci-mediatypes",
    "oci-artifact",
    "source-date-epoch",
    "rewrite-timestamp",
    "prefer-nondist-layers",
    "attestation-inline",
];
/// Keys only the image exporter reads.
pub const STORE_KEYS: &[&str] = &[
    "push",
    "push-by-digest",
    "registry.insecure",
    "dangling-name-prefix",
    "danging-name-empty-only",
    "name-canonical",
    "unpack",
    "store",
];
/// Keys of the oci and docker exporters beyond the image keys.
pub const LAYOUT_KEYS: &[&str] = &["tar"];
/// Keys of the local and tar exporters.
pub const FILESYSTEM_KEYS: &[&str] = &["platform-split", "mode", "attestation-prefix", "source-date-epoch"];

fn known_keys() -> impl Iterator<Item = &'static str> {
    [IMAGE_KEYS, STORE_KEYS, LAYOUT_KEYS, FILESYSTEM_KEYS].into_iter().flatten().copied()
}

/// Whether any exporter knows `key` (`dest` and `type` are taken apart before).
pub fn is_known_key(key: &str) -> bool {
    known_keys().any(|k| k == key)
}

/// The warning for a key no exporter knows, naming the closest known key when one is near.
pub fn unknown_key_warning(kind: ExporterType, key: &str) -> String {
    let nearest =
        known_keys().map(|k| (values::edit_distance(key, k), k)).min().filter(|(d, k)| *d <= 2.max(k.len() / 3));
    match nearest {
        Some((_, k)) => format!("unknown option {key:?} for type={} ignored; did you mean {k:?}?", kind.name()),
        None => format!("unknown option {key:?} for type={} ignored", kind.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorthands() {
        let s = OutputSpec::parse("./out").unwrap();
        assert_eq!((s.kind, s.dest.as_deref()), (ExporterType::Local, Some("./out")));
        let s = OutputSpec::parse("-").unwrap();
        assert_eq!((s.kind, s.dest.as_deref()), (ExporterType::Tar, Some("-")));
        // buildx quirk: a single key=value field without type is a local directory.
        assert_eq!(OutputSpec::parse("foo=bar").unwrap().dest.as_deref(), Some("foo=bar"));
    }

    #[test]
    fn keys_lowercased_and_trimmed() {
        let s = OutputSpec::parse("type=oci, Dest=a.tar,TAR=false").unwrap();
        assert_eq!(s.kind, ExporterType::Oci);
        assert_eq!(s.dest.as_deref(), Some("a.tar"));
        assert_eq!(s.attrs.get("tar").map(String::as_str), Some("false"));
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(OutputSpec::parse("type=bogus").unwrap_err().message.contains("\"bogus\""));
        assert!(OutputSpec::parse("dest=a,tar=1").unwrap_err().message.contains("type is required"));
        assert!(OutputSpec::parse("type=oci,novalue").unwrap_err().message.contains("\"novalue\""));
    }

    #[test]
    fn annotation_flags_become_every_image_output_s_keys() {
        let mut specs =
            expand_outputs(&["type=oci,dest=a".into(), "type=local,dest=d".into()], &[], false, false).unwrap();
        let flags = ["org.a=1".to_string(), "index,manifest[linux/arm64]:org.b=x=y".into()];
        apply_annotation_flags(&mut specs, &flags).unwrap();
        let keys: Vec<(&str, &str)> = specs[0].attrs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            keys,
            [
                ("annotation-index.org.b", "x=y"),
                ("annotation-manifest.org.a", "1"),
                ("annotation-manifest[linux/arm64].org.b", "x=y"),
            ]
        );
        assert!(specs[1].attrs.keys().all(|k| !k.starts_with("annotation")), "not on local outputs");
        for (bad, message) in [
            ("novalue", "invalid annotation \"novalue\", expected key=value"),
            ("layer:k=v", "unknown annotation type \"layer\""),
            ("manifest[:k=v", "invalid annotation type \"manifest[\""),
            ("manifest[nope/x/y/z]:k=v", "invalid annotation platform \"nope/x/y/z\""),
        ] {
            let err = apply_annotation_flags(&mut specs, &[bad.to_string()]).unwrap_err();
            assert!(err.message.contains(message), "{bad}: {err}");
        }
    }

    #[test]
    fn expands_like_buildx() {
        let kinds = |specs: Vec<OutputSpec>| {
            specs
                .iter()
                .map(|s| (s.kind, s.attrs.get("name").cloned(), s.attrs.get("push").cloned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(kinds(expand_outputs(&[], &[], false, false).unwrap()), [(ExporterType::Image, None, None)]);
        let tagged = expand_outputs(
            &["type=oci,dest=a".into(), "type=local,dest=d".into()],
            &["a:1".into(), "b:2".into()],
            false,
            true,
        )
        .unwrap();
        assert_eq!(
            kinds(tagged),
            [
                (ExporterType::Oci, Some("a:1,b:2".into()), None),
                (ExporterType::Local, None, None),
                (ExporterType::Docker, Some("a:1,b:2".into()), None)
            ]
        );
        // --push and --load together: an image output pushed, and the engine.
        let pushed = expand_outputs(&["type=image,name=x".into()], &[], true, true).unwrap();
        assert_eq!(
            kinds(pushed),
            [(ExporterType::Image, Some("x".into()), Some("true".into())), (ExporterType::Docker, None, None)]
        );
        // An explicit docker output without dest is the load already.
        let loaded = expand_outputs(&["type=docker,name=y".into()], &[], false, true).unwrap();
        assert_eq!(kinds(loaded), [(ExporterType::Docker, Some("y".into()), None)]);
    }

    #[test]
    fn suggests_nearest_key() {
        assert!(unknown_key_warning(ExporterType::Oci, "compresion").contains("did you mean \"compression\""));
        assert!(!unknown_key_warning(ExporterType::Oci, "zzzzzzzz").contains("did you mean"));
    }
}
