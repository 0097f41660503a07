//! What a run writes itself — its output destinations, their hidden temporary and staging names
//! beside them, the store, the metadata file — is left out of every source walk. Writing the image
//! next to its sources is the commonest thing a user does; without this, `type=local,dest=src/out`
//! copies its own output into itself until the disk is full, and a tarball written into its source
//! would carry outport's temporary file (or the previous run's output).
//!
//! A place is known by the identity (device, inode) of its parent directory and its name, so the
//! comparison holds whatever the spelling of the paths (relative, `..`, symlinked directories). A
//! destination that does not exist yet is known by its first missing ancestor: everything below
//! it is the run's own.

use crate::host::Host;

/// Hidden names beside a destination `NAME` that hosts use while writing it: `.NAME.outport-…`.
const TEMPORARY_MARK: &[u8] = b".outport-";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reserved {
    places: Vec<Place>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    /// (device, inode) of the directory holding it.
    dir: (u64, u64),
    name: Vec<u8>,
}

/// The paths a run writes, each with where it is (see `locate`): located once, for both the
/// leave-out set and the check that no two outputs write one place.
pub struct Located(Vec<(String, Option<(Place, String)>)>);

impl Located {
    /// Locate each of `paths` (host paths; "-" and empty ones are not places).
    pub async fn find<H: Host>(host: &H, paths: &[String]) -> Located {
        let mut located = Vec::new();
        for path in paths {
            located.push((path.clone(), locate(host, path).await));
        }
        Located(located)
    }

    /// A key two of the paths share exactly when they name one place, whatever their spelling.
    pub fn key(&self, path: &str) -> String {
        match self.0.iter().find(|(p, _)| p == path).and_then(|(_, at)| at.as_ref()) {
            Some((place, rest)) => format!("{place:?}/{rest}"),
            None => clean(path),
        }
    }

    /// What source walks leave out. A path whose directory the host cannot identify (an in-memory
    /// host's separate output tree) is no place in the sources.
    pub fn reserved(&self) -> Reserved {
        Reserved { places: self.0.iter().filter_map(|(_, at)| Some(at.as_ref()?.0.clone())).collect() }
    }
}

impl Reserved {
    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    /// Whether some place could have this name (cheap: no host call), so that only then the
    /// directory's identity is asked for.
    pub fn may_be(&self, name: &[u8]) -> bool {
        self.places.iter().any(|p| p.owns_name(name))
    }

    /// Whether `name` in the directory with identity `dir` is a place of this run.
    pub fn holds(&self, dir: (u64, u64), name: &[u8]) -> bool {
        self.places.iter().any(|p| p.dir == dir && p.owns_name(name))
    }
}

/// Where `path` is: the place of its deepest existing directory's child on the way to it, and
/// the rest of the path below that child ("" when the parent exists). None when no directory of it
/// can be identified.
pub async fn locate<H: Host>(host: &H, path: &str) -> Option<(Place, String)> {
    let mut path = clean(path);
    let mut rest = String::new();
    while let Some((parent, name)) = split(&path) {
        if let Some(dir) = host.output_identity(&parent).await {
            return Some((Place { dir, name: name.into_bytes() }, rest));
        }
        rest = if rest.is_empty() { name } else { format!("{name}/{rest}") };
        path = parent;
    }
    None
}

impl Place {
    fn owns_name(&self, name: &[u8]) -> bool {
        name == self.name.as_slice()
            || name
                .strip_prefix(b".")
                .and_then(|rest| rest.strip_prefix(self.name.as_slice()))
                .is_some_and(|rest| rest.starts_with(TEMPORARY_MARK))
    }
}

/// `path` without trailing slashes and `.` components at its end ("out/." is "out").
pub fn clean(path: &str) -> String {
    let mut path = path.trim();
    loop {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() && path.starts_with('/') { "/" } else { trimmed };
        match trimmed.strip_suffix("/.") {
            Some(rest) => path = if rest.is_empty() { "/" } else { rest },
            None if trimmed == "." || trimmed == "-" => return String::new(),
            None => return trimmed.to_string(),
        }
    }
}

/// (parent directory, last name) of a cleaned path; None for the root, `.` or a `..` name.
fn split(path: &str) -> Option<(String, String)> {
    if path.is_empty() || path == "/" {
        return None;
    }
    let (parent, name) = match path.rsplit_once('/') {
        Some(("", name)) => ("/".to_string(), name),
        Some((parent, name)) => (parent.to_string(), name),
        None => (".".to_string(), path),
    };
    if name.is_empty() || name == "." || name == ".." {
        return None;
    }
    // A parent that cleans to nothing is the working directory.
    let parent = Some(clean(&parent)).filter(|p| !p.is_empty()).unwrap_or_else(|| ".".into());
    Some((parent, name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_parent_and_name() {
        assert_eq!(split(&clean("s/out/")), Some(("s".into(), "out".into())));
        assert_eq!(split(&clean("out.tar")), Some((".".into(), "out.tar".into())));
        assert_eq!(split(&clean("/out")), Some(("/".into(), "out".into())));
        assert_eq!(split(&clean("s/out/.")), Some(("s".into(), "out".into())));
        assert_eq!(split(&clean("-")), None);
        assert_eq!(split(&clean("/")), None);
        assert_eq!(split(&clean("a/..")), None);
    }

    #[test]
    fn a_place_owns_its_name_and_its_temporary_names() {
        let place = Place { dir: (1, 2), name: b"out.tar".to_vec() };
        assert!(place.owns_name(b"out.tar"));
        assert!(place.owns_name(b".out.tar.outport-12-3.tmp"));
        assert!(!place.owns_name(b".out.tar.bak"));
        assert!(!place.owns_name(b"out.tar.outport-1.tmp"));
        assert!(!place.owns_name(b"out"));
        let reserved = Reserved { places: vec![place] };
        assert!(reserved.holds((1, 2), b"out.tar") && !reserved.holds((1, 3), b"out.tar"));
    }
}
