//! TOC fields taken from tar headers the way estargz writes them.

/// The entry's mtime as estargz's formatModtime keeps it: None for the zero time or Unix 0,
/// otherwise rounded to the second (halves up).
pub fn toc_modtime((secs, nanos): (i64, i64)) -> Option<i64> {
    let total = secs as i128 * 1_000_000_000 + nanos as i128;
    if total.div_euclid(1_000_000_000) == 0 {
        return None;
    }
    Some((total + 500_000_000).div_euclid(1_000_000_000) as i64)
}

/// Go's path.Clean("/" + name) without the leading slash (estargz's cleanEntryName).
pub fn clean_name(name: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in name.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join(&b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_names() {
        assert_eq!(toc_modtime((0, 0)), None);
        assert_eq!(toc_modtime((0, 999_999_999)), None);
        assert_eq!(toc_modtime((5, 499_999_999)), Some(5));
        assert_eq!(toc_modtime((5, 500_000_000)), Some(6));
        assert_eq!(toc_modtime((-1, -500_000_000)), Some(-1));
        assert_eq!(toc_modtime((-86_400, 0)), Some(-86_400));
        assert_eq!(clean_name(b"./stargz.index.json"), b"stargz.index.json");
        assert_eq!(clean_name(b"../a/../stargz.index.json/"), b"stargz.index.json");
        assert_eq!(clean_name(b"dir/stargz.index.json"), b"dir/stargz.index.json");
    }
}
