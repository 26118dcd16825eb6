//! `bench/run.py` on a machine without the benchmark's programs: it names each missing one with
//! how to install it and exits non-zero, instead of dying in a Python traceback.

use std::process::Command;

fn python() -> &'static str {
    ["/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"]
        .into_iter()
        .find(|path| std::path::Path::new(path).exists())
        .expect("python3 (the bench is a Python script)")
}

/// Runs `bench/<script>` with `args` on a PATH holding only Python (no wrk, cargo, psql,
/// pgbench or curl), checks that it refused to start, and gives its (stdout, stderr).
fn refused(script: &str, args: &[&str]) -> (String, String) {
    let bare = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(python(), bare.path().join("python3")).unwrap();
    let output = Command::new(python())
        .arg(format!("{}/bench/{script}", env!("CARGO_MANIFEST_DIR")))
        .args(args)
        .env("PATH", bare.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "it must not start: {stderr}");
    (String::from_utf8_lossy(&output.stdout).into_owned(), stderr)
}

#[test]
fn the_bench_names_what_is_missing_and_how_to_install_it() {
    let (stdout, stderr) = refused("run.py", &["--duration", "1", "--profile"]);
    assert!(!stderr.contains("Traceback"), "no traceback: {stderr}");
    for expected in [
        "wrk (drives every HTTP scenario)",
        "install: apt-get install -y wrk",
        "pgbench",
        "psql",
        "cargo",
        "curl",
        "perf",
        "cargo install inferno",
        "docs/benchmarks.md",
    ] {
        assert!(stderr.contains(expected), "names {expected:?}: {stderr}");
    }
    // Nothing was built or started: the check comes first.
    assert!(stdout.is_empty());
}

#[test]
fn a_comparison_of_two_builds_names_a_build_that_is_not_there() {
    let missing = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/target/no-such-build/marginalia"
    );
    // bench/run.py given a build needs no cargo, but the build must exist.
    let (_, stderr) = refused(
        "run.py",
        &["--no-isso", "--no-pgbench", "--binary", missing],
    );
    assert!(
        stderr.contains(&format!("the build --binary names ({missing})")),
        "{stderr}"
    );
    assert!(
        !stderr.contains("cargo (builds"),
        "no cargo needed: {stderr}"
    );
    // bench/ab.py checks both builds before it runs anything.
    let (stdout, stderr) = refused(
        "ab.py",
        &[
            "--before",
            missing,
            "--after",
            missing,
            "--only",
            "get_page_2",
        ],
    );
    assert!(
        stderr.contains(&format!("no build at {missing}")),
        "{stderr}"
    );
    assert!(stdout.is_empty());
}
