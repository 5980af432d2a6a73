//! `backtide limits` inside a real cgroup made for the test (as root; skipped, saying so,
//! where cgroups cannot be made): the binary reads the limits the kernel enforces on it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A cgroup made for one test, removed afterwards.
struct TestCgroup {
    dirs: Vec<PathBuf>,
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        for d in &self.dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// Makes cgroup(s) with a 256 MiB memory limit and `quota` µs of CPU per 100 ms; the shell
/// line that moves a shell into them, and the file with the peak memory use. `None` where
/// this machine cannot.
fn make_cgroup(tag: &str, quota: u64) -> Option<(TestCgroup, String, PathBuf)> {
    let name = format!("backtide-test-{tag}-{}", std::process::id());
    let root = Path::new("/sys/fs/cgroup");
    if root.join("cgroup.controllers").exists() {
        // cgroup v2: one directory, with both controllers enabled by its parent.
        let dir = root.join(&name);
        std::fs::create_dir(&dir).ok()?;
        let cg = TestCgroup {
            dirs: vec![dir.clone()],
        };
        std::fs::write(dir.join("memory.max"), "268435456").ok()?;
        std::fs::write(dir.join("cpu.max"), format!("{quota} 100000")).ok()?;
        let procs = dir.join("cgroup.procs");
        let peak = dir.join("memory.peak");
        return Some((cg, format!("echo $$ > {}", procs.display()), peak));
    }
    let (mem, cpu) = (
        root.join("memory").join(&name),
        root.join("cpu").join(&name),
    );
    std::fs::create_dir(&mem).ok()?;
    let mut cg = TestCgroup {
        dirs: vec![mem.clone()],
    };
    std::fs::create_dir(&cpu).ok()?;
    cg.dirs.push(cpu.clone());
    std::fs::write(mem.join("memory.limit_in_bytes"), "268435456").ok()?;
    std::fs::write(cpu.join("cpu.cfs_period_us"), "100000").ok()?;
    std::fs::write(cpu.join("cpu.cfs_quota_us"), quota.to_string()).ok()?;
    let line = format!(
        "echo $$ > {} && echo $$ > {}",
        mem.join("cgroup.procs").display(),
        cpu.join("cgroup.procs").display()
    );
    Some((cg, line, mem.join("memory.max_usage_in_bytes")))
}

#[test]
fn limits_are_read_from_the_cgroup_the_binary_runs_in() {
    let Some((_cg, enter, _)) = make_cgroup("limits", 50_000) else {
        eprintln!(
            "SKIPPED limits_are_read_from_the_cgroup_the_binary_runs_in: cannot make a cgroup here (needs root and a writable /sys/fs/cgroup)"
        );
        return;
    };
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{enter} && exec {} limits",
            env!("CARGO_BIN_EXE_backtide")
        ))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("CPU quota 0.5 (50000 / 100000 µs"), "{text}");
    assert!(text.contains("memory limit 256 MiB"), "{text}");
    assert!(text.contains("; 1 worker thread(s)"), "{text}");
    // 60 % of 256 MiB.
    assert!(
        text.contains("serve's default memory budget: 153 MiB"),
        "{text}"
    );
}

/// A sweep in a cgroup of one CPU and 256 MiB: one worker thread (as `backtide limits`
/// reports there), it finishes, and its memory stays under the limit.
#[test]
fn a_sweep_in_one_cpu_and_256_mib_finishes_within_them() {
    let Some((_cg, enter, peak)) = make_cgroup("sweep", 100_000) else {
        eprintln!(
            "SKIPPED a_sweep_in_one_cpu_and_256_mib_finishes_within_them: cannot make a cgroup here (needs root and a writable /sys/fs/cgroup)"
        );
        return;
    };
    let bin = env!("CARGO_BIN_EXE_backtide");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{enter} && {bin} limits && exec {bin} sweep --data sample:EURUSD --strategy sma_cross \
             --grid fast=5:40:5 --grid slow=20:200:20 --constraint 'fast < slow'"
        ))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("CPU quota 1 (100000 / 100000 µs"), "{text}");
    assert!(text.contains("; 1 worker thread(s)"), "{text}");
    assert!(text.contains("overfitting:"), "the sweep finished: {text}");
    let used: u64 = std::fs::read_to_string(&peak)
        .map(|s| s.trim().parse().unwrap_or(0))
        .unwrap_or(0);
    assert!(used > 0 && used < 256 << 20, "peak {used} bytes");
}

/// `serve` in a 256 MiB cgroup sizes its job memory budget from the limit (60 %: 153 MiB)
/// and says so at start-up, so it queues work instead of being killed.
#[test]
fn serve_takes_its_memory_budget_from_the_cgroup() {
    let Some((_cg, enter, _)) = make_cgroup("serve", 100_000) else {
        eprintln!(
            "SKIPPED serve_takes_its_memory_budget_from_the_cgroup: cannot make a cgroup here (needs root and a writable /sys/fs/cgroup)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{enter} && exec {} serve --addr 127.0.0.1:0 --data-dir {}",
            env!("CARGO_BIN_EXE_backtide"),
            dir.path().display()
        ))
        .env("NO_COLOR", "1")
        .env("BACKTIDE_LOG_FORMAT", "json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The start-up line comes before the address line.
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut err, &mut line).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
    assert_eq!(v["fields"]["memory_budget_mib"], 153, "{line}");
    let msg = v["fields"]["message"].as_str().unwrap();
    assert!(
        msg.contains("memory limit 256 MiB") && msg.contains("; 1 worker thread(s)"),
        "{msg}"
    );
}
