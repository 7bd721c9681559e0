//! Domain types that can only be built valid: parse, don't validate. Each returns its own
//! typed error.

mod base_domain;
mod branding;
mod plan;
mod slug;

pub use base_domain::{BaseDomain, BaseDomainError};
pub use branding::{Branding, BrandingError, HexColor, ImageKind, MAX_IMAGE_BYTES};
pub use plan::{Plan, PlanError};
pub use slug::{Slug, SlugError};
