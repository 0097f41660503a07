//! Docker-API engines (Docker, Podman's compatible service): `--load` and `type=docker` without
//! dest stream the docker tarball into `POST /images/load`, as buildx does. The protocol is here,
//! once; hosts only open byte streams (`engine-connect`). No registry credentials ever go to an
//! engine.

pub mod endpoint;
mod http;

use crate::digest::StreamHasher;
use crate::error::{Error, Result};
use crate::export::layout::{self, Layout, TarOut, TarSize};
use crate::host::{Host, ProgressEvent};
use endpoint::Endpoint;
use http::Stream;
use serde_json::Value;
use std::collections::BTreeMap;

/// What finds the engine: `--docker-host` and the environment the host passes.
#[derive(Debug, Clone, Copy)]
pub struct EngineAccess<'a> {
    pub flag: Option<&'a str>,
    pub env: &'a BTreeMap<String, String>,
}

/// The newest API version we speak; an older engine's own version is used instead.
const API_VERSION: (u32, u32) = (1, 41);
/// The request body goes out in chunks this big.
const SEND_CHUNK: usize = 1 << 20;
const MAX_ANSWER: usize = 4 << 20;

/// An engine that answered its ping, with the API version to use.
#[derive(Debug, Clone)]
pub struct Engine {
    pub endpoint: Endpoint,
    pub version: String,
}

/// Find the engine and ping it (`GET /_ping`): an unreachable engine fails the run before any work.
pub async fn connect<H: Host>(host: &H, flag: Option<&str>, env: &BTreeMap<String, String>) -> Result<Engine> {
    let endpoint = endpoint::locate(host, flag, env).await?;
    let mut stream = open(host, &endpoint).await?;
    let answer = async {
        stream.request("GET", "/_ping", &[]).await?;
        let response = stream.response().await?;
        let body = stream.body(&response, 4096).await?;
        if response.status != 200 {
            return Err(Error::output(format!(
                "the engine at {} answered its ping with HTTP {}: {}",
                endpoint.shown,
                response.status,
                String::from_utf8_lossy(&body).trim()
            )));
        }
        Ok(response.header("Api-Version").map(str::to_string))
    }
    .await;
    stream.close().await;
    let version = negotiate(answer?.as_deref());
    Ok(Engine { endpoint, version })
}

async fn open<'h, H: Host>(host: &'h H, endpoint: &Endpoint) -> Result<Stream<'h, H>> {
    let handle =
        host.engine_connect(endpoint.scheme, &endpoint.address, endpoint.cert_dir.as_deref()).await.map_err(|e| {
            Error::output(format!(
                "cannot reach the Docker engine at {}: {}; choose another with DOCKER_HOST or --docker-host ADDR",
                endpoint.shown, e.message
            ))
        })?;
    Ok(Stream::new(host, handle, &endpoint.shown))
}

/// The engine's API version when older than ours (as the docker CLI negotiates), else ours.
fn negotiate(engine: Option<&str>) -> String {
    let parse = |v: &str| -> Option<(u32, u32)> {
        let (major, minor) = v.trim().split_once('.')?;
        Some((major.parse().ok()?, minor.parse().ok()?))
    };
    let (major, minor) = engine.and_then(parse).filter(|v| *v < API_VERSION).unwrap_or(API_VERSION);
    format!("{major}.{minor}")
}

/// `GET /images/NAME/get`: the engine's `docker save` tarball of `name`, streamed into the store
/// as one blob (a `docker-daemon:` base is then read from there like a `docker-archive:` one).
/// Returns its digest.
pub async fn save_image<H: Host>(host: &H, engine: &Engine, name: &str) -> Result<String> {
    let mut stream = open(host, &engine.endpoint).await?;
    let shown = engine.endpoint.shown.clone();
    let saved = async {
        stream.request("GET", &format!("/v{}/images/{name}/get", engine.version), &[]).await?;
        let response = stream.response().await?;
        if response.status != 200 {
            let body = stream.body(&response, 64 << 10).await.unwrap_or_default();
            let message = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
            return Err(Error::source(format!(
                "docker-daemon:{name}: the engine at {shown} answered HTTP {}: {message}",
                response.status
            )));
        }
        let handle = host.blob_create().await?;
        let mut hasher = StreamHasher::new(host).await?;
        let mut body = stream.body_reader(&response);
        let copied = async {
            let mut total = 0u64;
            while let Some(piece) = stream.next_body(&mut body).await? {
                hasher.update(host, &piece).await?;
                host.blob_write(handle, &piece).await?;
                total += piece.len() as u64;
                host.progress(ProgressEvent {
                    phase: "pull".into(),
                    id: format!("docker-daemon:{name}"),
                    current: total,
                    total: 0,
                });
            }
            Ok(total)
        }
        .await;
        match copied {
            Ok(total) => {
                host.progress(ProgressEvent {
                    phase: "pull".into(),
                    id: format!("docker-daemon:{name}"),
                    current: total,
                    total,
                });
                let digest = hasher.finish(host).await?;
                host.blob_commit(handle, &digest).await?;
                Ok(digest)
            }
            Err(e) => {
                host.blob_abort(handle).await;
                Err(e)
            }
        }
    }
    .await;
    stream.close().await;
    saved
}

/// Stream the docker tarball of `layout` into the engine and read its answer; `id` names the
/// output in progress events (bytes sent of the total).
pub async fn load<H: Host>(host: &H, engine: &Engine, layout: &Layout<'_>) -> Result<()> {
    let mut size = TarSize::default();
    layout::write_tar(&mut size, layout).await?;
    let mut stream = open(host, &engine.endpoint).await?;
    let path = format!("/v{}/images/load?quiet=0", engine.version);
    let headers = [("Content-Type", "application/x-tar"), ("Transfer-Encoding", "chunked")];
    let id = engine.endpoint.shown.clone();
    let sent = async {
        stream.request("POST", &path, &headers).await?;
        let mut body = LoadBody { host, stream: &mut stream, pending: Vec::new(), sent: 0, total: size.0, id: &id };
        layout::write_tar(&mut body, layout).await?;
        body.flush().await?;
        stream.end_chunks().await
    }
    .await;
    // Even when sending failed, the engine may have said why (it stops reading on an error).
    let answer = read_answer(&mut stream).await;
    stream.close().await;
    match (sent, answer) {
        (_, Ok(Some(refusal))) => Err(refusal),
        (Err(e), _) => Err(Error::output(format!("loading into the engine at {id}: {}", e.message))),
        (Ok(()), Ok(None)) => Ok(()),
        (Ok(()), Err(e)) => Err(e),
    }
}

/// The status and the JSON message stream of a load: None when the engine confirmed it, else its
/// refusal (an `error` in the stream, or an error status) as the error to report.
async fn read_answer<H: Host>(stream: &mut Stream<'_, H>) -> Result<Option<Error>> {
    let response = stream.response().await?;
    let body = stream.body(&response, MAX_ANSWER).await?;
    let shown = &stream.shown;
    let mut loaded = false;
    for message in serde_json::Deserializer::from_slice(&body).into_iter::<Value>() {
        let Ok(message) = message else { break };
        if let Some(error) = message.get("error").and_then(Value::as_str) {
            return Ok(Some(Error::output(format!("the engine at {shown} refused the image: {error}"))));
        }
        loaded |= message.get("stream").and_then(Value::as_str).is_some_and(|s| s.contains("Loaded image"));
    }
    if response.status != 200 {
        let text = String::from_utf8_lossy(&body);
        let message = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| text.trim().to_string());
        return Ok(Some(Error::output(format!(
            "the engine at {shown} refused the image (HTTP {}): {message}",
            response.status
        ))));
    }
    if !loaded {
        return Err(Error::output(format!(
            "the engine at {shown} did not confirm the load: {}",
            String::from_utf8_lossy(&body).trim()
        )));
    }
    Ok(None)
}

/// The request body: the docker tarball in chunks, stored blobs read and verified on the way.
struct LoadBody<'s, 'h, H: Host> {
    host: &'h H,
    stream: &'s mut Stream<'h, H>,
    pending: Vec<u8>,
    sent: u64,
    total: u64,
    id: &'s str,
}

impl<H: Host> LoadBody<'_, '_, H> {
    async fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.stream.chunk(&self.pending).await?;
        self.sent += self.pending.len() as u64;
        self.pending.clear();
        let event =
            ProgressEvent { phase: "load".into(), id: self.id.to_string(), current: self.sent, total: self.total };
        self.host.progress(event);
        Ok(())
    }
}

impl<H: Host> TarOut for LoadBody<'_, '_, H> {
    async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.pending.extend_from_slice(data);
        if self.pending.len() >= SEND_CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    async fn write_blob(&mut self, digest: &str, size: u64) -> Result<u64> {
        let mut hasher = StreamHasher::new(self.host).await?;
        let mut offset = 0;
        while offset < size {
            let want = (size - offset).min(SEND_CHUNK as u64) as u32;
            let chunk = self.host.blob_read(digest, offset, want).await?;
            if chunk.is_empty() {
                break;
            }
            hasher.update(self.host, &chunk).await?;
            offset += chunk.len() as u64;
            self.write(&chunk).await?;
        }
        let actual = hasher.finish(self.host).await?;
        if actual != digest {
            return Err(Error::store(format!("blob {digest} in the store is corrupt (its content is {actual})")));
        }
        Ok(offset)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_api_version_is_the_older_of_the_two() {
        assert_eq!(super::negotiate(Some("1.47")), "1.41");
        assert_eq!(super::negotiate(Some("1.40")), "1.40");
        assert_eq!(super::negotiate(Some("garbage")), "1.41");
        assert_eq!(super::negotiate(None), "1.41");
    }
}
