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

/// Makes cgroup(s) with a 256 MiB memory limit and half a CPU; the shell line that moves
/// a shell into them. `None` where this machine cannot.
fn make_cgroup() -> Option<(TestCgroup, String)> {
    let name = format!("backtide-test-{}", std::process::id());
    let root = Path::new("/sys/fs/cgroup");
    if root.join("cgroup.controllers").exists() {
        // cgroup v2: one directory, with both controllers enabled by its parent.
        let dir = root.join(&name);
        std::fs::create_dir(&dir).ok()?;
        let cg = TestCgroup {
            dirs: vec![dir.clone()],
        };
        std::fs::write(dir.join("memory.max"), "268435456").ok()?;
        std::fs::write(dir.join("cpu.max"), "50000 100000").ok()?;
        let procs = dir.join("cgroup.procs");
        return Some((cg, format!("echo $$ > {}", procs.display())));
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
    std::fs::write(cpu.join("cpu.cfs_quota_us"), "50000").ok()?;
    let line = format!(
        "echo $$ > {} && echo $$ > {}",
        mem.join("cgroup.procs").display(),
        cpu.join("cgroup.procs").display()
    );
    Some((cg, line))
}

#[test]
fn limits_are_read_from_the_cgroup_the_binary_runs_in() {
    let Some((_cg, enter)) = make_cgroup() else {
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
