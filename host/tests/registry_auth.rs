//! Pushing to registries that need TLS and a login: Distribution with htpasswd (Basic) and with token
//! auth (Bearer, a real token server), credentials from --creds, the environment, docker's config.json
//! and a credential helper. Every push is checked with skopeo; secrets never show up in any output.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

fn push(work: &Path, registry: &AuthRegistry, reference: &str, extra: &[&str]) -> Output {
    let spec = format!("type=registry,name={}/{reference}", registry.addr);
    let mut args = vec!["--progress", "json"];
    args.extend_from_slice(extra);
    export_tree(work, &example_rootfs(), &spec, &args)
}

/// skopeo, verifying the registry's certificate against the test CA and logging in itself.
fn skopeo_digest(registry: &AuthRegistry, reference: &str) -> Value {
    let cert_dir = registry.cert_dir.to_str().unwrap();
    let target = format!("docker://{}/{reference}", registry.addr);
    let inspect: Value = serde_json::from_str(&run(
        "skopeo",
        &["inspect", "--cert-dir", cert_dir, "--creds", &registry.creds(), &target],
    ))
    .unwrap();
    inspect["Digest"].clone()
}

fn pushed_digest(out: &Output) -> Value {
    let metadata: Value = serde_json::from_slice(&out.stdout).unwrap();
    metadata["containerimage.digest"].clone()
}

/// No secret of the test registry in anything the CLI printed.
fn assert_no_secret(registry: &AuthRegistry, out: &Output) {
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(out));
    for secret in [&registry.password, &registry.refresh_token] {
        assert!(!all.contains(secret.as_str()), "a secret leaked into the output:\n{all}");
    }
    assert!(!all.contains("Basic ") && !all.contains("Bearer ey"), "an Authorization value leaked:\n{all}");
}

fn write_docker_config(work: &Path, config: Value) {
    fs::create_dir_all(work.join("docker")).unwrap();
    fs::write(work.join("docker/config.json"), config.to_string()).unwrap();
}

#[test]
fn tls_is_verified_against_the_system_roots_and_registry_ca() {
    let registry = AuthRegistry::start("basic");
    let work = tempdir().unwrap();
    let out = push(work.path(), &registry, "app:1", &["--creds", &registry.creds()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&registry.addr) && err.contains("certificate"), "{err}");
    assert_no_secret(&registry, &out);

    // registry.insecure=true accepts the unknown certificate for this registry only.
    let spec = format!("type=registry,name={}/app:insecure,registry.insecure=true", registry.addr);
    let insecure = ok(export_tree(work.path(), &example_rootfs(), &spec, &["--creds", &registry.creds()]));
    assert_eq!(pushed_digest(&insecure), skopeo_digest(&registry, "app:insecure"));

    // A CA file that is not PEM is refused up front, naming the flag.
    fs::write(work.path().join("bad.pem"), "not a certificate").unwrap();
    let bad = push(work.path(), &registry, "app:1", &["--registry-ca", work.path().join("bad.pem").to_str().unwrap()]);
    assert!(stderr(&bad).contains("--registry-ca") && stderr(&bad).contains("bad.pem"), "{}", stderr(&bad));
}

#[test]
fn basic_auth_push_with_creds_flag_and_environment() {
    let registry = AuthRegistry::start("basic");
    let work = tempdir().unwrap();
    let ca = registry.ca.to_str().unwrap();
    let out = ok(push(work.path(), &registry, "app:1", &["--registry-ca", ca, "--creds", &registry.creds()]));
    assert_eq!(pushed_digest(&out), skopeo_digest(&registry, "app:1"));
    assert_no_secret(&registry, &out);

    let spec = format!("type=registry,name={}/app:env", registry.addr);
    let from_env =
        outport_command(work.path(), &["export", example_rootfs().to_str().unwrap(), "-o", &spec, "--registry-ca", ca])
            .env("OUTPORT_REGISTRY_USER", &registry.user)
            .env("OUTPORT_REGISTRY_TOKEN", &registry.password)
            .output()
            .unwrap();
    assert_eq!(pushed_digest(&ok(from_env)), skopeo_digest(&registry, "app:env"));

    // `outport push` of a stored image takes the same flags.
    let name = format!("{}/app:stored", registry.addr);
    ok(export_tree(work.path(), &example_rootfs(), &format!("type=image,name={name}"), &[]));
    let pushed = ok(outport(work.path(), &["push", &name, "--registry-ca", ca, "--creds", &registry.creds()]));
    assert_eq!(pushed_digest(&pushed), skopeo_digest(&registry, "app:stored"));
}

#[test]
fn missing_or_wrong_credentials_are_clear_errors_without_the_secret() {
    let registry = AuthRegistry::start("basic");
    let work = tempdir().unwrap();
    let ca = registry.ca.to_str().unwrap();
    let none = push(work.path(), &registry, "app:1", &["--registry-ca", ca]);
    assert_eq!(none.status.code(), Some(1));
    assert!(stderr(&none).contains(&format!("no credentials for {}", registry.addr)), "{}", stderr(&none));

    let wrong = format!("{}:wrong-secret-never-logged", registry.user);
    let rejected = push(work.path(), &registry, "app:1", &["--registry-ca", ca, "--creds", &wrong]);
    assert_eq!(rejected.status.code(), Some(1));
    let err = stderr(&rejected);
    assert!(err.contains(&format!("the credentials for {} were rejected", registry.addr)), "{err}");
    assert!(!err.contains("wrong-secret-never-logged"), "{err}");
}

#[test]
fn docker_config_auths_entry_logs_in() {
    let registry = AuthRegistry::start("basic");
    let work = tempdir().unwrap();
    // docker login writes base64(USER:SECRET); the key may carry a scheme.
    let auth = run("sh", &["-c", &format!("printf %s '{}' | base64 -w0", registry.creds())]);
    write_docker_config(
        work.path(),
        serde_json::json!({"auths": {format!("https://{}", registry.addr): {"auth": auth}}}),
    );
    let out = ok(push(work.path(), &registry, "app:cfg", &["--registry-ca", registry.ca.to_str().unwrap()]));
    assert_eq!(pushed_digest(&out), skopeo_digest(&registry, "app:cfg"));
    assert_no_secret(&registry, &out);
}

#[test]
fn credential_helper_is_asked_for_the_registry() {
    let registry = AuthRegistry::start("basic");
    let work = tempdir().unwrap();
    let bin = work.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let asked = work.path().join("asked");
    // A helper speaking docker's protocol: `get`, the server on stdin, JSON on stdout.
    let helper = bin.join("docker-credential-outport-test");
    fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread -r server\necho \"$server\" >> '{}'\n\
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"{}\",\"Secret\":\"{}\"}}' \"$server\"\n",
            asked.display(),
            registry.user,
            registry.password
        ),
    )
    .unwrap();
    fs::set_permissions(&helper, fs::Permissions::from_mode(0o755)).unwrap();
    write_docker_config(work.path(), serde_json::json!({"credHelpers": {registry.addr.clone(): "outport-test"}}));
    let spec = format!("type=registry,name={}/app:helper", registry.addr);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let rootfs = example_rootfs();
    let args = ["export", rootfs.to_str().unwrap(), "-o", &spec, "--registry-ca", registry.ca.to_str().unwrap()];
    let out = ok(outport_command(work.path(), &args).env("PATH", path).output().unwrap());
    assert_eq!(pushed_digest(&out), skopeo_digest(&registry, "app:helper"));
    assert_eq!(fs::read_to_string(&asked).unwrap().trim(), registry.addr);
    assert_no_secret(&registry, &out);
}

#[test]
fn bearer_token_flow_with_password_then_identity_token() {
    let registry = AuthRegistry::start("token");
    let work = tempdir().unwrap();
    let ca = registry.ca.to_str().unwrap();
    let out = ok(push(work.path(), &registry, "app:1", &["--registry-ca", ca, "--creds", &registry.creds()]));
    // One token for the whole push (reused for every blob and the manifest), asked with push scope.
    let requests = registry.token_requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["user"], registry.user.as_str());
    assert!(requests[0]["scopes"].as_array().unwrap().iter().any(|s| s == "repository:app:pull,push"), "{requests:?}");
    assert_eq!(pushed_digest(&out), skopeo_digest(&registry, "app:1"));
    assert_no_secret(&registry, &out);

    // `docker login` against an OAuth2 registry stores an identity token: the refresh_token grant.
    write_docker_config(
        work.path(),
        serde_json::json!({"auths": {registry.addr.clone(): {"identitytoken": registry.refresh_token}}}),
    );
    let out = ok(push(work.path(), &registry, "app:2", &["--registry-ca", ca]));
    assert_eq!(pushed_digest(&out), skopeo_digest(&registry, "app:2"));
    assert_no_secret(&registry, &out);
    assert!(registry.token_requests().iter().any(|r| r["grant"] == "refresh_token" && r["method"] == "POST"));

    // Without credentials the token server only grants pull: the push fails, saying how to log in.
    fs::remove_file(work.path().join("docker/config.json")).unwrap();
    let anonymous = push(work.path(), &registry, "app:3", &["--registry-ca", ca]);
    assert_eq!(anonymous.status.code(), Some(1));
    assert!(stderr(&anonymous).contains(&format!("no credentials for {}", registry.addr)), "{}", stderr(&anonymous));

    let wrong = format!("{}:wrong-secret-never-logged", registry.user);
    let rejected = push(work.path(), &registry, "app:3", &["--registry-ca", ca, "--creds", &wrong]);
    assert!(stderr(&rejected).contains("token server rejected the credentials"), "{}", stderr(&rejected));
    assert!(!stderr(&rejected).contains("wrong-secret-never-logged"));
}
