//! Progress reporting on stderr: `auto` draws bars on a terminal (nothing otherwise), `plain` prints
//! one line per event (CI logs), `json` one JSON object per line with the npm package's event
//! fields, `quiet` nothing.

use crate::bindings::outport::core::types::ProgressEvent;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub enum Progress {
    Quiet,
    Plain,
    Json,
    Bars(Bars),
}

impl Progress {
    pub fn parse(value: &str) -> Option<Progress> {
        match value {
            "auto" if std::io::stderr().is_terminal() => Some(Progress::Bars(Bars::default())),
            "auto" | "quiet" => Some(Progress::Quiet),
            "plain" => Some(Progress::Plain),
            "json" => Some(Progress::Json),
            _ => None,
        }
    }

    pub fn report(&mut self, event: &ProgressEvent) {
        match self {
            Progress::Quiet => {}
            Progress::Plain => eprintln!("#progress {} {} {}/{}", event.phase, event.id, event.current, event.total),
            Progress::Json => {
                let line = serde_json::json!({"phase": event.phase, "id": event.id, "current": event.current, "total": event.total});
                eprintln!("{line}");
            }
            Progress::Bars(bars) => bars.update(event),
        }
    }
}

/// Redraws at most this often, except when a step finishes.
const REDRAW: Duration = Duration::from_millis(100);
const BAR_WIDTH: usize = 24;
const ID_WIDTH: usize = 36;

/// Terminal bars: one line per step under way (compress and upload with bytes, a bar and the rate;
/// other steps as they start), redrawn in place; a finished step's line is printed once and scrolls
/// away above the ones still running.
#[derive(Default)]
pub struct Bars {
    running: Vec<Row>,
    /// Lines of running steps drawn last time (moved over and rewritten on the next draw).
    drawn: usize,
    last_draw: Option<Instant>,
}

struct Row {
    phase: String,
    id: String,
    current: u64,
    total: u64,
    started: Instant,
}

impl Bars {
    fn update(&mut self, event: &ProgressEvent) {
        // `layer` only brackets `compress`; `done` ends the run.
        if event.phase == "layer" {
            return;
        }
        let mut finished = Vec::new();
        if event.phase != "done" {
            let at = self.running.iter().position(|r| r.phase == event.phase && r.id == event.id);
            let row = match at {
                Some(at) => &mut self.running[at],
                None => {
                    let row = Row {
                        phase: event.phase.clone(),
                        id: event.id.clone(),
                        current: 0,
                        total: 0,
                        started: Instant::now(),
                    };
                    self.running.push(row);
                    self.running.last_mut().expect("just pushed")
                }
            };
            row.current = event.current;
            row.total = event.total;
            if event.total > 0 && event.current >= event.total {
                let at = at.unwrap_or(self.running.len() - 1);
                finished.push(self.running.remove(at));
            }
        } else {
            finished.append(&mut self.running);
        }
        let due = self.last_draw.is_none_or(|t| t.elapsed() >= REDRAW);
        if due || !finished.is_empty() {
            self.draw(&finished);
        }
    }

    fn draw(&mut self, finished: &[Row]) {
        let mut out = String::new();
        if self.drawn > 0 {
            // Up over the running lines, and clear from there down.
            out.push_str(&format!("\x1b[{}A", self.drawn));
        }
        out.push_str("\x1b[J");
        for row in finished {
            out.push_str(&row.line(true));
            out.push('\n');
        }
        for row in &self.running {
            out.push_str(&row.line(false));
            out.push('\n');
        }
        self.drawn = self.running.len();
        self.last_draw = Some(Instant::now());
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(out.as_bytes());
        let _ = stderr.flush();
    }
}

impl Row {
    fn line(&self, finished: bool) -> String {
        let id = short_id(&self.id);
        let state = if finished { "done" } else { "" };
        // Steps counted in items (0/1) show no bytes; a blob the registry has moved none.
        if self.phase == "exists" {
            return format!("{:<10} {id:<ID_WIDTH$} {}, not sent", self.phase, bytes(self.total as f64));
        }
        if self.total <= 1 {
            return format!("{:<10} {id:<ID_WIDTH$} {state}", self.phase);
        }
        let filled = (self.current.min(self.total) as u128 * BAR_WIDTH as u128 / self.total as u128) as usize;
        let bar = format!("{}{}", "=".repeat(filled), " ".repeat(BAR_WIDTH - filled));
        let seconds = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = bytes(self.current as f64 / seconds);
        format!(
            "{:<10} {id:<ID_WIDTH$} [{bar}] {:>10} / {:<10} {rate:>10}/s {state}",
            self.phase,
            bytes(self.current as f64),
            bytes(self.total as f64)
        )
    }
}

/// Digests as `sha256:` and 12 hex digits; long paths and names keep their end.
fn short_id(id: &str) -> String {
    if let Some(hex) = id.strip_prefix("sha256:") {
        return format!("sha256:{}", &hex[..hex.len().min(12)]);
    }
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= ID_WIDTH {
        return id.to_string();
    }
    let tail: String = chars[chars.len() - (ID_WIDTH - 1)..].iter().collect();
    format!("…{tail}")
}

fn bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ids_read_well() {
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(3.5 * 1024.0 * 1024.0), "3.5 MiB");
        assert_eq!(short_id("sha256:0123456789abcdef0123"), "sha256:0123456789ab");
        let long = format!("/very/long/{}/path", "x".repeat(60));
        assert_eq!(short_id(&long).chars().count(), ID_WIDTH);
        assert!(short_id(&long).ends_with("/path"));
    }

    #[test]
    fn a_row_shows_its_bar_bytes_and_rate() {
        let row =
            Row { phase: "compress".into(), id: "rootfs".into(), current: 50, total: 100, started: Instant::now() };
        let line = row.line(false);
        assert!(line.contains(&format!("[{}{}]", "=".repeat(12), " ".repeat(12))), "{line}");
        assert!(line.contains("50 B") && line.contains("100 B") && line.contains("/s"), "{line}");
        let step = Row { phase: "write".into(), id: "out.tar".into(), current: 1, total: 1, started: Instant::now() };
        assert!(step.line(true).ends_with("done"));
        let there =
            Row { phase: "exists".into(), id: "sha256:ab".into(), current: 2048, total: 2048, started: Instant::now() };
        assert!(
            there.line(true).ends_with("2.0 KiB, not sent") && !there.line(true).contains("/s"),
            "{}",
            there.line(true)
        );
    }
}
