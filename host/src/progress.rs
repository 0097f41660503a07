//! Progress reporting on stderr: `plain` prints one line per event (CI logs), `json` one JSON
//! object per line with the npm package's event fields, `quiet` nothing.

use crate::runtime::outport::core::types::ProgressEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Quiet,
    Plain,
    Json,
}

impl Progress {
    pub fn parse(value: &str) -> Option<Progress> {
        match value {
            "auto" | "quiet" => Some(Progress::Quiet),
            "plain" => Some(Progress::Plain),
            "json" => Some(Progress::Json),
            _ => None,
        }
    }

    pub fn report(&self, event: &ProgressEvent) {
        match self {
            Progress::Quiet => {}
            Progress::Plain => eprintln!("#progress {} {} {}/{}", event.phase, event.id, event.current, event.total),
            Progress::Json => {
                let line = serde_json::json!({"phase": event.phase, "id": event.id, "current": event.current, "total": event.total});
                eprintln!("{line}");
            }
        }
    }
}
