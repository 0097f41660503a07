//! The network: HTTP for registries, the user's registry credentials (config file and helpers run
//! for the core), and byte streams to Docker-API engines for `--load`.

pub mod credentials;
pub mod engine;
pub mod http;
