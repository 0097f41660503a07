//! One export run: parse every output, build the layer(s) once per compression, assemble the image,
//! write every output under temporary names and commit them only when all succeeded.

pub mod layout;
pub mod oci;

use crate::compress::Compression;
use crate::error::{Error, Result};
use crate::host::{Handle, Host, ProgressEvent};
use crate::image::mediatypes::MediaTypes;
use crate::image::{assemble, BuiltImage};
use crate::layer::{self, WrittenBlob};
use crate::options::{ExporterType, OutputSpec};
use crate::platform::Platform;
use crate::request::{parse_epoch, ExportRequest, ExportResponse};
use crate::timefmt::rfc3339;
use layout::{Layout, REF_NAME};
use oci::OciOptions;
use serde_json::Value;
use std::collections::btree_map::{BTreeMap, Entry};

/// An output whose destination is open: a tarball being written, or a directory to fill.
enum Opened {
    Tar(Handle),
    Dir,
}

pub async fn run<H: Host>(host: &H, request: &ExportRequest) -> Result<ExportResponse> {
    let mut response = ExportResponse::default();
    let plans = plan_outputs(&request.outputs, &mut response.warnings)?;
    let rootfs = request
        .rootfs
        .as_deref()
        .ok_or_else(|| Error::option("no rootfs given: pass the root filesystem directory"))?;
    let platform = Platform::parse(request.platform.as_deref().unwrap_or(&request.host_platform))?;
    let env_epoch = match request.source_date_epoch.as_deref() {
        Some(v) if !v.trim().is_empty() => Some(parse_epoch("SOURCE_DATE_EPOCH", v)?),
        _ => None,
    };

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
    match write_all(
        host,
        request,
        &plans,
        &opened,
        rootfs.as_bytes(),
        &platform,
        env_epoch,
        &mut response,
    )
    .await
    {
        Ok(()) => {
            for o in &opened {
                if let Opened::Tar(h) = o {
                    host.output_commit(*h).await?;
                }
            }
            host.progress(ProgressEvent {
                phase: "done".into(),
                id: String::new(),
                current: 1,
                total: 1,
            });
            Ok(response)
        }
        Err(e) => {
            abort_all(host, &opened).await;
            Err(e)
        }
    }
}

fn plan_outputs(outputs: &[String], warnings: &mut Vec<String>) -> Result<Vec<OciOptions>> {
    if outputs.is_empty() {
        return Err(Error::option(
            "no --output given: the default (type=image, the local image store) is not implemented yet in this version; use --output type=oci,dest=FILE",
        ));
    }
    outputs
        .iter()
        .map(|raw| {
            let spec = OutputSpec::parse(raw)?;
            match spec.kind {
                ExporterType::Oci => OciOptions::from_spec(&spec, warnings),
                other => Err(Error::option(format!(
                    "--output type={} is not implemented yet in this version of outport (type=oci is)",
                    other.name()
                ))),
            }
        })
        .collect()
}

async fn open<H: Host>(host: &H, plan: &OciOptions) -> Result<Opened> {
    if plan.tar {
        Ok(Opened::Tar(host.output_open(&plan.dest).await?))
    } else {
        host.output_mkdir(&plan.dest).await?;
        Ok(Opened::Dir)
    }
}

async fn abort_all<H: Host>(host: &H, opened: &[Opened]) {
    for o in opened {
        if let Opened::Tar(h) = o {
            host.output_abort(*h).await;
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn write_all<H: Host>(
    host: &H,
    request: &ExportRequest,
    plans: &[OciOptions],
    opened: &[Opened],
    rootfs: &[u8],
    platform: &Platform,
    env_epoch: Option<i64>,
    response: &mut ExportResponse,
) -> Result<()> {
    // Each layer is built once per distinct compression, shared by every output that wants it.
    let mut layers: BTreeMap<Compression, WrittenBlob> = BTreeMap::new();
    let mut images: BTreeMap<(Compression, bool, Option<i64>), BuiltImage> = BTreeMap::new();
    for (plan, out) in plans.iter().zip(opened) {
        let layer = match layers.entry(plan.compression) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(build_layer(host, rootfs, plan.compression).await?),
        };
        let epoch = plan.epoch.unwrap_or(env_epoch);
        let created = epoch.unwrap_or(request.now);
        let key = (plan.compression, plan.media_types == MediaTypes::Oci, epoch);
        let image = match images.entry(key) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let media_type = plan.media_types.layer(plan.compression);
                e.insert(
                    assemble(
                        host,
                        platform,
                        &[(layer.clone(), media_type)],
                        plan.media_types,
                        created,
                    )
                    .await?,
                )
            }
        };

        // The root descriptor carries the creation time (oci exporter post-processing).
        let mut root = image.manifest.clone();
        root.annotations
            .insert("org.opencontainers.image.created".into(), rfc3339(created));
        let mut entry = root.clone();
        let blobs = &image.blobs;
        host.progress(ProgressEvent {
            phase: "write".into(),
            id: plan.dest.clone(),
            current: 0,
            total: 1,
        });
        match out {
            Opened::Tar(h) => {
                layout::write_tar(
                    host,
                    *h,
                    Layout {
                        index_entries: vec![entry],
                        blobs,
                    },
                )
                .await?
            }
            Opened::Dir => {
                entry.annotations.insert(REF_NAME.into(), "latest".into());
                layout::write_dir(
                    host,
                    &plan.dest,
                    Layout {
                        index_entries: vec![entry],
                        blobs,
                    },
                )
                .await?
            }
        }
        host.progress(ProgressEvent {
            phase: "write".into(),
            id: plan.dest.clone(),
            current: 1,
            total: 1,
        });

        let m = &mut response.metadata;
        m.insert("containerimage.digest".into(), Value::String(root.digest.clone()));
        m.insert(
            "containerimage.config.digest".into(),
            Value::String(image.config_digest.clone()),
        );
        m.insert(
            "containerimage.descriptor".into(),
            serde_json::to_value(&root).expect("descriptor is plain data"),
        );
    }
    Ok(())
}

async fn build_layer<H: Host>(host: &H, rootfs: &[u8], compression: Compression) -> Result<WrittenBlob> {
    host.progress(ProgressEvent {
        phase: "layer".into(),
        id: "rootfs".into(),
        current: 0,
        total: 1,
    });
    let blob = layer::from_directory(host, rootfs, compression).await?;
    host.progress(ProgressEvent {
        phase: "layer".into(),
        id: blob.digest.clone(),
        current: 1,
        total: 1,
    });
    Ok(blob)
}
