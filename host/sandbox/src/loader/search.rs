//! Finding devices and machines by name: the search path, then the ones
//! built into the binary.

use std::path::{Path, PathBuf};

use wemu_builtins as embedded;

/// Where a component or machine file comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    BuiltIn(&'static str),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::BuiltIn(name) => write!(f, "<built-in>/{name}"),
        }
    }
}

/// An ordered list of directories, searched before the built-in set.
#[derive(Debug, Clone, Default)]
pub struct SearchPath {
    pub dirs: Vec<PathBuf>,
}

impl SearchPath {
    /// `explicit` dirs (from the command line) first, then the entries of
    /// the `env_var` (colon-separated).
    pub fn new(explicit: &[PathBuf], env_var: &str) -> Self {
        let mut dirs = explicit.to_vec();
        if let Some(v) = std::env::var_os(env_var) {
            dirs.extend(std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()));
        }
        SearchPath { dirs }
    }

    fn find_file(&self, name: &str, ext: &str) -> Option<PathBuf> {
        self.dirs.iter().map(|d| d.join(format!("{name}.{ext}"))).find(|p| p.is_file())
    }

    /// All `*.ext` names in the directories, first occurrence wins.
    fn list_files(&self, ext: &str) -> Vec<(String, PathBuf)> {
        let mut out: Vec<(String, PathBuf)> = Vec::new();
        for dir in &self.dirs {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == ext))
                .collect();
            found.sort();
            for p in found {
                if let Some(stem) = p.file_stem().and_then(|s| s.to_str())
                    && !out.iter().any(|(n, _)| n == stem)
                {
                    out.push((stem.to_owned(), p));
                }
            }
        }
        out
    }
}

/// Is `name` a path rather than a name to search for?
pub fn is_path(name: &str, ext: &str) -> bool {
    name.contains('/') || name.ends_with(&format!(".{ext}"))
}

/// The bytes of device component `name`: a path, the search path, or built in.
pub fn find_device(path: &SearchPath, name: &str) -> Option<Origin> {
    if is_path(name, "wasm") {
        return Some(Origin::File(PathBuf::from(name)));
    }
    path.find_file(name, "wasm")
        .map(Origin::File)
        .or_else(|| embedded::DEVICES.iter().find(|(n, _)| *n == name).map(|(n, _)| Origin::BuiltIn(n)))
}

/// Every device component visible: search path first, then built-ins not
/// overridden.
pub fn list_devices(path: &SearchPath) -> Vec<(String, Origin)> {
    list(path, "wasm", embedded::DEVICES.iter().map(|(n, _)| *n))
}

/// Names found in the directories, then the built-ins they do not shadow.
fn list(path: &SearchPath, ext: &str, built_in: impl Iterator<Item = &'static str>) -> Vec<(String, Origin)> {
    let mut out: Vec<(String, Origin)> =
        path.list_files(ext).into_iter().map(|(n, p)| (n, Origin::File(p))).collect();
    for n in built_in {
        if !out.iter().any(|(m, _)| m == n) {
            out.push((n.to_owned(), Origin::BuiltIn(n)));
        }
    }
    out
}

/// Read the bytes behind an origin (a file: at most
/// [`crate::file_caps::COMPONENT_MAX`] bytes).
pub fn read_device(origin: &Origin) -> std::io::Result<std::borrow::Cow<'static, [u8]>> {
    match origin {
        Origin::File(p) => crate::file_caps::read_component(p).map(Into::into).map_err(into_io),
        Origin::BuiltIn(name) => embedded::DEVICES
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| std::borrow::Cow::Borrowed(*b))
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such built-in")),
    }
}

/// A machine file by name (or path): its origin and text.
pub fn find_machine(path: &SearchPath, name: &str) -> Option<Origin> {
    if is_path(name, "toml") {
        return Some(Origin::File(PathBuf::from(name)));
    }
    path.find_file(name, "toml")
        .map(Origin::File)
        .or_else(|| embedded::MACHINES.iter().find(|(n, _)| *n == name).map(|(n, _)| Origin::BuiltIn(n)))
}

/// The text of a machine file (a file: at most
/// [`crate::file_caps::MACHINE_FILE_MAX`] bytes).
pub fn read_machine(origin: &Origin) -> std::io::Result<String> {
    match origin {
        Origin::File(p) => crate::file_caps::read_machine_file(p).map_err(into_io),
        Origin::BuiltIn(name) => embedded::MACHINES
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| (*t).to_owned())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such built-in")),
    }
}

/// A capped read's error as the `io::Error` these functions return. The
/// callers name the file already, so only the reason is kept.
fn into_io(e: crate::file_caps::FileError) -> std::io::Error {
    match e {
        crate::file_caps::FileError::Io { source, .. } => source,
        crate::file_caps::FileError::TooLarge { what, limit, .. } => std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("larger than {limit} bytes, the most a {what} may have"),
        ),
    }
}

/// Every machine visible.
pub fn list_machines(path: &SearchPath) -> Vec<(String, Origin)> {
    list(path, "toml", embedded::MACHINES.iter().map(|(n, _)| *n))
}

/// The directory of a file origin (for resolving relative paths in it).
pub fn origin_dir(origin: &Origin) -> Option<&Path> {
    match origin {
        Origin::File(p) => p.parent(),
        Origin::BuiltIn(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_path_overrides_built_ins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ns16550a.wasm"), b"x").unwrap();
        let sp = SearchPath { dirs: vec![dir.path().to_owned()] };
        assert_eq!(find_device(&sp, "ns16550a"), Some(Origin::File(dir.path().join("ns16550a.wasm"))));
        assert_eq!(find_device(&sp, "sifive-test"), Some(Origin::BuiltIn("sifive-test")));
        assert_eq!(find_device(&sp, "nope"), None);
        let listed = list_devices(&sp);
        assert_eq!(listed.iter().filter(|(n, _)| n == "ns16550a").count(), 1);
    }

    #[test]
    fn paths_are_not_searched() {
        let sp = SearchPath::default();
        assert_eq!(find_device(&sp, "./x.wasm"), Some(Origin::File("./x.wasm".into())));
        assert_eq!(find_machine(&sp, "virt"), Some(Origin::BuiltIn("virt")));
        assert!(is_path("boards/my.toml", "toml"));
    }
}
