//! The tar exporter: the final root filesystem of each platform (its layers stacked, upper layers
//! winning) as one uncompressed tar stream, like BuildKit's fsutil tar writer. Several platforms
//! go to `<os>_<arch>[_<variant>]/` directories; with an epoch every entry's mtime is the epoch.

use crate::build_result::PlatformInput;
use crate::error::Result;
use crate::host::{Handle, Host, ProgressEvent};
use crate::layer::tar::{self, typeflag, Header};
use crate::layer::walk::{self, Mtime, TarSink, Tree};

const FLUSH_AT: usize = 1 << 20;

/// Tar bytes into an opened output, handed over in large pieces.
struct OutputTar<'h, H: Host> {
    host: &'h H,
    handle: Handle,
    pending: Vec<u8>,
}

impl<H: Host> TarSink for OutputTar<'_, H> {
    async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.pending.extend_from_slice(data);
        if self.pending.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }
}

impl<H: Host> OutputTar<'_, H> {
    async fn flush(&mut self) -> Result<()> {
        let result = self.host.output_write(self.handle, &self.pending).await;
        self.pending.clear();
        result
    }
}

pub async fn write_tar<H: Host>(host: &H, inputs: &[PlatformInput], epoch: Option<i64>, handle: Handle) -> Result<()> {
    let mut out = OutputTar { host, handle, pending: Vec::with_capacity(FLUSH_AT + FLUSH_AT / 4) };
    let mtime = epoch.map_or(Mtime::Keep, Mtime::Set);
    for input in inputs {
        host.progress(ProgressEvent { phase: "tar".into(), id: input.platform.id(), current: 0, total: 1 });
        let prefix =
            if inputs.len() > 1 { format!("{}/", input.platform.id().replace('/', "_")) } else { String::new() };
        if !prefix.is_empty() {
            // The platform directory itself: root-owned, 0755, the epoch (or 0) as its time.
            let dir = Header {
                name: prefix.clone().into_bytes(),
                typeflag: typeflag::DIRECTORY,
                mode: 0o755,
                mtime: epoch.unwrap_or(0),
                ..Default::default()
            };
            out.write(&tar::encode(&dir)).await?;
        }
        let roots: Vec<Vec<u8>> = input.layers.iter().map(|l| l.as_bytes().to_vec()).collect();
        walk::write_tree(host, &Tree { roots: &roots, mtime, prefix: prefix.as_bytes() }, &mut out).await?;
        host.progress(ProgressEvent { phase: "tar".into(), id: input.platform.id(), current: 1, total: 1 });
    }
    out.write(&tar::TRAILER).await?;
    out.flush().await
}
