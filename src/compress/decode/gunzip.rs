//! gzip members in turn (RFC 1952), each checked against its CRC-32 and length.

use super::input::Input;
use super::{Sink, Source, INFLATE_CHUNK};
use crate::compress::deflate::RawInflate;
use crate::error::{Error, Result};

pub const FHCRC: u8 = 0x02;
pub const FEXTRA: u8 = 0x04;
pub const FNAME: u8 = 0x08;
pub const FCOMMENT: u8 = 0x10;

/// Every gzip member in turn: header, deflate data, then CRC-32 and length checked.
pub async fn gunzip<R: Source, S: Sink>(input: &mut Input<'_, R>, what: &str, sink: &mut S) -> Result<()> {
    let bad = |why: &str| Error::source(format!("{what}: invalid gzip data: {why}"));
    let truncated = || Error::source(format!("{what}: truncated gzip data (unexpected end of file)"));
    let mut inflate = RawInflate::new();
    let mut out = vec![0u8; INFLATE_CHUNK];
    let mut first = true;
    loop {
        // Like Go's gzip reader (and `gzip -dc`): members may follow each other; anything else may not.
        if !first && !input.ensure(1).await? {
            return Ok(());
        }
        first = false;
        let complete = input.ensure(10).await?;
        if !input.data().starts_with(&[0x1f, 0x8b][..input.data().len().min(2)]) {
            return Err(bad("data after the end of the gzip stream is not another gzip member"));
        }
        if !complete {
            return Err(truncated());
        }
        let header: [u8; 10] = input.data()[..10].try_into().expect("10 bytes");
        if header[2] != 8 {
            return Err(bad(&format!("unknown compression method {}", header[2])));
        }
        let flags = header[3];
        if flags & 0xe0 != 0 {
            return Err(bad(&format!("reserved header flags {flags:#04x} set")));
        }
        let mut header_crc = crc32fast::Hasher::new();
        header_crc.update(&header);
        input.consume(10);
        if flags & FEXTRA != 0 {
            if !input.ensure(2).await? {
                return Err(truncated());
            }
            let len = u16::from_le_bytes([input.data()[0], input.data()[1]]);
            header_crc.update(&input.data()[..2]);
            input.consume(2);
            if !input.skip(len as u64, Some(&mut header_crc)).await? {
                return Err(truncated());
            }
        }
        for flag in [FNAME, FCOMMENT] {
            if flags & flag != 0 && !input.skip_string(&mut header_crc).await? {
                return Err(truncated());
            }
        }
        if flags & FHCRC != 0 {
            if !input.ensure(2).await? {
                return Err(truncated());
            }
            let stored = u16::from_le_bytes([input.data()[0], input.data()[1]]);
            if stored != header_crc.finalize() as u16 {
                return Err(bad("header checksum mismatch"));
            }
            input.consume(2);
        }

        let mut crc = crc32fast::Hasher::new();
        let mut size = 0u32;
        loop {
            if input.data().is_empty() && !input.fill().await? {
                return Err(truncated());
            }
            let step = match inflate.step(input.data(), &mut out) {
                Ok(step) => step,
                Err(corrupt) => {
                    // What came out before the damage goes on first, as it would have with the input
                    // in smaller pieces: a tar error in it is reported the same either way.
                    sink.write(&out[..corrupt.written]).await?;
                    return Err(bad("corrupt deflate stream"));
                }
            };
            input.consume(step.consumed);
            let produced = &out[..step.written];
            crc.update(produced);
            size = size.wrapping_add(produced.len() as u32);
            sink.write(produced).await?;
            if step.end {
                break;
            }
        }
        if !input.ensure(8).await? {
            return Err(truncated());
        }
        let trailer = &input.data()[..8];
        if u32::from_le_bytes(trailer[..4].try_into().expect("4 bytes")) != crc.finalize() {
            return Err(bad("CRC-32 mismatch (the data is corrupt)"));
        }
        if u32::from_le_bytes(trailer[4..].try_into().expect("4 bytes")) != size {
            return Err(bad("length mismatch (the data is corrupt)"));
        }
        input.consume(8);
        inflate.reset();
    }
}
