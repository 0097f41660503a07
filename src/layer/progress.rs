//! Byte progress of a layer's tar stream on its way into the compressor: a `compress` event every
//! few MiB (bytes of tar done, of `total` when known, else 0), and one at the end.

use super::walk::TarSink;
use crate::error::Result;
use crate::host::{Host, ProgressEvent};

/// Often enough for a smooth bar and a rate, rarely enough to cost nothing.
const STEP: u64 = 4 << 20;

pub struct Counting<'a, H: Host, S: TarSink> {
    pub host: &'a H,
    pub inner: &'a mut S,
    pub id: &'a str,
    pub total: u64,
    done: u64,
    next_report: u64,
}

impl<'a, H: Host, S: TarSink> Counting<'a, H, S> {
    pub fn new(host: &'a H, inner: &'a mut S, id: &'a str, total: u64) -> Self {
        let counting = Counting { host, inner, id, total, done: 0, next_report: STEP };
        counting.report(0, total);
        counting
    }

    /// The stream is complete: its real length is the total.
    pub fn finish(&self) {
        self.report(self.done, self.done);
    }

    fn report(&self, current: u64, total: u64) {
        self.host.progress(ProgressEvent { phase: "compress".into(), id: self.id.into(), current, total });
    }
}

impl<H: Host, S: TarSink> TarSink for Counting<'_, H, S> {
    async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.inner.write(data).await?;
        self.done += data.len() as u64;
        if self.done >= self.next_report {
            self.next_report = self.done + STEP;
            // An estimate may fall short (a file grew since it was listed): never report past it.
            self.report(self.done, if self.total > 0 { self.total.max(self.done) } else { 0 });
        }
        Ok(())
    }
}
