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
    if arguments.first() == Some(&"server") {
        return server(shell, quick);
    }
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
    server(shell, quick)?;
    step("dispatch: 10,000 due posts through `halcytone publish --due`");
    cmd!(shell, "cargo bench -p halcytone-e2e --bench dispatch").run()?;
    Ok(())
}

/// The load run `cargo xtask bench server`: the release binary started as
/// README documents (`halcytone serve`, default settings and logging, only
/// the source configured), `wrk -t2 -c8` on `POST /generateBatch?period=week`
/// for each document, CPU per request from `/proc/<pid>/stat`, RSS, p50 and
/// p99, then cold requests (each after a new document revision). The
/// figures, with the command, replace the generated part of BENCHMARKS.md.
fn server(shell: &Shell, quick: bool) -> Result<()> {
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
    let duration = if quick { "5s" } else { "10s" };
    let ticks_per_second: f64 = cmd!(shell, "getconf CLK_TCK")
        .quiet()
        .read()?
        .trim()
        .parse()
        .context("getconf CLK_TCK")?;
    let mut rows = Vec::new();
    for document in DOCUMENTS {
        step(&format!(
            "load: POST /generateBatch?period=week on {document}, wrk -t2 -c8 -d{duration}"
        ));
        let mut server = Server::start(document)?;
        std::thread::sleep(Duration::from_millis(300));
        let idle_kib = server.rss_kib()?;
        // The first request reads the document; the load measures what
        // every request after it costs.
        let cold_first = server.request()?;
        let ticks_before = server.cpu_ticks()?;
        let url = format!("http://{}/generateBatch?period=week", server.address);
        let script = script.display().to_string();
        let output = cmd!(
            shell,
            "wrk -t2 -c8 -d{duration} --latency -s {script} {url}"
        )
        .read()?;
        println!("{output}");
        let ticks = server.cpu_ticks()? - ticks_before;
        let load = Wrk::parse(&output)?;
        let loaded_kib = server.rss_kib()?;
        let peak_kib = server.peak_rss_kib()?;
        // Cold: each request after the document changed (a new revision).
        let mut cold = Vec::new();
        for revision in 0..if quick { 5 } else { 15 } {
            server.new_revision(revision)?;
            cold.push(server.request()?);
        }
        cold.sort();
        server.stop();
        let cpu_ms = ticks as f64 / ticks_per_second * 1000.0 / load.requests as f64;
        rows.push(format!(
            "| {} | {:.0} | {cpu_ms:.3} ms | {} | {} | {:.1} MB | {:.1} MB | {:.1} MB | {:.1} ms | {:.1} ms ({:.1} ms first) |",
            document.trim_end_matches(".md"),
            load.requests_per_second,
            load.p50,
            load.p99,
            idle_kib as f64 / 1024.0,
            loaded_kib as f64 / 1024.0,
            peak_kib as f64 / 1024.0,
            server.ready_after.as_secs_f64() * 1000.0,
            cold[cold.len() / 2].as_secs_f64() * 1000.0,
            cold_first.as_secs_f64() * 1000.0,
        ));
    }
    let commit = cmd!(shell, "git rev-parse --short HEAD").quiet().read()?;
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|name| name.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let table = format!(
        "{BEGIN}\n`cargo xtask bench server{}` at {commit}, {cores} cores ({cpu}): the release \
         binary as README starts it (`halcytone serve`, default settings and logging, only \
         `HALCYTONE__SOURCE__PATH` set), `wrk -t2 -c8 -d{duration} --latency`, body \
         `{{\"start\":\"2026-11-30\",\"dry_run\":true}}`. CPU per request is the server's \
         user + system time over the run (`/proc/<pid>/stat`) divided by the requests served. \
         Cold is the median of single requests each made after the document changed (a new \
         revision: parsed, planned and rendered afresh).\n\n\
         | doc | requests/s | CPU per request | p50 | p99 | idle RSS | RSS after load | peak RSS | start to ready | cold request |\n\
         |---|---|---|---|---|---|---|---|---|---|\n{}\n{END}",
        if quick { " --quick" } else { "" },
        rows.join("\n")
    );
    println!("{table}");
    let path = project_root().join("BENCHMARKS.md");
    let text = std::fs::read_to_string(&path)?;
    let (before, rest) = text
        .split_once(BEGIN)
        .with_context(|| format!("BENCHMARKS.md has no {BEGIN} line"))?;
    let (_, after) = rest
        .split_once(END)
        .with_context(|| format!("BENCHMARKS.md has no {END} line"))?;
    std::fs::write(&path, format!("{before}{table}{after}"))?;
    println!("BENCHMARKS.md updated");
    Ok(())
}

/// The lines around the part of BENCHMARKS.md that `bench server` writes.
const BEGIN: &str = "<!-- cargo xtask bench server: begin -->";
const END: &str = "<!-- cargo xtask bench server: end -->";

/// What wrk reported.
struct Wrk {
    requests: u64,
    requests_per_second: f64,
    p50: String,
    p99: String,
}

impl Wrk {
    fn parse(output: &str) -> Result<Self> {
        let percentile = |name: &str| {
            output
                .lines()
                .find_map(|line| line.trim().strip_prefix(name))
                .map(|value| value.trim().to_owned())
                .with_context(|| format!("no {name} line in wrk's output"))
        };
        let requests = output
            .lines()
            .find(|line| line.contains(" requests in "))
            .and_then(|line| line.split_whitespace().next())
            .and_then(|count| count.parse().ok())
            .context("no request count in wrk's output")?;
        let requests_per_second = output
            .lines()
            .find_map(|line| line.trim().strip_prefix("Requests/sec:"))
            .and_then(|value| value.trim().parse().ok())
            .context("no Requests/sec in wrk's output")?;
        if output.contains("Non-2xx or 3xx responses") {
            bail!("the server answered errors under load:\n{output}");
        }
        Ok(Self {
            requests,
            requests_per_second,
            p50: percentile("50%")?,
            p99: percentile("99%")?,
        })
    }
}

struct Server {
    child: Child,
    address: String,
    ready_after: Duration,
    document: std::path::PathBuf,
}

impl Server {
    fn start(document: &str) -> Result<Self> {
        let root = project_root();
        let binary = root.join("target/release/halcytone");
        // A directory of its own: a fresh data_dir and store, and a copy of
        // the document that cold runs can change.
        let directory =
            std::env::temp_dir().join(format!("halcytone-bench-{}-{document}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory)?;
        let path = directory.join("living.md");
        std::fs::copy(root.join("tests/benches/data").join(document), &path)?;
        let started = Instant::now();
        let mut child = Command::new(binary)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .current_dir(&directory)
            .env_remove("HALCYTONE_LOG")
            .env("HALCYTONE__SOURCE__PATH", &path)
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
            document: path,
        })
    }

    /// One `POST /generateBatch?period=week` dry run, timed to the last byte.
    fn request(&self) -> Result<Duration> {
        use std::io::{Read, Write};
        let body = r#"{"start":"2026-11-30","dry_run":true}"#;
        let started = Instant::now();
        let mut stream = std::net::TcpStream::connect(&self.address)?;
        write!(
            stream,
            "POST /generateBatch?period=week HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        let took = started.elapsed();
        if !response.starts_with(b"HTTP/1.1 200") {
            bail!(
                "generateBatch failed: {}",
                String::from_utf8_lossy(&response[..response.len().min(300)])
            );
        }
        Ok(took)
    }

    /// Changes the document's last item, so the next request reads a new revision.
    fn new_revision(&self, revision: usize) -> Result<()> {
        let mut text = std::fs::read_to_string(&self.document)?;
        text.push_str(&format!("\nRevision {revision} of the benchmark.\n"));
        std::fs::write(&self.document, text)?;
        Ok(())
    }

    /// User plus system CPU time so far, in clock ticks.
    fn cpu_ticks(&self) -> Result<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // The fields after the command name (which may hold spaces) start
        // with the state, field 3; utime and stime are fields 14 and 15.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let field = |index: usize| -> Result<u64> {
            fields
                .get(index - 3)
                .and_then(|value| value.parse().ok())
                .context("unexpected /proc/<pid>/stat")
        };
        Ok(field(14)? + field(15)?)
    }

    /// The most memory the process held at once (VmHWM).
    fn peak_rss_kib(&self) -> Result<u64> {
        self.status_kib("VmHWM:")
    }

    fn rss_kib(&self) -> Result<u64> {
        self.status_kib("VmRSS:")
    }

    fn status_kib(&self, field: &str) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {field} in /proc/<pid>/status"))
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
