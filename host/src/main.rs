//! `outport`: the native CLI. Parses flags, prepares the local host (file system, store, outputs,
//! progress) and runs the embedded core component.

mod compress_pool;
mod credentials;
mod engine;
mod errors;
mod http;
mod imports;
mod local;
mod output;
mod progress;
mod runtime;
mod signals;
mod source;
mod store;
mod store_lock;

use clap::{Parser, Subcommand};
use imports::HostState;
use progress::Progress;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Parser)]
#[command(name = "outport", version, about = "Export container images exactly as docker buildx --output would")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Turn a root filesystem directory into an image and write it to every --output.
    Export(Box<ExportArgs>),
    /// List the images in the local store.
    Images(StoreArgs),
    /// Push an image from the local store to its registry.
    Push(PushArgs),
    /// Look after the local store: `verify` checks it is whole, `gc` removes unreferenced blobs.
    #[command(subcommand)]
    Store(StoreAction),
}

#[derive(Subcommand)]
enum StoreAction {
    /// Hash every blob against its name and follow every reference from index.json; exit 1 on any problem.
    Verify(StoreArgs),
    /// Remove the blobs no image in the store reaches (do not run while an export writes to the store).
    Gc(StoreArgs),
}

#[derive(clap::Args)]
struct PushArgs {
    /// The image's name in the store (see `outport images`), e.g. ghcr.io/owner/app:1.
    name: String,
    /// Content store directory (default: $OUTPORT_STORE, else $XDG_DATA_HOME/outport/store).
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
    /// Allow plain HTTP or an unverified certificate for this registry (like registry.insecure=true).
    #[arg(long)]
    insecure: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Push by digest only, without the tag.
    #[arg(long)]
    by_digest: bool,
    /// Progress on stderr: auto (bars on a terminal, else nothing), plain, json (one event per line) or quiet.
    #[arg(long, default_value = "auto", value_parser = ["auto", "plain", "json", "quiet"])]
    progress: String,
}

/// How to reach and log in to registries (push and base-image pulls).
#[derive(clap::Args)]
struct RegistryArgs {
    /// Credentials for the registry pushed to, USER:SECRET (a password or token; for GHCR a personal
    /// access token or GITHUB_TOKEN). Default: $OUTPORT_REGISTRY_USER and $OUTPORT_REGISTRY_TOKEN, then
    /// docker's config.json ($DOCKER_CONFIG or ~/.docker, credential helpers included).
    #[arg(long, value_name = "USER:SECRET")]
    creds: Option<String>,
    /// Credentials for pulling the --base image, USER:SECRET (default: docker's config.json, as
    /// `docker login` writes it). --creds never goes to the base's registry.
    #[arg(long, value_name = "USER:SECRET")]
    base_creds: Option<String>,
    /// Also trust this PEM CA bundle for registries' TLS certificates (besides the system's).
    #[arg(long, value_name = "FILE")]
    registry_ca: Option<PathBuf>,
}

impl RegistryArgs {
    /// For commands that never reach a registry.
    fn none() -> RegistryArgs {
        RegistryArgs { creds: None, base_creds: None, registry_ca: None }
    }
}

#[derive(clap::Args)]
struct StoreArgs {
    /// Content store directory (default: $OUTPORT_STORE, else $XDG_DATA_HOME/outport/store).
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct ExportArgs {
    /// Root filesystem directory that becomes the image's (first) layer.
    rootfs: Option<PathBuf>,
    /// Add a layer from a directory, file or layer tarball (.tar, .tar.gz, .tar.zst; taken as is), placed at
    /// DEST in the image (default /). Repeatable, in order, above ROOTFS.
    #[arg(long = "layer", value_name = "SRC[:DEST]")]
    layers: Vec<String>,
    /// A Node.js app: node_modules as one layer, the rest of DIR as another, at the working directory
    /// (default /app), entrypoint `npm start` and user 1000 unless --entrypoint/--user say otherwise.
    #[arg(long, value_name = "DIR")]
    node_app: Option<PathBuf>,
    /// Owner of every entry of the layers built from sources (default: 0:0 for --layer and --node-app,
    /// as BuildKit's COPY makes them; ROOTFS keeps the files' own).
    #[arg(long, value_name = "UID:GID")]
    owner: Option<String>,
    /// Leave out paths matching PATTERN (.dockerignore syntax, `!` to keep) from directory sources;
    /// after the patterns of each directory's .outportignore. Repeatable.
    #[arg(long = "exclude", value_name = "PATTERN", allow_hyphen_values = true)]
    excludes: Vec<String>,
    /// Keep the files' own mtimes in --layer/--node-app layers (default: SOURCE_DATE_EPOCH, else 0,
    /// so a layer does not change when nothing in it changed).
    #[arg(long)]
    keep_mtimes: bool,
    /// Add an annotation, buildx's syntax: [TYPE[,TYPE…][\[PLATFORM\]]:]KEY=VALUE (TYPE manifest,
    /// manifest-descriptor, index or index-descriptor; default manifest), to every image output. Repeatable.
    #[arg(long = "annotation", value_name = "ANNOTATION")]
    annotations: Vec<String>,
    /// A multi-platform build result (JSON: platforms, their layer directories and configs) instead of ROOTFS.
    #[arg(long, value_name = "FILE")]
    result: Option<PathBuf>,
    /// Output, written as `docker buildx build --output` takes it (e.g. type=oci,dest=out.tar).
    /// Repeatable. Default: type=image (the local store).
    #[arg(short = 'o', long = "output", value_name = "SPEC")]
    outputs: Vec<String>,
    /// Name the image (replaces name= of image, oci and docker outputs). Repeatable.
    #[arg(short = 't', long = "tag", value_name = "NAME")]
    tags: Vec<String>,
    /// Shorthand for --output type=registry.
    #[arg(long)]
    push: bool,
    /// Shorthand for --output type=docker: load the image into the Docker engine (Docker or
    /// Podman's service), as buildx --load does.
    #[arg(long)]
    load: bool,
    /// The Docker engine for --load: unix:///PATH, tcp://HOST:PORT or ssh://USER@HOST (default:
    /// $DOCKER_HOST, the current docker context, /var/run/docker.sock, Podman's sockets).
    #[arg(long, value_name = "ADDR")]
    docker_host: Option<String>,
    /// Attach an attestation: type=sbom|provenance,path=FILE (a predicate or an in-toto statement). Repeatable.
    #[arg(long = "attest", value_name = "SPEC")]
    attestations: Vec<String>,
    /// Allow an entitlement: buildx.local.delete lets type=local,mode=delete clean a destination
    /// outside the working directory.
    #[arg(long, value_name = "ENTITLEMENT")]
    allow: Vec<String>,
    /// Treat warnings (unknown option keys, …) as errors.
    #[arg(long)]
    strict: bool,
    /// Target platform OS/ARCH[/VARIANT] (default: the base image's, else this machine's).
    #[arg(long)]
    platform: Option<String>,
    /// Build on this image: a registry reference (host/repo:tag, …@sha256:…), oci:DIR[:TAG],
    /// oci-archive:FILE[:TAG] or docker-archive:FILE[:NAME].
    #[arg(long, value_name = "REF")]
    base: Option<String>,
    /// Allow plain HTTP or an unverified certificate for the base image's registry.
    #[arg(long)]
    base_insecure: bool,
    /// Content store directory (default: $OUTPORT_STORE, else $XDG_DATA_HOME/outport/store).
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
    /// Also write the result metadata (buildx keys) as JSON to this file.
    #[arg(long, value_name = "FILE")]
    metadata_file: Option<PathBuf>,
    /// Image config JSON to start from (OCI image config; its os/architecture set the platform).
    #[arg(long = "config", value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// Add a label KEY=VALUE. Repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// Set an environment variable KEY=VALUE. Repeatable.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Entrypoint: a JSON array (exec form) or a string run by /bin/sh -c.
    #[arg(long, value_name = "CMD", allow_hyphen_values = true)]
    entrypoint: Option<String>,
    /// Default command: a JSON array (exec form) or a string run by /bin/sh -c.
    #[arg(long, value_name = "CMD", allow_hyphen_values = true)]
    cmd: Option<String>,
    /// Working directory (absolute).
    #[arg(long, value_name = "DIR")]
    workdir: Option<String>,
    /// User (and group) the container runs as, e.g. 1000:1000.
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// Expose PORT[/tcp|udp|sctp]. Repeatable.
    #[arg(long, value_name = "PORT")]
    expose: Vec<String>,
    /// Declare a volume at an absolute container path. Repeatable.
    #[arg(long = "volume", value_name = "PATH")]
    volumes: Vec<String>,
    /// Signal that stops the container, e.g. SIGQUIT.
    #[arg(long, value_name = "SIGNAL")]
    stop_signal: Option<String>,
    /// Health check command: a JSON array (exec form), a string run by the shell, or NONE.
    #[arg(long, value_name = "CMD", allow_hyphen_values = true)]
    healthcheck_cmd: Option<String>,
    /// Time between health checks (Go duration: 30s, 1m30s).
    #[arg(long, value_name = "DURATION")]
    healthcheck_interval: Option<String>,
    /// Time a health check may take.
    #[arg(long, value_name = "DURATION")]
    healthcheck_timeout: Option<String>,
    /// Start-up time during which failures do not count.
    #[arg(long, value_name = "DURATION")]
    healthcheck_start_period: Option<String>,
    /// Time between health checks during the start period.
    #[arg(long, value_name = "DURATION")]
    healthcheck_start_interval: Option<String>,
    /// Consecutive failures that make the container unhealthy.
    #[arg(long, value_name = "N")]
    healthcheck_retries: Option<u32>,
    /// Threads compressing layer pieces (default: $OUTPORT_THREADS, else the number of CPUs up to 4; 0:
    /// all on the core's own thread). The bytes are the same whatever the number.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Progress on stderr: auto (bars on a terminal, else nothing), plain, json (one event per line) or quiet.
    #[arg(long, default_value = "auto", value_parser = ["auto", "plain", "json", "quiet"])]
    progress: String,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// `--threads`, else `$OUTPORT_THREADS`, else one per CPU up to 4 (each thread holds a core
/// instance with its own match tables).
fn compression_threads(flag: Option<usize>) -> usize {
    flag.or_else(|| std::env::var("OUTPORT_THREADS").ok().and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()).min(4))
}

/// `docker buildx build` flags a user may type out of habit: one line saying outport does not build,
/// instead of clap's "unexpected argument" tip (the npm CLI says the same: npm/bin/outport.js).
const BUILD_FLAGS: &[(&str, &str)] = &[
    ("--build-arg", "outport exports a build result and does not build: build first (e.g. docker buildx build -o type=local,dest=rootfs .), then outport export rootfs"),
    ("--file", "outport exports a build result and does not read a Dockerfile: build first, then outport export the result"),
    ("-f", "outport exports a build result and does not read a Dockerfile: build first, then outport export the result"),
    ("--target", "outport exports a build result and has no build stages: build the stage first, then outport export it"),
    ("--secret", "outport does not build, so there is no build step to give secrets to"),
    ("--ssh", "outport does not build, so there is no build step to forward ssh to"),
    ("--cache-to", "outport has no build cache to export: its own layer cache is in the store (--store)"),
    ("--cache-from", "outport has no build cache to import: its own layer cache is in the store (--store)"),
    ("--sbom", "not supported yet: attach an SBOM you made with --attest type=sbom,path=FILE"),
    ("--provenance", "not supported yet: attach provenance you made with --attest type=provenance,path=FILE"),
];

fn refuse_build_flags() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("export") {
        return None;
    }
    let (flag, why) = args.iter().take_while(|a| *a != "--").find_map(|arg| {
        let name = arg.split_once('=').map_or(arg.as_str(), |(n, _)| n);
        BUILD_FLAGS.iter().find(|(flag, _)| *flag == name)
    })?;
    eprintln!("error: {flag} is a docker buildx build flag; {why}");
    Some(ExitCode::from(2))
}

fn main() -> ExitCode {
    signals::install();
    if let Some(code) = refuse_build_flags() {
        return code;
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Export(args) => report(export(*args)),
        Command::Images(args) => report(images(args)),
        Command::Push(args) => report(push(args)),
        Command::Store(action) => report(maintain(action)),
    }
}

fn report(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Whether a command writes to the store (and so takes its lock) or only reads it.
#[derive(Clone, Copy, PartialEq)]
enum StoreUse {
    Read,
    Write,
}

fn host_state(
    store: Option<PathBuf>,
    progress: Progress,
    registry: &RegistryArgs,
    store_use: StoreUse,
) -> Result<HostState, String> {
    let store =
        store.or_else(default_store).ok_or("cannot find a store directory: pass --store DIR or set OUTPORT_STORE")?;
    let store_lock = match store_use {
        StoreUse::Write => Some(store_lock::StoreLock::acquire(&store)?),
        StoreUse::Read => None,
    };
    Ok(HostState {
        source: Default::default(),
        store: store::BlobStore::new(store),
        engines: Default::default(),
        outputs: Default::default(),
        progress,
        http: http::Http::new(registry.registry_ca.as_deref())?,
        credentials: credentials::Credentials::new(registry.creds.as_deref(), registry.base_creds.as_deref())?,
        compress: compress_pool::CompressPool::new(compression_threads(None)),
        hashes: Default::default(),
        _store_lock: store_lock,
    })
}

fn push(args: PushArgs) -> Result<(), String> {
    let request = serde_json::json!({"name": args.name, "insecure": args.insecure, "byDigest": args.by_digest});
    let progress = Progress::parse(&args.progress).unwrap_or(Progress::Quiet);
    let metadata =
        runtime::push(host_state(args.store, progress, &args.registry, StoreUse::Read)?, &request.to_string())
            .map_err(|e| e.message)?;
    let metadata: serde_json::Value =
        serde_json::from_str(&metadata).map_err(|e| format!("the core returned invalid JSON: {e}"))?;
    println!("{}", serde_json::to_string_pretty(&metadata).expect("JSON value serializes"));
    Ok(())
}

fn maintain(action: StoreAction) -> Result<(), String> {
    type Job = fn(HostState) -> Result<String, runtime::CoreError>;
    let (args, job, store_use): (StoreArgs, Job, _) = match action {
        StoreAction::Verify(args) => (args, runtime::store_verify, StoreUse::Read),
        StoreAction::Gc(args) => (args, runtime::store_gc, StoreUse::Write),
    };
    let host = host_state(args.store, Progress::Quiet, &RegistryArgs::none(), store_use)?;
    let report = job(host).map_err(|e| e.message)?;
    let report: serde_json::Value =
        serde_json::from_str(&report).map_err(|e| format!("the core returned invalid JSON: {e}"))?;
    if args.json {
        println!("{report}");
    } else if let Some(problems) = report["problems"].as_array() {
        println!("{} blobs, {} bytes, {} images checked", report["blobs"], report["bytes"], report["images"]);
        problems.iter().for_each(|p| println!("problem: {}", p.as_str().unwrap_or_default()));
        for stale in report["stale"].as_array().into_iter().flatten() {
            let path = stale["path"].as_str().unwrap_or_default();
            println!(
                "stale: {path} ({} bytes), left by a run that was killed: `outport store gc` removes it",
                stale["size"]
            );
        }
    } else {
        println!(
            "removed {} blobs and {} temporary files ({} bytes), kept {}",
            report["removed"], report["temporaries"], report["freed"], report["kept"]
        );
    }
    match report["problems"].as_array() {
        Some(problems) if !problems.is_empty() => Err(format!("the store has {} problem(s)", problems.len())),
        _ => Ok(()),
    }
}

fn images(args: StoreArgs) -> Result<(), String> {
    let rows = runtime::images(host_state(args.store, Progress::Quiet, &RegistryArgs::none(), StoreUse::Read)?)
        .map_err(|e| e.message)?;
    if args.json {
        println!("{rows}");
        return Ok(());
    }
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&rows).map_err(|e| format!("the core returned invalid JSON: {e}"))?;
    println!("{:<60} {:<19} {:>8}", "NAME", "DIGEST", "SIZE");
    for row in rows {
        let digest = row["digest"].as_str().unwrap_or_default();
        let short = digest.get(..19).unwrap_or(digest);
        println!(
            "{:<60} {:<19} {:>8}",
            row["name"].as_str().unwrap_or_default(),
            short,
            row["size"].as_u64().unwrap_or_default()
        );
    }
    Ok(())
}

fn export(args: ExportArgs) -> Result<(), String> {
    let threads = compression_threads(args.threads);
    let writes_stdout = args.outputs.iter().any(|o| o == "-" || o.split(',').any(|f| f == "dest=-"));
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let request = serde_json::json!({
        "rootfs": args.rootfs.as_ref().map(|p| p.to_string_lossy().into_owned()),
        "result": args.result.as_ref().map(|p| p.to_string_lossy().into_owned()),
        "layers": args.layers,
        "nodeApp": args.node_app.as_ref().map(|p| p.to_string_lossy().into_owned()),
        "owner": args.owner,
        "excludes": args.excludes,
        "keepMtimes": args.keep_mtimes,
        "annotations": args.annotations,
        "outputs": args.outputs,
        "tags": args.tags,
        "push": args.push,
        "load": args.load,
        "strict": args.strict,
        "allow": args.allow,
        "cwd": std::env::current_dir().ok().map(|d| d.to_string_lossy().into_owned()),
        "attestations": args.attestations,
        "platform": args.platform,
        "base": args.base,
        "baseInsecure": args.base_insecure,
        "hostPlatform": host_platform(),
        "sourceDateEpoch": std::env::var("SOURCE_DATE_EPOCH").ok(),
        "now": since_epoch.as_secs() as i64,
        // Config and history times carry nanoseconds, as Go's time.Time marshals them.
        "nowNanos": since_epoch.subsec_nanos(),
        "config": {
            "configFile": args.config_file.as_ref().map(|p| p.to_string_lossy().into_owned()),
            "labels": args.labels,
            "env": args.env,
            "entrypoint": args.entrypoint,
            "cmd": args.cmd,
            "workdir": args.workdir,
            "user": args.user,
            "expose": args.expose,
            "volumes": args.volumes,
            "stopSignal": args.stop_signal,
            "healthcheck": {
                "cmd": args.healthcheck_cmd,
                "interval": args.healthcheck_interval,
                "timeout": args.healthcheck_timeout,
                "startPeriod": args.healthcheck_start_period,
                "startInterval": args.healthcheck_start_interval,
                "retries": args.healthcheck_retries,
            },
        },
    });
    let progress = Progress::parse(&args.progress).unwrap_or(Progress::Quiet);
    let mut host = host_state(args.store.clone(), progress, &args.registry, StoreUse::Write)?;
    let mut request = request;
    request["metadataFile"] = args.metadata_file.as_ref().map(|p| p.to_string_lossy().into_owned()).into();
    request["hostWrites"] = serde_json::json!([host.store.root().to_string_lossy()]);
    request["dockerHost"] = args.docker_host.clone().into();
    request["engineEnv"] = engine_env().into();
    host.compress = compress_pool::CompressPool::new(threads);
    let response = runtime::run(host, &request.to_string()).map_err(|e| e.message)?;
    let response: serde_json::Value =
        serde_json::from_str(&response).map_err(|e| format!("the core returned invalid JSON: {e}"))?;
    for warning in response["warnings"].as_array().into_iter().flatten() {
        eprintln!("warning: {}", warning.as_str().unwrap_or_default());
    }
    let metadata = serde_json::to_string_pretty(&response["metadata"]).expect("JSON value serializes");
    if let Some(path) = &args.metadata_file {
        write_replacing(path, format!("{metadata}\n").as_bytes())
            .map_err(|e| format!("--metadata-file {}: {e}", path.display()))?;
    }
    if !writes_stdout {
        println!("{metadata}");
    }
    Ok(())
}

/// What the core finds the Docker engine by (see src/engine/endpoint.rs); DOCKER_CONFIG resolved
/// to the directory the docker CLI reads.
fn engine_env() -> serde_json::Map<String, serde_json::Value> {
    let mut env = serde_json::Map::new();
    for name in ["DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "XDG_RUNTIME_DIR"] {
        if let Some(value) = std::env::var_os(name).filter(|v| !v.is_empty()) {
            env.insert(name.into(), value.to_string_lossy().into_owned().into());
        }
    }
    let config = std::env::var_os("DOCKER_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")));
    if let Some(dir) = config {
        env.insert("DOCKER_CONFIG".into(), dir.to_string_lossy().into_owned().into());
    }
    env
}

/// Write a whole file under a temporary name and rename it over `path`: a reader never sees it
/// half-written, and a symlink at `path` is replaced, never followed (as every file output).
fn write_replacing(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.outport-{}.tmp", std::process::id()));
    signals::remember(&temp);
    let result = std::fs::write(&temp, data).and_then(|()| std::fs::rename(&temp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    signals::forget(&temp);
    result
}

fn default_store() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("OUTPORT_STORE").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("share")))?;
    Some(data.join("outport").join("store"))
}

/// This machine's platform in OCI terms (the core normalizes it).
fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    format!("{os}/{arch}")
}
