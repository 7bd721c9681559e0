use aws_credential_types::Credentials;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use secrecy::ExposeSecret;

use crate::config::{ChecksumMode, S3Settings};

#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    #[error("object storage request failed: {0}")]
    Request(String),
    #[error("object storage is not configured: {0}")]
    Config(String),
}

fn req<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> BucketError + '_ {
    move |e| BucketError::Request(format!("{what}: {e}"))
}

/// Bytes and object count under a prefix.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrefixUsage {
    pub bytes: i64,
    pub objects: i64,
}

/// The daemon's bucket, reached through aws-sdk-s3 with the configured region, addressing
/// style and checksum mode, whatever the store behind it.
#[derive(Clone, Debug)]
pub struct Bucket {
    client: Client,
    name: String,
}

impl Bucket {
    pub async fn connect(s3: &S3Settings) -> Result<Self, BucketError> {
        let endpoint = s3.endpoint.clone();
        let checksums = match s3.checksums {
            ChecksumMode::WhenRequired => (
                RequestChecksumCalculation::WhenRequired,
                ResponseChecksumValidation::WhenRequired,
            ),
            ChecksumMode::WhenSupported => (
                RequestChecksumCalculation::WhenSupported,
                ResponseChecksumValidation::WhenSupported,
            ),
        };
        let mut builder = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(s3.region.clone()))
            .force_path_style(s3.force_path_style)
            .request_checksum_calculation(checksums.0)
            .response_checksum_validation(checksums.1);
        if let Some(e) = endpoint {
            builder = builder.endpoint_url(e);
        }
        match (&s3.access_key_id, &s3.secret_access_key) {
            (Some(id), Some(secret)) => {
                builder = builder.credentials_provider(Credentials::new(
                    id,
                    secret.expose_secret(),
                    None,
                    None,
                    "ema-bridge-config",
                ));
            }
            _ => {
                // No keys configured: the standard AWS chain (environment, profile, instance role).
                let shared = aws_config::defaults(BehaviorVersion::latest()).load().await;
                let provider = shared.credentials_provider().ok_or_else(|| {
                    BucketError::Config(
                        "no s3.access_key_id set and no AWS credentials found".into(),
                    )
                })?;
                builder = builder.credentials_provider(provider);
            }
        }
        Ok(Self {
            client: Client::from_conf(builder.build()),
            name: s3.bucket.clone(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Creates the bucket when it does not exist yet.
    pub async fn ensure_exists(&self) -> Result<(), BucketError> {
        if self
            .client
            .head_bucket()
            .bucket(&self.name)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        match self.client.create_bucket().bucket(&self.name).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let already = e
                    .as_service_error()
                    .map(|s| s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists())
                    .unwrap_or(false);
                if already {
                    Ok(())
                } else {
                    Err(BucketError::Request(format!(
                        "create bucket {}: {}",
                        self.name,
                        aws_sdk_s3::error::DisplayErrorContext(&e)
                    )))
                }
            }
        }
    }

    /// Reachability check for `/readyz`.
    pub async fn check(&self) -> Result<(), BucketError> {
        self.client
            .head_bucket()
            .bucket(&self.name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                BucketError::Request(format!(
                    "bucket {}: {}",
                    self.name,
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                ))
            })
    }

    pub async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), BucketError> {
        self.client
            .put_object()
            .bucket(&self.name)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                BucketError::Request(format!(
                    "put {key}: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                ))
            })
    }

    /// The object's bytes and content type, or `None` when it does not exist.
    pub async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, Option<String>)>, BucketError> {
        match self
            .client
            .get_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
        {
            Ok(out) => {
                let ct = out.content_type().map(str::to_owned);
                let bytes = out
                    .body
                    .collect()
                    .await
                    .map_err(req("read object"))?
                    .into_bytes()
                    .to_vec();
                Ok(Some((bytes, ct)))
            }
            Err(e)
                if e.as_service_error()
                    .map(|s| s.is_no_such_key())
                    .unwrap_or(false) =>
            {
                Ok(None)
            }
            Err(e) => Err(BucketError::Request(format!(
                "get {key}: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            ))),
        }
    }

    pub async fn exists(&self, key: &str) -> Result<bool, BucketError> {
        match self
            .client
            .head_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .map(|s| s.is_not_found())
                    .unwrap_or(false) =>
            {
                Ok(false)
            }
            Err(e) => Err(BucketError::Request(format!(
                "head {key}: {}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            ))),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), BucketError> {
        self.client
            .delete_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                BucketError::Request(format!(
                    "delete {key}: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                ))
            })
    }

    /// Visits every key under `prefix`, page by page (1,000 keys at most per page).
    async fn for_each_object(
        &self,
        prefix: &str,
        mut visit: impl FnMut(&str, i64),
    ) -> Result<(), BucketError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.name)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                BucketError::Request(format!(
                    "list {prefix}: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                ))
            })?;
            for o in page.contents() {
                if let Some(k) = o.key() {
                    visit(k, o.size().unwrap_or(0));
                }
            }
        }
        Ok(())
    }

    pub async fn prefix_usage(&self, prefix: &str) -> Result<PrefixUsage, BucketError> {
        let mut usage = PrefixUsage::default();
        self.for_each_object(prefix, |_, size| {
            usage.bytes += size;
            usage.objects += 1;
        })
        .await?;
        Ok(usage)
    }

    /// Deletes every object under `prefix`. Batches of 1,000; falls back to one by one for
    /// stores that reject DeleteObjects' mandatory checksum.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<i64, BucketError> {
        let mut keys = Vec::new();
        self.for_each_object(prefix, |k, _| keys.push(k.to_owned()))
            .await?;
        let total = keys.len() as i64;
        for chunk in keys.chunks(1000) {
            let ids: Result<Vec<_>, _> = chunk
                .iter()
                .map(|k| ObjectIdentifier::builder().key(k).build())
                .collect();
            let delete = Delete::builder()
                .set_objects(Some(ids.map_err(req("build delete"))?))
                .quiet(true)
                .build()
                .map_err(req("build delete"))?;
            let batch = self
                .client
                .delete_objects()
                .bucket(&self.name)
                .delete(delete)
                .send()
                .await;
            let batch_ok = matches!(&batch, Ok(out) if out.errors().is_empty());
            if !batch_ok {
                for k in chunk {
                    self.delete(k).await?;
                }
            }
        }
        Ok(total)
    }

    /// Top-level prefixes starting with `start` (e.g. every `ema-t-*/`), for drift checks.
    pub async fn list_prefixes(&self, start: &str) -> Result<Vec<String>, BucketError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.name)
            .prefix(start)
            .delimiter("/")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                BucketError::Request(format!(
                    "list prefixes: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                ))
            })?;
            out.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_owned)),
            );
        }
        Ok(out)
    }
}
