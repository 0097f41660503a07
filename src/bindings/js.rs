//! wasm-bindgen glue: the core as a JS function `run(host, requestJson)`. `host` is a JS object whose
//! methods mirror `crate::host::Host` in camelCase; each may return a value or a Promise. Bytes
//! cross as Uint8Array; a host failure is thrown as `{ kind, message }`.

use crate::error::{Error, ErrorKind, Result, Transport};
use crate::host::{
    Credential, DockerConfig, EntryKind, Handle, HelperReply, Host, HttpBody, HttpRequest, HttpResponse, ProgressEvent,
    SourceEntry,
};
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Run one export request (JSON) against a JS host; resolves to the response JSON.
#[wasm_bindgen]
pub async fn run(host: JsValue, request: String) -> std::result::Result<String, JsValue> {
    crate::run_json(&JsHost(host), &request).await.map_err(to_js_error)
}

/// The images in the local store as JSON: [{name, digest, mediaType, size}].
#[wasm_bindgen]
pub async fn images(host: JsValue) -> std::result::Result<String, JsValue> {
    crate::images_json(&JsHost(host)).await.map_err(to_js_error)
}

/// `outport store verify`: resolves to JSON {blobs, bytes, images, problems}.
#[wasm_bindgen(js_name = storeVerify)]
pub async fn store_verify(host: JsValue) -> std::result::Result<String, JsValue> {
    crate::store_verify_json(&JsHost(host)).await.map_err(to_js_error)
}

/// `outport store gc`: resolves to JSON {images, kept, removed, freed}.
#[wasm_bindgen(js_name = storeGc)]
pub async fn store_gc(host: JsValue) -> std::result::Result<String, JsValue> {
    crate::store_gc_json(&JsHost(host)).await.map_err(to_js_error)
}

/// `outport rm NAME…`: `request` is JSON {names}; resolves to JSON {removed}.
#[wasm_bindgen(js_name = removeNames)]
pub async fn remove_names(host: JsValue, request: String) -> std::result::Result<String, JsValue> {
    crate::remove_json(&JsHost(host), &request).await.map_err(to_js_error)
}

/// Push a stored image: `request` is JSON {name, insecure, byDigest}; resolves to metadata JSON.
#[wasm_bindgen]
pub async fn push(host: JsValue, request: String) -> std::result::Result<String, JsValue> {
    crate::push_json(&JsHost(host), &request).await.map_err(to_js_error)
}

/// The command line (src/cli): `args` without the program name, `env` an object of the variables
/// named by `parseArgsEnv()`; returns JSON {command, request, host} or {command: "help", help}, or
/// throws `{ kind: "invalid-option", message }` for a usage error (CLIs exit 2).
#[wasm_bindgen(js_name = parseArgs)]
pub fn parse_args(args: Vec<String>, env: JsValue) -> std::result::Result<String, JsValue> {
    let mut pairs = Vec::new();
    for name in crate::cli::ENV {
        if let Some(value) = Reflect::get(&env, &JsValue::from_str(name)).ok().and_then(|v| v.as_string()) {
            pairs.push((name.to_string(), value));
        }
    }
    crate::cli::parse_args_json(&args, &pairs).map_err(to_js_error)
}

/// The names of the environment variables `parseArgs` reads.
#[wasm_bindgen(js_name = parseArgsEnv)]
pub fn parse_args_env() -> Vec<String> {
    crate::cli::ENV.iter().map(|s| s.to_string()).collect()
}

thread_local! {
    /// The last compressed piece, which `compressPiece` returns a view of.
    static COMPRESSED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Compress one piece of a layer (src/compress/piece.rs); worker threads run this for the host's
/// `compressStart`. Pure: the same piece gives the same bytes anywhere. The result is a view into
/// this instance's memory, valid until the next call into it: the caller copies it out (into
/// memory it reuses), so no buffer is allocated per piece to wait for the garbage collector.
#[wasm_bindgen(js_name = compressPiece)]
pub fn compress_piece(
    algorithm: String,
    level: u8,
    input: Vec<u8>,
    start: usize,
    last: bool,
) -> std::result::Result<Uint8Array, JsValue> {
    // The previous result was copied out before this call: its memory serves this piece.
    COMPRESSED.with(|kept| std::mem::take(&mut *kept.borrow_mut()));
    let piece = crate::compress::piece::Piece::from_parts(&algorithm, level, input, start, last)
        .ok_or_else(|| JsValue::from_str(&format!("unknown piece compression {algorithm} level {level}")))?;
    let compressed = crate::compress::piece::compress_piece(&piece);
    drop(piece);
    Ok(COMPRESSED.with(|kept| {
        let mut kept = kept.borrow_mut();
        *kept = compressed;
        // SAFETY: the view is returned straight to JS, which copies it before calling into this
        // instance again (nothing here allocates after it is made).
        unsafe { Uint8Array::view(&kept) }
    }))
}

fn to_js_error(e: Error) -> JsValue {
    let error = js_sys::Error::new(&e.message);
    let _ = Reflect::set(&error, &"kind".into(), &e.kind.as_str().into());
    error.into()
}

struct JsHost(JsValue);

impl JsHost {
    /// Call `host[method](...args)`, awaiting the result if it is a Promise.
    async fn call(&self, method: &str, args: &[JsValue]) -> Result<JsValue> {
        let function =
            self.method(method).ok_or_else(|| Error::internal(format!("the JS host has no method {method}")))?;
        let value = function.apply(&self.0, &args.iter().collect::<Array>()).map_err(|e| thrown(method, e))?;
        match value.dyn_into::<Promise>() {
            Ok(promise) => JsFuture::from(promise).await.map_err(|e| thrown(method, e)),
            Err(value) => Ok(value),
        }
    }

    /// `host[name]` if it is a function (optional methods may be missing).
    fn method(&self, name: &str) -> Option<Function> {
        Reflect::get(&self.0, &name.into()).ok().and_then(|f| f.dyn_into::<Function>().ok())
    }

    /// Calls whose failure the core cannot act on (close, abort) report nothing.
    async fn call_quietly(&self, method: &str, args: &[JsValue]) {
        let _ = self.call(method, args).await;
    }
}

/// A thrown JS value as a core error: `{ kind, message }` objects keep their kind (and a failed
/// httpSend its `transport`: 'dns', 'connect', 'timeout', 'reset', 'certificate', 'plain-http', 'tls' or 'other');
/// anything else (a bug in the host, a thrown string) is internal and names the method.
fn thrown(method: &str, e: JsValue) -> Error {
    let field = |k: &str| Reflect::get(&e, &k.into()).ok().and_then(|v| v.as_string());
    match (field("kind"), field("message"), field("transport")) {
        (Some(_), Some(message), Some(transport)) if method == "httpSend" => {
            Error::transport(Transport::parse(&transport), message)
        }
        (Some(kind), Some(message), _) => Error::new(ErrorKind::parse(&kind), message),
        (None, Some(message), _) => Error::internal(format!("host {method}: {message}")),
        _ => Error::internal(format!("host {method} failed: {}", e.as_string().unwrap_or_else(|| format!("{e:?}")))),
    }
}

fn bytes(data: &[u8]) -> JsValue {
    Uint8Array::from(data).into()
}

/// `data` as a view of the core's memory, for the hot host calls whose contract says the host
/// copies (or writes) the bytes before it returns: blobWrite and outputWrite carry every layer's
/// bytes, and a JS copy of each chunk would only wait for the garbage collector.
fn view(data: &[u8]) -> JsValue {
    // SAFETY: the view is passed straight to the host call and not kept by the core; nothing in the
    // core runs (or grows its memory) until that call returns.
    unsafe { Uint8Array::view(data) }.into()
}

fn to_bytes(method: &str, field: &str, v: &JsValue) -> Result<Vec<u8>> {
    v.dyn_ref::<Uint8Array>()
        .map(Uint8Array::to_vec)
        .ok_or_else(|| Error::internal(format!("host {method}: {field} is not a Uint8Array")))
}

/// Past 2^53 a JS number is no longer exact, so larger values must come as BigInt.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// A whole number from a JS number or BigInt, in range for the Rust type it becomes.
fn number<T: TryFrom<i128>>(method: &str, field: &str, v: &JsValue) -> Result<T> {
    let whole = match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER => Some(f as i128),
        Some(_) => None,
        None => i128::try_from(v.clone()).ok(),
    };
    whole
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| Error::internal(format!("host {method}: {field} is not a whole number in range")))
}

fn get(method: &str, obj: &JsValue, field: &str) -> Result<JsValue> {
    Reflect::get(obj, &field.into()).map_err(|_| Error::internal(format!("host {method}: the answer has no {field}")))
}

/// The string `field` of a returned object.
fn string_field(method: &str, obj: &JsValue, field: &str) -> Result<String> {
    get(method, obj, field)?
        .as_string()
        .ok_or_else(|| Error::internal(format!("host {method}: {field} is not a string")))
}

/// The numeric `field` of a returned object.
fn number_field<T: TryFrom<i128>>(method: &str, obj: &JsValue, field: &str) -> Result<T> {
    number(method, field, &get(method, obj, field)?)
}

fn entry(method: &str, obj: &JsValue) -> Result<SourceEntry> {
    let kind = match get(method, obj, "kind")?.as_string().as_deref() {
        Some("regular") => EntryKind::Regular,
        Some("directory") => EntryKind::Directory,
        Some("symlink") => EntryKind::Symlink,
        Some("char-device") => EntryKind::CharDevice,
        Some("block-device") => EntryKind::BlockDevice,
        Some("fifo") => EntryKind::Fifo,
        Some("socket") => EntryKind::Socket,
        other => return Err(Error::internal(format!("host {method}: unknown entry kind {other:?}"))),
    };
    Ok(SourceEntry {
        name: to_bytes(method, "name", &get(method, obj, "name")?)?,
        kind,
        mode: number_field(method, obj, "mode")?,
        uid: number_field(method, obj, "uid")?,
        gid: number_field(method, obj, "gid")?,
        size: number_field(method, obj, "size")?,
        mtime: number_field(method, obj, "mtime")?,
        link_target: to_bytes(method, "linkTarget", &get(method, obj, "linkTarget")?)?,
        dev_major: number_field(method, obj, "devMajor")?,
        dev_minor: number_field(method, obj, "devMinor")?,
        device: number_field(method, obj, "device")?,
        inode: number_field(method, obj, "inode")?,
        nlink: number_field(method, obj, "nlink")?,
        // Optional: a host that cannot tell (or an embedder's own) leaves it out, 0.
        change_time_ns: match get(method, obj, "changeTimeNs")? {
            v if v.is_undefined() || v.is_null() => 0,
            v => number(method, "changeTimeNs", &v)?,
        },
    })
}

fn optional_bytes(method: &str, v: &JsValue) -> Result<Option<Vec<u8>>> {
    if v.is_null() || v.is_undefined() {
        return Ok(None);
    }
    to_bytes(method, "result", v).map(Some)
}

fn handle(method: &str, v: &JsValue) -> Result<Handle> {
    number(method, "handle", v)
}

fn optional_size(method: &str, v: &JsValue) -> Result<Option<u64>> {
    if v.is_null() || v.is_undefined() {
        return Ok(None);
    }
    number(method, "size", v).map(Some)
}

impl Host for JsHost {
    async fn source_stat(&self, path: &[u8]) -> Result<SourceEntry> {
        entry("sourceStat", &self.call("sourceStat", &[bytes(path)]).await?)
    }
    async fn source_read_dir(&self, path: &[u8]) -> Result<Vec<SourceEntry>> {
        let list = self.call("sourceReadDir", &[bytes(path)]).await?;
        let list =
            list.dyn_ref::<Array>().ok_or_else(|| Error::internal("host sourceReadDir did not return an array"))?;
        list.iter().map(|e| entry("sourceReadDir", &e)).collect()
    }
    async fn source_open(&self, path: &[u8]) -> Result<Handle> {
        handle("sourceOpen", &self.call("sourceOpen", &[bytes(path)]).await?)
    }
    async fn source_read(&self, h: Handle, max: u32) -> Result<Vec<u8>> {
        to_bytes("sourceRead", "result", &self.call("sourceRead", &[h.into(), max.into()]).await?)
    }
    async fn source_close(&self, h: Handle) {
        self.call_quietly("sourceClose", &[h.into()]).await
    }

    async fn blob_size(&self, digest: &str) -> Result<Option<u64>> {
        optional_size("blobSize", &self.call("blobSize", &[digest.into()]).await?)
    }
    async fn blob_create(&self) -> Result<Handle> {
        handle("blobCreate", &self.call("blobCreate", &[]).await?)
    }
    async fn blob_write(&self, h: Handle, data: &[u8]) -> Result<()> {
        self.call("blobWrite", &[h.into(), view(data)]).await.map(drop)
    }
    async fn blob_commit(&self, h: Handle, digest: &str) -> Result<()> {
        self.call("blobCommit", &[h.into(), digest.into()]).await.map(drop)
    }
    async fn blob_abort(&self, h: Handle) {
        self.call_quietly("blobAbort", &[h.into()]).await
    }
    async fn blob_read(&self, digest: &str, offset: u64, max: u32) -> Result<Vec<u8>> {
        let data = self.call("blobRead", &[digest.into(), (offset as f64).into(), max.into()]).await?;
        to_bytes("blobRead", "result", &data)
    }

    /// Optional for embedders: without `blobDigest` the core hashes the blob itself.
    async fn blob_digest(&self, digest: &str) -> Result<Option<String>> {
        if self.method("blobDigest").is_none() {
            return crate::host::hash_stored_blob(self, digest).await;
        }
        let v = self.call("blobDigest", &[digest.into()]).await?;
        if v.is_null() || v.is_undefined() {
            return Ok(None);
        }
        v.as_string().map(Some).ok_or_else(|| Error::internal("host blobDigest did not return a string"))
    }
    async fn blob_list(&self) -> Result<Vec<String>> {
        let v = self.call("blobList", &[]).await?;
        let bad = || Error::internal("host blobList: result is not an array of strings");
        let list = v.dyn_ref::<Array>().ok_or_else(bad)?;
        list.iter().map(|item| item.as_string().ok_or_else(bad)).collect()
    }
    async fn blob_remove(&self, digest: &str) -> Result<()> {
        self.call("blobRemove", &[digest.into()]).await.map(drop)
    }
    async fn cache_read(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let v = self.call("cacheRead", &[key.into()]).await?;
        optional_bytes("cacheRead", &v)
    }
    async fn cache_write(&self, key: &str, data: &[u8]) -> Result<()> {
        self.call("cacheWrite", &[key.into(), bytes(data)]).await.map(drop)
    }

    async fn store_index_read(&self) -> Result<Option<Vec<u8>>> {
        let v = self.call("storeIndexRead", &[]).await?;
        optional_bytes("storeIndexRead", &v)
    }
    async fn store_index_write(&self, data: &[u8]) -> Result<()> {
        self.call("storeIndexWrite", &[bytes(data)]).await.map(drop)
    }

    async fn store_unpack_dir(&self, digest: &str) -> Result<String> {
        let v = self.call("storeUnpackDir", &[digest.into()]).await?;
        v.as_string().ok_or_else(|| Error::internal("host storeUnpackDir did not return a string"))
    }
    async fn output_open(&self, path: &str) -> Result<Handle> {
        handle("outputOpen", &self.call("outputOpen", &[path.into()]).await?)
    }
    async fn output_write(&self, h: Handle, data: &[u8]) -> Result<()> {
        self.call("outputWrite", &[h.into(), view(data)]).await.map(drop)
    }
    async fn output_write_blob(&self, h: Handle, digest: &str) -> Result<u64> {
        number("outputWriteBlob", "result", &self.call("outputWriteBlob", &[h.into(), digest.into()]).await?)
    }
    /// Optional for embedders: without `outputPlaceBlob` the blob is copied through an output.
    async fn output_place_blob(&self, path: &str, digest: &str) -> Result<u64> {
        if self.method("outputPlaceBlob").is_none() {
            return crate::host::copy_stored_blob(self, path, digest).await;
        }
        number("outputPlaceBlob", "result", &self.call("outputPlaceBlob", &[path.into(), digest.into()]).await?)
    }
    /// Optional: a host without `engineConnect` cannot load into engines.
    async fn engine_connect(&self, scheme: &str, address: &str, cert_dir: Option<&str>) -> Result<Handle> {
        if self.method("engineConnect").is_none() {
            return Err(Error::output(format!("this host cannot connect to Docker engines ({scheme}://{address})")));
        }
        let cert: JsValue = cert_dir.map_or(JsValue::NULL, JsValue::from);
        handle("engineConnect", &self.call("engineConnect", &[scheme.into(), address.into(), cert]).await?)
    }
    async fn engine_write(&self, h: Handle, data: &[u8]) -> Result<()> {
        self.call("engineWrite", &[h.into(), view(data)]).await.map(drop)
    }
    async fn engine_read(&self, h: Handle, max: u32) -> Result<Vec<u8>> {
        let v = self.call("engineRead", &[h.into(), max.into()]).await?;
        v.dyn_into::<Uint8Array>()
            .map(|a| a.to_vec())
            .map_err(|_| Error::internal("host engineRead did not return a Uint8Array"))
    }
    async fn engine_close(&self, h: Handle) {
        self.call_quietly("engineClose", &[h.into()]).await
    }
    /// Optional: `[[path, size], …]`.
    async fn store_temporaries(&self, remove: bool) -> Result<Vec<(String, u64)>> {
        if self.method("storeTemporaries").is_none() {
            return Ok(Vec::new());
        }
        let v = self.call("storeTemporaries", &[remove.into()]).await?;
        let bad = || Error::internal("host storeTemporaries did not return [[path, size], …]");
        let list = v.dyn_ref::<Array>().ok_or_else(bad)?;
        let pair = |item: JsValue| -> Option<(String, u64)> {
            let item = item.dyn_into::<Array>().ok()?;
            Some((item.get(0).as_string()?, number::<u64>("storeTemporaries", "size", &item.get(1)).ok()?))
        };
        list.iter().map(|item| pair(item).ok_or_else(bad)).collect()
    }
    /// Optional for embedders: without `outputStageDir` directory outputs are written in place.
    async fn output_stage_dir(&self, path: &str) -> Result<Option<String>> {
        if self.method("outputStageDir").is_none() {
            return Ok(None);
        }
        let v = self.call("outputStageDir", &[path.into()]).await?;
        v.as_string().map(Some).ok_or_else(|| Error::internal("host outputStageDir did not return a string"))
    }
    async fn output_move(&self, from: &str, to: &str, into_link: bool) -> Result<bool> {
        let v = self.call("outputMove", &[from.into(), to.into(), into_link.into()]).await?;
        v.as_bool().ok_or_else(|| Error::internal("host outputMove did not return a boolean"))
    }
    /// Optional: `[device, inode]` or null.
    async fn output_identity(&self, path: &str) -> Option<(u64, u64)> {
        self.method("outputIdentity")?;
        let v = self.call("outputIdentity", &[path.into()]).await.ok()?;
        let pair = v.dyn_into::<Array>().ok()?;
        let device = number::<u64>("outputIdentity", "device", &pair.get(0)).ok()?;
        let inode = number::<u64>("outputIdentity", "inode", &pair.get(1)).ok()?;
        Some((device, inode))
    }
    async fn output_commit(&self, h: Handle) -> Result<()> {
        self.call("outputCommit", &[h.into()]).await.map(drop)
    }
    async fn output_abort(&self, h: Handle) {
        self.call_quietly("outputAbort", &[h.into()]).await
    }
    async fn output_mkdir(&self, path: &str) -> Result<()> {
        self.call("outputMkdir", &[path.into()]).await.map(drop)
    }
    async fn output_read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let v = self.call("outputRead", &[path.into()]).await?;
        optional_bytes("outputRead", &v)
    }

    async fn output_create_dir(&self, path: &str) -> Result<()> {
        self.call("outputCreateDir", &[path.into()]).await.map(drop)
    }
    async fn output_symlink(&self, path: &str, target: &[u8]) -> Result<()> {
        self.call("outputSymlink", &[path.into(), bytes(target)]).await.map(drop)
    }
    async fn output_hardlink(&self, path: &str, target: &str) -> Result<()> {
        self.call("outputHardlink", &[path.into(), target.into()]).await.map(drop)
    }
    async fn output_list_dir(&self, path: &str) -> Result<Option<Vec<(String, bool)>>> {
        let v = self.call("outputListDir", &[path.into()]).await?;
        if v.is_null() || v.is_undefined() {
            return Ok(None);
        }
        let bad = || Error::internal("host outputListDir did not return [[name, isDir], …]");
        let list = v.dyn_ref::<Array>().ok_or_else(bad)?;
        let pair = |item: JsValue| -> Option<(String, bool)> {
            let item = item.dyn_into::<Array>().ok()?;
            Some((item.get(0).as_string()?, item.get(1).as_bool()?))
        };
        list.iter().map(|item| pair(item).ok_or_else(bad)).collect::<Result<Vec<_>>>().map(Some)
    }
    async fn output_remove(&self, path: &str) -> Result<()> {
        self.call("outputRemove", &[path.into()]).await.map(drop)
    }
    async fn output_set_attributes(&self, path: &str, mode: u32, uid: u32, gid: u32, mtime: i64) -> Result<()> {
        let args = [path.into(), mode.into(), uid.into(), gid.into(), (mtime as f64).into()];
        self.call("outputSetAttributes", &args).await.map(drop)
    }
    /// `httpSend({method, url, headers: [[k, v]…], body: null | Uint8Array | {blob: digest}}, maxBody)`
    /// resolves to `{status, headers: [[k, v]…], body: Uint8Array}`.
    async fn http_send(&self, request: HttpRequest, max_body: u32) -> Result<HttpResponse> {
        let pairs = |list: &[(String, String)]| -> Array {
            list.iter()
                .map(|(k, v)| -> JsValue { [JsValue::from(k), JsValue::from(v)].iter().collect::<Array>().into() })
                .collect()
        };
        let obj = Object::new();
        let set = |k: &str, v: JsValue| {
            let _ = Reflect::set(&obj, &k.into(), &v);
        };
        set("method", request.method.into());
        set("url", request.url.into());
        set("headers", pairs(&request.headers).into());
        set("insecure", request.insecure.into());
        set(
            "body",
            match &request.body {
                HttpBody::Empty => JsValue::NULL,
                HttpBody::Bytes(b) => bytes(b),
                HttpBody::Blob { digest, offset, length } => {
                    // JS numbers hold offsets and lengths exactly up to 2^53 bytes.
                    let blob = Object::new();
                    let _ = Reflect::set(&blob, &"blob".into(), &digest.into());
                    let _ = Reflect::set(&blob, &"offset".into(), &(*offset as f64).into());
                    let _ = Reflect::set(&blob, &"length".into(), &(*length as f64).into());
                    blob.into()
                }
            },
        );
        let response = self.call("httpSend", &[obj.into(), max_body.into()]).await?;
        let status = number_field("httpSend", &response, "status")?;
        let headers = get("httpSend", &response, "headers")?;
        let headers =
            headers.dyn_ref::<Array>().ok_or_else(|| Error::internal("host httpSend: headers is not an array"))?;
        let headers = headers
            .iter()
            .map(|pair| {
                let pair = pair.dyn_into::<Array>().ok()?;
                Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::internal("host httpSend: headers must be [name, value] pairs"))?;
        let body = to_bytes("httpSend", "body", &get("httpSend", &response, "body")?)?;
        Ok(HttpResponse { status, headers, body })
    }

    /// `credentials(registry, forPush)` resolves to null or `{username, password, identityToken?}`.
    async fn credentials(&self, registry: &str, for_push: bool) -> Result<Option<Credential>> {
        let found = self.call("credentials", &[registry.into(), for_push.into()]).await?;
        if found.is_null() || found.is_undefined() {
            return Ok(None);
        }
        let text = |field: &str| -> Result<Option<String>> {
            let v = get("credentials", &found, field)?;
            match v.as_string() {
                Some(s) => Ok(Some(s)),
                None if v.is_null() || v.is_undefined() => Ok(None),
                None => Err(Error::internal(format!("host credentials: {field} is not a string"))),
            }
        };
        Ok(Some(Credential {
            username: text("username")?.unwrap_or_default(),
            password: text("password")?.unwrap_or_default(),
            identity_token: text("identityToken")?.filter(|t| !t.is_empty()),
        }))
    }

    /// Optional for embedders: `dockerConfig()` resolves to null or `{path, text}` (config.json
    /// unparsed); without it the core finds no docker config.
    async fn docker_config(&self) -> Result<Option<DockerConfig>> {
        if self.method("dockerConfig").is_none() {
            return Ok(None);
        }
        let found = self.call("dockerConfig", &[]).await?;
        if found.is_null() || found.is_undefined() {
            return Ok(None);
        }
        Ok(Some(DockerConfig {
            path: string_field("dockerConfig", &found, "path")?,
            text: string_field("dockerConfig", &found, "text")?,
        }))
    }

    /// Optional for embedders: `credentialHelper(name, server)` resolves to `{success, status,
    /// stdout}` (`docker-credential-NAME get` run with `server` on stdin).
    async fn credential_helper(&self, name: &str, server: &str) -> Result<HelperReply> {
        if self.method("credentialHelper").is_none() {
            return Err(Error::new(ErrorKind::Auth, "this host cannot run credential helpers"));
        }
        let reply = self.call("credentialHelper", &[name.into(), server.into()]).await?;
        let success = get("credentialHelper", &reply, "success")?
            .as_bool()
            .ok_or_else(|| Error::internal("host credentialHelper: success is not a boolean"))?;
        Ok(HelperReply {
            success,
            status: string_field("credentialHelper", &reply, "status")?,
            stdout: string_field("credentialHelper", &reply, "stdout")?,
        })
    }

    /// Optional for embedders: without `hashStart` the core hashes layer streams itself.
    async fn hash_start(&self) -> Result<Option<Handle>> {
        if self.method("hashStart").is_none() {
            return Ok(None);
        }
        handle("hashStart", &self.call("hashStart", &[]).await?).map(Some)
    }
    async fn hash_update(&self, h: Handle, data: &[u8]) -> Result<()> {
        self.call("hashUpdate", &[h.into(), view(data)]).await.map(drop)
    }
    async fn hash_finish(&self, h: Handle) -> Result<String> {
        let v = self.call("hashFinish", &[h.into()]).await?;
        v.as_string().ok_or_else(|| Error::internal("host hashFinish did not return a string"))
    }
    /// Optional for embedders: a host without `compressThreads` compresses in the core.
    fn compress_threads(&self) -> u32 {
        let Some(function) = self.method("compressThreads") else {
            return 0;
        };
        function.call0(&self.0).ok().and_then(|v| v.as_f64()).map_or(0, |n| n.clamp(0.0, 256.0) as u32)
    }
    async fn compress_start(&self, piece: crate::compress::piece::Piece) -> Result<Handle> {
        let (algorithm, level) = piece.algorithm();
        let job = Object::new();
        let fields = [
            ("algorithm", JsValue::from(algorithm)),
            ("level", level.into()),
            ("start", (piece.start as u32).into()),
            ("last", piece.last.into()),
        ];
        for (key, value) in fields {
            Reflect::set(&job, &key.into(), &value).map_err(|e| thrown("compressStart", e))?;
        }
        // A view into the core's memory, made last so that nothing grows the memory before the host
        // has copied it (as `compressStart` must, before it returns): a piece is megabytes, and a
        // copy per piece would wait for the garbage collector.
        // SAFETY: the piece outlives the call, and nothing in the core runs until it returns.
        let input = unsafe { Uint8Array::view(&piece.input) };
        Reflect::set(&job, &"input".into(), &input).map_err(|e| thrown("compressStart", e))?;
        let started = self.call("compressStart", &[job.into()]).await?;
        handle("compressStart", &started)
    }
    async fn compress_wait(&self, h: Handle) -> Result<Vec<u8>> {
        to_bytes("compressWait", "result", &self.call("compressWait", &[h.into()]).await?)
    }
    async fn sleep(&self, milliseconds: u32) {
        self.call_quietly("sleep", &[milliseconds.into()]).await
    }

    fn progress(&self, event: ProgressEvent) {
        let obj = Object::new();
        let set = |k: &str, v: JsValue| {
            let _ = Reflect::set(&obj, &k.into(), &v);
        };
        set("phase", event.phase.into());
        set("id", event.id.into());
        set("current", (event.current as f64).into());
        set("total", (event.total as f64).into());
        // Progress is fire-and-forget: a failing callback must not fail the export.
        if let Some(f) = self.method("progress") {
            let _ = f.call1(&self.0, &obj);
        }
    }
}
