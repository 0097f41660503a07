//! Which credential a registry gets, decided once for every host: the one the user gave this run
//! (the host's `credentials`: `--creds` / OUTPORT_REGISTRY_USER + OUTPORT_REGISTRY_TOKEN for the
//! registry pushed to, `--base-creds` for pulls), else docker's config.json as `docker login`
//! writes it: `credHelpers` for the registry, else `credsStore`, else `auths`. Hosts only read the
//! file (`docker_config`) and run `docker-credential-NAME get` (`credential_helper`); the parsing
//! of both is here. Secrets never appear in an error message.

use crate::error::{Error, ErrorKind, Result};
use crate::host::{Credential, Host};
use serde_json::Value;

/// docker.io's key in config.json and for credential helpers: the v1 index URL, for history's sake.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The credential for `registry` (`docker.io`, `ghcr.io`, `host:port`), if the user has one;
/// `for_push`: the image is pushed there (explicit push credentials apply), else pulled from it.
pub async fn find<H: Host>(host: &H, registry: &str, for_push: bool) -> Result<Option<Credential>> {
    if let Some(given) = host.credentials(registry, for_push).await? {
        return Ok(Some(given));
    }
    let Some(file) = host.docker_config().await? else { return Ok(None) };
    let config: Value =
        serde_json::from_str(&file.text).map_err(|e| auth_error(format!("{}: not valid JSON ({e})", file.path)))?;
    let key = if registry == "docker.io" { DOCKER_HUB_KEY } else { registry };
    match helper_for(&config, key) {
        Some(helper) => run_helper(host, helper, key).await,
        None => auths_entry(&file.path, &config, key),
    }
}

/// `credHelpers.<host>`, else `credsStore`; an empty name means none.
fn helper_for<'a>(config: &'a Value, key: &str) -> Option<&'a str> {
    let helpers = config["credHelpers"].as_object();
    let name = match helpers.and_then(|helpers| helpers.iter().find(|(k, _)| normalize(k) == normalize(key))) {
        Some((_, name)) => name,
        None => config.get("credsStore")?,
    };
    name.as_str().filter(|name| !name.is_empty())
}

/// `auths.<host>`: `auth` (base64 of USER:SECRET), or `username` + `password`, or `identitytoken`.
fn auths_entry(path: &str, config: &Value, key: &str) -> Result<Option<Credential>> {
    let Some(auths) = config["auths"].as_object() else { return Ok(None) };
    let Some((_, entry)) = auths.iter().find(|(k, _)| normalize(k) == normalize(key)) else { return Ok(None) };
    let field = |name: &str| entry[name].as_str().unwrap_or_default().to_string();
    let (mut username, mut password) = (field("username"), field("password"));
    let auth = field("auth");
    if !auth.is_empty() {
        let bad = || auth_error(format!("{path}: the `auth` entry for {key} is not base64 of USER:SECRET"));
        let decoded = crate::sbom::base64_decode(auth.trim()).ok_or_else(bad)?;
        let pair = String::from_utf8(decoded).map_err(|_| bad())?;
        (username, password) = parse_pair(&pair).ok_or_else(bad)?;
    }
    let identity_token = field("identitytoken");
    if username.is_empty() && password.is_empty() && identity_token.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credential { username, password, identity_token: Some(identity_token).filter(|t| !t.is_empty()) }))
}

/// `docker-credential-NAME get`, the server URL on stdin, `{"ServerURL", "Username", "Secret"}` on
/// stdout; a `<token>` user name means the secret is an identity token.
async fn run_helper<H: Host>(host: &H, name: &str, key: &str) -> Result<Option<Credential>> {
    let program = format!("docker-credential-{name}");
    let reply = host
        .credential_helper(name, key)
        .await
        .map_err(|e| auth_error(format!("credential helper {program}: {}", e.message)))?;
    if !reply.success {
        // Helpers say "credentials not found in native keychain" when they have nothing for this registry.
        if reply.stdout.contains("credentials not found") {
            return Ok(None);
        }
        return Err(auth_error(format!("credential helper {program} failed for {key} ({})", reply.status)));
    }
    let reply: Value = serde_json::from_str(&reply.stdout)
        .map_err(|_| auth_error(format!("credential helper {program} answered something other than JSON for {key}")))?;
    let username = reply["Username"].as_str().unwrap_or_default().to_string();
    let secret = reply["Secret"].as_str().unwrap_or_default().to_string();
    Ok(Some(if username == "<token>" {
        Credential {
            username: String::new(),
            password: String::new(),
            identity_token: Some(secret).filter(|t| !t.is_empty()),
        }
    } else {
        Credential { username, password: secret, identity_token: None }
    }))
}

/// `USER:SECRET`, split at the first colon; the user name must not be empty.
fn parse_pair(pair: &str) -> Option<(String, String)> {
    let (username, password) = pair.split_once(':')?;
    (!username.is_empty()).then(|| (username.to_string(), password.to_string()))
}

/// config.json keys come as `host`, `https://host` or `https://host/v1/`: compare hosts only.
fn normalize(key: &str) -> &str {
    let key = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    let host = key.split('/').next().unwrap_or(key);
    if host == "index.docker.io" || host == "registry-1.docker.io" {
        "docker.io"
    } else {
        host
    }
}

fn auth_error(message: String) -> Error {
    Error::new(ErrorKind::Auth, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{DockerConfig, HelperReply};
    use crate::memory_host::{run, MemoryHost};

    const PATH: &str = "/home/me/.docker/config.json";

    fn host_with(config: Value) -> MemoryHost {
        MemoryHost {
            docker_config: Some(DockerConfig { path: PATH.into(), text: config.to_string() }),
            ..Default::default()
        }
    }

    fn helper(host: &mut MemoryHost, name: &str, success: bool, stdout: &str) {
        let status = if success { "exit status: 0" } else { "exit status: 1" };
        host.helpers.insert(name.into(), HelperReply { success, status: status.into(), stdout: stdout.into() });
    }

    fn find_in(host: &MemoryHost, registry: &str) -> Result<Option<Credential>> {
        run(find(host, registry, false))
    }

    fn login(username: &str, password: &str) -> Option<Credential> {
        Some(Credential { username: username.into(), password: password.into(), identity_token: None })
    }

    fn token(token: &str) -> Option<Credential> {
        Some(Credential { username: String::new(), password: String::new(), identity_token: Some(token.into()) })
    }

    #[test]
    fn auths_entries_match_by_host_whatever_the_key_form() {
        let auth = crate::registry::auth::base64(b"me:s3cret:with-colon");
        let host = host_with(serde_json::json!({"auths": {
            "https://index.docker.io/v1/": {"auth": auth},
            "ghcr.io": {"username": "u", "password": "p"},
            "https://reg.example:5000": {"identitytoken": "refresh"},
            "http://plain.example/v2/": {"auth": crate::registry::auth::base64(b"a:b")},
        }}));
        assert_eq!(find_in(&host, "docker.io").unwrap(), login("me", "s3cret:with-colon"));
        assert_eq!(find_in(&host, "ghcr.io").unwrap(), login("u", "p"));
        assert_eq!(find_in(&host, "reg.example:5000").unwrap(), token("refresh"));
        assert_eq!(find_in(&host, "plain.example").unwrap(), login("a", "b"));
        assert_eq!(find_in(&host, "quay.io").unwrap(), None);
        assert!(host.helper_runs.borrow().is_empty());
    }

    #[test]
    fn docker_io_is_also_known_by_its_index_and_registry_hosts() {
        for key in ["index.docker.io", "https://registry-1.docker.io/v2/", "docker.io"] {
            let host = host_with(serde_json::json!({"auths": {key: {"username": "u", "password": "p"}}}));
            assert_eq!(find_in(&host, "docker.io").unwrap(), login("u", "p"), "{key}");
        }
        // Helpers are asked with docker.io's historical key.
        let mut host = host_with(serde_json::json!({"credsStore": "desktop"}));
        helper(
            &mut host,
            "desktop",
            true,
            r#"{"ServerURL":"https://index.docker.io/v1/","Username":"u","Secret":"p"}"#,
        );
        assert_eq!(find_in(&host, "docker.io").unwrap(), login("u", "p"));
        assert_eq!(*host.helper_runs.borrow(), [("desktop".to_string(), DOCKER_HUB_KEY.to_string())]);
    }

    #[test]
    fn an_entry_with_nothing_in_it_is_no_credential() {
        let host = host_with(serde_json::json!({"auths": {"ghcr.io": {}, "quay.io": {"auth": ""}}}));
        assert_eq!(find_in(&host, "ghcr.io").unwrap(), None);
        assert_eq!(find_in(&host, "quay.io").unwrap(), None);
    }

    #[test]
    fn a_bad_auth_entry_is_an_error_naming_the_file_without_the_secret() {
        for auth in ["bm90LWEtcGFpcg==" /* "not-a-pair" */, "***", "OnNlY3JldA==" /* ":secret" */] {
            let host = host_with(serde_json::json!({"auths": {"ghcr.io": {"auth": auth}}}));
            let e = find_in(&host, "ghcr.io").unwrap_err();
            assert_eq!(e.kind, ErrorKind::Auth);
            assert_eq!(e.message, format!("{PATH}: the `auth` entry for ghcr.io is not base64 of USER:SECRET"));
        }
    }

    #[test]
    fn malformed_json_is_an_error_naming_the_file() {
        let host = MemoryHost {
            docker_config: Some(DockerConfig { path: PATH.into(), text: "{\"auths\": {".into() }),
            ..Default::default()
        };
        let e = find_in(&host, "ghcr.io").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Auth);
        assert!(e.message.starts_with(&format!("{PATH}: not valid JSON (")), "{}", e.message);
    }

    #[test]
    fn no_config_file_is_no_credential() {
        assert_eq!(find_in(&MemoryHost::default(), "ghcr.io").unwrap(), None);
    }

    #[test]
    fn the_given_credential_comes_before_the_config() {
        let mut host = host_with(serde_json::json!({"auths": {"ghcr.io": {"username": "config", "password": "p"}}}));
        host.credential = login("given", "secret");
        assert_eq!(run(find(&host, "ghcr.io", true)).unwrap(), login("given", "secret"));
        assert_eq!(*host.credential_asks.borrow(), [("ghcr.io".to_string(), true)]);
        host.credential = None;
        assert_eq!(run(find(&host, "ghcr.io", true)).unwrap(), login("config", "p"));
    }

    #[test]
    fn cred_helpers_win_over_creds_store_and_creds_store_over_auths() {
        let mut host = host_with(serde_json::json!({
            "credHelpers": {"https://ghcr.io": "gh", "quay.io": ""},
            "credsStore": "store",
            "auths": {"ghcr.io": {"username": "auths", "password": "p"}, "quay.io": {"username": "q", "password": "p"}},
        }));
        helper(&mut host, "gh", true, r#"{"ServerURL":"ghcr.io","Username":"from-gh","Secret":"s1"}"#);
        helper(&mut host, "store", true, r#"{"ServerURL":"reg.example","Username":"from-store","Secret":"s2"}"#);
        assert_eq!(find_in(&host, "ghcr.io").unwrap(), login("from-gh", "s1"));
        assert_eq!(find_in(&host, "reg.example").unwrap(), login("from-store", "s2"));
        // An empty helper name for a registry means none: its auths entry, not the store.
        assert_eq!(find_in(&host, "quay.io").unwrap(), login("q", "p"));
        assert_eq!(
            *host.helper_runs.borrow(),
            [("gh".to_string(), "ghcr.io".to_string()), ("store".to_string(), "reg.example".to_string())]
        );
    }

    #[test]
    fn a_helper_token_user_means_an_identity_token() {
        let mut host = host_with(serde_json::json!({"credsStore": "store"}));
        helper(&mut host, "store", true, r#"{"ServerURL":"ghcr.io","Username":"<token>","Secret":"refresh"}"#);
        assert_eq!(find_in(&host, "ghcr.io").unwrap(), token("refresh"));
    }

    #[test]
    fn a_helper_that_has_nothing_means_anonymous() {
        let mut host = host_with(serde_json::json!({"credsStore": "store"}));
        helper(&mut host, "store", false, "credentials not found in native keychain\n");
        assert_eq!(find_in(&host, "ghcr.io").unwrap(), None);
    }

    #[test]
    fn a_failing_helper_is_an_error_naming_it() {
        let mut host = host_with(serde_json::json!({"credHelpers": {"ghcr.io": "broken"}, "credsStore": "garbled"}));
        helper(&mut host, "broken", false, "keychain locked");
        helper(&mut host, "garbled", true, "Username: u");
        let e = find_in(&host, "ghcr.io").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Auth);
        assert_eq!(e.message, "credential helper docker-credential-broken failed for ghcr.io (exit status: 1)");
        let e = find_in(&host, "quay.io").unwrap_err();
        assert_eq!(
            e.message,
            "credential helper docker-credential-garbled answered something other than JSON for quay.io"
        );
        // One the host cannot run at all: the host's reason, under the helper's name.
        let host = host_with(serde_json::json!({"credsStore": "missing"}));
        let e = find_in(&host, "ghcr.io").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Auth);
        assert_eq!(e.message, "credential helper docker-credential-missing: No such file or directory (os error 2)");
    }
}
