//! Who owns the private cluster of a data directory: exactly one `marginalia serve`, which holds an
//! exclusive OS file lock (`flock`, released by the kernel however the process ends) for its
//! lifetime. Administrative commands (`keys`, `migrate`) take the same lock while they run when no
//! `serve` holds it, and otherwise use the cluster that `serve` owns without stopping it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

const LOCK_FILE: &str = "marginalia.lock";

/// What a process holding the lock is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `marginalia serve`: owns and supervises the cluster for its whole life.
    Serve,
    /// A short administrative command.
    Admin,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Self::Serve => "serve",
            Self::Admin => "admin",
        }
    }
}

/// The process that holds a data directory's lock, as it described itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub role: Option<Role>,
    pub pid: Option<u32>,
}

/// The lock on a data directory, held until dropped.
#[derive(Debug)]
pub struct OwnerLock {
    _lock: Flock<File>,
}

/// Either this process now owns the data directory, or another one does.
#[derive(Debug)]
pub enum Ownership {
    Owned(OwnerLock),
    HeldBy(Holder),
}

#[derive(Debug, thiserror::Error)]
#[error("cannot lock {path}: {source}")]
pub struct LockError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// Tries to take the data directory's lock for `role` without waiting.
pub fn try_own(data_dir: &Path, role: Role) -> Result<Ownership, LockError> {
    let path = data_dir.join(LOCK_FILE);
    let failed = |source: std::io::Error| LockError {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(data_dir).map_err(failed)?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(failed)?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(mut lock) => {
            let note = format!("{} {}\n", role.as_str(), std::process::id());
            lock.set_len(0)
                .and_then(|()| lock.rewind())
                .and_then(|()| lock.write_all(note.as_bytes()))
                .and_then(|()| lock.sync_data())
                .map_err(failed)?;
            Ok(Ownership::Owned(OwnerLock { _lock: lock }))
        }
        Err((mut file, Errno::EWOULDBLOCK)) => {
            let mut note = String::new();
            // The holder may be writing its note at this very moment; an unreadable note is
            // reported as an unknown holder.
            let _ = file.read_to_string(&mut note);
            Ok(Ownership::HeldBy(parse_holder(&note)))
        }
        Err((_, errno)) => Err(failed(std::io::Error::from(errno))),
    }
}

fn parse_holder(note: &str) -> Holder {
    let mut words = note.split_whitespace();
    let role = match words.next() {
        Some("serve") => Some(Role::Serve),
        Some("admin") => Some(Role::Admin),
        _ => None,
    };
    Holder {
        role,
        pid: words.next().and_then(|pid| pid.parse().ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_notes_are_read_back() {
        assert_eq!(
            parse_holder("serve 42\n"),
            Holder {
                role: Some(Role::Serve),
                pid: Some(42)
            }
        );
        assert_eq!(
            parse_holder(""),
            Holder {
                role: None,
                pid: None
            }
        );
    }

    #[test]
    fn a_second_owner_is_told_who_holds_the_directory() {
        let dir = std::env::temp_dir().join(format!("mrg-lock-{}", uuid::Uuid::now_v7()));
        let first = try_own(&dir, Role::Serve).unwrap();
        assert!(matches!(first, Ownership::Owned(_)));
        match try_own(&dir, Role::Admin).unwrap() {
            Ownership::HeldBy(holder) => {
                assert_eq!(holder.role, Some(Role::Serve));
                assert_eq!(holder.pid, Some(std::process::id()));
            }
            Ownership::Owned(_) => panic!("two owners"),
        }
        drop(first);
        assert!(matches!(
            try_own(&dir, Role::Admin).unwrap(),
            Ownership::Owned(_)
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
