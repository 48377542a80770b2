//! On-disk cache of compiled components, keyed by the component's content
//! hash and the engine's compatibility hash (wasmtime version, target,
//! settings), so a stale or foreign artefact is never picked up.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of `<key>.cwasm` files, each prefixed with the SHA-256 of
/// its payload (a truncated or corrupted file is recompiled, not trusted).
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
}

/// How a component was obtained (tests and the benchmark look at it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    Hit,
    Miss,
    Disabled,
}

impl CompileCache {
    pub fn new(dir: PathBuf) -> Self {
        CompileCache { dir }
    }

    /// `$WEMU_CACHE_DIR`, else `$XDG_CACHE_HOME/wemu`, else `~/.cache/wemu`.
    pub fn default_dir() -> Option<PathBuf> {
        if let Some(d) = std::env::var_os("WEMU_CACHE_DIR") {
            return Some(PathBuf::from(d));
        }
        if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
            return Some(PathBuf::from(d).join("wemu"));
        }
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("wemu"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn key(engine: &Engine, bytes: &[u8]) -> String {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let engine_key = h.finish();
        let content = Sha256::digest(bytes);
        format!("{}-{engine_key:016x}", hex::encode(content))
    }

    /// Compile `bytes`, or load the artefact of an earlier compile.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let path = self.dir.join(format!("{}.cwasm", Self::key(engine, bytes)));
        if let Ok(file) = std::fs::read(&path) {
            if let Some(component) = Self::deserialize_checked(engine, &file) {
                return Ok((component, CacheOutcome::Hit));
            }
            tracing::warn!(target: "wemu::loader::cache", "ignoring corrupt compile cache entry {}", path.display());
        }
        let component = Component::new(engine, bytes)?;
        if let Err(e) = self.store(&path, &component) {
            tracing::debug!(target: "wemu::loader::cache", "could not write compile cache {}: {e:#}", path.display());
        }
        Ok((component, CacheOutcome::Miss))
    }

    fn deserialize_checked(engine: &Engine, file: &[u8]) -> Option<Component> {
        let (sum, payload) = file.split_at_checked(32)?;
        if Sha256::digest(payload).as_slice() != sum {
            return None;
        }
        // SAFETY: wasmtime requires that deserialized bytes come from
        // `Component::serialize` of a compatible engine. The file name
        // carries this engine's compatibility hash and the content hash of
        // the source, and the checksum above proves the payload is what
        // `store` wrote — an artefact this program produced.
        unsafe { Component::deserialize(engine, payload) }.ok()
    }

    fn store(&self, path: &Path, component: &Component) -> Result<(), StoreError> {
        std::fs::create_dir_all(&self.dir)?;
        let payload = component.serialize()?;
        let mut file = Sha256::digest(&payload).to_vec();
        file.extend_from_slice(&payload);
        // Write then rename, so a concurrent reader never sees half a file.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, file)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}

/// Why a compile artefact was not written (logged, never fatal).
#[derive(Debug, thiserror::Error)]
enum StoreError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Serialize(#[from] wasmtime::Error),
}
