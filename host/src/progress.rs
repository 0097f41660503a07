//! Progress reporting on stderr: `plain` prints one line per event (CI logs), `quiet` nothing.

use crate::runtime::outport::core::types::ProgressEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Quiet,
    Plain,
}

impl Progress {
    pub fn parse(value: &str) -> Option<Progress> {
        match value {
            "auto" | "quiet" => Some(Progress::Quiet),
            "plain" => Some(Progress::Plain),
            _ => None,
        }
    }

    pub fn report(&self, event: &ProgressEvent) {
        if *self == Progress::Plain {
            eprintln!("#progress {} {} {}/{}", event.phase, event.id, event.current, event.total);
        }
    }
}
