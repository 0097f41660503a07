//! Every command and flag of the `outport` command line, once: both CLIs (the native one and
//! `npm/bin/outport.js`) parse with it and print their `--help` from it.

/// Where a flag's value goes in the parse result (see `parse.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// A key of the request JSON the core runs (`request.rs`); `config.x` and
    /// `config.healthcheck.x` are nested.
    Request(&'static str),
    /// A setting for the host (store directory, progress, threads, credentials…).
    Host(&'static str),
}

/// What a flag's value must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// A boolean switch: present means true; it takes no value.
    Switch,
    /// Any text, named so in the help.
    Text(&'static str),
    /// Text that may start with `-` (a command line, an ignore pattern).
    Hyphen(&'static str),
    /// A whole number (`usize` range).
    Count(&'static str),
    /// A whole number in `u32` range.
    Count32(&'static str),
    /// One of the listed words.
    OneOf(&'static str, &'static [&'static str]),
    /// true or false, in Go's spellings (`1`, `t`, `TRUE`, …), as buildx's `--sbom=true` takes it.
    Bool(&'static str),
}

pub struct Flag {
    pub long: &'static str,
    pub short: Option<char>,
    pub value: Value,
    /// Given more than once, the values are kept in order (a JSON array).
    pub repeat: bool,
    pub help: &'static str,
    pub field: Field,
}

pub const PROGRESS_MODES: &[&str] = &["auto", "plain", "json", "quiet"];

const fn flag(long: &'static str, value: Value, help: &'static str, field: Field) -> Flag {
    Flag { long, short: None, value, repeat: false, help, field }
}

const fn many(long: &'static str, value: Value, help: &'static str, field: Field) -> Flag {
    Flag { long, short: None, value, repeat: true, help, field }
}

use Field::{Host, Request};
use Value::{Bool, Count, Count32, Hyphen, OneOf, Switch, Text};

const STORE: Flag = flag(
    "store",
    Text("DIR"),
    "Content store directory (default: $OUTPORT_STORE, else $XDG_DATA_HOME/outport/store).",
    Host("store"),
);
const PROGRESS: Flag = flag(
    "progress",
    OneOf("MODE", PROGRESS_MODES),
    "Progress on stderr: auto (bars on a terminal, else nothing), plain, json (one event per line) or quiet [default: auto].",
    Host("progress"),
);
const JSON: Flag = flag("json", Switch, "Print JSON instead of a table.", Host("json"));
const CREDS: Flag = flag(
    "creds",
    Text("USER:SECRET"),
    "Credentials for the registry pushed to, USER:SECRET (a password or token; for GHCR a personal access token or GITHUB_TOKEN). Default: $OUTPORT_REGISTRY_USER and $OUTPORT_REGISTRY_TOKEN, then docker's config.json ($DOCKER_CONFIG or ~/.docker, credential helpers included).",
    Host("creds"),
);
const BASE_CREDS: Flag = flag(
    "base-creds",
    Text("USER:SECRET"),
    "Credentials for pulling the --base image, USER:SECRET (default: docker's config.json, as `docker login` writes it). --creds never goes to the base's registry.",
    Host("baseCreds"),
);
const REGISTRY_CA: Flag = flag(
    "registry-ca",
    Text("FILE"),
    "Also trust this PEM CA bundle for registries' TLS certificates (besides the system's).",
    Host("registryCa"),
);

pub const EXPORT_FLAGS: &[Flag] = &[
    many("layer", Text("SRC[:DEST]"), "Add a layer from a directory, file or layer tarball (.tar, .tar.gz, .tar.zst; taken as is), placed at DEST in the image (default /). Repeatable, in order, above ROOTFS.", Request("layers")),
    flag("node-app", Text("DIR"), "A Node.js app: node_modules as one layer, the rest of DIR as another, at the working directory (default /app), entrypoint `npm start` and user 1000 unless --entrypoint/--user say otherwise.", Request("nodeApp")),
    flag("owner", Text("UID:GID"), "Owner of every entry of the layers built from sources (default: 0:0 for --layer and --node-app, as BuildKit's COPY makes them; ROOTFS keeps the files' own).", Request("owner")),
    many("exclude", Hyphen("PATTERN"), "Leave out paths matching PATTERN (.dockerignore syntax, `!` to keep) from directory sources; after the patterns of each directory's .outportignore. Repeatable.", Request("excludes")),
    flag("keep-mtimes", Switch, "Keep the files' own mtimes in --layer/--node-app layers (default: SOURCE_DATE_EPOCH, else 0, so a layer does not change when nothing in it changed).", Request("keepMtimes")),
    many("annotation", Text("ANNOTATION"), "Add an annotation, buildx's syntax: [TYPE[,TYPE…][[PLATFORM]]:]KEY=VALUE (TYPE manifest, manifest-descriptor, index or index-descriptor; default manifest), to every image output. Repeatable.", Request("annotations")),
    flag("result", Text("FILE"), "A multi-platform build result (JSON: platforms, their layer directories and configs) instead of ROOTFS.", Request("result")),
    Flag { long: "output", short: Some('o'), value: Text("SPEC"), repeat: true, help: "Output, written as `docker buildx build --output` takes it (e.g. type=oci,dest=out.tar). Repeatable. Default: type=image (the local store).", field: Request("outputs") },
    Flag { long: "tag", short: Some('t'), value: Text("NAME"), repeat: true, help: "Name the image (replaces name= of image, oci and docker outputs). Repeatable.", field: Request("tags") },
    flag("push", Switch, "Shorthand for --output type=registry.", Request("push")),
    flag("load", Switch, "Shorthand for --output type=docker: load the image into the Docker engine (Docker or Podman's service), as buildx --load does.", Request("load")),
    flag("docker-host", Text("ADDR"), "The Docker engine for --load: unix:///PATH, tcp://HOST:PORT or ssh://USER@HOST (default: $DOCKER_HOST, the current docker context, /var/run/docker.sock, Podman's sockets).", Request("dockerHost")),
    flag("sbom", Bool("BOOL"), "Attach an SPDX SBOM of --node-app's node_modules (buildx's --sbom=true).", Request("sbom")),
    flag("provenance", Text("MODE"), "Attach a minimal SLSA provenance: mode=min (or true); false for none (buildx's --provenance).", Request("provenance")),
    many("attest", Text("SPEC"), "Attach an attestation: type=sbom|provenance,path=FILE (a predicate or an in-toto statement). Repeatable.", Request("attestations")),
    many("allow", Text("ENTITLEMENT"), "Allow an entitlement: buildx.local.delete lets type=local,mode=delete clean a destination outside the working directory.", Request("allow")),
    flag("strict", Switch, "Treat warnings (unknown option keys, …) as errors.", Request("strict")),
    flag("platform", Text("PLATFORM"), "Target platform OS/ARCH[/VARIANT] (default: the base image's, else this machine's).", Request("platform")),
    flag("base", Text("REF"), "Build on this image: a registry reference (host/repo:tag, …@sha256:…), oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:NAME].", Request("base")),
    flag("base-insecure", Switch, "Allow plain HTTP or an unverified certificate for the base image's registry.", Request("baseInsecure")),
    STORE,
    flag("metadata-file", Text("FILE"), "Also write the result metadata (buildx keys) as JSON to this file.", Request("metadataFile")),
    flag("config", Text("FILE"), "Image config JSON to start from (OCI image config; its os/architecture set the platform).", Request("config.configFile")),
    many("label", Text("KEY=VALUE"), "Add a label KEY=VALUE. Repeatable.", Request("config.labels")),
    many("env", Text("KEY=VALUE"), "Set an environment variable KEY=VALUE. Repeatable.", Request("config.env")),
    flag("entrypoint", Hyphen("CMD"), "Entrypoint: a JSON array (exec form) or a string run by /bin/sh -c.", Request("config.entrypoint")),
    flag("cmd", Hyphen("CMD"), "Default command: a JSON array (exec form) or a string run by /bin/sh -c.", Request("config.cmd")),
    flag("workdir", Text("DIR"), "Working directory (absolute).", Request("config.workdir")),
    flag("user", Text("USER"), "User (and group) the container runs as, e.g. 1000:1000.", Request("config.user")),
    many("expose", Text("PORT"), "Expose PORT[/tcp|udp|sctp]. Repeatable.", Request("config.expose")),
    many("volume", Text("PATH"), "Declare a volume at an absolute container path. Repeatable.", Request("config.volumes")),
    flag("stop-signal", Text("SIGNAL"), "Signal that stops the container, e.g. SIGQUIT.", Request("config.stopSignal")),
    flag("healthcheck-cmd", Hyphen("CMD"), "Health check command: a JSON array (exec form), a string run by the shell, or NONE.", Request("config.healthcheck.cmd")),
    flag("healthcheck-interval", Text("DURATION"), "Time between health checks (Go duration: 30s, 1m30s).", Request("config.healthcheck.interval")),
    flag("healthcheck-timeout", Text("DURATION"), "Time a health check may take.", Request("config.healthcheck.timeout")),
    flag("healthcheck-start-period", Text("DURATION"), "Start-up time during which failures do not count.", Request("config.healthcheck.startPeriod")),
    flag("healthcheck-start-interval", Text("DURATION"), "Time between health checks during the start period.", Request("config.healthcheck.startInterval")),
    flag("healthcheck-retries", Count32("N"), "Consecutive failures that make the container unhealthy.", Request("config.healthcheck.retries")),
    flag("threads", Count("N"), "Threads compressing layer pieces (default: $OUTPORT_THREADS, else the number of CPUs up to 4; 0: all on the core's own thread). The bytes are the same whatever the number.", Host("threads")),
    PROGRESS,
    CREDS,
    BASE_CREDS,
    REGISTRY_CA,
];

pub const PUSH_FLAGS: &[Flag] = &[
    STORE,
    flag(
        "insecure",
        Switch,
        "Allow plain HTTP or an unverified certificate for this registry (like registry.insecure=true).",
        Request("insecure"),
    ),
    CREDS,
    BASE_CREDS,
    REGISTRY_CA,
    flag("by-digest", Switch, "Push by digest only, without the tag.", Request("byDigest")),
    PROGRESS,
];

pub const STORE_FLAGS: &[Flag] = &[STORE, JSON];
pub const STORE_ONLY_FLAGS: &[Flag] = &[STORE];

/// A positional argument of a command.
pub struct Positional {
    pub name: &'static str,
    pub required: bool,
    /// Several may be given (a JSON array).
    pub many: bool,
    pub help: &'static str,
    pub field: Field,
}

pub struct Command {
    /// As typed: `export`, `store verify`.
    pub name: &'static str,
    pub about: &'static str,
    pub positional: Option<Positional>,
    pub flags: &'static [Flag],
}

pub const ABOUT: &str = "Export container images exactly as docker buildx --output would";

pub const COMMANDS: &[Command] = &[
    Command {
        name: "export",
        about: "Turn a root filesystem directory into an image and write it to every --output.",
        positional: Some(Positional {
            name: "ROOTFS",
            required: false,
            many: false,
            help: "Root filesystem directory that becomes the image's (first) layer.",
            field: Request("rootfs"),
        }),
        flags: EXPORT_FLAGS,
    },
    Command { name: "images", about: "List the images in the local store.", positional: None, flags: STORE_FLAGS },
    Command {
        name: "push",
        about: "Push images from the local store to their registries.",
        positional: Some(Positional {
            name: "NAME",
            required: true,
            many: true,
            help: "Images' names in the store (see `outport images`), e.g. ghcr.io/owner/app:1. Every one must be in the store; each is pushed even if one before it failed, and the exit status is 1 if any failed.",
            field: Request("names"),
        }),
        flags: PUSH_FLAGS,
    },
    Command {
        name: "rm",
        about: "Forget names in the local store (`store gc` then removes the blobs nothing else reaches).",
        positional: Some(Positional {
            name: "NAME",
            required: true,
            many: true,
            help:
                "Names to remove (any spelling: `app` is docker.io/library/app:latest). Every one must be in the store.",
            field: Request("names"),
        }),
        flags: STORE_ONLY_FLAGS,
    },
    Command {
        name: "store verify",
        about: "Hash every blob against its name and follow every reference from index.json; exit 1 on any problem.",
        positional: None,
        flags: STORE_FLAGS,
    },
    Command {
        name: "store gc",
        about: "Remove the blobs no image in the store reaches (do not run while an export writes to the store).",
        positional: None,
        flags: STORE_FLAGS,
    },
];

/// The `store` group's line in the top-level help.
pub const STORE_ABOUT: &str =
    "Look after the local store: `verify` checks it is whole, `gc` removes unreferenced blobs.";

/// `docker buildx build` flags a user may type out of habit: one line saying outport does not
/// build, instead of an "unknown flag".
pub const BUILD_FLAGS: &[(&str, &str)] = &[
    ("--build-arg", "outport exports a build result and does not build: build first (e.g. docker buildx build -o type=local,dest=rootfs .), then outport export rootfs"),
    ("--file", "outport exports a build result and does not read a Dockerfile: build first, then outport export the result"),
    ("-f", "outport exports a build result and does not read a Dockerfile: build first, then outport export the result"),
    ("--target", "outport exports a build result and has no build stages: build the stage first, then outport export it"),
    ("--secret", "outport does not build, so there is no build step to give secrets to"),
    ("--ssh", "outport does not build, so there is no build step to forward ssh to"),
    ("--cache-to", "outport has no build cache to export: its own layer cache is in the store (--store)"),
    ("--cache-from", "outport has no build cache to import: its own layer cache is in the store (--store)"),
];

pub fn command(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}
