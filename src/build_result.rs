//! A build result: what to export, per platform. Either one root filesystem directory (the CLI's
//! ROOTFS argument) or a `--result FILE`:
//!
//! ```json
//! { "platforms": [
//!     { "platform": "linux/amd64", "layers": ["amd64/rootfs"], "config": "amd64/config.json" },
//!     { "platform": "linux/arm64", "layers": ["arm64/base", "arm64/app"] } ] }
//! ```
//!
//! Each layer is a directory (bottom first); relative paths are relative to the result file.
//! `--owner` and `--exclude` apply to them as to every directory source.
//! With `--base REF`, each platform's layers go on top of the base image's for that platform.

use crate::error::{Error, Result};
use crate::host::{read_small_file, Host};
use crate::image::config::{self, ImageConfig};
use crate::image::settings::ConfigSettings;
use crate::image::spec::Descriptor;
use crate::layer::source::{LayerSource, SourceOptions};
use crate::platform::Platform;
use serde::Deserialize;

/// One platform's image inputs, ready to export.
#[derive(Debug, Clone)]
pub struct PlatformInput {
    pub platform: Platform,
    /// The new layers' sources, bottom first.
    pub layers: Vec<LayerSource>,
    /// Default or file config with the flags applied; completed per output.
    pub config: ImageConfig,
    /// `--base`: the base image's layers (already in the store) with their diffIDs, below `layers`.
    pub base_layers: Vec<(Descriptor, String)>,
    /// The base image's history, for SOURCE_DATE_EPOCH clamping.
    pub base_history: Vec<serde_json::Value>,
    /// `--base`: the digest its reference resolved to (for provenance materials).
    pub base_digest: Option<String>,
    /// Attestations made for this platform's image (`sbom`, `provenance`), after `--attest`'s.
    pub attestations: Vec<crate::attest::Attestation>,
}

impl PlatformInput {
    /// A platform's inputs with no base image under its layers.
    pub fn without_base(platform: Platform, layers: Vec<LayerSource>, config: ImageConfig) -> PlatformInput {
        PlatformInput {
            platform,
            layers,
            config,
            base_layers: Vec::new(),
            base_history: Vec::new(),
            base_digest: None,
            attestations: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultFile {
    platforms: Vec<PlatformEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlatformEntry {
    platform: String,
    layers: Vec<String>,
    #[serde(default)]
    config: Option<String>,
}

/// Image configs and result files are small; anything bigger is a wrong file.
const MAX_JSON_BYTES: u64 = 8 << 20;

/// `--base REF` as the request gives it.
pub struct BaseRequest<'a> {
    pub reference: &'a str,
    pub insecure: bool,
    /// For a multi-platform base when no platform is asked for.
    pub host_platform: &'a str,
    /// Where a `docker-daemon:` base comes from.
    pub engine: crate::engine::EngineAccess<'a>,
}

/// The inputs for a `--result FILE`.
pub async fn from_result_file<H: Host>(
    host: &H,
    path: &str,
    settings: &ConfigSettings,
    base: Option<&BaseRequest<'_>>,
    sources: &SourceOptions,
    warnings: &mut Vec<String>,
) -> Result<Vec<PlatformInput>> {
    let what = format!("--result {path}");
    let bytes = read_small_file(host, path, MAX_JSON_BYTES).await?;
    let file: ResultFile = serde_json::from_slice(&bytes).map_err(|e| Error::option(format!("{what}: {e}")))?;
    if file.platforms.is_empty() {
        return Err(Error::option(format!("{what}: no platforms")));
    }
    let base_dir = path.rfind('/').map_or(".", |i| if i == 0 { "/" } else { &path[..i] });
    let mut inputs: Vec<PlatformInput> = Vec::new();
    for entry in file.platforms {
        let platform = Platform::parse(&entry.platform).map_err(|e| Error::option(format!("{what}: {}", e.message)))?;
        if inputs.iter().any(|i| i.platform == platform) {
            return Err(Error::option(format!("{what}: platform {} appears twice", platform.id())));
        }
        if entry.layers.is_empty() {
            return Err(Error::option(format!("{what}: platform {} has no layers", platform.id())));
        }
        let mut layers = Vec::new();
        for layer in &entry.layers {
            layers.push(LayerSource::root_directory(host, &resolve(base_dir, layer), sources).await?);
        }
        let config_file = entry.config.map(|c| resolve(base_dir, &c));
        if let Some(base) = base {
            let input = on_base(host, base, Some(&platform), config_file.as_deref(), layers, settings, warnings);
            inputs.push(input.await?);
            continue;
        }
        let config = load_config(host, config_file.as_deref(), Some(&platform), settings, warnings).await?.1;
        inputs.push(PlatformInput::without_base(platform, layers, config));
    }
    Ok(inputs)
}

/// The config every output starts from: `config_file` (whose platform is used when none is asked
/// for) or BuildKit's default, with the flags applied. Returns the platform it is for.
pub async fn load_config<H: Host>(
    host: &H,
    config_file: Option<&str>,
    requested: Option<&Platform>,
    settings: &ConfigSettings,
    warnings: &mut Vec<String>,
) -> Result<(Option<Platform>, ImageConfig)> {
    let (platform, mut image_config) = match config_file {
        Some(path) => {
            let what = format!("--config {path}");
            let image_config = config::parse_config(&what, &read_small_file(host, path, MAX_JSON_BYTES).await?)?;
            let platform = match (requested, config::config_platform(&what, &image_config)?) {
                (Some(asked), Some(file)) if *asked != file => {
                    return Err(Error::option(format!(
                        "{what} is for {} but the platform is {}",
                        file.id(),
                        asked.id()
                    )));
                }
                (Some(p), _) => Some(p.clone()),
                (None, file) => file,
            };
            (platform, image_config)
        }
        None => (requested.cloned(), config::default_config(requested.map_or("linux", |p| p.os.as_str()))),
    };
    settings.apply(&mut image_config, warnings)?;
    Ok((platform, image_config))
}

/// One platform's input on a base image: `layers` go on top of the base's, whose config (under
/// `config_file`'s, if given: [`config::over_base`]) the flags patch. The platform is `requested`,
/// else the config file's, else the base image's.
pub async fn on_base<H: Host>(
    host: &H,
    base: &BaseRequest<'_>,
    requested: Option<&Platform>,
    config_file: Option<&str>,
    layers: Vec<LayerSource>,
    settings: &ConfigSettings,
    warnings: &mut Vec<String>,
) -> Result<PlatformInput> {
    let fallback = Platform::parse(base.host_platform)?;
    let file = match config_file {
        Some(path) => {
            let what = format!("--config {path}");
            let file = config::parse_config(&what, &read_small_file(host, path, MAX_JSON_BYTES).await?)?;
            let platform = config::config_platform(&what, &file)?;
            if let (Some(asked), Some(own)) = (requested, &platform) {
                if asked != own {
                    return Err(Error::option(format!(
                        "{what} is for {} but the platform is {}",
                        own.id(),
                        asked.id()
                    )));
                }
            }
            Some((file, platform))
        }
        None => None,
    };
    let requested = requested.or(file.as_ref().and_then(|(_, p)| p.as_ref()));
    let image =
        crate::base::load_with_engine(host, base.reference, base.insecure, requested, &fallback, Some(base.engine))
            .await?;
    let mut config = match file {
        Some((file, _)) => config::over_base(&image.config, file),
        None => image.config,
    };
    // The new image's time is its newest history entry's, not the base's (as BuildKit's frontends
    // drop the base's `created`).
    config.remove("created");
    settings.apply(&mut config, warnings)?;
    Ok(PlatformInput {
        platform: image.platform,
        layers,
        config,
        base_layers: image.layers,
        base_history: image.history,
        base_digest: Some(image.digest),
        attestations: Vec::new(),
    })
}

fn resolve(base_dir: &str, path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{base_dir}/{path}")
    }
}
