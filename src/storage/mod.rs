//! Object storage: the bucket client (always aws-sdk-s3) and the one place object keys are
//! built. Returns [`BucketError`].

mod bucket;
mod keys;

pub use bucket::{Bucket, BucketError, PrefixUsage};
pub use keys::{BrandingAsset, TenantKeys};
