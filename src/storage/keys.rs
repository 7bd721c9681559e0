use crate::domain::{ImageKind, Slug};

/// Every object key of a tenant, under `ema-t-{slug}/`. Keys are built only here.
pub struct TenantKeys<'a>(&'a Slug);

/// What a branding image is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrandingAsset {
    Logo,
    Favicon,
}

impl BrandingAsset {
    pub fn name(self) -> &'static str {
        match self {
            Self::Logo => "logo",
            Self::Favicon => "favicon",
        }
    }
}

impl<'a> TenantKeys<'a> {
    pub fn new(slug: &'a Slug) -> Self {
        Self(slug)
    }

    pub fn prefix(&self) -> String {
        self.0.s3_prefix()
    }

    /// The marker object that allocates the prefix and records whose it is.
    pub fn marker(&self) -> String {
        format!("{}.ema-tenant.json", self.prefix())
    }

    /// A message stored by content hash, so a duplicate lands on the same key.
    pub fn message(&self, sha256_hex: &str) -> String {
        format!(
            "{}messages/{}/{sha256_hex}.eml",
            self.prefix(),
            &sha256_hex[..2]
        )
    }

    pub fn branding(&self, asset: BrandingAsset, kind: ImageKind) -> String {
        format!(
            "{}branding/{}.{}",
            self.prefix(),
            asset.name(),
            kind.extension()
        )
    }

    /// Whether `key` belongs to this tenant (guards keys read back from the database).
    pub fn owns(&self, key: &str) -> bool {
        key.starts_with(&self.prefix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_live_under_the_tenant_prefix() {
        let slug = Slug::parse("acme").expect("valid");
        let k = TenantKeys::new(&slug);
        assert_eq!(k.marker(), "ema-t-acme/.ema-tenant.json");
        assert_eq!(k.message("abcdef"), "ema-t-acme/messages/ab/abcdef.eml");
        assert_eq!(
            k.branding(BrandingAsset::Logo, ImageKind::Png),
            "ema-t-acme/branding/logo.png"
        );
        assert!(k.owns("ema-t-acme/x"));
        assert!(!k.owns("ema-t-acme2/x"));
    }
}
