//! The CPU and memory a container (a cgroup, v1 or v2) allows this process, so the
//! service sizes itself from its limits rather than from the host's cores and memory: a
//! thread pool sized from the host's 64 cores in a 2-CPU container is throttled, and a
//! memory budget sized from the host's RAM gets the container OOM-killed.
//!
//! What is read (the tightest limit of the process's cgroup and its ancestors):
//! - cgroup v2 (`0::/path` in `/proc/self/cgroup`): `cpu.max` (`QUOTA PERIOD` or `max`)
//!   and `memory.max` (bytes or `max`);
//! - cgroup v1 (`N:cpu,cpuacct:/path`, `N:memory:/path`): `cpu.cfs_quota_us` (−1: none)
//!   over `cpu.cfs_period_us`, and `memory.limit_in_bytes` (a value near 2⁶³: none).
//!
//! The thread pool also follows [`std::thread::available_parallelism`], which already
//! honours CPU affinity and cgroup quotas; [`ContainerLimits::threads`] is the smaller
//! of the two, so what is reported is what is used.

use std::path::{Path, PathBuf};

/// A CPU quota: `quota` µs of CPU time every `period` µs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuQuota {
    /// µs of CPU time per period.
    pub quota: u64,
    /// The period, µs.
    pub period: u64,
    /// The file it came from.
    pub source: PathBuf,
}

impl CpuQuota {
    /// CPUs the quota amounts to (0.5: half of one).
    pub fn cpus(&self) -> f64 {
        self.quota as f64 / self.period.max(1) as f64
    }
}

/// A memory limit in bytes, with the file it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryLimit {
    /// Bytes.
    pub bytes: u64,
    /// The file it came from.
    pub source: PathBuf,
}

/// Which cgroup hierarchy the process is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cgroup {
    /// No cgroup information (not Linux, or `/proc` not mounted).
    None,
    /// cgroup v1 (per-controller hierarchies).
    V1,
    /// cgroup v2 (the unified hierarchy).
    V2,
}

/// What the container allows.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerLimits {
    /// The hierarchy the limits were read from.
    pub cgroup: Cgroup,
    /// The CPU quota, if one is set.
    pub cpu: Option<CpuQuota>,
    /// The memory limit, if one is set.
    pub memory: Option<MemoryLimit>,
}

/// v1 reports "no limit" as the largest page-aligned i64; anything this large is none.
const V1_UNLIMITED: u64 = 1 << 60;

impl ContainerLimits {
    /// The limits of this process (`/proc/self/cgroup`, `/sys/fs/cgroup`).
    pub fn detect() -> ContainerLimits {
        match std::fs::read_to_string("/proc/self/cgroup") {
            Ok(text) => ContainerLimits::read(&text, Path::new("/sys/fs/cgroup")),
            Err(_) => ContainerLimits {
                cgroup: Cgroup::None,
                cpu: None,
                memory: None,
            },
        }
    }

    /// The limits for a process whose `/proc/self/cgroup` reads `proc_cgroup`, with the
    /// cgroup file systems mounted under `root`.
    pub fn read(proc_cgroup: &str, root: &Path) -> ContainerLimits {
        let mut v1 = Vec::new();
        let mut v2 = None;
        for line in proc_cgroup.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(_id), Some(controllers), Some(path)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if controllers.is_empty() {
                v2 = Some(path.to_string());
            } else {
                v1.push((controllers.to_string(), path.to_string()));
            }
        }
        let v1_path = |name: &str| {
            v1.iter()
                .find(|(c, _)| c.split(',').any(|c| c == name))
                .map(|(c, p)| (c.clone(), p.clone()))
        };
        let v1_memory = v1_path("memory");
        let v1_cpu = v1_path("cpu");
        // v1 when it holds the controllers we need (a hybrid host keeps an empty v2
        // hierarchy under `unified`); v2 when that is all there is.
        if v1_memory.is_some() || v1_cpu.is_some() {
            let memory = v1_memory.and_then(|(_, p)| {
                tightest(&root.join("memory"), &p, |dir| {
                    let f = dir.join("memory.limit_in_bytes");
                    let bytes: u64 = read_trim(&f)?.parse().ok()?;
                    (bytes < V1_UNLIMITED).then_some(MemoryLimit { bytes, source: f })
                })
                .min_by_key(|m| m.bytes)
            });
            let cpu = v1_cpu.and_then(|(controllers, p)| {
                // The hierarchy is mounted under the controllers' joined name (`cpu,cpuacct`),
                // often with a `cpu` link beside it.
                let mounts = [root.join("cpu"), root.join(&controllers)];
                let mount = mounts.iter().find(|m| m.is_dir())?;
                tightest(mount, &p, |dir| {
                    let f = dir.join("cpu.cfs_quota_us");
                    let quota: i64 = read_trim(&f)?.parse().ok()?;
                    let period: u64 = read_trim(&dir.join("cpu.cfs_period_us"))?.parse().ok()?;
                    (quota > 0 && period > 0).then_some(CpuQuota {
                        quota: quota as u64,
                        period,
                        source: f,
                    })
                })
                .min_by(|a, b| a.cpus().total_cmp(&b.cpus()))
            });
            return ContainerLimits {
                cgroup: Cgroup::V1,
                cpu,
                memory,
            };
        }
        let Some(path) = v2 else {
            return ContainerLimits {
                cgroup: Cgroup::None,
                cpu: None,
                memory: None,
            };
        };
        let memory = tightest(root, &path, |dir| {
            let f = dir.join("memory.max");
            let bytes: u64 = read_trim(&f)?.parse().ok()?;
            Some(MemoryLimit { bytes, source: f })
        })
        .min_by_key(|m| m.bytes);
        let cpu = tightest(root, &path, |dir| {
            let f = dir.join("cpu.max");
            let text = read_trim(&f)?;
            let mut words = text.split_whitespace();
            let quota: u64 = words.next()?.parse().ok()?;
            let period: u64 = words.next().unwrap_or("100000").parse().ok()?;
            (quota > 0 && period > 0).then_some(CpuQuota {
                quota,
                period,
                source: f,
            })
        })
        .min_by(|a, b| a.cpus().total_cmp(&b.cpus()));
        ContainerLimits {
            cgroup: Cgroup::V2,
            cpu,
            memory,
        }
    }

    /// Worker threads to use: the CPU quota rounded up (at least 1), and never more than
    /// the standard library finds (affinity, and quotas it reads itself).
    pub fn threads(&self) -> usize {
        let std_threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        match &self.cpu {
            Some(q) => std_threads.min((q.cpus().ceil() as usize).max(1)),
            None => std_threads,
        }
    }

    /// The default budget for running jobs' memory: 60 % of the container's limit (the
    /// rest is the server, its caches and the allocator's slack); `None` without a limit.
    pub fn memory_budget(&self) -> Option<u64> {
        self.memory.as_ref().map(|m| m.bytes / 10 * 6)
    }

    /// One line saying what was found, for the start-up log and `backtide limits`.
    pub fn summary(&self) -> String {
        let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
        let cgroup = match self.cgroup {
            Cgroup::None => "no cgroup found",
            Cgroup::V1 => "cgroup v1",
            Cgroup::V2 => "cgroup v2",
        };
        let cpu = match &self.cpu {
            Some(q) => format!(
                "CPU quota {} ({} / {} µs, {})",
                trim_float(q.cpus()),
                q.quota,
                q.period,
                q.source.display()
            ),
            None => "no CPU quota".into(),
        };
        let memory = match &self.memory {
            Some(m) => format!(
                "memory limit {:.0} MiB ({})",
                mib(m.bytes),
                m.source.display()
            ),
            None => "no memory limit".into(),
        };
        format!(
            "{cgroup}: {cpu}, {memory}; {} worker thread(s)",
            self.threads()
        )
    }
}

fn trim_float(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn read_trim(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// The limits `read` finds in the cgroup at `path` under `mount` and in each of its
/// ancestors (a parent's limit binds its children too).
fn tightest<'a, T>(
    mount: &'a Path,
    path: &str,
    read: impl Fn(&Path) -> Option<T> + 'a,
) -> impl Iterator<Item = T> + 'a {
    let parts: Vec<String> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != "..")
        .map(str::to_string)
        .collect();
    (0..=parts.len()).rev().filter_map(move |k| {
        let mut dir = mount.to_path_buf();
        for p in &parts[..k] {
            dir.push(p);
        }
        read(&dir)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let f = root.join(rel);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, text).unwrap();
    }

    #[test]
    fn v2_limits_are_the_tightest_of_the_cgroup_and_its_parents() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "kubepods/pod1/memory.max", "1073741824\n");
        write(root, "kubepods/pod1/cpu.max", "max 100000\n");
        write(root, "kubepods/pod1/c1/memory.max", "max\n");
        write(root, "kubepods/pod1/c1/cpu.max", "150000 100000\n");
        let l = ContainerLimits::read("0::/kubepods/pod1/c1\n", root);
        assert_eq!(l.cgroup, Cgroup::V2);
        assert_eq!(l.memory.as_ref().unwrap().bytes, 1 << 30);
        assert!(
            l.memory
                .as_ref()
                .unwrap()
                .source
                .ends_with("pod1/memory.max")
        );
        assert_eq!(l.cpu.as_ref().unwrap().cpus(), 1.5);
        assert_eq!(
            l.threads(),
            std::thread::available_parallelism().unwrap().get().min(2)
        );
        assert_eq!(l.memory_budget(), Some((1u64 << 30) / 10 * 6));
        let s = l.summary();
        assert!(
            s.starts_with("cgroup v2: CPU quota 1.5 (150000 / 100000 µs"),
            "{s}"
        );
        assert!(s.contains("memory limit 1024 MiB"), "{s}");
    }

    #[test]
    fn v1_limits_and_their_no_limit_values() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let text = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n";
        write(
            root,
            "memory/docker/abc/memory.limit_in_bytes",
            "536870912\n",
        );
        write(root, "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "50000\n");
        write(root, "cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
        let l = ContainerLimits::read(text, root);
        assert_eq!(l.cgroup, Cgroup::V1);
        assert_eq!(l.memory.as_ref().unwrap().bytes, 512 << 20);
        assert_eq!(l.cpu.as_ref().unwrap().cpus(), 0.5);
        assert_eq!(l.threads(), 1);
        // "No limit" in v1's own words.
        write(
            root,
            "memory/docker/abc/memory.limit_in_bytes",
            "9223372036854771712\n",
        );
        write(root, "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n");
        let l = ContainerLimits::read(text, root);
        assert_eq!((l.memory, l.cpu), (None, None));
    }

    #[test]
    fn nothing_to_read_is_no_limit() {
        let dir = tempfile::tempdir().unwrap();
        let l = ContainerLimits::read("", dir.path());
        assert_eq!(l.cgroup, Cgroup::None);
        assert_eq!(l.memory_budget(), None);
        assert!(
            l.summary()
                .starts_with("no cgroup found: no CPU quota, no memory limit")
        );
        let l = ContainerLimits::read("0::/\n", dir.path());
        assert_eq!((l.cgroup, l.cpu, l.memory), (Cgroup::V2, None, None));
    }
}
