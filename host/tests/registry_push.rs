//! Pushing to a real registry (Debian's docker-registry on 127.0.0.1, plain HTTP), checked with skopeo.

mod common;

use common::*;
use serde_json::Value;

fn skopeo_inspect(registry: &Registry, reference: &str, raw: bool) -> Value {
    let target = format!("docker://{}/{reference}", registry.addr);
    let mut args = vec!["inspect", "--tls-verify=false"];
    if raw {
        args.push("--raw");
    }
    args.push(&target);
    skopeo(&args)
}

/// `#progress push <digest> 0/<size>` lines: one per blob actually uploaded.
fn uploads(out: &std::process::Output) -> usize {
    stderr(out).lines().filter(|l| l.starts_with("#progress push sha256:") && l.contains(" 0/")).count()
}

#[test]
fn push_then_repush_skips_existing_blobs() {
    let registry = Registry::start();
    let work = tempdir().unwrap();
    let spec = format!("type=registry,name={}/app:1,registry.insecure=true", registry.addr);
    let first = ok(export_tree(work.path(), &example_rootfs(), &spec, &["--progress", "plain"]));
    let meta: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(uploads(&first), 2, "config and layer: {}", stderr(&first));
    let inspect = skopeo_inspect(&registry, "app:1", false);
    assert_eq!(inspect["Digest"], meta["containerimage.digest"]);
    // skopeo copy re-verifies every digest it pulls.
    skopeo_copy(&registry.addr, "app:1", &work.path().join("pulled"));

    let second = ok(export_tree(work.path(), &example_rootfs(), &spec, &["--progress", "plain"]));
    assert_eq!(uploads(&second), 0, "nothing new to upload: {}", stderr(&second));
}

#[test]
fn multi_platform_index_with_attestations_is_pushed_whole() {
    let registry = Registry::start();
    let work = tempdir().unwrap();
    let result = two_platform_result(work.path(), &[("arch", "{arch}")]);
    std::fs::write(work.path().join("sbom.json"), "{}").unwrap();
    let sbom = format!("type=sbom,path={}", work.path().join("sbom.json").display());
    let spec = format!("type=image,push=true,name={}/multi:2,registry.insecure=true", registry.addr);
    let out =
        ok(outport(work.path(), &["export", "--result", result.to_str().unwrap(), "--attest", &sbom, "-o", &spec]));
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let raw = skopeo_inspect(&registry, "multi:2", true);
    assert_eq!(raw["manifests"].as_array().unwrap().len(), 4);
    let digest = meta["containerimage.digest"].as_str().unwrap();
    let copy = work.path().join("all");
    run(
        "skopeo",
        &[
            "copy",
            "--all",
            "--src-tls-verify=false",
            &format!("docker://{}/multi@{digest}", registry.addr),
            &format!("oci:{}:x", copy.display()),
        ],
    );
}

#[test]
fn push_by_digest_creates_no_tag() {
    let registry = Registry::start();
    let work = tempdir().unwrap();
    let spec = format!("type=registry,name={}/bydigest,push-by-digest=true,registry.insecure=true", registry.addr);
    let out = ok(export_tree(work.path(), &example_rootfs(), &spec, &[]));
    let digest =
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["containerimage.digest"].as_str().unwrap().to_string();
    skopeo_inspect(&registry, &format!("bydigest@{digest}"), true);
    let tagged = std::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", &format!("docker://{}/bydigest:latest", registry.addr)])
        .output()
        .unwrap();
    assert!(!tagged.status.success(), "no tag may exist after push-by-digest");
}

#[test]
fn https_is_required_unless_registry_insecure() {
    let registry = Registry::start();
    let work = tempdir().unwrap();
    let spec = format!("type=registry,name={}/app:1", registry.addr);
    let out = export_tree(work.path(), &example_rootfs(), &spec, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("error: push to ") && err.contains(&format!("https://{}/v2/", registry.addr)), "{err}");
}

#[test]
fn outport_push_sends_a_stored_image() {
    let registry = Registry::start();
    let work = tempdir().unwrap();
    let name = format!("{}/stored:3", registry.addr);
    let exported = ok(outport(work.path(), &["export", example_rootfs().to_str().unwrap(), "-t", &name]));
    let digest = serde_json::from_slice::<Value>(&exported.stdout).unwrap()["containerimage.digest"].clone();
    let pushed = ok(outport(work.path(), &["push", &name, "--insecure"]));
    assert_eq!(serde_json::from_slice::<Value>(&pushed.stdout).unwrap()["containerimage.digest"], digest);
    assert_eq!(skopeo_inspect(&registry, "stored:3", false)["Digest"], digest);

    let missing = outport(work.path(), &["push", &format!("{}/nope:1", registry.addr), "--insecure"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("no image named") && stderr(&missing).contains("nope:1"), "{}", stderr(&missing));
}

#[test]
fn outport_push_sends_several_stored_images_and_names_the_ones_that_failed() {
    let registry = Registry::start();
    let work = tempdir().unwrap();
    let rootfs = example_rootfs();
    let export = |name: &str, extra: &[&str]| {
        let mut args = vec!["export", rootfs.to_str().unwrap(), "-t", name];
        args.extend(extra);
        let out = ok(outport(work.path(), &args));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["containerimage.digest"].clone()
    };
    let (first, second) = (format!("{}/many:1", registry.addr), format!("{}/other:2", registry.addr));
    let digests = [export(&first, &[]), export(&second, &["--label", "two=2"])];
    assert_ne!(digests[0], digests[1]);
    let pushed = ok(outport(work.path(), &["push", &first, &second, "--insecure"]));
    // One JSON object per name, in the order given.
    let results: Vec<Value> =
        serde_json::Deserializer::from_slice(&pushed.stdout).into_iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(results.len(), 2, "{}", String::from_utf8_lossy(&pushed.stdout));
    for ((result, name), digest) in results.iter().zip([&first, &second]).zip(&digests) {
        assert_eq!(result["image.name"], name.as_str());
        assert_eq!(&result["containerimage.digest"], digest);
    }
    assert_eq!(skopeo_inspect(&registry, "many:1", false)["Digest"], digests[0]);
    assert_eq!(skopeo_inspect(&registry, "other:2", false)["Digest"], digests[1]);

    // A name not in the store: nothing is pushed, and the error names it.
    let late = format!("{}/late:1", registry.addr);
    let late_digest = export(&late, &["--label", "late=1"]);
    let nope = format!("{}/nope:1", registry.addr);
    let missing = outport(work.path(), &["push", &late, &nope, "--insecure"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains(&format!("no image named {nope} in the store")), "{}", stderr(&missing));
    assert!(stderr(&missing).contains("nothing pushed"), "{}", stderr(&missing));
    let late_target = format!("docker://{late}");
    let absent =
        std::process::Command::new("skopeo").args(["inspect", "--tls-verify=false", &late_target]).output().unwrap();
    assert!(!absent.status.success(), "late:1 was pushed although the request was refused");

    // A registry that does not answer fails its name; the next name is pushed all the same.
    let gone = "127.0.0.1:9/gone:1";
    export(gone, &[]);
    let out = outport(work.path(), &["push", gone, &late, "--insecure"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&format!("error: {gone}: push to 127.0.0.1:9/gone")), "{err}");
    assert!(err.trim_end().ends_with(&format!("error: 1 of 2 images not pushed: {gone}")), "{err}");
    let results: Vec<Value> =
        serde_json::Deserializer::from_slice(&out.stdout).into_iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["containerimage.digest"], late_digest);
    assert_eq!(skopeo_inspect(&registry, "late:1", false)["Digest"], late_digest);
}

#[test]
fn transient_failures_are_retried() {
    let registry = Registry::start();
    // 503, 500 and 429 (with Retry-After) are all passing troubles.
    for (status, retry_after) in [(503, Some(0)), (500, None), (429, Some(0))] {
        let faults = Faults { fail_first: 3, fail_status: status, retry_after, ..Faults::default() };
        let proxy = FlakyProxy::with_faults(&registry.addr, faults);
        let work = tempdir().unwrap();
        let spec = format!("type=registry,name={}/flaky:{status},registry.insecure=true", proxy.addr);
        let out = ok(export_tree(work.path(), &example_rootfs(), &spec, &["--progress", "plain"]));
        assert_eq!(proxy.failed.load(std::sync::atomic::Ordering::SeqCst), 3);
        let retries = stderr(&out).lines().filter(|l| l.starts_with("#progress retry ")).count();
        assert_eq!(retries, 3, "HTTP {status}: {}", stderr(&out));
        let digest = serde_json::from_slice::<Value>(&out.stdout).unwrap()["containerimage.digest"].clone();
        assert_eq!(skopeo_inspect(&registry, &format!("flaky:{status}"), false)["Digest"], digest);
    }
}

#[test]
fn a_registry_that_keeps_failing_gives_up_with_the_status() {
    let registry = Registry::start();
    let proxy = FlakyProxy::start(&registry.addr, usize::MAX, None);
    let work = tempdir().unwrap();
    let spec = format!("type=registry,name={}/down:1,registry.insecure=true", proxy.addr);
    let out = export_tree(work.path(), &example_rootfs(), &spec, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("answered HTTP 503"), "{}", stderr(&out));
    assert_eq!(proxy.failed.load(std::sync::atomic::Ordering::SeqCst), 5, "five attempts, then give up");
}

/// 40 MiB of incompressible bytes, a layer that needs a chunked upload, pushed uncompressed through
/// `proxy` as `name`; the export's metadata.
fn push_big(work: &std::path::Path, proxy: &FlakyProxy, name: &str) -> Value {
    use std::io::Read;
    let rootfs = work.join("big-rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    let mut noise = Vec::new();
    std::fs::File::open("/dev/urandom").unwrap().take(40 << 20).read_to_end(&mut noise).unwrap();
    std::fs::write(rootfs.join("noise.bin"), noise).unwrap();
    let spec = format!("type=registry,name={}/{name},registry.insecure=true,compression=uncompressed", proxy.addr);
    let out = ok(export_tree(work, &rootfs, &spec, &[]));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn skopeo_copy_verifies(registry: &Registry, reference: &str, work: &std::path::Path) -> Value {
    let target = work.join(format!("copy-{}", reference.replace([':', '/'], "-")));
    skopeo_copy(&registry.addr, reference, &target);
    skopeo_inspect(registry, reference, false)
}

#[test]
fn a_chunked_upload_resumes_where_the_registry_says_after_a_dropped_connection() {
    let registry = Registry::start();
    // The second chunk never reaches the registry: it reports the first chunk stored, and the upload
    // goes on from there in the same session.
    let proxy = FlakyProxy::with_faults(&registry.addr, Faults { cut_patch: Some((2, 0)), ..Faults::default() });
    let work = tempdir().unwrap();
    let meta = push_big(work.path(), &proxy, "big:1");
    // 40 MiB in 16 MiB chunks: 3 PATCHes, one of them sent twice; one upload session for the layer.
    assert_eq!(proxy.seen("PATCH "), 4, "{:?}", proxy.requests.lock().unwrap());
    assert_eq!(proxy.seen("POST "), 2, "layer and config uploads: {:?}", proxy.requests.lock().unwrap());
    assert_eq!(proxy.seen("GET /v2/big/blobs/uploads/"), 1);
    assert_eq!(skopeo_copy_verifies(&registry, "big:1", work.path())["Digest"], meta["containerimage.digest"]);
}

#[test]
fn a_chunked_upload_the_registry_gave_up_on_starts_over() {
    let registry = Registry::start();
    // Half of the second chunk reaches Distribution, which then cancels the session (its size no
    // longer matches the client's state): the upload must begin again and still end with the right blob.
    let faults = Faults { cut_patch: Some((2, 8 << 20)), ..Faults::default() };
    let proxy = FlakyProxy::with_faults(&registry.addr, faults);
    let work = tempdir().unwrap();
    let meta = push_big(work.path(), &proxy, "big:2");
    assert_eq!(proxy.seen("POST "), 3, "a second session for the layer: {:?}", proxy.requests.lock().unwrap());
    assert_eq!(skopeo_copy_verifies(&registry, "big:2", work.path())["Digest"], meta["containerimage.digest"]);
}

#[test]
fn a_second_name_on_the_same_registry_mounts_the_blobs_instead_of_uploading() {
    let registry = Registry::start();
    let proxy = FlakyProxy::with_faults(&registry.addr, Faults::default()); // only logs requests
    let work = tempdir().unwrap();
    let spec = format!("type=registry,\"name={0}/first:1,{0}/second:1\",registry.insecure=true", proxy.addr);
    let out = ok(export_tree(work.path(), &example_rootfs(), &spec, &[]));
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let requests = proxy.requests.lock().unwrap().clone();
    let mounts = requests
        .iter()
        .filter(|l| l.starts_with("POST /v2/second/blobs/uploads/?mount=sha256") && l.contains("from=first"));
    assert_eq!(mounts.count(), 2, "config and layer mounted: {requests:?}");
    assert!(!requests.iter().any(|l| l.starts_with("PUT /v2/second/blobs/uploads/")), "nothing uploaded: {requests:?}");
    for repo in ["first:1", "second:1"] {
        assert_eq!(skopeo_copy_verifies(&registry, repo, work.path())["Digest"], meta["containerimage.digest"]);
    }
}

#[test]
fn blobs_upload_concurrently() {
    let registry = Registry::start();
    let hold = Some(std::time::Duration::from_millis(300));
    let proxy = FlakyProxy::with_faults(&registry.addr, Faults { hold_uploads: hold, ..Faults::default() });
    let work = tempdir().unwrap();
    // Two platforms: two layers and two configs, all independent uploads.
    let result = two_platform_result(work.path(), &[("a.txt", "a"), ("b.txt", "b")]);
    let spec = format!("type=registry,name={}/multi:1,registry.insecure=true", proxy.addr);
    let out = ok(outport(work.path(), &["export", "--result", result.to_str().unwrap(), "-o", &spec]));
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(proxy.max_concurrent_uploads() >= 2, "uploads never overlapped: {:?}", proxy.requests.lock().unwrap());
    assert_eq!(skopeo_copy_verifies(&registry, "multi:1", work.path())["Digest"], meta["containerimage.digest"]);
}
