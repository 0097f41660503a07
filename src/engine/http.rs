//! HTTP/1.1 over a host byte stream to an engine (a unix socket, TCP, TLS or an ssh subprocess):
//! one request per connection (`Connection: close`), a chunked request body, and a response whose
//! body is chunked, sized or runs to the end of the stream. Engines speak nothing fancier.

use crate::error::{Error, Result};
use crate::host::{Handle, Host};

/// Read this much from the stream at a time.
const READ_CHUNK: u32 = 64 << 10;
/// A response head longer than this is not an engine's.
const MAX_HEAD: usize = 64 << 10;

pub struct Stream<'h, H: Host> {
    host: &'h H,
    handle: Handle,
    /// Bytes read but not yet consumed.
    buffered: Vec<u8>,
    ended: bool,
    /// Names the engine in messages.
    pub shown: String,
}

/// Where reading a streamed body is.
pub struct Body {
    chunked: bool,
    /// Bytes still to come of a sized body.
    left: Option<u64>,
    /// Bytes still to come of the current chunk.
    chunk_left: usize,
    done: bool,
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl<'h, H: Host> Stream<'h, H> {
    pub fn new(host: &'h H, handle: Handle, shown: &str) -> Self {
        Stream { host, handle, buffered: Vec::new(), ended: false, shown: shown.to_string() }
    }

    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.host.engine_write(self.handle, data).await
    }

    /// Write a request head; a body, if any, follows as chunks.
    pub async fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) -> Result<()> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: api.moby.localhost\r\nUser-Agent: outport\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("Connection: close\r\n\r\n");
        self.write(head.as_bytes()).await
    }

    /// One chunk of a chunked body (`data` must not be empty: an empty chunk ends the body).
    pub async fn chunk(&mut self, data: &[u8]) -> Result<()> {
        let mut framed = format!("{:x}\r\n", data.len()).into_bytes();
        framed.extend_from_slice(data);
        framed.extend_from_slice(b"\r\n");
        self.write(&framed).await
    }

    pub async fn end_chunks(&mut self) -> Result<()> {
        self.write(b"0\r\n\r\n").await
    }

    async fn fill(&mut self) -> Result<bool> {
        if self.ended {
            return Ok(false);
        }
        let data = self.host.engine_read(self.handle, READ_CHUNK).await?;
        if data.is_empty() {
            self.ended = true;
            return Ok(false);
        }
        self.buffered.extend_from_slice(&data);
        Ok(true)
    }

    fn cut(&self, what: &str) -> Error {
        Error::output(format!("the engine at {} closed the connection {what}", self.shown))
    }

    /// The status line and headers.
    pub async fn response(&mut self) -> Result<Response> {
        let end = loop {
            if let Some(i) = self.buffered.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            if self.buffered.len() > MAX_HEAD {
                return Err(Error::output(format!("the engine at {} sent an oversized response head", self.shown)));
            }
            if !self.fill().await? {
                return Err(self.cut("without an answer"));
            }
        };
        let head = String::from_utf8_lossy(&self.buffered[..end]).into_owned();
        self.buffered.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.strip_prefix("HTTP/1."))
            .and_then(|l| l.get(2..5))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::output(format!("the engine at {} does not speak HTTP: {head:.60}", self.shown)))?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Ok(Response { status, headers })
    }

    /// The whole body (engines' answers are small JSON), at most `limit` bytes.
    pub async fn body(&mut self, response: &Response, limit: usize) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        let chunked = response.header("Transfer-Encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        if chunked {
            loop {
                let line = self.line().await?;
                let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16).map_err(|_| {
                    Error::output(format!("the engine at {} sent a bad chunk size {line:?}", self.shown))
                })?;
                if size == 0 {
                    return Ok(body);
                }
                while self.buffered.len() < size + 2 {
                    if !self.fill().await? {
                        return Err(self.cut("in the middle of its answer"));
                    }
                }
                body.extend_from_slice(&self.buffered[..size]);
                self.buffered.drain(..size + 2);
                if body.len() > limit {
                    return Err(Error::output(format!("the engine at {} sent more than {limit} bytes", self.shown)));
                }
            }
        }
        let length = response.header("Content-Length").and_then(|v| v.parse::<usize>().ok());
        loop {
            if length.is_some_and(|n| self.buffered.len() >= n) || self.buffered.len() > limit {
                break;
            }
            if !self.fill().await? {
                if length.is_some() {
                    return Err(self.cut("in the middle of its answer"));
                }
                break;
            }
        }
        body.append(&mut self.buffered);
        body.truncate(length.unwrap_or(limit).min(limit));
        Ok(body)
    }

    /// A body read as it arrives (an image the engine sends can be gigabytes).
    pub fn body_reader(&self, response: &Response) -> Body {
        let chunked = response.header("Transfer-Encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        let left = if chunked { None } else { response.header("Content-Length").and_then(|v| v.parse().ok()) };
        Body { chunked, left, chunk_left: 0, done: false }
    }

    /// The next piece of `body`; None at its end.
    pub async fn next_body(&mut self, body: &mut Body) -> Result<Option<Vec<u8>>> {
        if body.done {
            return Ok(None);
        }
        if body.chunked && body.chunk_left == 0 {
            let line = self.line().await?;
            body.chunk_left = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| Error::output(format!("the engine at {} sent a bad chunk size {line:?}", self.shown)))?;
            if body.chunk_left == 0 {
                body.done = true;
                return Ok(None);
            }
        }
        if body.left == Some(0) {
            body.done = true;
            return Ok(None);
        }
        if self.buffered.is_empty() && !self.fill().await? {
            if body.chunked || body.left.is_some() {
                return Err(self.cut("in the middle of its answer"));
            }
            body.done = true;
            return Ok(None);
        }
        let mut n = self.buffered.len();
        if body.chunked {
            n = n.min(body.chunk_left);
        }
        if let Some(left) = body.left {
            n = n.min(usize::try_from(left).unwrap_or(usize::MAX));
        }
        let piece: Vec<u8> = self.buffered.drain(..n).collect();
        if let Some(left) = &mut body.left {
            *left -= n as u64;
        }
        if body.chunked {
            body.chunk_left -= n;
            if body.chunk_left == 0 {
                // The CRLF after a chunk's data.
                while self.buffered.len() < 2 {
                    if !self.fill().await? {
                        return Err(self.cut("in the middle of its answer"));
                    }
                }
                self.buffered.drain(..2);
            }
        }
        Ok(Some(piece))
    }

    async fn line(&mut self) -> Result<String> {
        loop {
            if let Some(i) = self.buffered.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buffered[..i]).into_owned();
                self.buffered.drain(..i + 2);
                return Ok(line);
            }
            if !self.fill().await? {
                return Err(self.cut("in the middle of its answer"));
            }
        }
    }

    pub async fn close(self) {
        self.host.engine_close(self.handle).await;
    }
}
