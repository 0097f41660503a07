//! One export run: plan every output, build each distinct layer once, assemble the image per output,
//! write every output under temporary names and commit them only when all succeeded.

pub mod filesystem;
pub mod layout;
pub mod plan;
pub mod staging;
pub mod store;

use crate::annotate::Level;
use crate::attest::{self, Attestation};
use crate::build_result::{self, PlatformInput};
use crate::compress::Compression;
use crate::engine::{self, Engine};
use crate::error::{Error, Result};
use crate::gojson;
use crate::host::{Handle, Host, ProgressEvent};
use crate::image::attestation::attestation_manifest;
use crate::image::config::FromBase;
use crate::image::mediatypes::MediaTypes;
use crate::image::settings::ConfigSettings;
use crate::image::spec::{Annotations, Descriptor, Index};
use crate::image::{assemble, BuiltImage, ImageSpec};
use crate::layer::reserved::{Located, Reserved};
use crate::layer::source::{self, LayerSource, SourceOptions};
use crate::layer::{self, put_blob, WrittenBlob};
use crate::options::{apply_annotation_flags, expand_outputs, OutputSpec};
use crate::platform::Platform;
use crate::reference::Reference;
use crate::registry::{self, push::PushJob};
use crate::request::{parse_epoch, ExportRequest, ExportResponse};
use crate::timefmt::{rfc3339, GoTime};
use layout::{Layout, REF_NAME};
use plan::{ImageTarget, Plan, Shape, Target};
use serde_json::Value;
use staging::Staged;
use std::collections::btree_map::{BTreeMap, Entry};

/// BuildKit's layer annotation recording a rewrite-timestamp epoch (kept in OCI mode only).
const REWRITTEN_TIMESTAMP: &str = "buildkit/rewritten-timestamp";
const CREATED: &str = "org.opencontainers.image.created";

/// An output whose destination is open.
enum Opened {
    Tar(Handle),
    /// A directory output being built beside its destination; a local export's record of what it
    /// wrote, once it has.
    Dir(Staged, Option<filesystem::LocalWritten>),
    /// A Docker engine that answered its ping.
    Engine(Engine),
    Nothing,
}

/// Inputs shared by every output of one run.
struct Run {
    inputs: Vec<PlatformInput>,
    /// `--attest` statements, attached to every platform's image.
    attestations: Vec<Attestation>,
    env_epoch: Option<i64>,
    now: i64,
    /// Sub-second part of `now`, for config and history times.
    now_nanos: u32,
    /// Layers by (platform, layer, compression, mtime clamp): built once, shared by every output.
    layers: BTreeMap<(usize, usize, Compression, Option<i64>), WrittenBlob>,
    /// The base image's repository when it comes from a registry: pushes to the same registry
    /// mount its layers from there instead of uploading them.
    base_repository: Option<Reference>,
    /// Every platform's new layers come from the same sources (`--node-app`/`--layer` for several
    /// platforms): built once, the same blobs in every platform's image.
    shared_layers: bool,
}

pub async fn run<H: Host>(host: &H, request: &ExportRequest) -> Result<ExportResponse> {
    let mut response = ExportResponse::default();
    let mut specs = expand_outputs(&request.outputs, &request.tags, request.push, request.load)?;
    apply_annotation_flags(&mut specs, &request.annotations)?;
    if request.explicit_stdout {
        check_no_implicit_stdout(&specs)?;
    }
    let located = Located::find(host, &written_paths(&specs, request)).await;
    check_distinct_destinations(&specs, request, &located)?;
    let env_epoch = match request.source_date_epoch.as_deref() {
        Some(v) if !v.trim().is_empty() => Some(parse_epoch("SOURCE_DATE_EPOCH", v)?),
        _ => None,
    };
    let mut inputs = inputs(host, request, located.reserved(), env_epoch, &mut response.warnings).await?;
    let mut attestations = Vec::new();
    for spec in &request.attestations {
        attestations.push(attest::load(host, spec).await?);
    }
    generate_attestations(host, request, &mut inputs, &attestations, env_epoch).await?;
    let generated = inputs.iter().any(|i| !i.attestations.is_empty());
    let shape = Shape { platforms: inputs.len(), attestations: !attestations.is_empty() || generated };
    let plans = specs
        .into_iter()
        .map(|spec| Plan::from_spec(spec, shape, &mut response.warnings))
        .collect::<Result<Vec<_>>>()?;
    for plan in &plans {
        check_platform_qualifiers(plan, &inputs)?;
        if let Target::Local { dest, delete: true, .. } = &plan.target {
            check_delete_allowed(dest, request)?;
        }
        if plan.rewrite_timestamp && plan.epoch.unwrap_or(env_epoch).is_none() {
            response.warnings.push(format!(
                "type={}: rewrite-timestamp is specified, but no source-date-epoch was found",
                plan.kind.name()
            ));
        }
    }
    if request.strict && !response.warnings.is_empty() {
        return Err(Error::option(format!("--strict: {}", response.warnings.join("; "))));
    }
    let base_repository = request.base.as_deref().and_then(registry_base);
    let mut run = Run {
        // Without a result file every platform has the same sources: their layers are built once.
        shared_layers: request.result.is_none(),
        inputs,
        attestations,
        env_epoch,
        now: request.now,
        now_nanos: request.now_nanos.min(999_999_999),
        layers: BTreeMap::new(),
        base_repository,
    };

    // Open every destination before the expensive work, so a bad path fails fast.
    let mut opened = Vec::new();
    for plan in &plans {
        match open(host, plan, request).await {
            Ok(o) => opened.push(o),
            Err(e) => {
                abort_all(host, &opened).await;
                return Err(e);
            }
        }
    }
    for (plan, out) in plans.iter().zip(opened.iter_mut()) {
        if let Err(e) = export_one(host, &mut run, plan, out, &mut response).await {
            abort_all(host, &opened).await;
            return Err(e);
        }
    }
    for (i, (plan, out)) in plans.iter().zip(&opened).enumerate() {
        if let Err(e) = commit(host, plan, out).await {
            abort_all(host, &opened[i + 1..]).await;
            return Err(e);
        }
    }
    host.progress(ProgressEvent { phase: "done".into(), id: String::new(), current: 1, total: 1 });
    Ok(response)
}

/// `sbom` and `provenance`: the attestations outport makes itself, per platform image, after the
/// `--attest` files (which may not give the same kind twice).
async fn generate_attestations<H: Host>(
    host: &H,
    request: &ExportRequest,
    inputs: &mut [PlatformInput],
    files: &[Attestation],
    env_epoch: Option<i64>,
) -> Result<()> {
    let provenance = crate::provenance::wanted(request.provenance.as_deref())?;
    let clash = |predicate: &str, what: &str, flag: &str| match files.iter().any(|a| a.predicate_type == predicate) {
        true => Err(Error::option(format!("{what} and --attest {flag},path=… both give one: give only one of them"))),
        false => Ok(()),
    };
    let time = rfc3339(env_epoch.unwrap_or(request.now));
    let mut sbom = None;
    if request.sbom {
        let Some(app) = &request.node_app else {
            return Err(Error::option(
                "sbom: the SBOM lists --node-app's node_modules: give --node-app DIR, or your own SBOM with --attest type=sbom,path=FILE",
            ));
        };
        clash(attest::SPDX_PREDICATE, "sbom", "type=sbom")?;
        let scanned = crate::sbom::scan(host, app).await?;
        sbom = Some(crate::sbom::attestation(&app_name(host, app).await, &scanned.packages, &time));
    }
    if provenance {
        clash(attest::SLSA_PREDICATE, "provenance", "type=provenance")?;
    }
    for input in inputs {
        input.attestations.extend(sbom.clone());
        if provenance {
            let base = request.base.as_deref().zip(input.base_digest.as_deref());
            input.attestations.push(crate::provenance::attestation(request, &input.platform, base, &time));
        }
    }
    Ok(())
}

/// The app's name: package.json's `name`, else its directory's.
async fn app_name<H: Host>(host: &H, app: &str) -> String {
    let app = app.trim_end_matches('/');
    let package = crate::host::read_small_file(host, &format!("{app}/package.json"), 1 << 20).await.ok();
    let name = package
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|j| j["name"].as_str().map(str::to_string));
    name.unwrap_or_else(|| app.rsplit('/').next().unwrap_or(app).to_string())
}

/// What to export: a `--result FILE`, or for `--platform` (or this machine's) the layers from
/// ROOTFS, `--node-app` and `--layer`, in that order.
async fn inputs<H: Host>(
    host: &H,
    request: &ExportRequest,
    reserved: Reserved,
    epoch: Option<i64>,
    warnings: &mut Vec<String>,
) -> Result<Vec<PlatformInput>> {
    // Copied sources (--layer, --node-app) are reproducible by default: see LayerSource::mtime.
    let copied_mtime = (!request.keep_mtimes).then_some(epoch.unwrap_or(0));
    let sources =
        SourceOptions { reserved, copied_mtime, ..SourceOptions::new(request.owner.as_deref(), &request.excludes)? };
    let base = base_request(request);
    if let Some(result) = &request.result {
        let other = match () {
            _ if request.rootfs.is_some() => Some("a rootfs directory"),
            _ if !request.layers.is_empty() => Some("--layer"),
            _ if request.node_app.is_some() => Some("--node-app"),
            _ => None,
        };
        if let Some(other) = other {
            return Err(Error::option(format!("give either {other} or --result FILE, not both")));
        }
        if request.platform.is_some() {
            return Err(Error::option("--platform does not go with --result: the result file names its platforms"));
        }
        return build_result::from_result_file(host, result, &request.config, base.as_ref(), &sources, warnings).await;
    }
    let platforms = requested_platforms(request.platform.as_deref())?;
    if platforms.len() > 1 {
        let asked = request.platform.as_deref().unwrap_or_default();
        if base.is_none() {
            return Err(Error::option(format!(
                "--platform {asked}: several platforms need a multi-platform --base (the same app layers go on each platform's base image); without one, give a --result FILE with each platform's layers"
            )));
        }
        if request.rootfs.is_some() {
            return Err(Error::option(format!(
                "--platform {asked}: a root filesystem directory is built for one platform; several platforms take --node-app and --layer on a multi-platform --base, or a --result FILE"
            )));
        }
    }
    let mut settings = request.config.clone();
    let mut layers = Vec::new();
    if let Some(rootfs) = &request.rootfs {
        layers.push(LayerSource::root_directory(host, rootfs, &sources).await?);
    }
    if let Some(app) = &request.node_app {
        let starts_with_npm = settings.entrypoint.is_none() && settings.cmd.is_none();
        node_app_defaults(&mut settings);
        let workdir = settings.workdir.as_deref().unwrap_or(NODE_APP_WORKDIR);
        let app_layers = source::node_app(host, app, workdir, &sources).await?;
        warn_node_app(host, app, app_layers.len() > 1, starts_with_npm, request.base.is_some(), warnings).await;
        if platforms.len() > 1 {
            warn_native_addons(host, app, &platforms, warnings).await?;
        }
        layers.extend(app_layers);
    }
    for spec in &request.layers {
        layers.push(source::from_spec(host, spec, &sources).await?);
    }
    if layers.is_empty() {
        return Err(Error::option(
            "nothing to export: pass the root filesystem directory, --layer SRC[:DEST], --node-app DIR or --result FILE",
        ));
    }
    if let Some(base) = base {
        let config_file = settings.config_file.as_deref();
        let mut inputs = Vec::new();
        let before = warnings.len();
        for requested in platforms.iter().map(Some).chain(platforms.is_empty().then_some(None)) {
            let layers = layers.clone();
            inputs.push(build_result::on_base(host, &base, requested, config_file, layers, &settings, warnings).await?);
        }
        // The flags' warnings, once however many platforms they were applied for.
        let mut seen = Vec::new();
        let added: Vec<String> = warnings.drain(before..).collect();
        for w in added {
            if !seen.contains(&w) {
                seen.push(w.clone());
                warnings.push(w);
            }
        }
        return Ok(inputs);
    }
    let requested = platforms.into_iter().next();
    let config_file = settings.config_file.as_deref();
    let (platform, config) =
        build_result::load_config(host, config_file, requested.as_ref(), &settings, warnings).await?;
    let platform = platform.map_or_else(|| Platform::parse(&request.host_platform), Ok)?;
    Ok(vec![PlatformInput::without_base(platform, layers, config)])
}

/// `--platform`: one platform, or several separated by commas (each once).
fn requested_platforms(value: Option<&str>) -> Result<Vec<Platform>> {
    let mut platforms: Vec<Platform> = Vec::new();
    for item in value.map(|v| v.split(',').map(str::trim).collect::<Vec<_>>()).unwrap_or_default() {
        let platform = Platform::parse(item)?;
        if platforms.contains(&platform) {
            return Err(Error::option(format!("--platform: {} appears twice", platform.id())));
        }
        platforms.push(platform);
    }
    Ok(platforms)
}

/// Node code runs on every architecture, native addons (`*.node`) only on the one they were built
/// for: each platform's image gets the same node_modules, so name them.
async fn warn_native_addons<H: Host>(
    host: &H,
    app: &str,
    platforms: &[Platform],
    warnings: &mut Vec<String>,
) -> Result<()> {
    let native = crate::sbom::scan(host, app).await?.native;
    if native.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = platforms.iter().map(Platform::id).collect();
    let shown: Vec<&str> = native.iter().take(10).map(String::as_str).collect();
    let more =
        if native.len() > shown.len() { format!(" and {} more", native.len() - shown.len()) } else { String::new() };
    warnings.push(format!(
        "--node-app {app}: node_modules holds native addons built for one architecture, yet every platform ({}) gets them: {}{more}; install and export each platform on its own (npm ci on that architecture) unless they are prebuilt for all",
        ids.join(", "),
        shown.join(", ")
    ));
    Ok(())
}

/// Every host path this run writes: the outputs' destinations and what the host names (its store,
/// the metadata file). Source walks leave them out.
fn written_paths(specs: &[OutputSpec], request: &ExportRequest) -> Vec<String> {
    let dests = specs.iter().filter_map(|spec| spec.dest.clone());
    dests.chain(request.metadata_file.clone()).chain(request.host_writes.iter().cloned()).collect()
}

/// A library caller's stdout is its own (a build script's output, a test runner's): an output that
/// would go there only because `dest` is missing is refused.
fn check_no_implicit_stdout(specs: &[OutputSpec]) -> Result<()> {
    use crate::options::ExporterType;
    match specs.iter().find(|s| s.dest.is_none() && matches!(s.kind, ExporterType::Oci | ExporterType::Tar)) {
        Some(spec) => Err(Error::option(format!(
            "type={} without dest would write the tarball to this process's stdout: give dest: 'FILE' (or dest: '-' to mean stdout)",
            spec.kind.name()
        ))),
        None => Ok(()),
    }
}

/// Two outputs writing one path would silently clobber each other (and the metadata file the
/// result): refused before anything is written. Paths are compared by where they are (the
/// identity of their directory), so `a.tar`, `./a.tar` and `d/../a.tar` are one.
fn check_distinct_destinations(specs: &[OutputSpec], request: &ExportRequest, located: &Located) -> Result<()> {
    let mut named: Vec<(String, String)> = specs
        .iter()
        .filter_map(|spec| {
            Some((format!("type={},dest={}", spec.kind.name(), spec.dest.as_deref()?), spec.dest.clone()?))
        })
        .filter(|(_, dest)| dest != "-")
        .collect();
    if let Some(file) = &request.metadata_file {
        named.push((format!("--metadata-file {file}"), file.clone()));
    }
    let mut seen: Vec<(String, String)> = Vec::new();
    for (what, path) in named {
        let key = located.key(&path);
        if let Some((first, _)) = seen.iter().find(|(_, k)| *k == key) {
            return Err(Error::option(format!(
                "{first} and {what} write the same path: give each output its own destination"
            )));
        }
        seen.push((what, key));
    }
    Ok(())
}

/// What makes a `--node-app` image fail only when it runs, said before: no node_modules, no start
/// script behind the default `npm start`, no base image to bring Node.js.
async fn warn_node_app<H: Host>(
    host: &H,
    app: &str,
    has_modules: bool,
    starts_with_npm: bool,
    has_base: bool,
    warnings: &mut Vec<String>,
) {
    let what = format!("--node-app {app}");
    if !has_modules {
        warnings.push(format!(
            "{what}: no node_modules (run `npm ci` first): the image will not have the app's dependencies"
        ));
    }
    if starts_with_npm {
        let package = format!("{}/package.json", app.trim_end_matches('/'));
        let scripts = crate::host::read_small_file(host, &package, 1 << 20)
            .await
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .map(|json| json["scripts"]["start"].is_string());
        if scripts != Some(true) {
            warnings.push(format!(
                "{what}: package.json has no \"start\" script, but the entrypoint is `npm start`: add one, or give --entrypoint/--cmd"
            ));
        }
    }
    if !has_base {
        warnings.push(format!(
            "{what} without --base: the image has no Node.js to run it; add e.g. --base docker.io/library/node:22-slim"
        ));
    }
}

/// Where `--node-app` puts the app unless `--workdir` says otherwise (containerify's default).
const NODE_APP_WORKDIR: &str = "/app";

/// `--node-app`'s config, as containerify sets it, for what the flags leave open: the app's
/// directory as working directory, `npm start` as entrypoint, user 1000 (node images' `node`).
fn node_app_defaults(settings: &mut ConfigSettings) {
    settings.workdir.get_or_insert_with(|| NODE_APP_WORKDIR.into());
    settings.entrypoint.get_or_insert_with(|| r#"["npm","start"]"#.into());
    settings.user.get_or_insert_with(|| "1000".into());
}

/// The repository of a `--base` that names a registry image (not `oci:`, `oci-archive:`,
/// `docker-archive:` or `docker-daemon:`).
pub(crate) fn registry_base(base: &str) -> Option<Reference> {
    if ["oci:", "oci-archive:", "docker-archive:", "docker-daemon:"].iter().any(|p| base.starts_with(p)) {
        return None;
    }
    Reference::parse_normalized(base.strip_prefix("docker://").unwrap_or(base)).ok()
}

fn base_request(request: &ExportRequest) -> Option<build_result::BaseRequest<'_>> {
    let reference = request.base.as_deref()?;
    Some(build_result::BaseRequest {
        reference,
        insecure: request.base_insecure,
        host_platform: &request.host_platform,
        engine: engine::EngineAccess { flag: request.docker_host.as_deref(), env: &request.engine_env },
    })
}

/// buildx's guard: mode=delete only for a destination strictly inside the working directory,
/// unless `--allow buildx.local.delete`.
fn check_delete_allowed(dest: &str, request: &ExportRequest) -> Result<()> {
    if request.allow.iter().any(|a| a == "buildx.local.delete") {
        return Ok(());
    }
    let cwd = request.cwd.as_deref().unwrap_or("").trim_end_matches('/');
    let absolute = if dest.starts_with('/') { dest.to_string() } else { format!("{cwd}/{dest}") };
    let mut parts: Vec<&str> = Vec::new();
    for part in absolute.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let cleaned = format!("/{}", parts.join("/"));
    if cwd.starts_with('/') && cleaned.starts_with(&format!("{cwd}/")) {
        return Ok(());
    }
    Err(Error::option(format!(
        "local output mode=delete for destination {dest:?} requires --allow=buildx.local.delete"
    )))
}

/// Every platform named in an annotation option must be one the result has (BuildKit's rule; a
/// single-platform result matches any).
fn check_platform_qualifiers(plan: &Plan, inputs: &[PlatformInput]) -> Result<()> {
    if inputs.len() < 2 {
        return Ok(());
    }
    for a in &plan.annotations {
        if let Some(p) = a.platform.as_ref().filter(|p| !inputs.iter().any(|i| &i.platform == *p)) {
            return Err(Error::option(format!(
                "{}: invalid annotation: no platform {} found in source",
                a.option,
                p.id()
            )));
        }
    }
    Ok(())
}

async fn open<H: Host>(host: &H, plan: &Plan, request: &ExportRequest) -> Result<Opened> {
    match &plan.target {
        Target::Load => {
            Ok(Opened::Engine(engine::connect(host, request.docker_host.as_deref(), &request.engine_env).await?))
        }
        Target::Layout { dest, tar: true, .. } => Ok(Opened::Tar(host.output_open(dest).await?)),
        Target::Layout { dest, tar: false, .. } | Target::Local { dest, .. } => {
            Ok(Opened::Dir(Staged::begin(host, dest).await?, None))
        }
        Target::Filesystem { dest, .. } => Ok(Opened::Tar(host.output_open(dest).await?)),
        Target::CacheOnly | Target::Image(_) => Ok(Opened::Nothing),
    }
}

async fn abort_all<H: Host>(host: &H, opened: &[Opened]) {
    for o in opened {
        match o {
            Opened::Tar(h) => host.output_abort(*h).await,
            Opened::Dir(staged, _) => staged.abort(host).await,
            Opened::Engine(_) | Opened::Nothing => {}
        }
    }
}

/// Put one finished output in place: rename its file, or move its staged directory.
async fn commit<H: Host>(host: &H, plan: &Plan, out: &Opened) -> Result<()> {
    match out {
        Opened::Tar(h) => host.output_commit(*h).await,
        Opened::Dir(staged, written) => {
            let merged = staged.commit(host).await?;
            match (written, &plan.target) {
                (Some(written), Target::Local { delete, .. }) => {
                    filesystem::finish_local(host, staged, written, *delete, merged).await
                }
                _ => Ok(()),
            }
        }
        Opened::Engine(_) | Opened::Nothing => Ok(()),
    }
}

async fn export_one<H: Host>(
    host: &H,
    run: &mut Run,
    plan: &Plan,
    out: &mut Opened,
    response: &mut ExportResponse,
) -> Result<()> {
    let epoch = plan.epoch.unwrap_or(run.env_epoch);
    let time = epoch.unwrap_or(run.now);
    match (&plan.target, &mut *out) {
        (Target::Filesystem { files: options, .. }, Opened::Tar(handle)) => {
            return filesystem::write_tar(host, &run.inputs, epoch, *handle, &attestation_files(run, options, time))
                .await;
        }
        (Target::Local { files: options, .. }, Opened::Dir(staged, written)) => {
            let local = filesystem::Local { root: &staged.dir, split: options.split, layer_times: false };
            let files = attestation_files(run, options, time);
            *written =
                Some(filesystem::write_local(host, &run.inputs, epoch, &local, &files, &mut response.warnings).await?);
            return Ok(());
        }
        _ => {}
    }
    let created = epoch.unwrap_or(run.now);
    let mut images = Vec::new();
    for i in 0..run.inputs.len() {
        images.push(platform_image(host, run, i, plan, epoch).await?);
    }
    let root = match images.as_slice() {
        [single] if run.attestations.is_empty() && run.inputs[0].attestations.is_empty() => Root::single(single, plan),
        _ => Root::index(host, run, &images, plan).await?,
    };
    let mut descriptor = root.descriptor.clone();
    let layout_target = match &plan.target {
        Target::Layout { dest, tar, docker } => Some((dest.clone(), *tar, *docker)),
        Target::Load => Some((String::new(), true, true)),
        _ => None,
    };
    if let Some((dest, tar, docker)) = layout_target {
        // The oci and docker exporters stamp the root descriptor with the creation time unless given.
        descriptor.annotations.entry(CREATED.into()).or_insert_with(|| rfc3339(created));
        host.progress(ProgressEvent { phase: "write".into(), id: dest.clone(), current: 0, total: 1 });
        let index_entries = index_entries(&descriptor, plan, tar);
        let blobs = &root.blobs;
        let manifest_json = docker.then(|| docker_manifest_json(&images[0], plan));
        let layout = Layout { index_entries, blobs, manifest_json };
        match out {
            Opened::Tar(handle) => {
                layout::write_tar(&mut layout::OutputFile { host, handle: *handle }, &layout).await?
            }
            Opened::Dir(staged, _) => layout::write_dir(host, staged, Layout { manifest_json: None, ..layout }).await?,
            Opened::Engine(engine) => engine::load(host, engine, &layout).await?,
            Opened::Nothing => {}
        }
        host.progress(ProgressEvent { phase: "write".into(), id: dest.clone(), current: 1, total: 1 });
    }

    let mut image_name = plan.names.iter().map(|n| n.full()).collect::<Vec<_>>().join(",");
    if let Target::Image(target) = &plan.target {
        image_name = name_in_store(host, target, &plan.names, &descriptor).await?;
        if target.push {
            let job = PushJob {
                root: &root.descriptor,
                manifests: &root.manifests,
                blobs: &root.blobs,
                insecure: target.insecure,
                by_digest: target.push_by_digest,
            };
            for (i, name) in plan.names.iter().enumerate() {
                host.progress(ProgressEvent { phase: "push".into(), id: name.full(), current: 0, total: 1 });
                // Names pushed before hold every blob; the base's repository holds the base layers.
                let sources: Vec<Reference> = plan.names[..i].iter().chain(&run.base_repository).cloned().collect();
                registry::push::push(host, name, &job, &sources).await?;
                host.progress(ProgressEvent { phase: "push".into(), id: name.full(), current: 1, total: 1 });
            }
        }
        if target.unpack && target.store && !image_name.is_empty() {
            // BuildKit unpacks only when storing a name, and only the default platform: ours is the first.
            let dir = host.store_unpack_dir(&descriptor.digest).await?;
            let staged = Staged::begin(host, &dir).await?;
            let local = filesystem::Local { root: &staged.dir, split: false, layer_times: true };
            let no_files =
                filesystem::Attestations { attestations: &[], generated: false, prefix: "", split: false, time: 0 };
            let inputs = &run.inputs[..1];
            let written =
                match filesystem::write_local(host, inputs, epoch, &local, &no_files, &mut response.warnings).await {
                    Ok(written) => written,
                    Err(e) => {
                        staged.abort(host).await;
                        return Err(e);
                    }
                };
            let merged = staged.commit(host).await?;
            filesystem::finish_local(host, &staged, &written, false, merged).await?;
        }
    }

    let m = &mut response.metadata;
    m.insert("containerimage.digest".into(), Value::String(descriptor.digest.clone()));
    match &root.config_digest {
        Some(config) => m.insert("containerimage.config.digest".into(), Value::String(config.clone())),
        // An index has no single config; a previous output's value must not linger.
        None => m.remove("containerimage.config.digest"),
    };
    m.insert("containerimage.descriptor".into(), serde_json::to_value(&descriptor).expect("descriptor is plain data"));
    if !image_name.is_empty() {
        m.insert("image.name".into(), Value::String(image_name));
    }
    Ok(())
}

fn attestation_files<'a>(
    run: &'a Run,
    options: &'a plan::FilesystemOptions,
    time: i64,
) -> filesystem::Attestations<'a> {
    filesystem::Attestations {
        attestations: &run.attestations,
        generated: true,
        prefix: &options.attestation_prefix,
        split: options.split,
        time,
    }
}

/// A base layer as `plan` carries it: the same blob, or with `force-compression` the same tar
/// compressed as the plan asks. Foreign layers are never pulled, so they stay as they are.
/// Its diffID stays, except when it becomes eStargz (whose diffID covers the TOC too) or stops
/// being eStargz (only the original tar is kept).
async fn base_layer<H: Host>(host: &H, plan: &Plan, base: &Descriptor, diff_id: &str) -> Result<(Descriptor, String)> {
    let is_estargz = base.annotations.contains_key(crate::compress::estargz::TOC_DIGEST_ANNOTATION);
    let same = MediaTypes::same_compression(&base.media_type, plan.compression)
        && is_estargz == matches!(plan.compression, Compression::Estargz { .. });
    if !plan.force_compression || !base.urls.is_empty() || same {
        return Ok((crate::base::reused_layer(base, plan.media_types), diff_id.to_string()));
    }
    host.progress(ProgressEvent { phase: "recompress".into(), id: base.digest.clone(), current: 0, total: 1 });
    let blob = layer::recompress::recompress(host, &base.digest, base.size, diff_id, plan.compression).await?;
    host.progress(ProgressEvent { phase: "recompress".into(), id: blob.digest.clone(), current: 1, total: 1 });
    let mut descriptor = Descriptor::new(plan.media_types.layer(plan.compression), &blob.digest, blob.size);
    if plan.media_types == MediaTypes::Oci {
        descriptor.annotations.extend(blob.annotations.iter().cloned());
    }
    Ok((descriptor, blob.diff_id))
}

/// Build (or reuse) one platform's layers and assemble its config and manifest for `plan`.
async fn platform_image<H: Host>(
    host: &H,
    run: &mut Run,
    index: usize,
    plan: &Plan,
    epoch: Option<i64>,
) -> Result<BuiltImage> {
    let clamp = if plan.rewrite_timestamp { epoch } else { None };
    let now = run.now;
    let input = &run.inputs[index];
    let mut layers: Vec<(Descriptor, String)> = Vec::new();
    for (base, diff_id) in &input.base_layers {
        layers.push(base_layer(host, plan, base, diff_id).await?);
    }
    for (position, source) in input.layers.iter().enumerate() {
        let owner = if run.shared_layers { 0 } else { index };
        let layer = match run.layers.entry((owner, position, plan.compression, clamp)) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(build_layer(host, source, plan.compression, clamp, now).await?),
        };
        let mut descriptor = Descriptor::new(plan.media_types.layer(plan.compression), &layer.digest, layer.size);
        // Docker manifests carry no layer annotations (BuildKit drops them all).
        if plan.media_types == MediaTypes::Oci {
            if let Some(epoch) = clamp {
                descriptor.annotations.insert(REWRITTEN_TIMESTAMP.into(), epoch.to_string());
            }
            descriptor.annotations.extend(layer.annotations.iter().cloned());
        }
        layers.push((descriptor, layer.diff_id.clone()));
    }
    let mut image = assemble(
        host,
        ImageSpec {
            platform: &input.platform,
            config: input.config.clone(),
            base: FromBase { layers: input.base_layers.len(), history: &input.base_history },
            epoch,
            layers,
            media_types: plan.media_types,
            now: GoTime { unix: run.now, nanos: run.now_nanos, offset: 0 },
            annotations: annotations_for(plan, Level::Manifest, &input.platform),
        },
    )
    .await?;
    image.manifest.annotations.extend(annotations_for(plan, Level::ManifestDescriptor, &input.platform));
    Ok(image)
}

/// The root of what an output exports: one manifest, or an index of the platforms' manifests.
struct Root {
    descriptor: Descriptor,
    /// Every blob the root reaches, with its size.
    blobs: Vec<(String, u64)>,
    /// Only a single-manifest root has one config.
    config_digest: Option<String>,
    /// The manifests an index root lists (platform, then attestation manifests).
    manifests: Vec<Descriptor>,
}

impl Root {
    fn single(image: &BuiltImage, plan: &Plan) -> Root {
        let mut descriptor = image.manifest.clone();
        // Platform-qualified annotations are ignored for a single-platform result (BuildKit).
        descriptor.annotations = annotations_for(plan, Level::ManifestDescriptor, &Platform::none());
        Root {
            descriptor,
            blobs: image.blobs.clone(),
            config_digest: Some(image.config_digest.clone()),
            manifests: Vec::new(),
        }
    }

    /// The platform manifests, then (in the same order) their attestation manifests.
    async fn index<H: Host>(host: &H, run: &Run, images: &[BuiltImage], plan: &Plan) -> Result<Root> {
        let mut manifests: Vec<Descriptor> = images.iter().map(|i| i.manifest.clone()).collect();
        let mut blobs: Vec<(String, u64)> = images.iter().flat_map(|i| i.blobs.iter().cloned()).collect();
        for (image, input) in images.iter().zip(&run.inputs) {
            let attestations: Vec<Attestation> = run.attestations.iter().chain(&input.attestations).cloned().collect();
            if attestations.is_empty() {
                continue;
            }
            let (descriptor, added) =
                attestation_manifest(host, &attestations, &plan.names, image, &input.platform, plan.oci_artifact)
                    .await?;
            manifests.push(descriptor);
            blobs.extend(added);
        }
        let index = Index {
            schema_version: 2,
            media_type: plan.media_types.index().to_string(),
            manifests: manifests.clone(),
            annotations: level_annotations(plan, Level::Index),
        };
        let bytes = gojson::pretty(&index);
        let digest = put_blob(host, &bytes).await?;
        let mut descriptor = Descriptor::new(plan.media_types.index(), &digest, bytes.len() as u64);
        descriptor.annotations = level_annotations(plan, Level::IndexDescriptor);
        blobs.push((digest, bytes.len() as u64));
        Ok(Root { descriptor, blobs, config_digest: None, manifests })
    }
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
    source: &LayerSource,
    compression: Compression,
    clamp: Option<i64>,
    now: i64,
) -> Result<WrittenBlob> {
    host.progress(ProgressEvent { phase: "layer".into(), id: source.describe(), current: 0, total: 1 });
    let blob = layer::build(host, source, compression, clamp, now).await?;
    host.progress(ProgressEvent { phase: "layer".into(), id: blob.digest.clone(), current: 1, total: 1 });
    Ok(blob)
}

/// Annotations of a manifest-level `level` for one platform: the unqualified ones, overridden by
/// those qualified with this platform.
fn annotations_for(plan: &Plan, level: Level, platform: &Platform) -> Annotations {
    let of_level = plan.annotations.iter().filter(|a| a.level == level);
    let generic = of_level.clone().filter(|a| a.platform.is_none());
    let specific = of_level.filter(|a| a.platform.as_ref() == Some(platform));
    generic.chain(specific).map(|a| (a.key.clone(), a.value.clone())).collect()
}

/// Index-level annotations: the platform qualifier plays no part (BuildKit collects them all).
fn level_annotations(plan: &Plan, level: Level) -> Annotations {
    plan.annotations.iter().filter(|a| a.level == level).map(|a| (a.key.clone(), a.value.clone())).collect()
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
    layout::named_entries(root, &plan.names)
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

#[cfg(test)]
mod platform_list_tests {
    use super::*;

    #[test]
    fn platform_lists() {
        let ids = |v| requested_platforms(Some(v)).map(|p| p.iter().map(Platform::id).collect::<Vec<_>>());
        assert_eq!(ids("linux/amd64, linux/arm64").unwrap(), ["linux/amd64", "linux/arm64"]);
        assert_eq!(ids("linux/arm/v7").unwrap(), ["linux/arm/v7"]);
        assert!(ids("linux/amd64,linux/amd64").unwrap_err().message.contains("appears twice"));
        assert!(ids("linux/amd64,").is_err());
        assert!(requested_platforms(None).unwrap().is_empty());
    }
}
