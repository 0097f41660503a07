//! Layer pieces compressed on other threads, each running its own instance of the core component
//! (its `compress-piece` export), so one big layer compresses on every core. The core decides the
//! pieces and their order; the pool only runs them, so the bytes do not depend on the thread count.

use crate::bindings::outport::core::types::Piece;
use crate::bindings::{CoreError, ErrorKind};
use std::collections::HashMap;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

type Outcome = Result<Vec<u8>, CoreError>;

/// One worker's instance of the core, compressing piece after piece (`runtime::compressor` makes
/// them; the pool is given the maker, so it needs nothing of the engine's).
pub type Compressor = Box<dyn FnMut(&Piece) -> Outcome>;
pub type MakeCompressor = fn() -> Result<Compressor, CoreError>;

struct Job {
    piece: Piece,
    reply: Sender<Outcome>,
}

pub struct CompressPool {
    threads: usize,
    make: MakeCompressor,
    /// Started on the first piece.
    jobs: Option<Sender<Job>>,
    pending: HashMap<u32, Receiver<Outcome>>,
    next: u32,
}

impl CompressPool {
    /// `threads`: 0 leaves compression to the core's own thread; `make` builds each thread's core.
    pub fn new(threads: usize, make: MakeCompressor) -> CompressPool {
        CompressPool { threads, make, jobs: None, pending: HashMap::new(), next: 1 }
    }

    pub fn threads(&self) -> u32 {
        self.threads.min(256) as u32
    }

    pub fn start(&mut self, piece: Piece) -> Result<u32, CoreError> {
        let (threads, make) = (self.threads, self.make);
        let jobs = self.jobs.get_or_insert_with(|| spawn_workers(threads.max(1), make));
        let (reply, outcome) = channel();
        jobs.send(Job { piece, reply }).map_err(|_| failure("the compression threads stopped"))?;
        let handle = self.next;
        self.next += 1;
        self.pending.insert(handle, outcome);
        Ok(handle)
    }

    pub fn wait(&mut self, handle: u32) -> Outcome {
        let outcome = self.pending.remove(&handle).ok_or_else(|| failure(format!("no compression job {handle}")))?;
        outcome.recv().map_err(|_| failure("a compression thread stopped"))?
    }
}

/// Workers share one queue; each builds its instance of the core when it starts. Dropping the
/// pool's sender ends them.
fn spawn_workers(threads: usize, make: MakeCompressor) -> Sender<Job> {
    let (jobs, queue) = channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    for _ in 0..threads {
        let queue = queue.clone();
        std::thread::spawn(move || {
            let mut instance = make();
            loop {
                let next = queue.lock().map(|q| q.recv());
                let Ok(Ok(job)) = next else { return };
                let outcome = match &mut instance {
                    Ok(compress) => compress(&job.piece),
                    Err(e) => Err(e.clone()),
                };
                let _ = job.reply.send(outcome);
            }
        });
    }
    jobs
}

fn failure(message: impl Into<String>) -> CoreError {
    CoreError { kind: ErrorKind::Internal, message: message.into() }
}
