//! `sbom: true` (npm `sbom: true`) with `--node-app`: an SPDX 2.3 JSON document of the npm
//! packages installed in the app's node_modules, attached as buildx attaches its SBOM (an in-toto
//! statement with predicate type `https://spdx.dev/Document` in the attestation manifest).
//!
//! Each package: its name, version and licence from its own package.json, a `pkg:npm/…` purl, and
//! the integrity and download URL the lockfile (`package-lock.json`, else npm's hidden
//! `node_modules/.package-lock.json`) records for its path. The same tree gives the same bytes:
//! packages sorted, the creation time SOURCE_DATE_EPOCH (else the export time).

use crate::attest::{self, Attestation};
use crate::error::Result;
use crate::host::{read_small_file, EntryKind, Host};
use serde_json::{json, Map, Value};

/// package.json and lockfiles are small; a bigger one is skipped rather than read.
const MAX_PACKAGE_JSON: u64 = 4 << 20;
const MAX_LOCKFILE: u64 = 64 << 20;

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NpmPackage {
    pub name: String,
    pub version: String,
    /// Its directory relative to the app (`node_modules/a/node_modules/@s/b`), the lockfile's key.
    pub path: String,
    pub license: Option<String>,
    /// The lockfile's `integrity` (`sha512-<base64>`, several separated by spaces).
    pub integrity: Option<String>,
    /// The lockfile's `resolved` URL.
    pub resolved: Option<String>,
}

/// What a walk of node_modules found.
#[derive(Debug, Default)]
pub struct NodeModules {
    pub packages: Vec<NpmPackage>,
    /// Native addons (`*.node` files), relative to the app: they are built for one architecture.
    pub native: Vec<String>,
}

/// Walk `app`/node_modules (links are not followed: they are copied as links). Absent → empty.
pub async fn scan<H: Host>(host: &H, app: &str) -> Result<NodeModules> {
    let app = app.trim_end_matches('/');
    let mut found = NodeModules::default();
    let root = format!("{app}/node_modules");
    if !host.source_stat(root.as_bytes()).await.is_ok_and(|e| e.kind == EntryKind::Directory) {
        return Ok(found);
    }
    let lock = lockfile(host, app).await;
    let mut stack = vec!["node_modules".to_string()];
    while let Some(rel) = stack.pop() {
        let mut entries = host.source_read_dir(format!("{app}/{rel}").as_bytes()).await?;
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        for entry in entries {
            let Ok(name) = String::from_utf8(entry.name) else { continue };
            let child = format!("{rel}/{name}");
            match entry.kind {
                EntryKind::Directory => stack.push(child),
                EntryKind::Regular if name.ends_with(".node") => found.native.push(child),
                EntryKind::Regular if name == "package.json" && is_package_dir(&rel) => {
                    if let Some(package) = package(host, app, &rel, &lock).await {
                        found.packages.push(package);
                    }
                }
                _ => {}
            }
        }
    }
    found.packages.sort();
    found.native.sort();
    Ok(found)
}

/// `node_modules/x` or `node_modules/@scope/x` (at any depth), not `.bin` or a package's own
/// subdirectory.
fn is_package_dir(rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    match parts.as_slice() {
        [.., "node_modules", name] => !name.starts_with('.') && !name.starts_with('@'),
        [.., "node_modules", scope, name] => scope.starts_with('@') && !name.starts_with('.'),
        _ => false,
    }
}

async fn package<H: Host>(host: &H, app: &str, rel: &str, lock: &Map<String, Value>) -> Option<NpmPackage> {
    let bytes = read_small_file(host, &format!("{app}/{rel}/package.json"), MAX_PACKAGE_JSON).await.ok()?;
    let json: Value = serde_json::from_slice(&bytes).ok()?;
    let from_path = rel.rsplit_once("node_modules/").map_or(rel, |(_, name)| name);
    let name = json["name"].as_str().unwrap_or(from_path).to_string();
    let version = json["version"].as_str()?.to_string();
    let license = match &json["license"] {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("type").and_then(Value::as_str).map(str::to_string),
        _ => None,
    };
    let locked = lock.get(rel);
    let text = |key: &str| locked.and_then(|l| l.get(key)).and_then(Value::as_str).map(str::to_string);
    Some(NpmPackage {
        name,
        version,
        path: rel.to_string(),
        license,
        integrity: text("integrity"),
        resolved: text("resolved"),
    })
}

/// The lockfile's `packages` map (lockfileVersion 2 and 3), or empty.
async fn lockfile<H: Host>(host: &H, app: &str) -> Map<String, Value> {
    for file in ["package-lock.json", "node_modules/.package-lock.json"] {
        let Ok(bytes) = read_small_file(host, &format!("{app}/{file}"), MAX_LOCKFILE).await else { continue };
        if let Ok(Value::Object(mut json)) = serde_json::from_slice::<Value>(&bytes) {
            if let Some(Value::Object(packages)) = json.remove("packages") {
                return packages;
            }
        }
    }
    Map::new()
}

/// The SBOM as an attestation for every platform's image.
pub fn attestation(app_name: &str, packages: &[NpmPackage], created: &str) -> Attestation {
    Attestation {
        predicate_type: attest::SPDX_PREDICATE.into(),
        predicate: document(app_name, packages, created),
        subjects: None,
        file_name: "sbom.spdx.json".into(),
    }
}

/// The SPDX 2.3 document.
pub fn document(app_name: &str, packages: &[NpmPackage], created: &str) -> Value {
    let mut ids: Vec<String> = Vec::new();
    let mut seen: Vec<(&str, &str)> = Vec::new();
    let mut list = Vec::new();
    for p in packages {
        // One entry per name@version, however many copies npm installed.
        if seen.contains(&(p.name.as_str(), p.version.as_str())) {
            continue;
        }
        seen.push((&p.name, &p.version));
        let stem = format!("SPDXRef-Package-npm-{}-{}", spdx_id_part(&p.name), spdx_id_part(&p.version));
        let mut id = stem.clone();
        let mut n = 1;
        while ids.contains(&id) {
            n += 1;
            id = format!("{stem}-{n}");
        }
        ids.push(id.clone());
        let mut entry = json!({
            "name": p.name,
            "SPDXID": id,
            "versionInfo": p.version,
            "downloadLocation": p.resolved.as_deref().filter(|u| u.starts_with("https://") || u.starts_with("http://")).unwrap_or("NOASSERTION"),
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": p.license.as_deref().filter(|l| is_license_expression(l)).unwrap_or("NOASSERTION"),
            "copyrightText": "NOASSERTION",
        });
        let checksums: Vec<Value> = p.integrity.as_deref().map(checksums).unwrap_or_default();
        if !checksums.is_empty() {
            entry["checksums"] = Value::Array(checksums);
        }
        entry["externalRefs"] = json!([{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": purl(&p.name, &p.version),
        }]);
        list.push(entry);
    }
    let relationships: Vec<Value> = ids
        .iter()
        .map(|id| json!({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": id}))
        .collect();
    // A namespace unique to this content, and the same for the same content.
    let listing: String = packages.iter().map(|p| format!("{}@{}\n", p.name, p.version)).collect();
    let hash = crate::digest::sha256(listing.as_bytes());
    let name = if app_name.is_empty() { "app" } else { app_name };
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": format!("https://spdx.org/spdxdocs/outport-npm-{}-{}", spdx_id_part(name), &hash[7..]),
        "creationInfo": {
            "creators": [format!("Tool: outport-{}", env!("CARGO_PKG_VERSION"))],
            "created": created,
        },
        "packages": list,
        "relationships": relationships,
    })
}

/// `pkg:npm/%40scope/name@1.0.0`, as packageurl-go writes an npm purl.
pub fn purl(name: &str, version: &str) -> String {
    let path = match name.split_once('/') {
        Some((scope, rest)) => format!("{}/{}", attest::escape(scope), attest::escape(rest)),
        None => attest::escape(name),
    };
    format!("pkg:npm/{path}@{}", attest::escape(version))
}

/// SPDX identifiers allow letters, digits, `.` and `-`.
fn spdx_id_part(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' }).collect()
}

/// A licence field that can stand as an SPDX expression (`MIT`, `(MIT OR Apache-2.0)`); anything
/// else (`SEE LICENSE IN …`, `UNLICENSED`) is no assertion.
fn is_license_expression(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with("SEE ")
        && s != "UNLICENSED"
        && s.chars().all(|c| c.is_ascii_alphanumeric() || " .-+():".contains(c))
}

/// Subresource-integrity values (`sha512-<base64>`) as SPDX checksums (hex).
fn checksums(integrity: &str) -> Vec<Value> {
    integrity
        .split_whitespace()
        .filter_map(|sri| {
            let (algorithm, b64) = sri.split_once('-')?;
            let algorithm = match algorithm {
                "sha1" => "SHA1",
                "sha256" => "SHA256",
                "sha384" => "SHA384",
                "sha512" => "SHA512",
                _ => return None,
            };
            let hex: String = base64_decode(b64.split('?').next()?)?.iter().map(|b| format!("{b:02x}")).collect();
            Some(json!({"algorithm": algorithm, "checksumValue": hex}))
        })
        .collect()
}

pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(path: &str, name: &str, version: &str, license: Option<&str>, integrity: Option<&str>) -> NpmPackage {
        NpmPackage {
            name: name.into(),
            version: version.into(),
            path: path.into(),
            license: license.map(Into::into),
            integrity: integrity.map(Into::into),
            resolved: Some(format!("https://registry.npmjs.org/{name}/-/x-{version}.tgz")),
        }
    }

    #[test]
    fn package_dirs() {
        assert!(is_package_dir("node_modules/express"));
        assert!(is_package_dir("node_modules/@types/node"));
        assert!(is_package_dir("node_modules/a/node_modules/b"));
        assert!(!is_package_dir("node_modules/@types"));
        assert!(!is_package_dir("node_modules/.bin"));
        assert!(!is_package_dir("node_modules/a/lib"));
    }

    #[test]
    fn purls_and_checksums() {
        assert_eq!(purl("@types/node", "20.1.0"), "pkg:npm/%40types/node@20.1.0");
        assert_eq!(purl("express", "4.18.2"), "pkg:npm/express@4.18.2");
        // "abc" in base64, as npm writes integrity.
        assert_eq!(checksums("sha512-YWJj"), vec![json!({"algorithm": "SHA512", "checksumValue": "616263"})]);
        assert_eq!(base64_decode("AAE="), Some(vec![0, 1]));
    }

    #[test]
    fn spdx_document_bytes() {
        let packages = vec![
            pkg("node_modules/@s/b", "@s/b", "1.0.0", Some("MIT"), Some("sha512-YWJj")),
            pkg("node_modules/a", "a", "2.0.0", Some("SEE LICENSE IN x"), None),
            pkg("node_modules/c/node_modules/a", "a", "2.0.0", None, None),
        ];
        let a = attestation("demo", &packages, "1970-01-01T00:00:00Z");
        assert_eq!(a.predicate_type, "https://spdx.dev/Document");
        let bytes = String::from_utf8(crate::gojson::compact(&a.predicate)).unwrap();
        let hash = &crate::digest::sha256(b"@s/b@1.0.0\na@2.0.0\na@2.0.0\n")[7..];
        let version = env!("CARGO_PKG_VERSION");
        assert_eq!(
            bytes,
            format!(
                concat!(
                    r#"{{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"demo","#,
                    r#""documentNamespace":"https://spdx.org/spdxdocs/outport-npm-demo-{hash}","#,
                    r#""creationInfo":{{"creators":["Tool: outport-{version}"],"created":"1970-01-01T00:00:00Z"}},"#,
                    r#""packages":[{{"name":"@s/b","SPDXID":"SPDXRef-Package-npm--s-b-1.0.0","versionInfo":"1.0.0","#,
                    r#""downloadLocation":"https://registry.npmjs.org/@s/b/-/x-1.0.0.tgz","filesAnalyzed":false,"#,
                    r#""licenseConcluded":"NOASSERTION","licenseDeclared":"MIT","copyrightText":"NOASSERTION","#,
                    r#""checksums":[{{"algorithm":"SHA512","checksumValue":"616263"}}],"#,
                    r#""externalRefs":[{{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:npm/%40s/b@1.0.0"}}]}},"#,
                    r#"{{"name":"a","SPDXID":"SPDXRef-Package-npm-a-2.0.0","versionInfo":"2.0.0","#,
                    r#""downloadLocation":"https://registry.npmjs.org/a/-/x-2.0.0.tgz","filesAnalyzed":false,"#,
                    r#""licenseConcluded":"NOASSERTION","licenseDeclared":"NOASSERTION","copyrightText":"NOASSERTION","#,
                    r#""externalRefs":[{{"referenceCategory":"PACKAGE-MANAGER","referenceType":"purl","referenceLocator":"pkg:npm/a@2.0.0"}}]}}],"#,
                    r#""relationships":[{{"spdxElementId":"SPDXRef-DOCUMENT","relationshipType":"DESCRIBES","relatedSpdxElement":"SPDXRef-Package-npm--s-b-1.0.0"}},"#,
                    r#"{{"spdxElementId":"SPDXRef-DOCUMENT","relationshipType":"DESCRIBES","relatedSpdxElement":"SPDXRef-Package-npm-a-2.0.0"}}]}}"#
                ),
                hash = hash,
                version = version
            )
        );
    }
}
