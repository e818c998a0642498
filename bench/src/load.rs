//! Load generation: wrk (`--latency`) when it is installed, else a small
//! HTTP/1.1 keep-alive client written here (hyper, N connections, a fixed
//! duration). Both report requests per second and p50/p99 latency.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

/// What one load run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    /// Requests per second.
    pub rps: f64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
    /// Requests completed in the run.
    pub requests: f64,
    /// The server's CPU time (user + system, its child processes included)
    /// per request, microseconds; NaN until the caller measured it.
    pub cpu_us: f64,
}

/// Which load generator runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generator {
    /// `wrk` from the system.
    Wrk,
    /// The client in this file.
    Builtin,
}

impl Generator {
    /// wrk when `wrk --version` runs, else the built-in client.
    pub fn detect() -> Generator {
        let found = Command::new("wrk")
            .arg("--version")
            .output()
            .map(|out| {
                String::from_utf8_lossy(&out.stdout).contains("wrk")
                    || String::from_utf8_lossy(&out.stderr).contains("wrk")
            })
            .unwrap_or(false);
        if found {
            Generator::Wrk
        } else {
            Generator::Builtin
        }
    }

    /// A name for the report.
    pub fn describe(self, settings: &LoadSettings) -> String {
        match self {
            Generator::Wrk => format!(
                "wrk -t{} -c{} -d{}s --latency",
                settings.threads,
                settings.connections,
                settings.duration.as_secs_f64()
            ),
            Generator::Builtin => format!(
                "built-in hyper client, {} connections, {}s",
                settings.connections,
                settings.duration.as_secs_f64()
            ),
        }
    }

    /// Drive `http://addr{path}` for `settings.duration`.
    pub fn run(
        self,
        addr: SocketAddr,
        path: &str,
        settings: &LoadSettings,
    ) -> Result<Load, String> {
        match self {
            Generator::Wrk => run_wrk(addr, path, settings),
            Generator::Builtin => run_builtin(addr, path, settings),
        }
    }
}

/// How hard and how long.
#[derive(Debug, Clone)]
pub struct LoadSettings {
    /// wrk threads (the built-in client uses the runtime's).
    pub threads: usize,
    /// Connections kept open.
    pub connections: usize,
    /// How long one run lasts.
    pub duration: Duration,
}

fn run_wrk(addr: SocketAddr, path: &str, settings: &LoadSettings) -> Result<Load, String> {
    let url = format!("http://{addr}{path}");
    let output = Command::new("wrk")
        .arg(format!("-t{}", settings.threads))
        .arg(format!("-c{}", settings.connections))
        .arg(format!("-d{}s", settings.duration.as_secs().max(1)))
        .arg("--latency")
        .arg(&url)
        .output()
        .map_err(|e| format!("wrk did not run: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "wrk failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    parse_wrk(&text).ok_or_else(|| format!("cannot read wrk's output:\n{text}"))
}

/// Read requests/s, the 50% and 99% latencies, and refuse a run with socket
/// errors (a server that drops connections is not measured).
pub fn parse_wrk(text: &str) -> Option<Load> {
    let mut rps = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut requests = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(count) = requests_line(line) {
            requests = Some(count);
        } else if let Some(rest) = line.strip_prefix("Requests/sec:") {
            rps = rest.trim().parse::<f64>().ok();
        } else if let Some(rest) = line.strip_prefix("50%") {
            p50 = parse_duration_ms(rest.trim());
        } else if let Some(rest) = line.strip_prefix("99%") {
            p99 = parse_duration_ms(rest.trim());
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0": timeouts and connect
            // errors mean the run is not comparable.
            let bad: u64 = rest
                .split(',')
                .filter_map(|part| {
                    let mut words = part.split_whitespace();
                    let kind = words.next()?;
                    let count = words.next()?.parse::<u64>().ok()?;
                    (kind == "connect" || kind == "timeout").then_some(count)
                })
                .sum();
            if bad > 0 {
                return None;
            }
        }
    }
    Some(Load {
        rps: rps?,
        p50_ms: p50?,
        p99_ms: p99?,
        requests: requests?,
        cpu_us: f64::NAN,
    })
}

/// The count of wrk's "86712 requests in 3.00s, 21.50MB read" line.
fn requests_line(line: &str) -> Option<f64> {
    let (count, rest) = line.split_once(' ')?;
    if rest.starts_with("requests in ") {
        count.parse().ok()
    } else {
        None
    }
}

/// `812.00us`, `1.23ms`, `2.00s`, `1.5m` in milliseconds.
fn parse_duration_ms(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.trim().parse().ok()?;
    let factor = match unit.trim() {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        _ => return None,
    };
    Some(value * factor)
}

fn run_builtin(addr: SocketAddr, path: &str, settings: &LoadSettings) -> Result<Load, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(settings.threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(builtin(addr, path.to_string(), settings.clone()))
}

async fn builtin(addr: SocketAddr, path: String, settings: LoadSettings) -> Result<Load, String> {
    let started = Instant::now();
    let deadline = started + settings.duration;
    let mut tasks = Vec::new();
    for _ in 0..settings.connections {
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            connection(addr, &path, deadline).await
        }));
    }
    let mut latencies: Vec<u32> = Vec::new();
    for task in tasks {
        let mut one = task.await.map_err(|e| e.to_string())??;
        latencies.append(&mut one);
    }
    let elapsed = started.elapsed().as_secs_f64();
    if latencies.is_empty() {
        return Err("no request completed".into());
    }
    latencies.sort_unstable();
    let at =
        |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    Ok(Load {
        rps: latencies.len() as f64 / elapsed,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        requests: latencies.len() as f64,
        cpu_us: f64::NAN,
    })
}

/// One client sending GETs until the deadline on a keep-alive connection,
/// opening a new one when the server closes it (gunicorn's sync workers
/// answer `Connection: close`), as wrk does; latencies in µs.
async fn connection(addr: SocketAddr, path: &str, deadline: Instant) -> Result<Vec<u32>, String> {
    let host = addr.to_string();
    let mut latencies = Vec::with_capacity(1 << 16);
    while Instant::now() < deadline {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake::<_, Empty<bytes::Bytes>>(TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        while Instant::now() < deadline {
            let request = http::Request::get(path)
                .header(http::header::HOST, &host)
                .body(Empty::new())
                .map_err(|e| e.to_string())?;
            let sent = Instant::now();
            sender.ready().await.map_err(|e| e.to_string())?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| e.to_string())?;
            let closing = response
                .headers()
                .get(http::header::CONNECTION)
                .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"close"));
            response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?;
            latencies.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
            if closing {
                break;
            }
        }
    }
    Ok(latencies)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK: &str = "Running 3s test @ http://127.0.0.1:8080/hello/world/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.10ms  512.31us  12.05ms   80.12%
    Req/Sec    14.52k     1.02k   16.33k    70.00%
  Latency Distribution
     50%  812.00us
     75%    1.20ms
     90%    1.80ms
     99%    3.05ms
  86712 requests in 3.00s, 21.50MB read
Requests/sec:  28903.51
Transfer/sec:      7.17MB
";

    #[test]
    fn wrk_output_is_read() {
        let load = parse_wrk(WRK).unwrap();
        assert_eq!(load.rps, 28903.51);
        assert!((load.p50_ms - 0.812).abs() < 1e-9);
        assert!((load.p99_ms - 3.05).abs() < 1e-9);
        assert_eq!(load.requests, 86712.0);
    }

    #[test]
    fn socket_timeouts_make_a_run_unusable() {
        let text = WRK.replace(
            "Requests/sec",
            "  Socket errors: connect 0, read 3, write 0, timeout 12\nRequests/sec",
        );
        assert!(parse_wrk(&text).is_none());
        let reads_only = WRK.replace(
            "Requests/sec",
            "  Socket errors: connect 0, read 3, write 0, timeout 0\nRequests/sec",
        );
        assert!(parse_wrk(&reads_only).is_some());
    }

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(parse_duration_ms("2.00s"), Some(2000.0));
        assert_eq!(parse_duration_ms("1.50ms"), Some(1.5));
        assert_eq!(parse_duration_ms("1m"), Some(60_000.0));
        assert_eq!(parse_duration_ms("fast"), None);
    }
}
