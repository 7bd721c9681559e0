//! A local S3-compatible store over a folder (s3s-fs), served in-process on 127.0.0.1 with SigV4
//! checking on. The daemon still reaches it only through aws-sdk-s3, exactly like a remote store.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use rand::Rng;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Credentials of the local store, generated on first use and kept beside its objects.
#[derive(Clone, Serialize, Deserialize)]
pub struct LocalCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for LocalCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LocalCredentials {{ access_key_id: {:?}, secret_access_key: [redacted] }}",
            self.access_key_id
        )
    }
}

impl LocalCredentials {
    fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        if let Ok(text) = std::fs::read_to_string(path) {
            return serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid", path.display()));
        }
        let mut rng = rand::thread_rng();
        let creds = Self {
            access_key_id: format!("EMALOCAL{:012X}", rng.r#gen::<u64>() & 0xFFFF_FFFF_FFFF),
            secret_access_key: hex::encode(rng.r#gen::<[u8; 20]>()),
        };
        write_private(path, &serde_json::to_vec_pretty(&creds)?)?;
        Ok(creds)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("could not create {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

/// A running local S3 server; dropping it stops accepting connections.
pub struct LocalS3 {
    pub endpoint: String,
    pub credentials: LocalCredentials,
    pub root: PathBuf,
    shutdown: watch::Sender<bool>,
}

impl LocalS3 {
    /// Serves `{dir}/objects` on `bind` (port 0 picks a free port), with `{dir}/credentials.json`.
    pub async fn start(dir: &Path, bind: SocketAddr) -> anyhow::Result<Self> {
        let root = dir.join("objects");
        std::fs::create_dir_all(&root)
            .with_context(|| format!("could not create {}", root.display()))?;
        let credentials = LocalCredentials::load_or_create(&dir.join("credentials.json"))?;
        Self::serve(root, credentials, bind).await
    }

    /// Serves `root` with the given credentials; used by tests with throwaway folders.
    pub async fn serve(
        root: PathBuf,
        credentials: LocalCredentials,
        bind: SocketAddr,
    ) -> anyhow::Result<Self> {
        let fs = s3s_fs::FileSystem::new(&root).map_err(|e| anyhow::anyhow!("s3s-fs: {e:?}"))?;
        let service = {
            let mut b = S3ServiceBuilder::new(fs);
            b.set_auth(SimpleAuth::from_single(
                credentials.access_key_id.clone(),
                SecretString::from(credentials.secret_access_key.clone())
                    .expose_secret()
                    .to_owned(),
            ));
            b.build()
        };
        let listener = TcpListener::bind(bind)
            .await
            .with_context(|| format!("could not bind the local S3 store on {bind}"))?;
        let addr = listener.local_addr()?;
        let (shutdown, mut stop) = watch::channel(false);
        tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((socket, _)) = accepted else { continue };
                        let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                        tokio::spawn(async move {
                            let _ = conn.await;
                        });
                    }
                    _ = stop.changed() => break,
                }
            }
        });
        Ok(Self {
            endpoint: format!("http://{addr}"),
            credentials,
            root,
            shutdown,
        })
    }
}

impl Drop for LocalS3 {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
