//! Registry authentication: the `WWW-Authenticate` challenge, the distribution token flow (anonymous,
//! Basic-authenticated GET, or OAuth2 refresh-token POST) and Basic auth. Credentials come from the
//! host on demand and never appear in a message.

use crate::error::{Error, ErrorKind, Result};
use crate::host::{Credential, Host, HttpBody, HttpRequest, HttpResponse};

/// One challenge: its scheme (lower-cased) and parameters (names lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Parse `WWW-Authenticate` values (RFC 7235): `Scheme k=v, k="quoted, \"value\"", Scheme2 …`.
/// Malformed parts are skipped rather than guessed at.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut challenges: Vec<Challenge> = Vec::new();
    let mut rest = header.trim_start();
    while !rest.is_empty() {
        let (word, after) = split_token(rest);
        if word.is_empty() {
            // Not a token: skip one character (a stray comma, a bad byte) and go on.
            rest = rest[rest.chars().next().map_or(1, char::len_utf8)..].trim_start();
            continue;
        }
        let after_ws = after.trim_start();
        if let (Some(value_part), Some(current)) = (after_ws.strip_prefix('='), challenges.last_mut()) {
            let (value, tail) = parse_value(value_part.trim_start());
            current.params.push((word.to_ascii_lowercase(), value));
            rest = tail.trim_start().trim_start_matches(',').trim_start();
        } else {
            challenges.push(Challenge { scheme: word.to_ascii_lowercase(), params: Vec::new() });
            rest = after_ws.trim_start_matches(',').trim_start();
        }
    }
    challenges
}

fn split_token(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !(c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))).unwrap_or(s.len());
    s.split_at(end)
}

/// A token or a quoted string (with backslash escapes), and what follows it.
fn parse_value(s: &str) -> (String, &str) {
    let Some(quoted) = s.strip_prefix('"') else {
        let (token, tail) = s.split_at(s.find([',', ' ', '\t']).unwrap_or(s.len()));
        return (token.to_string(), tail);
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (value, &quoted[i + 1..]),
            '\\' => value.extend(chars.next().map(|(_, c)| c)),
            c => value.push(c),
        }
    }
    (value, "")
}

/// What a repository asks of the token server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Pull,
    Push,
}

impl Access {
    fn actions(self) -> &'static str {
        match self {
            Access::Pull => "pull",
            Access::Push => "pull,push",
        }
    }
}

/// Where a repository's requests get their `Authorization` from, learned from its first 401.
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// The header value to send, once known.
    pub authorization: Option<String>,
    /// The host's answer, asked once: `Some(None)` means it has none for this registry.
    credential: Option<Option<Credential>>,
}

/// Everything needed to answer one challenge for one repository.
pub struct Login<'a> {
    /// The registry as users name it (`ghcr.io`, `docker.io`, `127.0.0.1:5000`): the credential key.
    pub registry: &'a str,
    pub repository: &'a str,
    pub access: Access,
    /// registry.insecure: a token realm may then be plain HTTP.
    pub insecure: bool,
}

impl Session {
    /// Answer a 401: find the challenge, fetch a token (or build Basic), remember the header.
    pub async fn authenticate<H: Host>(&mut self, host: &H, login: &Login<'_>, denied: &HttpResponse) -> Result<()> {
        let challenges: Vec<Challenge> = denied
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("WWW-Authenticate"))
            .flat_map(|(_, v)| parse_challenges(v))
            .collect();
        let pick = |scheme: &str| challenges.iter().find(|c| c.scheme == scheme);
        let header = if let Some(bearer) = pick("bearer") {
            let credential = self.credential(host, login).await?;
            format!("Bearer {}", fetch_token(host, login, bearer, credential.as_ref()).await?)
        } else if pick("basic").is_some() {
            let credential = self.credential(host, login).await?.ok_or_else(|| no_credentials(login))?;
            if credential.identity_token.is_some() {
                return Err(auth_error(
                    login,
                    "the registry asks for Basic auth, but the credential is an identity token",
                ));
            }
            let pair = format!("{}:{}", credential.username, credential.password);
            format!("Basic {}", base64(pair.as_bytes()))
        } else {
            return Err(auth_error(login, "the registry answered 401 without a Bearer or Basic challenge"));
        };
        self.authorization = Some(header);
        Ok(())
    }

    /// Whether a credential was used, for the message when the registry still says no.
    pub fn had_credential(&self) -> bool {
        matches!(self.credential, Some(Some(_)))
    }

    async fn credential<H: Host>(&mut self, host: &H, login: &Login<'_>) -> Result<Option<Credential>> {
        if self.credential.is_none() {
            self.credential = Some(super::credentials::find(host, login.registry, login.access == Access::Push).await?);
        }
        Ok(self.credential.clone().flatten())
    }
}

/// Token responses are small JSON objects.
const MAX_TOKEN_RESPONSE: u32 = 1 << 20;

async fn fetch_token<H: Host>(
    host: &H,
    login: &Login<'_>,
    challenge: &Challenge,
    credential: Option<&Credential>,
) -> Result<String> {
    let realm = challenge.param("realm").ok_or_else(|| auth_error(login, "Bearer challenge without a realm"))?;
    let allowed = realm.starts_with("https://") || (login.insecure && realm.starts_with("http://"));
    if !allowed {
        return Err(auth_error(
            login,
            &format!("token realm {realm:?} is not https (allowed only with registry.insecure)"),
        ));
    }
    let service = challenge.param("service").unwrap_or_default();
    let mut scopes = vec![format!("repository:{}:{}", login.repository, login.access.actions())];
    if let Some(asked) = challenge.param("scope") {
        for scope in asked.split(' ').filter(|s| !s.is_empty()) {
            if !scopes.iter().any(|o| o == scope) {
                scopes.push(scope.to_string());
            }
        }
    }
    let request = match credential {
        Some(Credential { identity_token: Some(refresh), .. }) => {
            // An identity token is an OAuth2 refresh token (docker login with an IdP).
            let mut form = vec![
                ("grant_type", "refresh_token"),
                ("service", service),
                ("client_id", "outport"),
                ("refresh_token", refresh.as_str()),
            ];
            form.extend(scopes.iter().map(|s| ("scope", s.as_str())));
            let headers = vec![("Content-Type".into(), "application/x-www-form-urlencoded".into())];
            HttpRequest::new("POST", realm.to_string(), headers, HttpBody::Bytes(form_encode(&form).into_bytes()))
        }
        _ => {
            let mut query: Vec<(&str, &str)> = vec![("service", service)];
            query.extend(scopes.iter().map(|s| ("scope", s.as_str())));
            let mut headers = Vec::new();
            if let Some(c) = credential {
                query.push(("account", c.username.as_str()));
                let pair = format!("{}:{}", c.username, c.password);
                headers.push(("Authorization".into(), format!("Basic {}", base64(pair.as_bytes()))));
            }
            let separator = if realm.contains('?') { '&' } else { '?' };
            HttpRequest::new("GET", format!("{realm}{separator}{}", form_encode(&query)), headers, HttpBody::Empty)
        }
    };
    let mut request = request;
    request.insecure = login.insecure;
    let response = host
        .http_send(request, MAX_TOKEN_RESPONSE)
        .await
        .map_err(|e| auth_error(login, &format!("token server {}: {}", super::strip_query(realm), e.message)))?;
    match response.status {
        200 => {}
        401 | 403 if credential.is_some() => {
            return Err(auth_error(login, "the token server rejected the credentials (HTTP 401/403)"))
        }
        401 | 403 => return Err(no_credentials(login)),
        status => {
            return Err(auth_error(
                login,
                &format!("token server {} answered HTTP {status}", super::strip_query(realm)),
            ))
        }
    }
    let parsed: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
    parsed["token"]
        .as_str()
        .or(parsed["access_token"].as_str())
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()))
        .map(String::from)
        .ok_or_else(|| auth_error(login, "the token server's answer has no usable token"))
}

fn no_credentials(login: &Login<'_>) -> Error {
    let advice = login_advice(login.registry, login.access);
    auth_error(login, &format!("authentication required and no credentials for {} ({advice})", login.registry))
}

/// What gives outport credentials for `registry`: a base image is pulled with `--base-creds` or
/// docker's config (`docker login`, `DOCKER_CONFIG`); `--creds` is only for where images are pushed.
pub fn login_advice(registry: &str, access: Access) -> String {
    match access {
        Access::Pull => format!(
            "run `docker login {registry}` (or point DOCKER_CONFIG at a config that has it), or give --base-creds USER:SECRET (npm: baseCreds)"
        ),
        Access::Push => format!("run `docker login {registry}`, or give --creds USER:TOKEN"),
    }
}

fn auth_error(login: &Login<'_>, what: &str) -> Error {
    Error::new(ErrorKind::Auth, format!("{}/{}: {what}", login.registry, login.repository))
}

/// application/x-www-form-urlencoded (also right for a query string).
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
                b => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// Standard base64 with padding (RFC 4648), for Basic credentials.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c[0].param("scope"), Some("repository:a/b:pull,push"));
        let c = parse_challenges(r#"Basic realm="Registry Realm", Bearer realm="x\"y", error=invalid_token"#);
        assert_eq!(c.iter().map(|c| c.scheme.as_str()).collect::<Vec<_>>(), ["basic", "bearer"]);
        assert_eq!(c[0].param("realm"), Some("Registry Realm"));
        assert_eq!((c[1].param("realm"), c[1].param("error")), (Some("x\"y"), Some("invalid_token")));
        for hostile in ["", "=", ",,,", "Bearer realm=\"unterminated", "\u{1F600} x=\"", "Bearer ==,=x"] {
            parse_challenges(hostile);
        }
        assert_eq!(parse_challenges("Bearer realm=\"unterminated")[0].param("realm"), Some("unterminated"));
    }

    #[test]
    fn encodings() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"user:p@ss w\xffrd"), "dXNlcjpwQHNzIHf/cmQ=");
        assert_eq!(
            form_encode(&[("scope", "repository:a/b:pull,push"), ("x y", "é")]),
            "scope=repository%3Aa%2Fb%3Apull%2Cpush&x%20y=%C3%A9"
        );
    }
}
