//! The rules in force, swapped atomically when the files change or the admin API stores new ones.
//! A broken edit is logged and the previous rules stay: live edits never take the bridge down.

use super::load::{load_dir, rule_files};
use super::model::RuleSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The current [`RuleSet`], shared by every request and job.
#[derive(Debug)]
pub struct LiveRules {
    current: RwLock<Arc<RuleSet>>,
    /// Why the last reload from files failed, until one succeeds.
    last_error: RwLock<Option<String>>,
}

impl LiveRules {
    pub fn new(rules: RuleSet) -> Self {
        Self {
            current: RwLock::new(Arc::new(rules)),
            last_error: RwLock::new(None),
        }
    }

    /// The rules in force now; cheap, and unaffected by later replacements.
    pub fn current(&self) -> Arc<RuleSet> {
        // A poisoned lock still holds a complete Arc: the write is a single assignment.
        let guard = self.current.read().unwrap_or_else(|e| e.into_inner());
        Arc::clone(&guard)
    }

    /// Puts `rules` in force for everything that calls [`LiveRules::current`] from now on.
    pub fn replace(&self, rules: RuleSet) {
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        *guard = Arc::new(rules);
    }

    /// The problems of the last failed reload from files (one per line), `None` after a
    /// successful one: for health and admin output.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_last_error(&self, error: Option<String>) {
        *self.last_error.write().unwrap_or_else(|e| e.into_inner()) = error;
    }

    /// Polls `dir` every `interval` (file names, sizes and modification times of `*.toml`) and
    /// reloads on change until `cancel` fires. A broken edit logs an ERROR per problem (file, line,
    /// key) and keeps the previous rules; the next change is tried again.
    pub fn watch(
        self: Arc<Self>,
        dir: PathBuf,
        known_channels: Vec<String>,
        interval: Duration,
        cancel: CancellationToken,
    ) -> JoinHandle<()> {
        // Taken before spawning, so an edit right after `watch` returns is noticed.
        let mut seen = fingerprint(&dir);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                tokio::select! {
                    () = cancel.cancelled() => break,
                    _ = ticker.tick() => {}
                }
                let now = fingerprint_blocking(dir.clone()).await;
                if now == seen {
                    continue;
                }
                seen = now;
                let (dir2, known) = (dir.clone(), known_channels.clone());
                let loaded = tokio::task::spawn_blocking(move || load_dir(&dir2, &known)).await;
                match loaded {
                    Ok(Ok(rules)) => {
                        let routes = rules.routes().len();
                        self.replace(rules);
                        self.set_last_error(None);
                        tracing::info!(dir = %dir.display(), routes, "Mapping rules reloaded.");
                    }
                    Ok(Err(errors)) => {
                        self.set_last_error(Some(errors.to_string()));
                        for error in errors.iter() {
                            tracing::error!(dir = %dir.display(), %error, "Mapping rules not reloaded; the previous rules stay in force.");
                        }
                    }
                    Err(join) => {
                        self.set_last_error(Some(join.to_string()));
                        tracing::error!(dir = %dir.display(), error = %join, "Mapping rules reload task failed; the previous rules stay in force.");
                    }
                }
            }
        })
    }
}

/// What the watcher compares: `*.toml` names with size and modification time.
type Fingerprint = Option<Vec<(PathBuf, u64, Option<SystemTime>)>>;

async fn fingerprint_blocking(dir: PathBuf) -> Fingerprint {
    tokio::task::spawn_blocking(move || fingerprint(&dir))
        .await
        .ok()
        .flatten()
}

/// `None` when the directory cannot be read (a reload is attempted once it can again).
fn fingerprint(dir: &Path) -> Fingerprint {
    let files = rule_files(dir).ok()?;
    Some(
        files
            .into_iter()
            .map(|path| {
                let meta = std::fs::metadata(&path).ok();
                let len = meta.as_ref().map_or(0, std::fs::Metadata::len);
                let modified = meta.and_then(|m| m.modified().ok());
                (path, len, modified)
            })
            .collect(),
    )
}
