//! A real SMTP server on loopback for the email tests: tests/support/smtp_sink/smtp_sink.py
//! (aiosmtpd and dkimpy, pinned from PyPI) in a process of its own, one per test. It writes every
//! message it accepts to a JSON file, which tests read; files in its directory switch outages
//! and rejections on. It binds 127.0.0.1 only and never resolves a name.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::OnceCell;
use tokio::time::Instant;

/// How long the sink may take to listen once its Python environment exists.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// How often waiting tests look at the sink's directory.
const POLL: Duration = Duration::from_millis(50);

/// How a client reaches the sink.
// `StartTls` is STARTTLS, the SMTP command (and the service's word for the mode), not a kind
// of `Tls`.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tls {
    /// Plain SMTP.
    #[default]
    None,
    /// STARTTLS offered, and required before MAIL.
    StartTls,
    /// TLS from the first byte ("smtps").
    Implicit,
}

#[derive(Debug, Clone, Default)]
pub struct SinkOptions {
    /// AUTH (PLAIN or LOGIN) with these credentials (a user without `:`), required before MAIL.
    /// Without them, every login is refused.
    pub auth: Option<(String, String)>,
    pub tls: Tls,
    /// A DNS TXT record value (`v=DKIM1; k=rsa; p=…`) to verify messages' DKIM signatures with,
    /// whatever domain and selector they name.
    pub dkim_public_txt: Option<String>,
}

/// A message the sink accepted.
#[derive(Debug, Clone, Deserialize)]
pub struct Mail {
    /// The envelope sender (MAIL FROM).
    pub mail_from: String,
    /// The envelope recipients (RCPT TO).
    pub rcpt_tos: Vec<String>,
    /// The message as received (UTF-8, or Latin-1 when it is not UTF-8).
    pub raw: String,
    /// The header fields in order, values unfolded and their RFC 2047 encoded-words decoded.
    pub headers: Vec<(String, String)>,
    /// The text/plain body decoded, lines ending in `\n`.
    pub text: Option<String>,
    /// The text/html body decoded, lines ending in `\n`.
    pub html: Option<String>,
    /// Whether the DKIM signature verifies with the sink's key; `None` when it was given none.
    pub dkim: Option<bool>,
    /// Whether the session that sent it was encrypted.
    pub tls: bool,
    /// The user that the session authenticated as.
    pub auth: Option<String>,
}

impl Mail {
    /// The first header field called `name` (in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every header field called `name` (in any case), in order.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .collect()
    }
}

/// A running sink, stopped and its directory deleted when the test lets go of it.
pub struct SmtpSink {
    pub port: u16,
    /// Holds `messages/<sequence>.json`, `refused.count`, the switches `outage` and `reject`, and
    /// the sink's log.
    pub dir: PathBuf,
    auth: Option<(String, String)>,
    tls: Tls,
    ca_cert: Option<PathBuf>,
    /// The sink exits when its standard input closes, which this holds open: a test process
    /// that dies, even killed, takes its sinks with it.
    child: Child,
}

impl SmtpSink {
    pub async fn start(options: SinkOptions) -> Self {
        let python = python().await;
        let dir = std::env::temp_dir().join(format!(
            "marginalia-smtp-sink-{}",
            uuid::Uuid::now_v7().simple()
        ));
        std::fs::create_dir_all(&dir).expect("the sink's directory");
        let (mut command, ca_cert) = sink_command(python, &dir, &options).await;
        // A file, not a pipe: nobody reads the log while the sink runs, and a full pipe would
        // stall it.
        let log = std::fs::File::create(dir.join("sink.log")).expect("the sink's log file");
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("the SMTP sink starts");
        let port = ready_port(&mut child, &dir).await;
        Self {
            port,
            dir,
            auth: options.auth,
            tls: options.tls,
            ca_cert,
            child,
        }
    }

    /// The sink's address as a lettre connection URL (`AsyncSmtpTransport::from_url`), with the
    /// credentials when it requires AUTH. With TLS the host is `localhost`, a name its
    /// certificate holds.
    pub fn url(&self) -> String {
        let (scheme, host, query) = match self.tls {
            Tls::None => ("smtp", "127.0.0.1", ""),
            Tls::StartTls => ("smtp", "localhost", "?tls=required"),
            Tls::Implicit => ("smtps", "localhost", ""),
        };
        let credentials = match &self.auth {
            Some((user, password)) => {
                format!("{}:{}@", percent_encoded(user), percent_encoded(password))
            }
            None => String::new(),
        };
        format!("{scheme}://{credentials}{host}:{}{query}", self.port)
    }

    /// The sink's self-signed certificate (for `localhost` and 127.0.0.1), to trust as an extra
    /// root; `None` without TLS.
    pub fn ca_cert_path(&self) -> Option<PathBuf> {
        self.ca_cert.clone()
    }

    /// The messages accepted so far, in the order they came.
    pub fn messages(&self) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("messages")) else {
            return Vec::new();
        };
        // The sink writes `.<name>.tmp` and renames it: only whole `.json` files are read.
        let mut paths: Vec<PathBuf> = entries
            .map(|entry| entry.expect("a directory entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).expect("a message file");
                serde_json::from_str(&text)
                    .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
            })
            .collect()
    }

    /// Waits until the sink has accepted at least `n` messages, and returns them all in order;
    /// fails the test with what it has if `within` passes first.
    pub async fn wait_for_messages(&self, n: usize, within: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + within;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            if Instant::now() >= deadline {
                panic!(
                    "waited {within:?} for {n} message(s) at the SMTP sink, which has {}: \
                     {messages:#?}\nits log:\n{}",
                    messages.len(),
                    read_log(&self.dir)
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// While on, every MAIL is answered `421 4.3.0` and the connection closed: a transient
    /// failure, which a client retries.
    pub fn set_outage(&self, on: bool) {
        self.switch("outage", on);
    }

    /// While on, every RCPT is answered `550 5.1.1`: a permanent failure.
    pub fn set_reject(&self, on: bool) {
        self.switch("reject", on);
    }

    /// How many MAILs (outage) and RCPTs (reject) the sink has refused.
    pub fn refused(&self) -> u64 {
        match std::fs::read_to_string(self.dir.join("refused.count")) {
            Ok(count) => count.trim().parse().expect("a refusal count"),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => 0,
            Err(error) => panic!("the sink's refusal count: {error}"),
        }
    }

    /// Waits until the sink has refused at least `n` attempts, so that a test knows the client
    /// has tried (again); fails the test if `within` passes first.
    pub async fn wait_for_refusals(&self, n: u64, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let refused = self.refused();
            if refused >= n {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "waited {within:?} for {n} refusal(s) at the SMTP sink, which counts \
                     {refused}; its log:\n{}",
                    read_log(&self.dir)
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn switch(&self, name: &str, on: bool) {
        let path = self.dir.join(name);
        let switched = if on {
            std::fs::write(&path, b"")
        } else {
            std::fs::remove_file(&path).or_else(|error| match error.kind() {
                std::io::ErrorKind::NotFound => Ok(()),
                _ => Err(error),
            })
        };
        switched.unwrap_or_else(|error| panic!("switching {} {on}: {error}", path.display()));
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The command that starts the sink as `options` say, writing to `dir`, and the certificate it
/// was given for TLS.
async fn sink_command(
    python: &Path,
    dir: &Path,
    options: &SinkOptions,
) -> (Command, Option<PathBuf>) {
    let mut command = Command::new(python);
    command
        .arg(sink_sources().join("smtp_sink.py"))
        .args(["--port", "0", "--dir"])
        .arg(dir);
    if let Some((user, password)) = &options.auth {
        command.arg("--auth").arg(format!("{user}:{password}"));
    }
    let ca_cert = match options.tls {
        Tls::None => None,
        tls => {
            let (cert, key) = self_signed_certificate(dir).await;
            let mode = if tls == Tls::StartTls {
                "--starttls"
            } else {
                "--implicit-tls"
            };
            command
                .arg("--tls-cert")
                .arg(&cert)
                .arg("--tls-key")
                .arg(key)
                .arg(mode);
            Some(cert)
        }
    };
    if let Some(record) = &options.dkim_public_txt {
        let path = dir.join("dkim.txt");
        std::fs::write(&path, record).expect("the DKIM record file");
        command.arg("--dkim-key").arg(path);
    }
    (command, ca_cert)
}

/// The port in the sink's first line, `READY <port>`; fails the test with the sink's log when it
/// does not come.
async fn ready_port(child: &mut Child, dir: &Path) -> u16 {
    let stdout = child.stdout.take().expect("the sink's standard output");
    let first_line =
        tokio::time::timeout(READY_WITHIN, BufReader::new(stdout).lines().next_line()).await;
    let port = match &first_line {
        Ok(Ok(Some(line))) => line
            .strip_prefix("READY ")
            .and_then(|port| port.parse().ok()),
        _ => None,
    };
    port.unwrap_or_else(|| {
        panic!(
            "the SMTP sink did not report `READY <port>` within {READY_WITHIN:?} \
             (read {first_line:?}); its log:\n{}",
            read_log(dir)
        )
    })
}

/// An RSA key pair for DKIM: the private key as lettre's `DkimSigningKey::new` takes it
/// (PKCS#1 PEM), and the public key as the DNS TXT record value that `SinkOptions` takes.
pub struct DkimKey {
    pub private_pem: String,
    pub public_txt: String,
}

impl DkimKey {
    pub async fn generate() -> Self {
        use base64::Engine;
        let private_pem = openssl(&["genrsa", "-traditional", "2048"], None).await;
        let public_der = openssl(
            &["rsa", "-pubout", "-outform", "DER"],
            Some(private_pem.as_slice()),
        )
        .await;
        let public_key = base64::engine::general_purpose::STANDARD.encode(public_der);
        Self {
            private_pem: String::from_utf8(private_pem).expect("a PEM key"),
            public_txt: format!("v=DKIM1; k=rsa; p={public_key}"),
        }
    }
}

/// A certificate and key for `localhost` and 127.0.0.1 in `dir`. Not a CA (rustls refuses a CA
/// certificate as the server's own), yet trusted as a root it verifies itself.
async fn self_signed_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let (cert_arg, key_arg) = (cert.to_str(), key.to_str());
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
            "-keyout",
            key_arg.expect("a UTF-8 temporary directory"),
            "-out",
            cert_arg.expect("a UTF-8 temporary directory"),
        ],
        None,
    )
    .await;
    (cert, key)
}

/// Runs the `openssl` command with `input` on its standard input, and returns its output.
async fn openssl(args: &[&str], input: Option<&[u8]>) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the openssl command runs");
    let mut stdin = child.stdin.take().expect("openssl's standard input");
    stdin
        .write_all(input.unwrap_or_default())
        .await
        .expect("openssl reads its input");
    drop(stdin);
    let output = child.wait_with_output().await.expect("openssl finishes");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Every byte but letters and digits as `%XX`, which lettre decodes: `url`'s setters leave `%`
/// as it is, so a password holding `%41` would arrive as `A`.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => char::from(byte).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("sink.log")).unwrap_or_else(|error| error.to_string())
}

/// tests/support/smtp_sink: the sink and its requirements.
fn sink_sources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink")
}

/// The Python of a venv holding the sink's requirements, built when they changed (as
/// tests/fuzz/run.sh does for schemathesis): once per process by the cell, and once across test
/// processes running at the same time by a file lock.
async fn python() -> &'static Path {
    static PYTHON: OnceCell<PathBuf> = OnceCell::const_new();
    PYTHON
        .get_or_init(|| async {
            tokio::task::spawn_blocking(prepare_venv)
                .await
                .expect("the sink's venv is prepared")
        })
        .await
}

fn prepare_venv() -> PathBuf {
    use nix::fcntl::{Flock, FlockArg};
    let target = target_dir();
    std::fs::create_dir_all(&target).expect("the target directory");
    let lock = std::fs::File::create(target.join("smtp-sink-venv.lock")).expect("a lock file");
    let _locked = Flock::lock(lock, FlockArg::LockExclusive)
        .map_err(|(_, errno)| errno)
        .expect("the venv's lock");
    let venv = target.join("smtp-sink-venv");
    let requirements = sink_sources().join("requirements.txt");
    let wanted = std::fs::read(&requirements).expect("the sink's requirements");
    let installed = venv.join("requirements.txt");
    if std::fs::read(&installed).ok().as_deref() != Some(wanted.as_slice()) {
        if venv.exists() {
            std::fs::remove_dir_all(&venv).expect("the outdated venv is removed");
        }
        run(std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv));
        run(std::process::Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements));
        // Written last: a venv whose set-up was cut short is built again next time.
        std::fs::write(&installed, &wanted).expect("the installed requirements are noted");
    }
    venv.join("bin/python")
}

/// Cargo's target directory: `CARGO_TARGET_DIR` (relative to the package root, where cargo runs
/// tests) or `target`.
fn target_dir() -> PathBuf {
    let package = Path::new(env!("CARGO_MANIFEST_DIR"));
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => package.join(dir),
        None => package.join("target"),
    }
}

fn run(command: &mut std::process::Command) {
    let output = command.output().expect("the command runs");
    assert!(
        output.status.success(),
        "{command:?}: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
