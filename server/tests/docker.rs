//! The container image's parts that can be checked without a container
//! runtime (none runs on the CI machine): docker/natsws.conf is valid and
//! serves what the Dockerfile exposes, the Dockerfile's CMD and COPY agree
//! and it runs as non-root, and `natsws --healthcheck <url>` (the image's
//! HEALTHCHECK) exits 0 on a healthy server and 1 otherwise.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::Server;

fn repo_file(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn natsws() -> Command {
    Command::new(env!("CARGO_BIN_EXE_natsws"))
}

fn healthcheck(url: &str) -> (bool, String) {
    let out = natsws().args(["--healthcheck", url]).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_image_config_is_valid() {
    let conf = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docker/natsws.conf");
    let out = natsws().arg("-t").arg("-c").arg(&conf).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_dockerfile_exposes_the_config_ports_and_runs_as_non_root() {
    let df = repo_file("docker/Dockerfile");
    let conf = repo_file("docker/natsws.conf");
    for port in ["4222", "8080", "8222"] {
        assert!(conf.contains(port), "natsws.conf lacks {port}");
    }
    let expose = df.lines().find(|l| l.starts_with("EXPOSE")).unwrap();
    assert_eq!(expose, "EXPOSE 4222 8080 8222");
    assert!(df.contains("COPY docker/natsws.conf /etc/natsws/natsws.conf"));
    assert!(df.contains(r#"CMD ["--config", "/etc/natsws/natsws.conf"]"#));
    let user = df.lines().find(|l| l.starts_with("USER")).unwrap();
    assert!(!user.contains(" 0") && !user.contains("root"), "{user}");
    assert!(df.contains(r#""--healthcheck", "http://127.0.0.1:8222/healthz""#));
}

#[test]
fn healthcheck_exits_0_on_a_healthy_server_and_1_otherwise() {
    // The image's config on ephemeral ports.
    let conf = repo_file("docker/natsws.conf")
        .replace("host: 0.0.0.0", "host: 127.0.0.1")
        .replace("port: 4222", "port: -1")
        .replace("http_port: 8222", "http_port: -1")
        .replace("port: 8080", "port: -1");
    let mut s = Server::start(&conf);
    let http = s.http_port.expect("monitoring port");
    let url = format!("http://127.0.0.1:{http}/healthz");
    let (ok, err) = healthcheck(&url);
    assert!(ok, "{err}");
    let (ok, err) = healthcheck(&format!("http://127.0.0.1:{http}/nope"));
    assert!(!ok);
    assert!(err.contains("status 404"), "{err}");
    s.kill();
    let (ok, _) = healthcheck(&url);
    assert!(!ok, "healthy after the server stopped");
    let (ok, err) = healthcheck("https://127.0.0.1:1/healthz");
    assert!(!ok && err.contains("not an http:// URL"), "{err}");
}
