//! A push parser over [`header`](super::header): bytes go in as they arrive, in chunks of any size,
//! and come back as events (an entry's header, its data, the end of the archive). It holds at most
//! one header block and one metadata entry (bounded by [`MAX_META`](super::header::MAX_META)), so
//! callers stream layers of any size through it.

use super::error::TarError;
use super::header::{parse_header, parse_meta, Block, Entry, Pending};
use super::{padding, BLOCK};
use std::fmt;

#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A real entry's header (or a PAX global header, typeflag `g`); its data follows as `Data`.
    Entry(Entry),
    /// Some of the current entry's data (its padding is not included).
    Data(&'a [u8]),
    /// The end-of-archive marker (two zero blocks) is complete; whatever follows is record padding.
    End,
}

/// How a tar that stops before its end-of-archive marker stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Truncation {
    /// No bytes at all.
    Empty,
    /// Between entries, or inside a header block (`clean`: exactly between two blocks, where Go's
    /// reader ends without an error).
    NoEndMarker { clean: bool },
    /// Inside the named entry's data, padding or metadata.
    InsideEntry(Vec<u8>),
}

impl fmt::Display for Truncation {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Truncation::Empty => write!(f, "it is empty"),
            Truncation::NoEndMarker { .. } => {
                write!(f, "it ends without the end-of-archive marker (two zero blocks); the file is cut short")
            }
            Truncation::InsideEntry(name) => {
                write!(f, "it ends inside entry {:?}; the file is cut short", String::from_utf8_lossy(name))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting a header block.
    Header,
    /// Collecting the data of a metadata entry, then its padding.
    Meta { kind: u8, remaining: u64, padding: u64 },
    /// Passing entry data on, then its padding.
    Data { remaining: u64, padding: u64 },
    /// Passing over padding before the next header.
    Padding(u64),
    /// After one zero block: the second must follow.
    SecondZero,
    /// After the end-of-archive marker.
    End,
}

pub struct Reader {
    state: State,
    block: [u8; BLOCK],
    filled: usize,
    /// Bytes consumed so far, and where the last header block started.
    offset: u64,
    header_at: u64,
    meta: Vec<u8>,
    pending: Pending,
    /// The entry being read, for messages.
    entry: Vec<u8>,
}

impl Default for Reader {
    fn default() -> Reader {
        Reader::new()
    }
}

impl Reader {
    pub fn new() -> Reader {
        Reader {
            state: State::Header,
            block: [0; BLOCK],
            filled: 0,
            offset: 0,
            header_at: 0,
            meta: Vec::new(),
            pending: Pending::default(),
            entry: Vec::new(),
        }
    }

    /// Where the last header block started (for messages).
    pub fn header_at(&self) -> u64 {
        self.header_at
    }

    /// Data bytes of the current entry still to come (0 outside an entry's data).
    pub fn data_left(&self) -> u64 {
        match self.state {
            State::Data { remaining, .. } => remaining,
            _ => 0,
        }
    }

    /// Consume a prefix of `input` (all of it unless an event ends it early): how many bytes, and the
    /// event they complete, if any. Only an empty `input` consumes nothing.
    pub fn read<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Option<Event<'a>>), TarError> {
        let mut used = 0;
        while used < input.len() {
            let rest = &input[used..];
            let (n, event) = self.step(rest)?;
            used += n;
            self.offset += n as u64;
            if let Some(event) = event {
                return Ok((used, Some(event)));
            }
        }
        Ok((used, None))
    }

    fn step<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Option<Event<'a>>), TarError> {
        let n_of = |left: u64| left.min(input.len() as u64) as usize;
        match self.state {
            State::End => Ok((input.len(), None)),
            State::Data { remaining, padding } => {
                let n = n_of(remaining);
                self.state = if n as u64 == remaining {
                    State::Padding(padding)
                } else {
                    State::Data { remaining: remaining - n as u64, padding }
                };
                self.skip_empty_padding();
                Ok((n, Some(Event::Data(&input[..n]))))
            }
            State::Padding(left) => {
                let n = n_of(left);
                self.state = State::Padding(left - n as u64);
                self.skip_empty_padding();
                Ok((n, None))
            }
            State::Meta { kind, remaining, padding } => {
                let n = n_of(remaining);
                self.meta.extend_from_slice(&input[..n]);
                self.state = State::Meta { kind, remaining: remaining - n as u64, padding };
                let event = if n as u64 == remaining { self.end_meta(kind, padding)? } else { None };
                Ok((n, event))
            }
            State::Header | State::SecondZero => {
                let n = (BLOCK - self.filled).min(input.len());
                self.block[self.filled..self.filled + n].copy_from_slice(&input[..n]);
                self.filled += n;
                if self.filled < BLOCK {
                    return Ok((n, None));
                }
                self.filled = 0;
                self.header_at = self.offset + n as u64 - BLOCK as u64;
                Ok((n, self.on_block()?))
            }
        }
    }

    fn skip_empty_padding(&mut self) {
        if self.state == State::Padding(0) {
            self.state = State::Header;
        }
    }

    fn on_block(&mut self) -> Result<Option<Event<'static>>, TarError> {
        if self.state == State::SecondZero {
            if self.block.iter().any(|&b| b != 0) {
                return Err(TarError::ZeroThenData);
            }
            self.state = State::End;
            return Ok(Some(Event::End));
        }
        match parse_header(&self.block, &mut self.pending)? {
            Block::Zero => {
                self.state = State::SecondZero;
                Ok(None)
            }
            Block::Meta { kind, size, name } => {
                self.meta.clear();
                self.entry = name;
                let padding = padding(size) as u64;
                self.state = State::Meta { kind, remaining: size, padding };
                if size == 0 {
                    return self.end_meta(kind, padding);
                }
                Ok(None)
            }
            Block::Entry(entry) => {
                let size = entry.data_size();
                self.entry = entry.name.clone();
                self.state = State::Data { remaining: size, padding: padding(size) as u64 };
                if size == 0 {
                    self.state = State::Header;
                }
                Ok(Some(Event::Entry(entry)))
            }
        }
    }

    fn end_meta(&mut self, kind: u8, padding: u64) -> Result<Option<Event<'static>>, TarError> {
        let meta = std::mem::take(&mut self.meta);
        let global = parse_meta(kind, &self.entry, &meta, &mut self.pending)?;
        self.state = State::Padding(padding);
        self.skip_empty_padding();
        Ok(global.map(Event::Entry))
    }

    /// At the end of the input: the end-of-archive marker must have been seen.
    pub fn finish(&self) -> Result<(), Truncation> {
        match self.state {
            State::End => Ok(()),
            State::Header if self.offset == 0 => Err(Truncation::Empty),
            State::Header | State::SecondZero => Err(Truncation::NoEndMarker { clean: self.filled == 0 }),
            State::Meta { .. } | State::Data { .. } | State::Padding(_) => {
                Err(Truncation::InsideEntry(self.entry.clone()))
            }
        }
    }
}
