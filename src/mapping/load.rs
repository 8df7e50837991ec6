//! Reading a rule directory (`mappings/*.toml`, sorted by file name) or one document into a
//! [`RuleSet`], checking names across files, and the `omnibridge mappings validate` report.

use super::model::{RuleFile, RuleSet};
use super::parse::{KnownChannels, parse_file};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in the mapping rules.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A rule problem: `file:line: route "vip" key when.text_matches: invalid regex: …`.
    #[error("{}", located(file, *line, message))]
    Invalid {
        file: PathBuf,
        line: Option<usize>,
        message: String,
    },
}

fn located(file: &Path, line: Option<usize>, message: &str) -> String {
    match line {
        Some(line) => format!("{}:{line}: {message}", file.display()),
        None => format!("{}: {message}", file.display()),
    }
}

/// Every problem found while loading rules; `Display` puts one per line.
#[derive(Debug, thiserror::Error)]
pub struct MappingErrors(pub Vec<MappingError>);

impl MappingErrors {
    pub fn iter(&self) -> impl Iterator<Item = &MappingError> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for MappingErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Loads every `*.toml` file of `dir`, in file-name order. Rules naming a channel that is not in
/// `known_channels` (nor `*` for routes) are errors. All problems are reported together.
pub fn load_dir(dir: &Path, known_channels: &[String]) -> Result<RuleSet, MappingErrors> {
    load_dir_checked(dir, Some(known_channels))
}

/// Loads one rule document (as the admin API receives it); `name` stands for its file name.
pub fn load_str(
    text: &str,
    name: &Path,
    known_channels: &[String],
) -> Result<RuleSet, MappingErrors> {
    build(
        vec![RuleFile {
            path: name.to_path_buf(),
            text: text.to_owned(),
        }],
        Some(known_channels),
    )
}

/// The `*.toml` files of `dir`, sorted by name.
pub(crate) fn rule_files(dir: &Path) -> Result<Vec<PathBuf>, MappingError> {
    let read_error = |source| MappingError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

pub(crate) fn load_dir_checked(
    dir: &Path,
    known: KnownChannels<'_>,
) -> Result<RuleSet, MappingErrors> {
    let paths = rule_files(dir).map_err(|e| MappingErrors(vec![e]))?;
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match std::fs::read_to_string(&path) {
            Ok(text) => files.push(RuleFile { path, text }),
            Err(source) => errors.push(MappingError::Read { path, source }),
        }
    }
    match build(files, known) {
        Ok(rules) if errors.is_empty() => Ok(rules),
        Ok(_) => Err(MappingErrors(errors)),
        Err(MappingErrors(more)) => {
            errors.extend(more);
            Err(MappingErrors(errors))
        }
    }
}

/// Parses the files in order and checks that names are unique across all of them.
fn build(files: Vec<RuleFile>, known: KnownChannels<'_>) -> Result<RuleSet, MappingErrors> {
    let mut rules = RuleSet::default();
    let mut errors = Vec::new();
    for file in &files {
        let parsed = parse_file(&file.text, &file.path, known);
        errors.extend(parsed.errors);
        rules.routes.extend(parsed.routes);
        rules.broadcasts.extend(parsed.broadcasts);
    }
    let mut seen = HashMap::new();
    for route in &rules.routes {
        if let Some(first) = seen.insert(route.name.as_str(), &route.origin) {
            errors.push(MappingError::Invalid {
                file: route.origin.file.clone(),
                line: Some(route.origin.line),
                message: format!(
                    "route {:?} key name: duplicate route name (first defined at {first})",
                    route.name
                ),
            });
        }
    }
    let mut seen = HashMap::new();
    for broadcast in &rules.broadcasts {
        if let Some(first) = seen.insert(broadcast.name.as_str(), &broadcast.origin) {
            errors.push(MappingError::Invalid {
                file: broadcast.origin.file.clone(),
                line: Some(broadcast.origin.line),
                message: format!(
                    "broadcast {:?} key name: duplicate broadcast name (first defined at {first})",
                    broadcast.name
                ),
            });
        }
    }
    if errors.is_empty() {
        rules.files = files;
        Ok(rules)
    } else {
        Err(MappingErrors(errors))
    }
}

/// The `omnibridge mappings validate [DIR]` and `check-config` report, and whether the rules are
/// valid. Channels are checked against `known_channels` (the configured channel ids).
pub fn validate_report(dir: &Path, known_channels: &[String]) -> (String, bool) {
    match load_dir_checked(dir, Some(known_channels)) {
        Ok(rules) => (summary(dir, &rules), true),
        Err(errors) => {
            let mut report = errors.to_string();
            report.push_str(&format!(
                "\n{}: {} problem(s); the rules were not loaded\n",
                dir.display(),
                errors.len()
            ));
            (report, false)
        }
    }
}

fn summary(dir: &Path, rules: &RuleSet) -> String {
    let mut out = format!(
        "{}: OK, {} file(s), {} route(s)\n",
        dir.display(),
        rules.files().len(),
        rules.routes().len()
    );
    for route in rules.routes() {
        out.push_str(&format!(
            "  route {:?} (channel {}) at {}\n",
            route.name, route.channel, route.origin
        ));
    }
    match rules.catch_all() {
        Some(route) => out.push_str(&format!("catch-all route: {:?}\n", route.name)),
        None => out.push_str(
            "no catch-all route (channel = \"*\", no when): unmatched conversations get the built-in default ticket\n",
        ),
    }
    out
}
