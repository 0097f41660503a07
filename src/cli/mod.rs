//! The `outport` command line, for both CLIs: the table of commands and flags (`table.rs`), the
//! `--help` made from it (`help.rs`) and the parser (`parse.rs`). Hosts pass argv and the
//! environment variables in `parse::ENV` and act on the JSON they get back.

mod help;
mod parse;
mod table;
#[cfg(test)]
mod tests;

pub use help::help;
pub use parse::{parse_args, ENV};

/// `parse_args` for the bindings: the result as a JSON string.
pub fn parse_args_json(args: &[String], env: &[(String, String)]) -> crate::error::Result<String> {
    parse_args(args, env).map(|v| v.to_string())
}
