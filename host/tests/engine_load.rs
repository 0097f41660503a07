//! `--load` and `type=docker` without dest load the image into a real Docker-API engine: Podman's
//! compatible service (Debian's podman), started by the test on a private unix socket and checked
//! through its own API.

mod common;

use common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A Podman service on `<dir>/podman.sock`, stopped when dropped.
struct Podman {
    _dir: TempDir,
    socket: PathBuf,
    child: Child,
    tcp: Option<String>,
}

impl Podman {
    fn start() -> Option<Podman> {
        Podman::start_on(None)
    }

    /// With `tcp`: the service listens on that address (`tcp://127.0.0.1:PORT`) instead of the socket.
    fn start_on(tcp: Option<&str>) -> Option<Podman> {
        if !is_root() {
            eprintln!("skipped: podman's service runs as root here");
            return None;
        }
        let dir = tempdir().unwrap();
        let socket = dir.path().join("podman.sock");
        let child = Command::new("podman")
            .args(["--root", &dir.path().join("root").to_string_lossy()])
            .args(["--runroot", &dir.path().join("run").to_string_lossy()])
            .args(["--storage-driver", "vfs", "system", "service", "--time=0"])
            .arg(tcp.map_or_else(|| format!("unix://{}", socket.display()), str::to_string))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("podman is installed (scripts/setup.sh)");
        let podman = Podman { _dir: dir, socket, child, tcp: tcp.map(str::to_string) };
        let started = Instant::now();
        while podman.get("/_ping").is_none() {
            assert!(started.elapsed() < Duration::from_secs(30), "podman's service did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(podman)
    }

    fn address(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// GET `path` through the engine's API: the body when 200.
    fn get(&self, path: &str) -> Option<String> {
        let mut curl = Command::new("curl");
        match &self.tcp {
            Some(tcp) => curl.args(["-sf", &format!("{}/v1.41{path}", tcp.replacen("tcp://", "http://", 1))]),
            None => {
                curl.args(["-sf", "--unix-socket", &self.socket.to_string_lossy(), &format!("http://d/v1.41{path}")])
            }
        };
        let out = curl.output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn image(&self, name: &str) -> Option<Value> {
        self.get(&format!("/images/{name}/json")).map(|body| serde_json::from_str(&body).unwrap())
    }

    fn image_count(&self) -> usize {
        serde_json::from_str::<Value>(&self.get("/images/json").unwrap()).unwrap().as_array().unwrap().len()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn metadata(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn load_and_docker_without_dest_go_into_the_engine() {
    let Some(podman) = Podman::start() else { return };
    let work = tempdir().unwrap();
    let rootfs = example_rootfs();
    let r = rootfs.to_str().unwrap();
    let args = ["--env", "GREETING=hi", "--cmd", r#"["/bin/hello"]"#, "--label", "org.example=yes"];
    let address = podman.address();
    let mut full = vec!["export", r, "--load", "-t", "loaded:1", "--docker-host", &address, "--progress", "plain"];
    full.extend(args);
    let out = ok(outport(work.path(), &full));
    let meta = metadata(&out);
    let image = podman.image("loaded:1").expect("the image is in the engine");
    assert_eq!(image["Id"], meta["containerimage.config.digest"], "the engine's image ID is the config digest");
    let config = &image["Config"];
    assert!(config["Env"].as_array().unwrap().iter().any(|e| e == "GREETING=hi"), "{config}");
    assert_eq!(config["Cmd"], serde_json::json!(["/bin/hello"]));
    assert_eq!(config["Labels"]["org.example"], "yes");
    assert!(stderr(&out).contains("#progress load"), "bytes sent shown: {}", stderr(&out));

    // type=docker without dest, the engine from DOCKER_HOST; the same tarball a dest would get.
    let out = ok(outport_command(work.path(), &["export", r, "-o", "type=docker,name=loaded:2"])
        .env("DOCKER_HOST", podman.address())
        .output()
        .unwrap());
    assert_eq!(podman.image("loaded:2").unwrap()["Id"], metadata(&out)["containerimage.config.digest"]);
    let file = work.path().join("docker.tar");
    let to_file =
        ok(export_tree(work.path(), &rootfs, &format!("type=docker,name=loaded:2,dest={}", file.display()), &[]));
    assert_eq!(metadata(&to_file)["containerimage.digest"], metadata(&out)["containerimage.digest"]);
}

#[test]
fn the_docker_context_names_the_engine() {
    let Some(podman) = Podman::start() else { return };
    let work = tempdir().unwrap();
    let docker = work.path().join("docker");
    let id = sha256_hex(b"pod");
    let meta_dir = docker.join("contexts/meta").join(&id);
    std::fs::create_dir_all(&meta_dir).unwrap();
    std::fs::write(docker.join("config.json"), r#"{"currentContext":"pod"}"#).unwrap();
    let meta = serde_json::json!({"Name": "pod", "Metadata": {}, "Endpoints": {"docker": {"Host": podman.address()}}});
    std::fs::write(meta_dir.join("meta.json"), meta.to_string()).unwrap();
    let out =
        ok(outport_command(work.path(), &["export", example_rootfs().to_str().unwrap(), "--load", "-t", "ctx:1"])
            .env_remove("DOCKER_HOST")
            .env("DOCKER_CONFIG", &docker)
            .output()
            .unwrap());
    assert_eq!(podman.image("ctx:1").unwrap()["Id"], metadata(&out)["containerimage.config.digest"]);

    // A context that does not exist is named.
    std::fs::write(docker.join("config.json"), r#"{"currentContext":"gone"}"#).unwrap();
    let out = outport_command(work.path(), &["export", example_rootfs().to_str().unwrap(), "--load"])
        .env_remove("DOCKER_HOST")
        .env("DOCKER_CONFIG", &docker)
        .output()
        .unwrap();
    assert!(stderr(&out).contains(r#"docker context "gone" not found"#), "{}", stderr(&out));
}

fn sha256_hex(data: &[u8]) -> String {
    let dir = tempdir().unwrap();
    let path = dir.path().join("x");
    std::fs::write(&path, data).unwrap();
    sha256_file(&path)
}

#[test]
fn no_engine_fails_clearly_and_writes_nothing() {
    let Some(podman) = Podman::start() else { return };
    let before = podman.image_count();
    let work = tempdir().unwrap();
    let tar = work.path().join("also.tar");
    let missing = work.path().join("nothing.sock");
    let out = outport(
        work.path(),
        &[
            "export",
            example_rootfs().to_str().unwrap(),
            "--load",
            "--docker-host",
            &format!("unix://{}", missing.display()),
            "-o",
            &format!("type=oci,dest={}", tar.display()),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let message = stderr(&out);
    assert!(message.contains(&format!("unix://{}", missing.display())) && message.contains("DOCKER_HOST"), "{message}");
    assert!(!tar.exists(), "the other outputs are abandoned too, as for any failed output");
    assert_eq!(podman.image_count(), before);

    // No engine anywhere: the places looked at are named.
    let out = outport_command(work.path(), &["export", example_rootfs().to_str().unwrap(), "--load"])
        .env_remove("DOCKER_HOST")
        .env("XDG_RUNTIME_DIR", work.path())
        .output()
        .unwrap();
    if !Path::new("/var/run/docker.sock").exists() && !Path::new("/run/podman/podman.sock").exists() {
        assert!(stderr(&out).contains("no Docker engine found"), "{}", stderr(&out));
    }
}

#[test]
fn multi_platform_results_are_refused_for_the_engine() {
    let work = tempdir().unwrap();
    let result = two_platform_result(work.path(), &[("a.txt", "{arch}")]);
    let out = outport(work.path(), &["export", "--result", result.to_str().unwrap(), "--load"]);
    assert!(
        stderr(&out).contains("docker exporter does not currently support exporting manifest lists"),
        "{}",
        stderr(&out)
    );
}

/// A proxy in front of the engine's socket that passes pings but cuts a load half-way.
fn cutting_proxy(engine: &Path, dir: &Path, cut_after: usize) -> PathBuf {
    let socket = dir.join("proxy.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let engine = engine.to_path_buf();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let engine = engine.clone();
            std::thread::spawn(move || {
                let mut server = UnixStream::connect(&engine).unwrap();
                let mut first = vec![0u8; 4096];
                let n = client.read(&mut first).unwrap_or(0);
                let is_load = first[..n].starts_with(b"POST");
                server.write_all(&first[..n]).unwrap();
                let mut to_server = client.try_clone().unwrap();
                let mut server_writer = server.try_clone().unwrap();
                let upstream = std::thread::spawn(move || {
                    let mut passed = n;
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = to_server.read(&mut buf) {
                        if n == 0 || (is_load && passed + n > cut_after) {
                            break;
                        }
                        passed += n;
                        if server_writer.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    if is_load {
                        let _ = to_server.shutdown(std::net::Shutdown::Both);
                        let _ = server_writer.shutdown(std::net::Shutdown::Both);
                    } else {
                        let _ = server_writer.shutdown(std::net::Shutdown::Write);
                    }
                });
                let _ = std::io::copy(&mut server, &mut client);
                let _ = client.shutdown(std::net::Shutdown::Both);
                let _ = upstream.join();
            });
        }
    });
    socket
}

#[test]
fn a_connection_dropped_half_way_is_an_error() {
    let Some(podman) = Podman::start() else { return };
    let work = tempdir().unwrap();
    // A layer big enough that the cut lands inside it.
    let rootfs = work.path().join("rootfs");
    std::fs::create_dir(&rootfs).unwrap();
    let noise: Vec<u8> = (0..4u32 << 20).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    std::fs::write(rootfs.join("noise"), noise).unwrap();
    let proxy = cutting_proxy(&podman.socket, work.path(), 64 << 10);
    let out = outport(
        work.path(),
        &[
            "export",
            rootfs.to_str().unwrap(),
            "--load",
            "-t",
            "cut:1",
            "--docker-host",
            &format!("unix://{}", proxy.display()),
        ],
    );
    assert!(!out.status.success(), "never a reported success: {}", String::from_utf8_lossy(&out.stdout));
    assert!(stderr(&out).contains("engine"), "{}", stderr(&out));
    assert!(podman.image("cut:1").is_none());
}

/// DOCKER_HOST=tcp://HOST:PORT reaches an engine listening on TCP.
#[test]
fn an_engine_on_tcp_is_reached() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let address = format!("tcp://127.0.0.1:{port}");
    let Some(podman) = Podman::start_on(Some(&address)) else { return };
    let work = tempdir().unwrap();
    let out =
        ok(outport_command(work.path(), &["export", example_rootfs().to_str().unwrap(), "--load", "-t", "overtcp:1"])
            .env("DOCKER_HOST", &address)
            .output()
            .unwrap());
    assert_eq!(podman.image("overtcp:1").unwrap()["Id"], metadata(&out)["containerimage.config.digest"]);
}

/// `--base docker-daemon:NAME`: the base comes from the engine (`GET /images/NAME/get`).
#[test]
fn a_base_from_the_engine() {
    let Some(podman) = Podman::start() else { return };
    let work = tempdir().unwrap();
    let w = work.path();
    let base_root = w.join("base");
    std::fs::create_dir_all(&base_root).unwrap();
    std::fs::write(base_root.join("base.txt"), "from the engine\n").unwrap();
    let address = podman.address();
    ok(outport(
        w,
        &[
            "export",
            base_root.to_str().unwrap(),
            "--load",
            "-t",
            "daemonbase:1",
            "--docker-host",
            &address,
            "--env",
            "BASE=1",
        ],
    ));

    let app = w.join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("app.txt"), "app\n").unwrap();
    let layout = w.join("layout");
    let fs_tar = w.join("fs.tar");
    ok(outport(
        w,
        &[
            "export",
            app.to_str().unwrap(),
            "--base",
            "docker-daemon:daemonbase:1",
            "--docker-host",
            &address,
            "-o",
            &format!("type=oci,tar=false,dest={},name=app:1", layout.display()),
            "-o",
            &format!("type=tar,dest={}", fs_tar.display()),
        ],
    ));
    let inspect: Value =
        serde_json::from_str(&run("skopeo", &["inspect", &format!("oci:{}:1", layout.display())])).unwrap();
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 2, "{inspect}");
    assert!(inspect["Env"].as_array().unwrap().iter().any(|e| e == "BASE=1"), "{inspect}");
    let names = run("tar", &["tf", fs_tar.to_str().unwrap()]);
    assert!(names.lines().any(|l| l == "base.txt") && names.lines().any(|l| l == "app.txt"), "{names}");

    let out =
        outport(w, &["export", app.to_str().unwrap(), "--base", "docker-daemon:nope:1", "--docker-host", &address]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("docker-daemon:nope:1") && stderr(&out).contains("HTTP 404"), "{}", stderr(&out));
}
