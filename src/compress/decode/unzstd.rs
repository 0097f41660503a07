//! zstd frames in turn (skippable frames skipped), block by block, checksums checked.

use super::input::Input;
use super::{Sink, Source};
use crate::error::{Error, Result};
use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

/// A zstd frame header is at most 18 bytes; a block at most 3 + 128 KiB, and a checksum follows.
const ZSTD_FRAME_HEADER: usize = 18;
const ZSTD_BLOCK: usize = 3 + (128 << 10) + 4;

/// Every zstd frame in turn (skippable frames skipped), block by block, checksums checked.
pub async fn unzstd<R: Source, S: Sink>(input: &mut Input<'_, R>, what: &str, sink: &mut S) -> Result<()> {
    let bad = |why: String| Error::source(format!("{what}: invalid or truncated zstd data: {why}"));
    let mut decoder = FrameDecoder::new();
    loop {
        if !input.ensure(1).await? {
            return Ok(());
        }
        input.ensure(ZSTD_FRAME_HEADER).await?;
        let mut src = input.data();
        let before = src.len();
        let started = decoder.reset(&mut src);
        let used = before - src.len();
        input.consume(used);
        match started {
            Ok(()) => {}
            Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame { length, .. })) => {
                if !input.skip(length as u64, None).await? {
                    return Err(bad("skippable frame cut short".into()));
                }
                continue;
            }
            Err(e) => return Err(bad(e.to_string())),
        }
        let mut produced = 0u64;
        loop {
            input.ensure(ZSTD_BLOCK).await?;
            let mut src = input.data();
            let before = src.len();
            let decoded = decoder.decode_blocks(&mut src, BlockDecodingStrategy::UptoBlocks(1));
            let used = before - src.len();
            input.consume(used);
            decoded.map_err(|e| bad(e.to_string()))?;
            // While the frame goes on this keeps the window; at its end it drains everything.
            if let Some(data) = decoder.collect() {
                produced += data.len() as u64;
                sink.write(&data).await?;
            }
            if decoder.is_finished() {
                break;
            }
        }
        if let Some(stored) = decoder.get_checksum_from_data() {
            if Some(stored) != decoder.get_calculated_checksum() {
                return Err(bad("content checksum mismatch (the data is corrupt)".into()));
            }
        }
        let declared = decoder.content_size();
        if declared != 0 && declared != produced {
            return Err(bad(format!("frame declares {declared} bytes but holds {produced}")));
        }
    }
}
