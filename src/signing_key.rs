//! The HMAC key that signs access tokens: `NEXUS_JWT_SECRET` if given, else a random key made on
//! first start and kept in the data directory, readable by its owner only.

use std::io::Write;
use std::path::Path;

use crate::config::Secret;

/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "jwt.key";
const KEY_BYTES: usize = 64;

/// Why the key could not be had.
#[derive(Debug, thiserror::Error)]
#[error("signing key {path}: {reason}")]
pub struct KeyError {
    path: String,
    reason: String,
}

/// The configured key, or the stored one, or a new stored one.
pub fn load_or_create(data_dir: &Path, configured: Option<&Secret>) -> Result<Vec<u8>, KeyError> {
    if let Some(secret) = configured {
        return Ok(secret.expose().as_bytes().to_vec());
    }
    let path = data_dir.join(KEY_FILE);
    let fail = |reason: String| KeyError {
        path: path.display().to_string(),
        reason,
    };
    match std::fs::read(&path) {
        Ok(key) if key.len() >= 32 => return Ok(key),
        Ok(_) => {
            return Err(fail(
                "shorter than 32 bytes; delete it to make a new one (this signs everyone out)"
                    .into(),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(format!("cannot read it: {e}"))),
    }
    let mut key = vec![0u8; KEY_BYTES];
    rand::fill(&mut key[..]);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&path)
        .map_err(|e| fail(format!("cannot create it: {e}")))?;
    file.write_all(&key)
        .and_then(|()| file.sync_all())
        .map_err(|e| fail(format!("cannot write it: {e}")))?;
    Ok(key)
}
