//! One export run: plan every output, build each distinct layer once, assemble the image per output,
//! write every output under temporary names and commit them only when all succeeded.

pub mod layout;
pub mod plan;
pub mod store;

use crate::annotate::Level;
use crate::compress::Compression;
use crate::error::{Error, Result};
use crate::host::read_small_file;
use crate::host::{Handle, Host, ProgressEvent};
use crate::image::config::{self, ImageConfig};
use crate::image::mediatypes::MediaTypes;
use crate::image::spec::{Annotations, Descriptor};
use crate::image::{assemble, BuiltImage, ImageSpec};
use crate::layer::{self, WrittenBlob};
use crate::options::expand_outputs;
use crate::platform::Platform;
use crate::reference::Reference;
use crate::request::{parse_epoch, ExportRequest, ExportResponse};
use crate::timefmt::rfc3339;
use layout::{Layout, IMAGE_NAME, REF_NAME};
use plan::{ImageTarget, Plan, Target};
use serde_json::Value;
use std::collections::btree_map::{BTreeMap, Entry};

/// BuildKit's layer annotation recording a rewrite-timestamp epoch (kept in OCI mode only).
const REWRITTEN_TIMESTAMP: &str = "buildkit/rewritten-timestamp";
const CREATED: &str = "org.opencontainers.image.created";

/// An output whose destination is open.
enum Opened {
    Tar(Handle),
    Dir,
    Nothing,
}

/// Inputs shared by every output of one run.
struct Run<'a> {
    rootfs: &'a [u8],
    platform: Platform,
    /// The image config before per-output completion (default or --config, flags applied).
    config: ImageConfig,
    env_epoch: Option<i64>,
    now: i64,
    /// Layers by (compression, mtime clamp): built once, shared by every output that wants them.
    layers: BTreeMap<(Compression, Option<i64>), WrittenBlob>,
}

pub async fn run<H: Host>(host: &H, request: &ExportRequest) -> Result<ExportResponse> {
    let mut response = ExportResponse::default();
    let specs = expand_outputs(&request.outputs, &request.tags, request.push, request.load)?;
    let plans =
        specs.into_iter().map(|spec| Plan::from_spec(spec, &mut response.warnings)).collect::<Result<Vec<_>>>()?;
    let rootfs = request
        .rootfs
        .as_deref()
        .ok_or_else(|| Error::option("no rootfs given: pass the root filesystem directory"))?;
    let env_epoch = match request.source_date_epoch.as_deref() {
        Some(v) if !v.trim().is_empty() => Some(parse_epoch("SOURCE_DATE_EPOCH", v)?),
        _ => None,
    };
    let (platform, config) = base_config(host, request, &mut response.warnings).await?;
    let mut run =
        Run { rootfs: rootfs.as_bytes(), platform, config, env_epoch, now: request.now, layers: BTreeMap::new() };

    for plan in plans.iter().filter(|p| p.rewrite_timestamp && p.epoch.unwrap_or(run.env_epoch).is_none()) {
        response.warnings.push(format!(
            "type={}: rewrite-timestamp is specified, but no source-date-epoch was found",
            plan.kind.name()
        ));
    }
    if request.strict && !response.warnings.is_empty() {
        return Err(Error::option(format!("--strict: {}", response.warnings.join("; "))));
    }

    // Open every destination before the expensive work, so a bad path fails fast.
    let mut opened = Vec::new();
    for plan in &plans {
        match open(host, plan).await {
            Ok(o) => opened.push(o),
            Err(e) => {
                abort_all(host, &opened).await;
                return Err(e);
            }
        }
    }
    for (plan, out) in plans.iter().zip(&opened) {
        if let Err(e) = export_one(host, &mut run, plan, out, &mut response).await {
            abort_all(host, &opened).await;
            return Err(e);
        }
    }
    for o in &opened {
        if let Opened::Tar(h) = o {
            host.output_commit(*h).await?;
        }
    }
    host.progress(ProgressEvent { phase: "done".into(), id: String::new(), current: 1, total: 1 });
    Ok(response)
}

/// The target platform and the config every output starts from: `--config FILE` (whose platform is
/// used when `--platform` is absent) or BuildKit's default, with the flags applied.
async fn base_config<H: Host>(
    host: &H,
    request: &ExportRequest,
    warnings: &mut Vec<String>,
) -> Result<(Platform, ImageConfig)> {
    let requested = request.platform.as_deref().map(Platform::parse).transpose()?;
    let (platform, mut config) = match &request.config.config_file {
        Some(path) => {
            let what = format!("--config {path}");
            let config = config::parse_config(&what, &read_small_file(host, path, MAX_CONFIG_BYTES).await?)?;
            let platform = match (requested, config::config_platform(&what, &config)?) {
                (Some(asked), Some(file)) if asked != file => {
                    return Err(Error::option(format!("{what} is for {} but --platform is {}", file.id(), asked.id())));
                }
                (Some(p), _) | (None, Some(p)) => p,
                (None, None) => Platform::parse(&request.host_platform)?,
            };
            (platform, config)
        }
        None => {
            let platform = requested.map_or_else(|| Platform::parse(&request.host_platform), Ok)?;
            let config = config::default_config(&platform);
            (platform, config)
        }
    };
    request.config.apply(&mut config, warnings)?;
    Ok((platform, config))
}

/// Image configs are small; anything bigger is a wrong file.
const MAX_CONFIG_BYTES: u64 = 8 << 20;

async fn open<H: Host>(host: &H, plan: &Plan) -> Result<Opened> {
    match &plan.target {
        Target::Layout { dest, tar: true, .. } => Ok(Opened::Tar(host.output_open(dest).await?)),
        Target::Layout { dest, tar: false, .. } => {
            host.output_mkdir(dest).await?;
            Ok(Opened::Dir)
        }
        Target::CacheOnly | Target::Image(_) => Ok(Opened::Nothing),
    }
}

async fn abort_all<H: Host>(host: &H, opened: &[Opened]) {
    for o in opened {
        if let Opened::Tar(h) = o {
            host.output_abort(*h).await;
        }
    }
}

async fn export_one<H: Host>(
    host: &H,
    run: &mut Run<'_>,
    plan: &Plan,
    out: &Opened,
    response: &mut ExportResponse,
) -> Result<()> {
    let epoch = plan.epoch.unwrap_or(run.env_epoch);
    let created = epoch.unwrap_or(run.now);
    let clamp = if plan.rewrite_timestamp { epoch } else { None };
    let layer = match run.layers.entry((plan.compression, clamp)) {
        Entry::Occupied(e) => e.into_mut(),
        Entry::Vacant(e) => e.insert(build_layer(host, run.rootfs, plan.compression, clamp).await?),
    };
    let mut layer_descriptor = Descriptor::new(plan.media_types.layer(plan.compression), &layer.digest, layer.size);
    if let (Some(epoch), MediaTypes::Oci) = (clamp, plan.media_types) {
        layer_descriptor.annotations.insert(REWRITTEN_TIMESTAMP.into(), epoch.to_string());
    }
    let image = assemble(
        host,
        ImageSpec {
            platform: &run.platform,
            config: run.config.clone(),
            epoch,
            layers: vec![(layer_descriptor, layer.diff_id.clone())],
            media_types: plan.media_types,
            created,
            annotations: annotations_for(plan, Level::Manifest),
        },
    )
    .await?;

    let mut root = image.manifest.clone();
    root.annotations.extend(annotations_for(plan, Level::ManifestDescriptor));
    if let Target::Layout { dest, tar, docker } = &plan.target {
        // The oci and docker exporters stamp the root descriptor with the creation time unless given.
        root.annotations.entry(CREATED.into()).or_insert_with(|| rfc3339(created));
        host.progress(ProgressEvent { phase: "write".into(), id: dest.clone(), current: 0, total: 1 });
        let entries = index_entries(&root, plan, *tar);
        match out {
            Opened::Tar(h) => {
                let manifest_json = docker.then(|| docker_manifest_json(&image, plan));
                layout::write_tar(host, *h, Layout { index_entries: entries, blobs: &image.blobs, manifest_json })
                    .await?
            }
            _ => {
                layout::write_dir(
                    host,
                    dest,
                    Layout { index_entries: entries, blobs: &image.blobs, manifest_json: None },
                )
                .await?
            }
        }
        host.progress(ProgressEvent { phase: "write".into(), id: dest.clone(), current: 1, total: 1 });
    }

    let mut image_name = plan.names.iter().map(|n| n.full()).collect::<Vec<_>>().join(",");
    if let Target::Image(target) = &plan.target {
        image_name = name_in_store(host, target, &plan.names, &root).await?;
    }

    let m = &mut response.metadata;
    m.insert("containerimage.digest".into(), Value::String(root.digest.clone()));
    m.insert("containerimage.config.digest".into(), Value::String(image.config_digest.clone()));
    m.insert("containerimage.descriptor".into(), serde_json::to_value(&root).expect("descriptor is plain data"));
    if !image_name.is_empty() {
        m.insert("image.name".into(), Value::String(image_name));
    }
    Ok(())
}

/// The image exporter's naming: the given names, `<prefix>@<digest>` for a dangling prefix, and with
/// name-canonical `<repository>@<digest>` too; recorded in the store unless store=false. Returns
/// `image.name` as BuildKit reports it: the raw names, plus the dangling name.
async fn name_in_store<H: Host>(
    host: &H,
    target: &ImageTarget,
    names: &[Reference],
    root: &Descriptor,
) -> Result<String> {
    let mut stored: Vec<Reference> = names.to_vec();
    let mut reported = target.raw_names.clone();
    if let Some(prefix) = &target.dangling_prefix {
        let dangling = format!("{prefix}@{}", root.digest);
        stored.push(Reference::parse_normalized(&dangling)?);
        reported.push(dangling);
    }
    if target.name_canonical && !names.is_empty() {
        for name in names.iter().filter(|n| n.digest.is_none()) {
            stored.push(Reference { tag: None, digest: Some(root.digest.clone()), ..name.clone() });
        }
    }
    if target.store && !stored.is_empty() {
        host.progress(ProgressEvent { phase: "store".into(), id: root.digest.clone(), current: 0, total: 1 });
        store::name_image(host, root, &stored).await?;
        host.progress(ProgressEvent { phase: "store".into(), id: root.digest.clone(), current: 1, total: 1 });
    }
    Ok(reported.join(","))
}

async fn build_layer<H: Host>(
    host: &H,
    rootfs: &[u8],
    compression: Compression,
    clamp: Option<i64>,
) -> Result<WrittenBlob> {
    host.progress(ProgressEvent { phase: "layer".into(), id: "rootfs".into(), current: 0, total: 1 });
    let blob = layer::from_directory(host, rootfs, compression, clamp).await?;
    host.progress(ProgressEvent { phase: "layer".into(), id: blob.digest.clone(), current: 1, total: 1 });
    Ok(blob)
}

/// Unqualified annotations of one level: a single-platform result ignores platform-qualified ones,
/// as BuildKit does.
fn annotations_for(plan: &Plan, level: Level) -> Annotations {
    plan.annotations
        .iter()
        .filter(|a| a.level == level && a.platform.is_none())
        .map(|a| (a.key.clone(), a.value.clone()))
        .collect()
}

/// `index.json` entries: one per name (with its full name and tag); without names, the bare root
/// descriptor in a tarball, or the "latest" ref name in a directory (BuildKit's client does that).
fn index_entries(root: &Descriptor, plan: &Plan, tar: bool) -> Vec<Descriptor> {
    if plan.names.is_empty() {
        let mut entry = root.clone();
        if !tar {
            entry.annotations.insert(REF_NAME.into(), "latest".into());
        }
        return vec![entry];
    }
    plan.names
        .iter()
        .map(|name| {
            let mut entry = root.clone();
            entry.annotations.insert(IMAGE_NAME.into(), name.full());
            entry.annotations.insert(REF_NAME.into(), name.layout_ref_name());
            entry
        })
        .collect()
}

/// The docker tarball's `manifest.json`, so `docker load` and `podman load` accept it.
fn docker_manifest_json(image: &BuiltImage, plan: &Plan) -> Vec<u8> {
    let blob_path = |digest: &str| format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
    let repo_tags: Option<Vec<String>> =
        (!plan.names.is_empty()).then(|| plan.names.iter().map(|n| n.familiar()).collect());
    let entry = serde_json::json!([{
        "Config": blob_path(&image.config_digest),
        "RepoTags": repo_tags,
        "Layers": image.layer_digests.iter().map(|d| blob_path(d)).collect::<Vec<_>>(),
    }]);
    crate::gojson::compact(&entry)
}
