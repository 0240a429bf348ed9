//! A real SMTP server on 127.0.0.1 for tests: Python's `aiosmtpd` (installed by `.ci/run`, or on first use)
//! in a child process, writing every message it accepts as a JSON file (recipients, subject,
//! decoded body) into a directory of its own. Stopped on Drop; [`SmtpSink::stop`] and
//! [`SmtpSink::restart`] simulate an outage of the relay.
//!
//! ```no_run
//! use desk_testkit::SmtpSink;
//! let sink = SmtpSink::start();
//! // configure DESK_SMTP_URL = sink.url(), send mail, then:
//! let mail = sink.wait_for(1, std::time::Duration::from_secs(5));
//! assert_eq!(mail[0].subject, "Hello");
//! ```

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The server: accepts any sender and recipient, stores the message, answers 250.
const SERVER: &str = r#"
import asyncio, email, email.policy, json, os, sys, time
from aiosmtpd.controller import Controller

port, outdir = int(sys.argv[1]), sys.argv[2]

class Store:
    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=('plain',))
        record = {
            "to": list(envelope.rcpt_tos),
            "from": envelope.mail_from,
            "subject": str(message.get("Subject", "")),
            "body": body.get_content() if body is not None else "",
        }
        name = "%020d-%d.json" % (time.time_ns(), os.getpid())
        tmp = os.path.join(outdir, name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(outdir, name))
        return "250 OK"

controller = Controller(Store(), hostname="127.0.0.1", port=port)
controller.start()
print("ready", flush=True)
try:
    sys.stdin.read()  # runs until the test closes stdin or kills us
finally:
    controller.stop()
"#;

/// One received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// Envelope recipients.
    pub to: Vec<String>,
    /// Envelope sender.
    pub from: String,
    pub subject: String,
    /// The decoded plain-text body.
    pub body: String,
}

/// A running SMTP sink. Dropping it stops the server and removes its directory.
#[derive(Debug)]
pub struct SmtpSink {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

impl SmtpSink {
    /// Starts a server on a free port of 127.0.0.1.
    pub fn start() -> SmtpSink {
        let dir = std::env::temp_dir().join(format!("desk-smtp-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("create the mail directory");
        let mut sink = SmtpSink {
            port: free_port(),
            dir,
            child: None,
        };
        sink.spawn();
        sink
    }

    fn spawn(&mut self) {
        ensure_aiosmtpd();
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(SERVER)
            .arg(self.port.to_string())
            .arg(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("tests need python3 with aiosmtpd (python3 -m pip install aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read from the SMTP server");
        assert_eq!(
            line.trim(),
            "ready",
            "the SMTP server did not start (is aiosmtpd installed?)"
        );
        self.child = Some(child);
    }

    /// `DESK_SMTP_URL` for this server (plain text: it offers no TLS).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (the port refuses connections) — an outage of the relay.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, keeping what it received.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Every message received so far, in arrival order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).expect("read a received message");
                let v: serde_json::Value = serde_json::from_str(&text).expect("message JSON");
                let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                ReceivedMail {
                    to: v["to"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| x.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                    from: s("from"),
                    subject: s("subject"),
                    body: s("body"),
                }
            })
            .collect()
    }

    /// Waits until at least `count` messages arrived (or `timeout` passed); returns them all.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count || Instant::now() >= deadline {
                return messages;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Installs `aiosmtpd` from PyPI the first time a test needs it and it is missing, so
/// `cargo test --workspace` works on a fresh machine (`.ci/run` installs it up front too).
fn ensure_aiosmtpd() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let present = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .expect("the mail tests need python3 on PATH");
        if !present.success() {
            let installed = Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", "aiosmtpd"])
                .status()
                .expect("python3 -m pip");
            assert!(
                installed.success(),
                "python3 -m pip install aiosmtpd failed"
            );
        }
    });
}
