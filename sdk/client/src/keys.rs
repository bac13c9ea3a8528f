//! The buyer's FHE keys on disk: the client key encrypted under a passphrase (Argon2id +
//! ChaCha20-Poly1305), and next to it the two public key blobs it exports (the evaluation key
//! for bootstrapped models, the public key leveled models' results are sanitized with), kept so
//! that their hashes (registered on chain once) stay valid across sessions.

use std::path::{Path, PathBuf};

use alloy::primitives::B256;
use argon2::Argon2;
use chacha20poly1305::{AeadCore, ChaCha20Poly1305, KeyInit, aead::Aead};
use modelmart_fhe::{ClientKey, params::ParamSetId};
use serde::{Deserialize, Serialize};

use crate::{Error, Result, blobs::sha256};

const FORMAT: &str = "modelmart-buyer-key";

#[derive(Serialize, Deserialize)]
struct KeyFile {
    format: String,
    version: u32,
    param_set: u16,
    kdf: String,
    salt: String,
    nonce: String,
    ciphertext: String,
}

/// A buyer's keys: the secret client key and the public key blobs it exported, made on first
/// use (the evaluation key for models that bootstrap, the public key for leveled ones).
pub struct BuyerKeys {
    client: ClientKey,
    eval_key: Option<Vec<u8>>,
    public_key: Option<Vec<u8>>,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for BuyerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuyerKeys")
            .field("param_set", &self.client.param_set())
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn store_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::KeyStore(format!("{}: {e}", path.display()))
}

fn cipher(passphrase: &str, salt: &[u8]) -> Result<ChaCha20Poly1305> {
    let mut key = [0u8; 32];
    Argon2::default()
        .hash_password_into(passphrase.as_bytes(), salt, &mut key)
        .map_err(|e| Error::KeyStore(format!("key derivation: {e}")))?;
    Ok(ChaCha20Poly1305::new(&key.into()))
}

fn eval_path(path: &Path) -> PathBuf {
    path.with_extension("evalkey")
}

fn public_path(path: &Path) -> PathBuf {
    path.with_extension("pubkey")
}

impl BuyerKeys {
    /// Fresh keys for `param_set`, held in memory only.
    pub fn generate(param_set: ParamSetId) -> Result<Self> {
        Ok(Self {
            client: ClientKey::generate(param_set)?,
            eval_key: None,
            public_key: None,
            path: None,
        })
    }

    /// Load the keys at `path` (unlocked with `passphrase`), or create and save new ones there.
    pub fn load_or_create(path: &Path, passphrase: &str, param_set: ParamSetId) -> Result<Self> {
        if path.exists() {
            let keys = Self::load(path, passphrase)?;
            if keys.client.param_set() != param_set {
                return Err(Error::KeyStore(format!(
                    "{} holds keys for parameter set {}, not {}",
                    path.display(),
                    keys.client.param_set().0,
                    param_set.0
                )));
            }
            return Ok(keys);
        }
        let mut keys = Self::generate(param_set)?;
        keys.save(path, passphrase)?;
        Ok(keys)
    }

    /// Load keys saved by [`BuyerKeys::save`]; a wrong passphrase is a clear error.
    pub fn load(path: &Path, passphrase: &str) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| store_err(path, e))?;
        let file: KeyFile = serde_json::from_str(&text).map_err(|e| store_err(path, e))?;
        if file.format != FORMAT || file.version != 1 || file.kdf != "argon2id" {
            return Err(store_err(path, "not a ModelMart buyer key file (v1)"));
        }
        let decode = |s: &str| alloy::hex::decode(s).map_err(|e| store_err(path, e));
        let (salt, nonce, ct) =
            (decode(&file.salt)?, decode(&file.nonce)?, decode(&file.ciphertext)?);
        if nonce.len() != 12 {
            return Err(store_err(path, "bad nonce"));
        }
        let plain = cipher(passphrase, &salt)?
            .decrypt(nonce.as_slice().into(), ct.as_slice())
            .map_err(|_| store_err(path, "wrong passphrase or corrupted file"))?;
        let client = ClientKey::from_bytes(&plain)?;
        let eval_key = std::fs::read(eval_path(path)).ok();
        let public_key = std::fs::read(public_path(path)).ok();
        Ok(Self { client, eval_key, public_key, path: Some(path.to_owned()) })
    }

    /// Save the client key encrypted under `passphrase` (file mode 0600), and the evaluation key
    /// next to it if one was made.
    pub fn save(&mut self, path: &Path, passphrase: &str) -> Result<()> {
        let salt: [u8; 16] = rand::random();
        let nonce = ChaCha20Poly1305::generate_nonce(&mut chacha20poly1305::aead::OsRng);
        let ct = cipher(passphrase, &salt)?
            .encrypt(&nonce, self.client.to_bytes()?.as_slice())
            .map_err(|_| Error::KeyStore("encryption failed".into()))?;
        let file = KeyFile {
            format: FORMAT.into(),
            version: 1,
            param_set: self.client.param_set().0,
            kdf: "argon2id".into(),
            salt: alloy::hex::encode(salt),
            nonce: alloy::hex::encode(nonce),
            ciphertext: alloy::hex::encode(ct),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| store_err(path, e))?;
        }
        let json = serde_json::to_vec_pretty(&file).map_err(|e| store_err(path, e))?;
        write_private(path, &json)?;
        if let Some(ek) = &self.eval_key {
            write_private(&eval_path(path), ek)?;
        }
        if let Some(pk) = &self.public_key {
            write_private(&public_path(path), pk)?;
        }
        self.path = Some(path.to_owned());
        Ok(())
    }

    /// The secret client key.
    pub fn client(&self) -> &ClientKey {
        &self.client
    }

    /// The public key blob leveled models' results are sanitized with (64 KB, made on first use
    /// in milliseconds and kept next to the key file), and its hash.
    pub fn public_key(&mut self) -> Result<(&[u8], B256)> {
        let client = &self.client;
        let file = self.path.as_deref().map(public_path);
        cached(&mut self.public_key, file, || Ok(client.public_key()?.to_bytes()?))
    }

    /// The key blob jobs on `model` need: the evaluation key if it bootstraps, else the public
    /// key. Either is registered once and uploaded to the model's operator.
    pub fn key_for(&mut self, model: &modelmart_fhe::PublicModel) -> Result<(&[u8], B256)> {
        if model.needs_evaluation_key() { self.evaluation_key() } else { self.public_key() }
    }

    /// The evaluation key blob, made on first use (a few seconds) and kept next to the key file.
    pub fn evaluation_key(&mut self) -> Result<(&[u8], B256)> {
        let client = &self.client;
        let file = self.path.as_deref().map(eval_path);
        cached(&mut self.eval_key, file, || Ok(client.evaluation_key()?.to_bytes()?))
    }
}

/// A key blob kept in `slot`: made by `make` on first use and written to `file`; with its hash.
fn cached(
    slot: &mut Option<Vec<u8>>,
    file: Option<PathBuf>,
    make: impl FnOnce() -> Result<Vec<u8>>,
) -> Result<(&[u8], B256)> {
    if slot.is_none() {
        let bytes = make()?;
        if let Some(file) = &file {
            write_private(file, &bytes)?;
        }
        *slot = Some(bytes);
    }
    let bytes = slot.as_deref().unwrap_or_default();
    Ok((bytes, sha256(bytes)))
}

/// Write `bytes` to `path` atomically with mode 0600: into a new file beside it (created with
/// that mode, so the bytes are never readable by others, not even for a moment), synced, then
/// renamed over `path`. A crash leaves the old file or the new one, never half of either; an
/// existing file with a looser mode is replaced, not reused.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let written = (|| {
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(store_err(path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_keys_reload_and_refuse_a_wrong_passphrase() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("buyer.key");
        let mut keys = BuyerKeys::load_or_create(&path, "correct horse", ParamSetId(1))?;
        keys.save(&path, "correct horse")?;
        let hash = keys.public_key()?.1;
        let mut again = BuyerKeys::load(&path, "correct horse")?;
        assert_eq!(again.client().to_bytes()?, keys.client().to_bytes()?);
        assert_eq!(again.public_key()?.1, hash, "stable across sessions");
        let err = BuyerKeys::load(&path, "wrong").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("wrong passphrase"), "{err}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path)?.permissions().mode() & 0o777, 0o600);
            // a key file left readable by others (made by hand, copied) is replaced by a
            // private one on the next save, not rewritten in place with its loose mode
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
            keys.save(&path, "correct horse")?;
            assert_eq!(std::fs::metadata(&path)?.permissions().mode() & 0o777, 0o600);
        }
        // nothing half-written or temporary is left beside it
        let names: Vec<String> = std::fs::read_dir(dir.path())?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
        Ok(())
    }
}
