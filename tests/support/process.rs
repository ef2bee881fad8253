//! The real binaries as child processes, for what only a process shows: command-line
//! behaviour, configuration errors, signals and the log lines it writes.

use std::{
    path::PathBuf,
    process::{Child, Command, Output, Stdio},
    time::Duration,
};

/// Path of a workspace binary (built by `cargo test --workspace`).
pub fn binary(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().expect("test executable");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} not built; run the tests with tests/run (or `cargo build --workspace --bins` first)",
        path.display()
    );
    path
}

/// A command for a binary with a clean environment plus `vars`.
pub fn command(name: &str, vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(binary(name));
    cmd.env_clear()
        .envs(vars.iter().copied())
        .env("RUST_LOG", "debug,sqlx=info,hyper=info,h2=info");
    cmd
}

/// Runs to completion with stdin closed.
pub fn run(name: &str, args: &[&str], vars: &[(&str, &str)]) -> Output {
    command(name, vars)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run binary")
}

/// A running child whose output is captured; stopped with SIGTERM.
pub struct Running {
    child: Child,
    /// Where stdout and stderr go: a file, not a pipe, so a chatty process never blocks on a
    /// full pipe that nobody reads until the end.
    output: Option<PathBuf>,
}

impl Running {
    pub fn spawn(name: &str, args: &[&str], vars: &[(&str, &str)]) -> Running {
        let path = std::env::temp_dir().join(format!(
            "azione-{name}-{}.log",
            uuid::Uuid::new_v4().simple()
        ));
        let file = std::fs::File::create(&path).expect("output file");
        let child = command(name, vars)
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("output file"))
            .stderr(file)
            .spawn()
            .expect("spawn binary");
        Running {
            child,
            output: Some(path),
        }
    }

    /// Any program (environment inherited), e.g. chromedriver.
    pub fn spawn_path(path: &str, args: &[&str]) -> Running {
        let child = Command::new(path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {path}: {e}"));
        Running {
            child,
            output: None,
        }
    }

    /// Any program with exactly `vars` as its environment, output discarded.
    pub fn spawn_path_env(path: &str, args: &[&str], vars: &[(&str, &str)]) -> Running {
        let child = Command::new(path)
            .args(args)
            .env_clear()
            .envs(vars.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {path}: {e}"));
        Running {
            child,
            output: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// True while the process has not exited.
    pub fn is_alive(&mut self) -> bool {
        self.child.try_wait().expect("wait").is_none()
    }

    /// Everything the process wrote so far.
    pub fn output(&self) -> String {
        self.output
            .as_ref()
            .map(|path| std::fs::read_to_string(path).unwrap_or_default())
            .unwrap_or_default()
    }

    /// Sends SIGTERM and waits (at most `patience`) for the exit; returns status and all output.
    pub fn terminate(mut self, patience: Duration) -> (Option<i32>, String) {
        signal(self.child.id(), "TERM");
        let deadline = std::time::Instant::now() + patience;
        while self.child.try_wait().expect("wait").is_none() {
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let status = self.child.wait().expect("wait").code();
        let text = self
            .output
            .take()
            .map(|path| {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let _ = std::fs::remove_file(path);
                text
            })
            .unwrap_or_default();
        (status, text)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(path) = self.output.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Sends a signal with the system's `kill`.
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{name} {pid}");
}

/// Waits until something accepts connections on `addr`.
pub async fn wait_for_port(addr: std::net::SocketAddr) {
    crate::eventually(&format!("something to listen on {addr}"), || async {
        tokio::net::TcpStream::connect(addr).await.ok().map(drop)
    })
    .await;
}

/// A free loopback port.
pub fn free_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
}
