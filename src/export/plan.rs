//! What each `--output` asks for, validated before any work starts: the exporter's destination,
//! the image options (names, compression, media types, epoch, annotations) and the warnings.

use crate::annotate::{self, Annotation, Level};
use crate::compress::Compression;
use crate::error::{Error, Result};
use crate::image::mediatypes::MediaTypes;
use crate::options::{
    is_known_key, parse_bool, parse_bool_empty_true, unknown_key_warning, ExporterType, OutputSpec, FILESYSTEM_KEYS,
    IMAGE_KEYS, LAYOUT_KEYS, STORE_KEYS,
};
use crate::reference::Reference;
use crate::request::parse_epoch;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An OCI image layout (oci and docker exporters): a tarball at `dest` ("-" = stdout), or a
    /// directory when `tar` is false. `docker` adds manifest.json to the tarball.
    Layout { dest: String, tar: bool, docker: bool },
    /// The local image store (image exporter): blobs are always stored; `store` records the names.
    Image(ImageTarget),
    /// The final root filesystem as a tar stream (tar exporter) at `dest` ("-" = stdout).
    Filesystem { dest: String, files: FilesystemOptions },
    /// The final root filesystem written into the directory `dest` (local exporter); `split`: one
    /// `<os>_<arch>` subdirectory per platform.
    Local { dest: String, files: FilesystemOptions, delete: bool },
    /// The docker exporter without dest (`--load`): the docker tarball streamed into the Docker
    /// engine's `POST /images/load`.
    Load,
    /// Build and report digests, write nothing.
    CacheOnly,
}

/// Options the local and tar exporters share.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FilesystemOptions {
    /// One `<os>_<arch>` directory per platform (tar: always; there split only names attestation files).
    pub split: bool,
    /// Prepended to attestation file names.
    pub attestation_prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageTarget {
    pub store: bool,
    /// `name` exactly as given: the image exporter reports it unnormalized in `image.name`.
    pub raw_names: Vec<String>,
    /// `<prefix>@<digest>` is added as a name (always, or only when there are no names).
    pub dangling_prefix: Option<String>,
    pub name_canonical: bool,
    /// Also extract the root filesystem into the store (for the platform being built).
    pub unpack: bool,
    /// Push every name to its registry after storing.
    pub push: bool,
    /// Push the root by digest only, no tag.
    pub push_by_digest: bool,
    /// Plain HTTP for the registries of the names (registry.insecure).
    pub insecure: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub kind: ExporterType,
    pub target: Target,
    /// Normalized names (`foo` → `docker.io/library/foo:latest`).
    pub names: Vec<Reference>,
    pub compression: Compression,
    pub media_types: MediaTypes,
    /// `source-date-epoch`: Some(None) = explicitly none, None = not given (use SOURCE_DATE_EPOCH).
    pub epoch: Option<Option<i64>>,
    /// Clamp layer mtimes to the epoch (needs one).
    pub rewrite_timestamp: bool,
    /// Recompress base layers whose compression differs from `compression` (diffIDs kept).
    pub force_compression: bool,
    /// Attestation manifests as OCI artifacts (artifactType, subject, empty config).
    pub oci_artifact: bool,
    pub annotations: Vec<Annotation>,
}

/// What the exported root will be, known before planning: it decides which options make sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shape {
    pub platforms: usize,
    pub attestations: bool,
}

impl Shape {
    /// Several platforms or any attestation make the root an index (reference §1.5).
    pub fn is_index(self) -> bool {
        self.platforms > 1 || self.attestations
    }
}

impl Plan {
    /// Plan one output for a single-platform result.
    pub fn parse(raw: &str, warnings: &mut Vec<String>) -> Result<Plan> {
        Plan::from_spec(OutputSpec::parse(raw)?, Shape { platforms: 1, attestations: false }, warnings)
    }

    pub fn from_spec(spec: OutputSpec, shape: Shape, warnings: &mut Vec<String>) -> Result<Plan> {
        match spec.kind {
            ExporterType::Oci | ExporterType::Docker => layout_plan(&spec, shape, warnings),
            ExporterType::Image | ExporterType::Registry => image_plan(&spec, shape, warnings),
            ExporterType::Tar | ExporterType::Local => filesystem_plan(&spec, shape, warnings),
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
                    force_compression: false,
                    oci_artifact: false,
                    annotations: Vec::new(),
                })
            }
        }
    }
}

fn get<'a>(spec: &'a OutputSpec, key: &str) -> Option<&'a str> {
    spec.attrs.get(key).map(String::as_str)
}

fn bool_strict(spec: &OutputSpec, key: &str) -> Result<Option<bool>> {
    get(spec, key).map(|v| parse_bool(key, v)).transpose()
}

fn bool_empty_true(spec: &OutputSpec, key: &str) -> Result<Option<bool>> {
    get(spec, key).map(|v| parse_bool_empty_true(key, v)).transpose()
}

/// The tar and local exporters (BuildKit exporter/tar, exporter/local): `dest`, `platform-split`,
/// `mode`, `source-date-epoch`.
fn filesystem_plan(spec: &OutputSpec, shape: Shape, warnings: &mut Vec<String>) -> Result<Plan> {
    let type_name = spec.kind.name();
    let local = spec.kind == ExporterType::Local;
    let dest = match spec.dest.as_deref() {
        Some("") => return Err(Error::option(format!("dest must not be empty for type={type_name}"))),
        Some("-") if local => return Err(Error::option("dest cannot be stdout for local exporter")),
        Some(d) => d.to_string(),
        None if local => return Err(Error::option("dest is required for local exporter")),
        None => "-".to_string(),
    };
    let split = bool_strict(spec, "platform-split")
        .map_err(|e| Error::option(e.message.replace("non-bool value specified for", "non-bool value for")))?
        .unwrap_or(shape.platforms > 1);
    let delete = match get(spec, "mode").map(|m| m.trim().to_ascii_lowercase()).as_deref() {
        None | Some("copy") => false,
        // The tar exporter validates mode but has nothing to delete.
        Some("delete") => local,
        Some(_) => {
            return Err(Error::option(format!("invalid local exporter mode {:?}", get(spec, "mode").unwrap_or(""))))
        }
    };
    let epoch = match get(spec, "source-date-epoch") {
        None => None,
        Some("") => Some(None),
        Some(v) => Some(Some(parse_epoch("source-date-epoch", v)?)),
    };
    warn_unused(spec, FILESYSTEM_KEYS, warnings);
    Ok(Plan {
        kind: spec.kind,
        target: {
            let files = FilesystemOptions {
                split,
                attestation_prefix: get(spec, "attestation-prefix").unwrap_or("").to_string(),
            };
            if local {
                Target::Local { dest, files, delete }
            } else {
                Target::Filesystem { dest, files }
            }
        },
        names: Vec::new(),
        compression: Compression::Uncompressed,
        media_types: MediaTypes::Oci,
        epoch,
        rewrite_timestamp: false,
        force_compression: false,
        oci_artifact: false,
        annotations: Vec::new(),
    })
}

fn layout_plan(spec: &OutputSpec, shape: Shape, warnings: &mut Vec<String>) -> Result<Plan> {
    let docker = spec.kind == ExporterType::Docker;
    if docker && shape.is_index() {
        return Err(Error::option(
            "docker exporter does not currently support exporting manifest lists: `docker load` of older engines cannot take several platforms; use type=oci",
        ));
    }
    let type_name = spec.kind.name();
    let tar = bool_empty_true(spec, "tar")?.unwrap_or(true);
    let dest = match spec.dest.as_deref() {
        Some("") => return Err(Error::option(format!("dest must not be empty for type={type_name}"))),
        Some(d) => d.to_string(),
        None if !tar => {
            return Err(Error::option(format!("dest directory is required for type={type_name},tar=false")))
        }
        // As buildx: the docker exporter without dest loads into the Docker engine (--load).
        None if docker => String::new(),
        None => "-".to_string(),
    };
    if !tar && dest == "-" {
        return Err(Error::option(format!("dest cannot be stdout for type={type_name},tar=false")));
    }
    let names = match get(spec, "name") {
        None | Some("") => Vec::new(),
        Some(list) => list.split(',').map(Reference::parse_normalized).collect::<Result<Vec<_>>>()?,
    };
    let mut plan = image_options(spec, !docker, shape, warnings)?;
    plan.target = if docker && dest.is_empty() { Target::Load } else { Target::Layout { dest, tar, docker } };
    plan.names = names;
    warn_unused(spec, &[IMAGE_KEYS, LAYOUT_KEYS].concat(), warnings);
    Ok(plan)
}

fn image_plan(spec: &OutputSpec, shape: Shape, warnings: &mut Vec<String>) -> Result<Plan> {
    if let Some(dest) = &spec.dest {
        return Err(Error::option(format!(
            "output {dest} is not supported by type={} (it writes to the local store)",
            spec.kind.name()
        )));
    }
    let push = spec.kind == ExporterType::Registry || bool_empty_true(spec, "push")?.unwrap_or(false);
    let push_by_digest = bool_empty_true(spec, "push-by-digest")?.unwrap_or(false);
    let insecure = bool_empty_true(spec, "registry.insecure")?.unwrap_or(false);
    let unpack = bool_empty_true(spec, "unpack")?.unwrap_or(false);
    let store = bool_empty_true(spec, "store")?.unwrap_or(true);
    let name_canonical = bool_empty_true(spec, "name-canonical")?.unwrap_or(false);
    let empty_only = bool_empty_true(spec, "danging-name-empty-only")?.unwrap_or(false);
    // BuildKit splits names without trimming or skipping empties; an empty one fails to parse.
    let raw_names: Vec<String> = match get(spec, "name") {
        None | Some("") => Vec::new(),
        Some(list) => list.split(',').map(str::to_string).collect(),
    };
    if push && raw_names.is_empty() {
        return Err(Error::option("tag is needed when pushing to registry: give name=… or --tag"));
    }
    let names = raw_names.iter().map(|n| Reference::parse_normalized(n)).collect::<Result<Vec<_>>>()?;
    let dangling_prefix =
        get(spec, "dangling-name-prefix").filter(|p| !p.is_empty() && (!empty_only || raw_names.is_empty()));
    let plan = image_options(spec, false, shape, warnings)?;
    if unpack && plan.rewrite_timestamp {
        return Err(Error::option("exporter option \"rewrite-timestamp\" conflicts with \"unpack\""));
    }
    if push_by_digest {
        // BuildKit: a name pushed by digest must be a bare repository.
        for raw in &raw_names {
            let name = Reference::parse_name(raw)?;
            if name.tag.is_some() || name.digest.is_some() {
                return Err(Error::option(format!("can't push tagged ref {} by digest", name.full())));
            }
        }
    }
    warn_unused(spec, &[IMAGE_KEYS, STORE_KEYS].concat(), warnings);
    Ok(Plan {
        target: Target::Image(ImageTarget {
            store,
            raw_names,
            dangling_prefix: dangling_prefix.map(str::to_string),
            name_canonical,
            unpack,
            push,
            push_by_digest,
            insecure,
        }),
        names,
        ..plan
    })
}

/// BuildKit's commit options, shared by every image-producing exporter. `default_oci`: the
/// exporter's media-type default (oci: OCI; image and docker: Docker, decision §0).
fn image_options(spec: &OutputSpec, default_oci: bool, shape: Shape, warnings: &mut Vec<String>) -> Result<Plan> {
    let type_name = spec.kind.name();
    let compression = Compression::from_options(get(spec, "compression"), get(spec, "compression-level"))?;
    let explicit_oci = bool_strict(spec, "oci-mediatypes")?;
    let oci_artifact = bool_strict(spec, "oci-artifact")?.unwrap_or(false);
    let rewrite_timestamp = bool_strict(spec, "rewrite-timestamp")?.unwrap_or(false);
    bool_strict(spec, "prefer-nondist-layers")?; // only matters for base layers with URLs
    bool_strict(spec, "attestation-inline")?; // only matters with attestations
    let force_compression = bool_empty_true(spec, "force-compression")?.unwrap_or(false);
    let epoch = match get(spec, "source-date-epoch") {
        None => None,
        Some("") => Some(None),
        Some(v) => Some(Some(parse_epoch("source-date-epoch", v)?)),
    };

    let mut annotations = Vec::new();
    for (key, value) in &spec.attrs {
        if let Some(a) = annotate::parse(key, value)? {
            annotations.push(a);
        }
    }
    // One platform and no attestations: the result is a single manifest, so there is no index to annotate.
    let index_level = |a: &&Annotation| matches!(a.level, Level::Index | Level::IndexDescriptor);
    if let Some(a) = annotations.iter().find(index_level).filter(|_| !shape.is_index()) {
        return Err(Error::option(format!("{}: index annotations not supported for single platform export", a.option)));
    }

    // Media types: the exporter's default, switched to OCI when the result needs it (decision §0).
    // BuildKit checks a compression that only exists with OCI types first, when it resolves the options.
    let estargz = matches!(compression, Compression::Estargz { .. });
    if estargz && explicit_oci == Some(false) {
        return Err(Error::option("exporter option \"compression=estargz\" conflicts with \"oci-mediatypes=false\""));
    }
    let needs_oci: Option<String> = if shape.attestations {
        Some("attestations".into())
    } else if oci_artifact {
        Some("exporter option \"oci-artifact=true\"".into())
    } else if estargz {
        Some("exporter option \"compression=estargz\"".into())
    } else {
        annotations.iter().find(|a| a.level.needs_oci()).map(|a| format!("annotation option {}", a.option))
    };
    let oci = match (explicit_oci, &needs_oci) {
        (Some(false), Some(_)) if shape.attestations => {
            return Err(Error::option("cannot export attestations with \"oci-mediatypes=false\""));
        }
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
    Ok(Plan {
        kind: spec.kind,
        target: Target::CacheOnly,
        names: Vec::new(),
        compression,
        media_types: if oci { MediaTypes::Oci } else { MediaTypes::Docker },
        epoch,
        rewrite_timestamp,
        force_compression,
        oci_artifact,
        annotations,
    })
}

fn warn_unused(spec: &OutputSpec, used: &[&str], warnings: &mut Vec<String>) {
    for key in spec.attrs.keys() {
        if used.contains(&key.as_str()) || annotate::parse(key, "").ok().flatten().is_some() {
            continue;
        }
        warnings.push(if is_known_key(key) {
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
        // Without dest, buildx's docker exporter loads into the engine.
        assert_eq!(parse("type=docker,name=foo").unwrap().target, Target::Load);
        assert_eq!(parse("type=cacheonly").unwrap().target, Target::CacheOnly);
        assert_eq!(parse("-").unwrap().target, Target::Filesystem { dest: "-".into(), files: Default::default() });
        assert_eq!(
            parse("./out").unwrap().target,
            Target::Local { dest: "./out".into(), files: Default::default(), delete: false }
        );
        assert_eq!(
            parse("type=local,dest=d,mode=DELETE").unwrap().target,
            Target::Local { dest: "d".into(), files: Default::default(), delete: true }
        );
        let i = parse("type=image,name=foo,store=").unwrap();
        assert_eq!(i.media_types, MediaTypes::Docker);
        assert_eq!(
            i.target,
            Target::Image(ImageTarget {
                store: true,
                raw_names: vec!["foo".into()],
                dangling_prefix: None,
                name_canonical: false,
                unpack: false,
                push: false,
                push_by_digest: false,
                insecure: false
            })
        );
    }

    #[test]
    fn dangling_names() {
        let with = |s: &str| match parse(s).unwrap().target {
            Target::Image(t) => t.dangling_prefix,
            other => panic!("{other:?}"),
        };
        assert_eq!(with("type=image,dangling-name-prefix=dang"), Some("dang".into()));
        assert_eq!(with("type=image,name=a,dangling-name-prefix=dang,danging-name-empty-only=true"), None);
        assert_eq!(with("type=image,dangling-name-prefix=dang,danging-name-empty-only=true"), Some("dang".into()));
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
            ("type=oci,dest=a,source-date-epoch=yesterday", "invalid source-date-epoch"),
            ("type=oci,dest=a,name=Foo", "failed to parse Foo"),
            ("type=oci,dest=a,\"name=a,,b\"", "failed to parse"),
            ("type=oci,dest=a,annotation-bogus.k=v", "unrecognized annotation type bogus"),
            ("type=oci,dest=a,annotation-index.k=v", "index annotations not supported for single platform export"),
            ("type=oci,dest=a,annotation-index-descriptor.k=v", "index annotations not supported"),
            ("type=oci,dest=a,annotation[linux/z80].k=v", "annotation[linux/z80].k"),
            ("type=oci,dest=a,oci-mediatypes=false,oci-artifact=true", "conflicts with \"oci-mediatypes=false\""),
            (
                "type=oci,dest=a,compression=estargz,oci-mediatypes=false",
                "exporter option \"compression=estargz\" conflicts with \"oci-mediatypes=false\"",
            ),
            ("type=image,compression=estargz,oci-mediatypes=0,oci-artifact=true", "\"compression=estargz\" conflicts"),
            ("type=oci,dest=a,compression=estargz,compression-level=10", "out of range for compression=estargz (0-9)"),
            ("type=docker,dest=a,oci-mediatypes=false,annotation-manifest-descriptor.k=v", "cannot export annotations"),
            ("type=image,push=maybe", "non-bool value specified for push"),
            ("type=image,store=nope", "non-bool value specified for store"),
            ("type=image,push=true", "tag is needed when pushing to registry"),
            ("type=registry,name=r/a:1,push-by-digest=true", "can't push tagged ref docker.io/r/a:1 by digest"),
            ("type=image,dest=x", "not supported by type=image"),
            ("type=image,name=a,unpack=true,rewrite-timestamp=true", "conflicts with \"unpack\""),
            ("type=image,name=UPPER", "failed to parse UPPER"),
            ("type=local", "dest is required for local exporter"),
            ("type=local,dest=-", "dest cannot be stdout for local exporter"),
            ("type=tar,dest=", "dest must not be empty"),
            ("type=tar,mode=move", "invalid local exporter mode \"move\""),
            ("type=tar,platform-split=maybe", "non-bool value for platform-split"),
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
        // eStargz needs OCI types: switched on for image and docker outputs, already there for oci.
        for spec in ["type=docker,dest=a,compression=estargz", "type=image,name=a,compression=estargz"] {
            let mut warnings = Vec::new();
            let p = Plan::parse(spec, &mut warnings).unwrap();
            assert_eq!((p.media_types, p.compression), (MediaTypes::Oci, Compression::Estargz { level: 6 }));
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(warnings[0].contains("oci-mediatype mode") && warnings[0].contains("compression=estargz"));
        }
        for spec in ["type=oci,dest=a,compression=estargz", "type=image,compression=estargz,oci-mediatypes=true"] {
            let mut warnings = Vec::new();
            assert_eq!(Plan::parse(spec, &mut warnings).unwrap().media_types, MediaTypes::Oci);
            assert!(warnings.is_empty(), "{spec}: {warnings:?}");
        }
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
