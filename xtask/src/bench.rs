//! `cargo xtask bench`: criterion benchmarks of parse + plan + render, a
//! load run of `POST /generateBatch?period=week` against a release build of
//! `halcytone serve`, then dispatch throughput (10,000 due posts, SQLite and,
//! when `HALCYTONE_BENCH_POSTGRES_URL` or `HALCYTONE_TEST_POSTGRES_URL` names
//! a server, PostgreSQL), as BENCHMARKS.md describes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use xshell::{Shell, cmd};

use crate::{project_root, step};

/// The documents benchmarked, in `tests/benches/data/`.
const DOCUMENTS: [&str; 2] = ["doc-60.md", "doc-600.md"];

pub(crate) fn run(shell: &Shell, arguments: &[&str]) -> Result<()> {
    let quick = arguments.contains(&"--quick");
    step("criterion: parse + plan + render");
    if quick {
        cmd!(
            shell,
            "cargo bench -p halcytone-e2e --bench pipeline -- --quick"
        )
        .run()?;
    } else {
        cmd!(shell, "cargo bench -p halcytone-e2e --bench pipeline").run()?;
    }
    step("cargo build --release -p halcytone-server");
    cmd!(shell, "cargo build --release -p halcytone-server").run()?;
    if cmd!(shell, "wrk --version")
        .quiet()
        .ignore_status()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_err()
    {
        bail!("wrk is not installed: apt-get install wrk");
    }
    let script = std::env::temp_dir().join("halcytone-generate-batch.lua");
    std::fs::write(
        &script,
        "wrk.method = \"POST\"\nwrk.body = '{\"start\":\"2026-11-30\",\"dry_run\":true}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n",
    )?;
    let duration = if quick { "5s" } else { "15s" };
    for document in DOCUMENTS {
        step(&format!(
            "load: POST /generateBatch?period=week on {document}, 8 connections, {duration}"
        ));
        let mut server = Server::start(document)?;
        println!(
            "start to ready: {:.1} ms",
            server.ready_after.as_secs_f64() * 1000.0
        );
        std::thread::sleep(Duration::from_millis(500));
        println!("idle RSS: {:.1} MB", server.rss_kib()? as f64 / 1024.0);
        let url = format!("http://{}/generateBatch?period=week", server.address);
        let script = script.display().to_string();
        cmd!(
            shell,
            "wrk -t2 -c8 -d{duration} --latency -s {script} {url}"
        )
        .run()?;
        println!(
            "RSS after load: {:.1} MB",
            server.rss_kib()? as f64 / 1024.0
        );
        server.stop();
    }
    step("dispatch: 10,000 due posts through `halcytone publish --due`");
    cmd!(shell, "cargo bench -p halcytone-e2e --bench dispatch").run()?;
    Ok(())
}

struct Server {
    child: Child,
    address: String,
    ready_after: Duration,
}

impl Server {
    fn start(document: &str) -> Result<Self> {
        let root = project_root();
        let binary = root.join("target/release/halcytone");
        let path = root.join("tests/benches/data").join(document);
        let started = Instant::now();
        let mut child = Command::new(binary)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("HALCYTONE__SOURCE__PATH", path)
            .env("HALCYTONE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start target/release/halcytone")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let address = line
            .trim()
            .rsplit("http://")
            .next()
            .filter(|address| !address.is_empty())
            .with_context(|| format!("unexpected first line from halcytone serve: {line:?}"))?
            .to_owned();
        // Ready means answering: poll /health until it does.
        loop {
            if std::net::TcpStream::connect(&address).is_ok_and(|mut stream| health_ok(&mut stream))
            {
                break;
            }
            if started.elapsed() > Duration::from_secs(10) {
                bail!("halcytone serve was not ready within 10 s");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(Self {
            child,
            address,
            ready_after: started.elapsed(),
        })
    }

    fn rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS in /proc/<pid>/status")
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn health_ok(stream: &mut std::net::TcpStream) -> bool {
    use std::io::{Read, Write};
    if stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut response = String::new();
    stream.read_to_string(&mut response).is_ok() && response.starts_with("HTTP/1.1 200")
}
