//! A real `SeaweedFS` cluster on loopback for the S3 store's tests: a master (telemetry off),
//! three volume servers, a filer and the S3 gateway, each its own `weed` process, on free
//! ports, in a temporary directory.
//!
//! Nothing is left running. Every `weed` runs under a small `sh` watchdog that holds the
//! read end of a pipe from the test process: when the [`Cluster`] is dropped (also while a
//! test panics) or the test process dies in any way (a `static` cluster is never dropped,
//! a killed process drops nothing), the pipe closes, and the watchdog kills its `weed`
//! and reaps it. A last watchdog removes the directory once every `weed` has exited.
//!
//! Replication is `001` by default: two copies of every volume on two different servers of
//! the one rack. It is the smallest setting that really replicates (every object is on two
//! machines, so the tests exercise the cluster's distribution, not one disk), and, with three
//! volume servers, one may stop while reads go on and new writes land on the other two;
//! `002` would need all three for every write and costs a third more disk and I/O on a
//! two-core machine.

#![allow(dead_code)] // Each test binary uses part of the fixture.

use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Instant;

/// The gateway's credentials (a test cluster's only identity).
pub const ACCESS_KEY: &str = "ts-test-access";
/// The secret of [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "ts-test-secret-not-a-real-one";

/// One role of the cluster: a watchdog `sh` whose stdin is our pipe, and its `weed`.
struct Role {
    name: String,
    args: Vec<String>,
    dir: PathBuf,
    child: Option<(Child, ChildStdin)>,
}

/// A running cluster; dropping it stops and reaps every process and removes its directory.
pub struct Cluster {
    dir: PathBuf,
    /// The S3 gateway's endpoint, `http://127.0.0.1:PORT`.
    pub endpoint: String,
    roles: Vec<Role>,
    janitor: Option<(Child, ChildStdin)>,
}

/// The `weed` binary: `$TS_WEED`, else the workspace's `.venv/bin/weed` (`make seaweedfs`).
pub fn weed_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TS_WEED") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/weed")
}

/// A port that is free now, and whose gRPC companion (`port + 10000`, `SeaweedFS`'s default)
/// is free too.
fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = 20_000 + (std::process::id() % 500) * 40;
    for _ in 0..2000 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(base + n % 20_000).expect("port in range");
        let ok = TcpListener::bind(("127.0.0.1", port)).is_ok()
            && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok();
        if ok {
            return port;
        }
    }
    panic!("no free port pair found");
}

/// Starts `weed <args>` under a watchdog that kills it when our end of its stdin closes.
fn spawn_watched(weed: &Path, args: &[String], dir: &Path, log: &str) -> (Child, ChildStdin) {
    let log = std::fs::File::create(dir.join(log)).expect("log file");
    let mut child = Command::new("sh")
        .arg("-c")
        // fd 3 keeps the pipe; weed itself gets no stdin. `wait` reaps weed before the
        // watchdog exits, so the test's wait on the watchdog means weed is gone.
        .arg(r#"exec 3<&0 </dev/null; "$@" & p=$!; read _ <&3; kill $p 2>/dev/null; sleep 0.5; kill -9 $p 2>/dev/null; wait $p"#)
        .arg("watchdog")
        .arg(weed)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("spawn weed under its watchdog");
    let stdin = child.stdin.take().expect("piped stdin");
    (child, stdin)
}

/// Stops a watchdog (closes its pipe) and reaps it.
fn stop(pair: Option<(Child, ChildStdin)>) {
    if let Some((mut child, stdin)) = pair {
        drop(stdin);
        let _ = child.wait();
    }
}

fn wait_port(port: u16, deadline: Instant, what: &str, dir: &Path) {
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() >= deadline {
            let logs = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| {
                    std::fs::read_to_string(
                        e.path()
                            .join(format!("{}.log", e.file_name().to_string_lossy())),
                    )
                    .ok()
                })
                .map(|t| {
                    t.chars()
                        .rev()
                        .take(1500)
                        .collect::<String>()
                        .chars()
                        .rev()
                        .collect::<String>()
                })
                .collect::<Vec<_>>()
                .join("\n----\n");
            panic!("{what} did not listen on {port}; logs:\n{logs}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Cluster {
    /// Starts a cluster with replication `001` and waits until the gateway takes writes.
    pub fn start() -> Self {
        Self::start_with("001")
    }

    /// Starts a cluster with replication `replication` (`SeaweedFS`'s `XYZ`).
    // One sequence, step by step: splitting it would hide the order it follows.
    #[allow(clippy::too_many_lines)]
    pub fn start_with(replication: &str) -> Self {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let weed = weed_binary();
        assert!(
            weed.exists(),
            "{} missing: run `make seaweedfs` (or set TS_WEED)",
            weed.display()
        );
        let dir = std::env::temp_dir().join(format!(
            "ts-s3-cluster-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("cluster dir");
        let (mp, fp, sp) = (free_port(), free_port(), free_port());
        let vps = [free_port(), free_port(), free_port()];
        let s = |v: &str| v.to_string();
        let mut roles = Vec::new();
        let role = |name: &str, args: Vec<String>| {
            let rdir = dir.join(name);
            std::fs::create_dir_all(&rdir).expect("role dir");
            let mut full = vec![format!("-logdir={}", rdir.display())];
            full.extend(args);
            Role {
                name: name.to_string(),
                args: full,
                dir: rdir,
                child: None,
            }
        };
        roles.push(role(
            "master",
            vec![
                s("master"),
                s("-ip=127.0.0.1"),
                s("-ip.bind=127.0.0.1"),
                format!("-port={mp}"),
                format!("-mdir={}", dir.join("master").display()),
                format!("-defaultReplication={replication}"),
                s("-volumeSizeLimitMB=64"),
                s("-telemetry=false"),
            ],
        ));
        for (i, vp) in vps.iter().enumerate() {
            roles.push(role(
                &format!("volume{i}"),
                vec![
                    s("volume"),
                    s("-ip=127.0.0.1"),
                    s("-ip.bind=127.0.0.1"),
                    format!("-port={vp}"),
                    format!("-dir={}", dir.join(format!("volume{i}")).display()),
                    s("-max=20"),
                    format!("-master=127.0.0.1:{mp}"),
                ],
            ));
        }
        roles.push(role(
            "filer",
            vec![
                s("filer"),
                s("-ip=127.0.0.1"),
                s("-ip.bind=127.0.0.1"),
                format!("-port={fp}"),
                format!("-master=127.0.0.1:{mp}"),
                format!(
                    "-localSocket={}",
                    dir.join("filer").join("filer.sock").display()
                ),
            ],
        ));
        let config = dir.join("s3.json");
        std::fs::File::create(&config)
            .and_then(|mut f| {
                write!(
                    f,
                    r#"{{"identities":[{{"name":"admin","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
                )
            })
            .expect("s3.json");
        roles.push(role(
            "s3",
            vec![
                s("s3"),
                s("-ip.bind=127.0.0.1"),
                format!("-port={sp}"),
                format!("-filer=127.0.0.1:{fp}"),
                format!("-config={}", config.display()),
                // The gateway's Iceberg and Lance catalogs listen on fixed ports by
                // default (8181, 9101): a second cluster could not start.
                s("-port.iceberg=0"),
                s("-port.lance=0"),
                // Its local socket would otherwise stay in /tmp after a kill.
                format!("-localSocket={}", dir.join("s3").join("s3.sock").display()),
            ],
        ));
        let mut cluster = Self {
            dir: dir.clone(),
            endpoint: format!("http://127.0.0.1:{sp}"),
            roles,
            janitor: None,
        };
        for i in 0..cluster.roles.len() {
            cluster.start_role(i);
        }
        // The janitor removes the directory once every weed is gone (also at process exit).
        let pids: Vec<String> = cluster
            .roles
            .iter()
            .filter_map(|r| r.child.as_ref().map(|(c, _)| c.id().to_string()))
            .collect();
        let script = format!(
            r#"exec 3<&0 </dev/null; read _ <&3; for p in {}; do while kill -0 $p 2>/dev/null; do sleep 0.1; done; done; rm -rf "$0""#,
            pids.join(" ")
        );
        let janitor = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(|mut c| {
                let stdin = c.stdin.take().expect("piped stdin");
                (c, stdin)
            })
            .expect("spawn janitor");
        cluster.janitor = Some(janitor);
        // Generous: on a loaded two-core machine a role can take long to come up.
        let deadline = Instant::now() + Duration::from_secs(180);
        wait_port(mp, deadline, "master", &dir);
        wait_port(fp, deadline, "filer", &dir);
        wait_port(sp, deadline, "s3 gateway", &dir);
        cluster
    }

    fn start_role(&mut self, i: usize) {
        let weed = weed_binary();
        let r = &mut self.roles[i];
        let log = format!("{}.log", r.name);
        r.child = Some(spawn_watched(&weed, &r.args, &r.dir, &log));
    }

    fn index(&self, name: &str) -> usize {
        self.roles
            .iter()
            .position(|r| r.name == name)
            .unwrap_or_else(|| panic!("no role {name}"))
    }

    /// Stops one role (`master`, `volume0`..`volume2`, `filer`, `s3`) and reaps it.
    pub fn stop_role(&mut self, name: &str) {
        let i = self.index(name);
        stop(self.roles[i].child.take());
    }

    /// Starts a stopped role again, with the same ports and directory.
    pub fn restart_role(&mut self, name: &str) {
        let i = self.index(name);
        if self.roles[i].child.is_none() {
            self.start_role(i);
        }
    }

    /// The directory of the cluster (the roles' data and logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // The gateway and filer first, the volume servers, the master last.
        for r in self.roles.iter_mut().rev() {
            stop(r.child.take());
        }
        stop(self.janitor.take());
    }
}

impl Cluster {
    /// Creates `bucket`, retrying until the gateway and filer take it, then until a PUT
    /// succeeds (the volume servers have registered).
    pub fn create_bucket(&self, bucket: &str) {
        use s3::bucket::Bucket;
        use s3::bucket_ops::BucketConfiguration;
        use s3::creds::Credentials;
        use s3::region::Region;
        let region = Region::Custom {
            region: "us-east-1".to_string(),
            endpoint: self.endpoint.clone(),
        };
        let creds = Credentials::new(Some(ACCESS_KEY), Some(SECRET_KEY), None, None, None)
            .expect("credentials");
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            match Bucket::create_with_path_style(
                bucket,
                region.clone(),
                creds.clone(),
                BucketConfiguration::default(),
            ) {
                Ok(r) if r.success() || r.response_code == 409 => break,
                other => {
                    assert!(
                        Instant::now() < deadline,
                        "bucket {bucket} not created: {:?}",
                        other.map(|r| (r.response_code, r.response_text))
                    );
                }
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let b = Bucket::new(bucket, region, creds)
            .expect("bucket")
            .with_path_style();
        loop {
            match b.put_object("/.ready", b"ok") {
                Ok(r) if r.status_code() == 200 => break,
                other => assert!(
                    Instant::now() < deadline,
                    "no PUT into {bucket}: {:?}",
                    other.map(|r| r.status_code())
                ),
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let _ = b.delete_object("/.ready");
    }
}
