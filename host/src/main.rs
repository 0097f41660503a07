//! `outport`: the native CLI. Parses flags, prepares the local host (file system, store, outputs,
//! progress) and runs the embedded core component.

mod bindings;
mod compress_pool;
mod errors;
mod fs;
mod imports;
mod net;
mod progress;
mod runtime;
mod signals;
mod store;

use imports::HostState;
use progress::Progress;
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

/// What the command line sets for the host itself (the `host` part of the core's parse, see
/// src/cli/table.rs): the core gets the rest in its request.
struct Settings {
    store: Option<PathBuf>,
    /// `--progress` (auto, plain, json, quiet); none for commands without progress.
    progress: String,
    /// `--threads`, else `$OUTPORT_THREADS` (the core resolved both).
    threads: Option<usize>,
    creds: Option<String>,
    base_creds: Option<String>,
    registry_ca: Option<PathBuf>,
    json: bool,
}

impl Settings {
    fn from_parse(host: &Value) -> Settings {
        let text = |key: &str| host[key].as_str().map(str::to_string);
        Settings {
            store: text("store").map(PathBuf::from),
            progress: host["progress"].as_str().unwrap_or("quiet").to_string(),
            threads: host["threads"].as_u64().map(|n| n as usize),
            creds: text("creds"),
            base_creds: text("baseCreds"),
            registry_ca: text("registryCa").map(PathBuf::from),
            json: host["json"].as_bool().unwrap_or(false),
        }
    }
}

/// Layer pieces (megabytes each) are made on one thread and freed on another: with glibc's
/// arena per thread, each arena kept its own high-water mark of them (6 MiB more peak memory for a
/// zstd layer of random bytes, 63 -> 57 MiB). One arena costs nothing measurable: the threads
/// allocate a few large buffers per piece, not many small ones.
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called first in main, before any other thread exists; mallopt only sets a parameter.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// The flag, else one per CPU up to 4 (each thread holds a core instance with its own match tables).
fn compression_threads(flag: Option<usize>) -> usize {
    flag.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()).min(4))
}

fn main() -> ExitCode {
    one_malloc_arena();
    signals::install();
    let args: Vec<String> = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    // The flags, their help and the usage errors are the core's (src/cli), as in the npm CLI.
    let parsed = match runtime::parse_command_line(&args) {
        Ok(json) => json,
        Err(e) => {
            eprintln!("error: {}", e.message);
            let usage = matches!(e.kind, bindings::ErrorKind::InvalidOption);
            return if usage { ExitCode::from(2) } else { ExitCode::FAILURE };
        }
    };
    let parsed: Value = match serde_json::from_str(&parsed) {
        Ok(parsed) => parsed,
        Err(e) => return report(Err(format!("the core returned invalid JSON: {e}"))),
    };
    let settings = Settings::from_parse(&parsed["host"]);
    match parsed["command"].as_str().unwrap_or_default() {
        "help" => {
            print!("{}", parsed["help"].as_str().unwrap_or_default());
            ExitCode::SUCCESS
        }
        "version" => {
            println!("outport {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        "export" => report(export(parsed["request"].clone(), settings)),
        "images" => report(images(settings)),
        "push" => report(push(&parsed["request"], settings)),
        "rm" => report(remove(&parsed["request"], settings)),
        "store-verify" => report(maintain(runtime::store_verify, StoreUse::Read, settings)),
        "store-gc" => report(maintain(runtime::store_gc, StoreUse::Write, settings)),
        other => report(Err(format!("the core parsed an unknown command {other:?}"))),
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

fn host_state(settings: &Settings, store_use: StoreUse) -> Result<HostState, String> {
    let store = settings
        .store
        .clone()
        .or_else(default_store)
        .ok_or("cannot find a store directory: pass --store DIR or set OUTPORT_STORE")?;
    let store_lock = match store_use {
        StoreUse::Write => Some(store::lock::StoreLock::acquire(&store)?),
        StoreUse::Read => None,
    };
    Ok(HostState {
        source: Default::default(),
        store: store::BlobStore::new(store),
        engines: Default::default(),
        outputs: Default::default(),
        progress: Progress::parse(&settings.progress).unwrap_or(Progress::Quiet),
        http: net::http::Http::new(settings.registry_ca.as_deref())?,
        credentials: net::credentials::Credentials::new(settings.creds.as_deref(), settings.base_creds.as_deref())?,
        compress: compress_pool::CompressPool::new(compression_threads(settings.threads), runtime::compressor),
        hashes: Default::default(),
        _store_lock: store_lock,
    })
}

/// `outport push NAME…`: every name is pushed, whatever became of the ones before it. Each pushed
/// image's metadata goes to stdout (one JSON object per name), each failure to stderr (with several
/// names prefixed by the name, then a line saying which were not pushed); exit status 1 if any
/// failed.
fn push(request: &Value, settings: Settings) -> Result<(), String> {
    let answer = runtime::push(host_state(&settings, StoreUse::Read)?, &request.to_string()).map_err(|e| e.message)?;
    let answer: Value = serde_json::from_str(&answer).map_err(|e| format!("the core returned invalid JSON: {e}"))?;
    let results = answer["results"].as_array().cloned().unwrap_or_default();
    let mut failed = Vec::new();
    for result in &results {
        match result["error"]["message"].as_str() {
            Some(message) => failed.push((result["image.name"].as_str().unwrap_or_default(), message)),
            None => println!("{}", serde_json::to_string_pretty(result).expect("JSON value serializes")),
        }
    }
    match failed[..] {
        [] => Ok(()),
        [(_, message)] if results.len() == 1 => Err(message.to_string()),
        _ => {
            for (name, message) in &failed {
                eprintln!("error: {name}: {message}");
            }
            let names: Vec<&str> = failed.iter().map(|(name, _)| *name).collect();
            Err(format!("{} of {} images not pushed: {}", failed.len(), results.len(), names.join(", ")))
        }
    }
}

/// `outport rm NAME…`: prints each full name removed.
fn remove(request: &Value, settings: Settings) -> Result<(), String> {
    let answer =
        runtime::remove(host_state(&settings, StoreUse::Write)?, &request.to_string()).map_err(|e| e.message)?;
    let answer: Value = serde_json::from_str(&answer).map_err(|e| format!("the core returned invalid JSON: {e}"))?;
    for name in answer["removed"].as_array().into_iter().flatten() {
        println!("removed {}", name.as_str().unwrap_or_default());
    }
    Ok(())
}

type Job = fn(HostState) -> Result<String, bindings::CoreError>;

fn maintain(job: Job, store_use: StoreUse, settings: Settings) -> Result<(), String> {
    let host = host_state(&settings, store_use)?;
    let report = job(host).map_err(|e| e.message)?;
    let report: serde_json::Value =
        serde_json::from_str(&report).map_err(|e| format!("the core returned invalid JSON: {e}"))?;
    if settings.json {
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

fn images(settings: Settings) -> Result<(), String> {
    let rows = runtime::images(host_state(&settings, StoreUse::Read)?).map_err(|e| e.message)?;
    if settings.json {
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

/// `request` is the core's parse of the command line; the host adds what only it knows: the
/// working directory, the clock, this machine's platform and the store it writes.
fn export(mut request: Value, settings: Settings) -> Result<(), String> {
    let writes_stdout = request["outputs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .any(|o| o == "-" || o.split(',').any(|f| f == "dest=-"));
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    request["cwd"] = std::env::current_dir().ok().map(|d| d.to_string_lossy().into_owned()).into();
    request["hostPlatform"] = host_platform().into();
    request["now"] = (since_epoch.as_secs() as i64).into();
    // Config and history times carry nanoseconds, as Go's time.Time marshals them.
    request["nowNanos"] = since_epoch.subsec_nanos().into();
    let metadata_file = request["metadataFile"].as_str().map(PathBuf::from);
    let host = host_state(&settings, StoreUse::Write)?;
    request["hostWrites"] = serde_json::json!([host.store.root().to_string_lossy()]);
    let response = runtime::run(host, &request.to_string()).map_err(|e| e.message)?;
    let response: serde_json::Value =
        serde_json::from_str(&response).map_err(|e| format!("the core returned invalid JSON: {e}"))?;
    for warning in response["warnings"].as_array().into_iter().flatten() {
        eprintln!("warning: {}", warning.as_str().unwrap_or_default());
    }
    let metadata = serde_json::to_string_pretty(&response["metadata"]).expect("JSON value serializes");
    if let Some(path) = &metadata_file {
        write_replacing(path, format!("{metadata}\n").as_bytes())
            .map_err(|e| format!("--metadata-file {}: {e}", path.display()))?;
    }
    if !writes_stdout {
        println!("{metadata}");
    }
    Ok(())
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
