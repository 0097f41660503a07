//! What each fuzz target (fuzz/) feeds with arbitrary bytes: the parsers that read input from
//! outside — users' `--output`, annotation and reference strings, registries' challenges and JSON,
//! ignore files, layer tarballs (decompressed and checked), tars (crate::tar's reader) and eStargz
//! blobs (footer and TOC).
//! Kept here so that crashes the fuzzer finds replay as plain tests (tests/fuzz_regressions.rs).

pub const TARGETS: &[&str] = &[
    "output_spec",
    "annotation",
    "www_authenticate",
    "image_json",
    "reference",
    "layer_tarball",
    "ignore",
    "estargz_toc",
    "tar_reader",
];

/// Feed `data` to `target`'s parsers. Errors are fine; only a panic (or a hang) is a finding.
pub fn run(target: &str, data: &[u8]) {
    let text = std::str::from_utf8(data).ok();
    match (target, text) {
        ("output_spec", Some(text)) => {
            let _ = crate::export::plan::Plan::parse(text, &mut Vec::new());
        }
        ("annotation", Some(text)) => {
            let (option, value) = text.split_once('=').unwrap_or((text, ""));
            let _ = crate::annotate::parse(option, value);
        }
        ("www_authenticate", Some(text)) => {
            for challenge in crate::registry::auth::parse_challenges(text) {
                let _ = challenge.param("realm");
            }
        }
        ("image_json", _) => {
            if let Ok(config) = crate::image::config::parse_config("fuzz", data) {
                let _ = crate::image::config::config_platform("fuzz", &config);
                // History normalization, time parsing and clamping, raw values written back.
                let platform = crate::platform::Platform::parse("linux/amd64").expect("a known platform");
                let now = crate::timefmt::GoTime { unix: 1_445_412_480, nanos: 5, offset: 0 };
                let layers = ["sha256:a".to_string(), "sha256:b".to_string()];
                let base = crate::image::config::FromBase { layers: 1, history: &[] };
                let done = crate::image::config::finish(config, &platform, &layers, base, now, Some(1_000));
                let _ = crate::gojson::compact(&done);
            }
            if let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) {
                for field in ["manifests", "layers", "config"] {
                    let _ = crate::store::descriptors(&json, field, "fuzz");
                }
            }
        }
        ("reference", Some(text)) => {
            if let Ok(reference) = crate::reference::Reference::parse_normalized(text) {
                let _ = reference.full();
            }
            let _ = crate::platform::Platform::parse(text);
        }
        ("layer_tarball", _) => layer_tarball(data),
        ("ignore", Some(text)) => ignore(text),
        ("estargz_toc", _) => estargz_toc(data),
        ("tar_reader", _) => tar_reader(data),
        _ => {}
    }
}

/// Decompress and check `data` as a layer tarball. Beyond not panicking: the outcome must not depend
/// on how the input is chunked, a plain tar that passes must pass unchanged, and the same bytes
/// gzip- or zstd-compressed (by our own encoders) must get the same verdict.
fn layer_tarball(data: &[u8]) {
    use crate::layer::tarball::{copy_stream, detect, Chunks, Kind};
    let run = |data: &[u8], chunk: usize| {
        let mut out = Vec::new();
        block_on(copy_stream(&mut Chunks { data, chunk }, "fuzz", &mut out)).map(|()| out)
    };
    let whole = run(data, usize::MAX);
    assert_eq!(run(data, 7), whole, "the outcome depends on chunking");
    if detect(&data[..data.len().min(6)]) != Kind::Tar {
        return;
    }
    if let Ok(out) = &whole {
        assert_eq!(out, data, "a plain tar changed on its way");
    }
    let gzip = crate::compress::gzip::gzip_member(1, data);
    assert_eq!(run(&gzip, 4096), whole, "gzip changed the verdict");
    let zstd = crate::compress::piece::compress_all(crate::compress::Compression::Zstd { level: 1 }, data, 1 << 20);
    assert_eq!(run(&zstd, 4096), whole, "zstd changed the verdict");
}

/// `data` three ways: as a whole blob (footer, TOC member, TOC); as the TOC JSON inside a well-formed
/// TOC member, so the JSON checks are reached; and, when it is a tar the encoder takes, as the layer
/// of an eStargz blob, which must then read back with the encoder's TOC and the original tar before it.
fn estargz_toc(data: &[u8]) {
    use crate::compress::estargz::{footer, reader, toc_tar, EstargzEncoder};
    use crate::compress::gzip::GzipEncoder;
    if let Ok(toc) = reader::parse_blob(data) {
        assert!(toc.toc_offset < data.len() as u64, "the TOC offset lies outside the blob");
        assert!(toc.entries.iter().all(|e| e.offset as u64 <= toc.toc_offset), "an entry points past the TOC");
    }

    let wrapped = toc_tar(data);
    let mut blob = Vec::new();
    let mut member = GzipEncoder::new(1, &mut blob);
    member.write(&wrapped, &mut blob);
    member.finish(&mut blob);
    blob.extend_from_slice(&footer(0));
    if let Ok(toc) = reader::parse_blob(&blob) {
        assert_eq!(toc.digest, crate::digest::sha256(data), "the TOC digest is not the JSON's");
        assert_eq!(toc.toc_tar, wrapped);
    }

    let mut blob = Vec::new();
    let mut encoder = EstargzEncoder::new(1);
    let Ok(()) = encoder.write(data, &mut blob) else { return };
    let Ok(trailer) = encoder.finish(&mut blob) else { return };
    let toc = reader::parse_blob(&blob).expect("an eStargz blob the encoder wrote reads back");
    assert_eq!(toc.digest, trailer.toc_digest);
    assert_eq!(toc.toc_tar, trailer.toc_tar);
    let mut layer = Vec::new();
    let before_toc = crate::layer::tarball::Chunks { data: &blob[..toc.toc_offset as usize], chunk: 4096 };
    if block_on(crate::layer::tarball::copy_stream(&mut { before_toc }, "fuzz", &mut layer)).is_ok() {
        assert_eq!(layer, data, "the blob before the TOC is not the original tar");
    }
}

/// The tar reader alone (crate::tar): whatever the chunking, the same entries with the same data and
/// the same verdict, and never more data for an entry than it declares.
fn tar_reader(data: &[u8]) {
    let whole = tar_events(data, usize::MAX);
    assert_eq!(tar_events(data, 7), whole, "the events depend on chunking");
    assert_eq!(tar_events(data, 512), whole, "the events depend on chunking");
    // Every entry's data is complete, but the last one's when the tar is cut short or damaged.
    let complete = if whole.1.is_ok() { whole.0.len() } else { whole.0.len().saturating_sub(1) };
    for (entry, bytes) in &whole.0[..complete] {
        assert_eq!(bytes.len() as u64, entry.data_size(), "an entry's data is not its size");
    }
}

type TarEvents = (Vec<(crate::tar::Entry, Vec<u8>)>, std::result::Result<(), String>);

/// Entries with their data, then how the reading ended.
fn tar_events(mut data: &[u8], chunk: usize) -> TarEvents {
    use crate::tar::{Event, Reader};
    let mut reader = Reader::new();
    let mut entries: Vec<(crate::tar::Entry, Vec<u8>)> = Vec::new();
    while !data.is_empty() {
        let piece = &data[..chunk.min(data.len())];
        let (n, event) = match reader.read(piece) {
            Ok(step) => step,
            Err(e) => return (entries, Err(e.to_string())),
        };
        assert!(n > 0 && n <= piece.len(), "the reader consumed {n} of {} bytes", piece.len());
        match event {
            Some(Event::Entry(entry)) => entries.push((entry, Vec::new())),
            Some(Event::Data(bytes)) => entries.last_mut().expect("data after an entry").1.extend_from_slice(bytes),
            Some(Event::End) | None => {}
        }
        data = &data[n..];
    }
    let end = reader.finish().map_err(|t| t.to_string());
    (entries, end)
}

/// An ignore file, then the path on its last line. Beyond not panicking: when a directory is
/// excluded and nothing below it may be included, everything below it must indeed be excluded.
fn ignore(text: &str) {
    let (file, path) = text.rsplit_once('\n').unwrap_or(("", text));
    let Ok(ignore) = crate::layer::ignore::Ignore::parse_file("fuzz", file) else { return };
    let path = path.as_bytes();
    let excluded = ignore.excludes(path);
    if !excluded || ignore.may_include_below(path) {
        return;
    }
    // Children named after pieces of the patterns (less the directory), where matches are likely.
    let dir = [path, b"/"].concat();
    for piece in file.split(['\n', '*', '?', '[', ']', '!']).chain(["x", "a/b"]) {
        let piece = piece.trim().trim_start_matches('/').as_bytes();
        for child in [piece, piece.strip_prefix(dir.as_slice()).unwrap_or(piece)] {
            let below = [dir.as_slice(), child].concat();
            assert!(
                ignore.excludes(&below),
                "{below:?} is included below an excluded directory said to include nothing"
            );
        }
    }
}

/// Drive a future whose awaits all complete at once (in-memory sources and sinks).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("an in-memory future did not complete at once"),
    }
}
