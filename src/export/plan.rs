//! What each `--output` asks for, validated before any work starts: the exporter's destination,
//! the image options (names, compression, media types, epoch, annotations) and the warnings.

use crate::annotate::{self, Annotation, Level};
use crate::compress::Compression;
use crate::error::{Error, Result};
use crate::image::mediatypes::MediaTypes;
use crate::options::{parse_bool, parse_bool_empty_true, unknown_key_warning, ExporterType, OutputSpec, KNOWN_KEYS};
use crate::reference::Reference;
use crate::request::parse_epoch;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An OCI image layout (oci and docker exporters): a tarball at `dest` ("-" = stdout), or a
    /// directory when `tar` is false. `docker` adds manifest.json to the tarball.
    Layout { dest: String, tar: bool, docker: bool },
    /// Build and report digests, write nothing.
    CacheOnly,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub kind: ExporterType,
    pub target: Target,
    pub names: Vec<Reference>,
    pub compression: Compression,
    pub media_types: MediaTypes,
    /// `source-date-epoch`: Some(None) = explicitly none, None = not given (use SOURCE_DATE_EPOCH).
    pub epoch: Option<Option<i64>>,
    /// Clamp layer mtimes to the epoch (needs one).
    pub rewrite_timestamp: bool,
    pub annotations: Vec<Annotation>,
}

/// Keys each exporter reads; anything else is warned about.
const LAYOUT_KEYS: &[&str] = &[
    "name",
    "tar",
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

impl Plan {
    pub fn parse(raw: &str, warnings: &mut Vec<String>) -> Result<Plan> {
        let spec = OutputSpec::parse(raw)?;
        match spec.kind {
            ExporterType::Oci | ExporterType::Docker => layout_plan(&spec, warnings),
            ExporterType::CacheOnly => {
                warn_unused(&spec, &[], warnings);
                Ok(Plan {
                    kind: spec.kind,
                    target: Target::CacheOnly,
                    names: Vec::new(),
                    compression: Compression::from_options(None, None)?,
                    media_types: MediaTypes::Docker,
                    epoch: None,
                    rewrite_timestamp: false,
                    annotations: Vec::new(),
                })
            }
            other => Err(Error::option(format!(
                "--output type={} is not implemented yet in this version of outport (oci, docker and cacheonly are)",
                other.name()
            ))),
        }
    }
}

fn layout_plan(spec: &OutputSpec, warnings: &mut Vec<String>) -> Result<Plan> {
    let attrs = &spec.attrs;
    let get = |k: &str| attrs.get(k).map(String::as_str);
    let docker = spec.kind == ExporterType::Docker;
    let type_name = spec.kind.name();
    let tar = get("tar").map(|v| parse_bool_empty_true("tar", v)).transpose()?.unwrap_or(true);
    let dest = match spec.dest.as_deref() {
        Some("") => return Err(Error::option(format!("dest must not be empty for type={type_name}"))),
        Some(d) => d.to_string(),
        None if !tar => return Err(Error::option(format!("dest directory is required for type={type_name},tar=false"))),
        None if docker => {
            return Err(Error::option(
                "type=docker without dest would load the image into a Docker engine, which outport does not do: give dest=FILE (or dest=- for stdout) and run `docker load -i FILE`",
            ))
        }
        None => "-".to_string(),
    };
    if !tar && dest == "-" {
        return Err(Error::option(format!("dest cannot be stdout for type={type_name},tar=false")));
    }

    let names = match get("name") {
        None | Some("") => Vec::new(),
        Some(list) => list.split(',').map(Reference::parse_normalized).collect::<Result<Vec<_>>>()?,
    };
    let compression = Compression::from_options(get("compression"), get("compression-level"))?;
    let bool_opt = |k: &str| get(k).map(|v| parse_bool(k, v)).transpose();
    let explicit_oci = bool_opt("oci-mediatypes")?;
    let oci_artifact = bool_opt("oci-artifact")?.unwrap_or(false);
    let rewrite_timestamp = bool_opt("rewrite-timestamp")?.unwrap_or(false);
    bool_opt("prefer-nondist-layers")?; // only matters for base layers with URLs
    bool_opt("attestation-inline")?; // only matters with attestations
    get("force-compression").map(|v| parse_bool_empty_true("force-compression", v)).transpose()?; // only matters for base layers
    let epoch = match get("source-date-epoch") {
        None => None,
        Some("") => Some(None),
        Some(v) => Some(Some(parse_epoch("source-date-epoch", v)?)),
    };

    let mut annotations = Vec::new();
    for (key, value) in attrs {
        if let Some(a) = annotate::parse(key, value)? {
            annotations.push(a);
        }
    }
    // One platform and no attestations: the result is a single manifest, so there is no index to annotate.
    if let Some(a) = annotations.iter().find(|a| matches!(a.level, Level::Index | Level::IndexDescriptor)) {
        return Err(Error::option(format!("{}: index annotations not supported for single platform export", a.option)));
    }

    // Media types: the exporter's default, switched to OCI when the result needs it (decision §0).
    let default_oci = !docker;
    let needs_oci: Option<String> = if oci_artifact {
        Some("exporter option \"oci-artifact=true\"".into())
    } else {
        annotations.iter().find(|a| a.level.needs_oci()).map(|a| format!("annotation option {}", a.option))
    };
    let oci = match (explicit_oci, &needs_oci) {
        (Some(false), Some(reason)) if oci_artifact => {
            return Err(Error::option(format!("{reason} conflicts with \"oci-mediatypes=false\"")));
        }
        (Some(false), Some(reason)) => {
            return Err(Error::option(format!("{reason}: cannot export annotations with \"oci-mediatypes=false\"")));
        }
        (None, Some(reason)) if !default_oci => {
            warnings.push(format!("forcibly turning on oci-mediatype mode for type={type_name}: {reason} needs it"));
            true
        }
        (explicit, _) => explicit.unwrap_or(default_oci),
    };

    warn_unused(spec, LAYOUT_KEYS, warnings);
    Ok(Plan {
        kind: spec.kind,
        target: Target::Layout { dest, tar, docker },
        names,
        compression,
        media_types: if oci { MediaTypes::Oci } else { MediaTypes::Docker },
        epoch,
        rewrite_timestamp,
        annotations,
    })
}

fn warn_unused(spec: &OutputSpec, used: &[&str], warnings: &mut Vec<String>) {
    for key in spec.attrs.keys() {
        if used.contains(&key.as_str()) || annotate::parse(key, "").ok().flatten().is_some() {
            continue;
        }
        warnings.push(if KNOWN_KEYS.contains(&key.as_str()) {
            format!("option {key:?} does not apply to type={}; ignored", spec.kind.name())
        } else {
            unknown_key_warning(spec.kind, key)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Plan> {
        Plan::parse(s, &mut Vec::new())
    }

    #[test]
    fn defaults() {
        let p = parse("type=oci,dest=a.tar").unwrap();
        assert_eq!(p.target, Target::Layout { dest: "a.tar".into(), tar: true, docker: false });
        assert_eq!((p.compression, p.media_types), (Compression::Gzip { level: 6 }, MediaTypes::Oci));
        assert_eq!(parse("type=oci").unwrap().target, Target::Layout { dest: "-".into(), tar: true, docker: false });
        let d = parse("type=docker,dest=a.tar,name=foo").unwrap();
        assert_eq!(d.media_types, MediaTypes::Docker);
        assert_eq!(d.names[0].full(), "docker.io/library/foo:latest");
        assert_eq!(parse("type=cacheonly").unwrap().target, Target::CacheOnly);
    }

    #[test]
    fn table_of_bad_values() {
        for (spec, needle) in [
            ("type=oci,dest=a,tar=maybe", "non-bool value specified for tar"),
            ("type=oci,dest=a,oci-mediatypes=", "non-bool value specified for oci-mediatypes"),
            ("type=oci,dest=a,rewrite-timestamp=sometimes", "non-bool value specified for rewrite-timestamp"),
            ("type=oci,dest=a,force-compression=x", "non-bool value specified for force-compression"),
            ("type=oci,dest=a,compression=lz4", "unsupported compression type lz4"),
            ("type=oci,dest=a,compression-level=11", "compression-level=11"),
            ("type=oci,tar=false", "dest directory is required"),
            ("type=oci,dest=-,tar=false", "dest cannot be stdout"),
            ("type=oci,dest=", "dest must not be empty"),
            ("type=docker", "docker load"),
            ("type=oci,dest=a,source-date-epoch=yesterday", "invalid source-date-epoch"),
            ("type=oci,dest=a,name=Foo", "failed to parse Foo"),
            ("type=oci,dest=a,\"name=a,,b\"", "failed to parse"),
            ("type=oci,dest=a,annotation-bogus.k=v", "unrecognized annotation type bogus"),
            ("type=oci,dest=a,annotation-index.k=v", "index annotations not supported for single platform export"),
            ("type=oci,dest=a,annotation-index-descriptor.k=v", "index annotations not supported"),
            ("type=oci,dest=a,annotation[linux/z80].k=v", "annotation[linux/z80].k"),
            ("type=oci,dest=a,oci-mediatypes=false,oci-artifact=true", "conflicts with \"oci-mediatypes=false\""),
            ("type=docker,dest=a,oci-mediatypes=false,annotation-manifest-descriptor.k=v", "cannot export annotations"),
            ("type=image", "not implemented yet"),
        ] {
            let err = parse(spec).unwrap_err();
            assert!(err.message.contains(needle), "{spec}: {err}");
        }
    }

    #[test]
    fn docker_switches_to_oci_types_when_needed() {
        let mut warnings = Vec::new();
        let p = Plan::parse("type=docker,dest=a,annotation-manifest-descriptor.k=v", &mut warnings).unwrap();
        assert_eq!(p.media_types, MediaTypes::Oci);
        assert!(warnings[0].contains("forcibly turning on oci-mediatype mode"), "{warnings:?}");
        // Manifest annotations fit Docker manifests: no switch.
        assert_eq!(parse("type=docker,dest=a,annotation.k=v").unwrap().media_types, MediaTypes::Docker);
    }

    #[test]
    fn warns_on_unknown_and_inapplicable_keys() {
        let mut warnings = Vec::new();
        Plan::parse("type=oci,dest=a,compresion=gzip,push=true,annotation.k=v", &mut warnings).unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("did you mean \"compression\""));
        assert!(warnings[1].contains("does not apply"));
    }
}
