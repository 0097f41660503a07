//! `--help` text, generated from the table (`table.rs`): both CLIs print exactly this.

use super::table::{Command, Flag, Value, ABOUT, COMMANDS, STORE_ABOUT};
use std::fmt::Write;

/// Help lines wrap at this width; flag names take the left column.
const WIDTH: usize = 100;
const COLUMN: usize = 32;

/// The help for `outport` (no command), `outport store`, or one command.
pub fn help(command: Option<&str>) -> String {
    match command {
        None => top(),
        Some("store") => store(),
        Some(name) => COMMANDS.iter().find(|c| c.name == name).map_or_else(top, of_command),
    }
}

fn top() -> String {
    let mut text = format!("{ABOUT}\n\nUsage: outport <COMMAND>\n\nCommands:\n");
    let mut lines: Vec<(String, &str)> = Vec::new();
    for c in COMMANDS {
        match c.name.split_once(' ') {
            Some(("store", _)) if lines.iter().any(|(n, _)| n == "store") => {}
            Some(("store", _)) => lines.push(("store".into(), STORE_ABOUT)),
            _ => lines.push((c.name.into(), c.about)),
        }
    }
    lines.iter().for_each(|(name, about)| item(&mut text, name, about));
    text.push_str("\nOptions:\n");
    item(&mut text, "-h, --help", "Print help.");
    item(&mut text, "-V, --version", "Print version.");
    text
}

fn store() -> String {
    let mut text = format!("{STORE_ABOUT}\n\nUsage: outport store <COMMAND>\n\nCommands:\n");
    for c in COMMANDS.iter().filter(|c| c.name.starts_with("store ")) {
        item(&mut text, &c.name["store ".len()..], c.about);
    }
    text.push_str("\nOptions:\n");
    item(&mut text, "-h, --help", "Print help.");
    text
}

fn of_command(c: &Command) -> String {
    let mut text = format!("{}\n\nUsage: outport {} [OPTIONS]", c.about, c.name);
    if let Some(p) = &c.positional {
        let dots = if p.many { "..." } else { "" };
        let _ = if p.required { write!(text, " <{}>{dots}", p.name) } else { write!(text, " [{}]{dots}", p.name) };
    }
    text.push('\n');
    if let Some(p) = &c.positional {
        text.push_str("\nArguments:\n");
        let name = if p.required { format!("<{}>", p.name) } else { format!("[{}]", p.name) };
        item(&mut text, &name, p.help);
    }
    text.push_str("\nOptions:\n");
    for f in c.flags {
        item(&mut text, &flag_name(f), f.help);
    }
    item(&mut text, "-h, --help", "Print help.");
    text
}

/// `-o, --output <SPEC>` or `    --push`.
pub fn flag_name(f: &Flag) -> String {
    let short = f.short.map_or("    ".to_string(), |s| format!("-{s}, "));
    match value_name(f.value) {
        Some(v) => format!("{short}--{} <{v}>", f.long),
        None => format!("{short}--{}", f.long),
    }
}

pub fn value_name(value: Value) -> Option<&'static str> {
    match value {
        Value::Switch => None,
        Value::Text(n)
        | Value::Hyphen(n)
        | Value::Count(n)
        | Value::Count32(n)
        | Value::OneOf(n, _)
        | Value::Bool(n) => Some(n),
    }
}

/// One entry: the name in the left column, the help wrapped to the right of it (starting on the
/// next line when the name is too long for the column).
fn item(text: &mut String, name: &str, help: &str) {
    let mut line = format!("  {name}");
    let indent = " ".repeat(COLUMN);
    if line.chars().count() + 2 > COLUMN {
        text.push_str(&line);
        text.push('\n');
        line = indent.clone();
    } else {
        while line.chars().count() < COLUMN {
            line.push(' ');
        }
    }
    let mut empty = true;
    for word in help.split(' ') {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            text.push_str(&line);
            text.push('\n');
            line = indent.clone();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    text.push_str(&line);
    text.push('\n');
}
