use serde::{Deserialize, Serialize};

/// Longest custom name shown on a login page.
pub const MAX_CUSTOM_NAME_LEN: usize = 100;

/// Branding overrides of a tenant or a reseller. `None` means "inherit": tenant override >
/// reseller > built-in default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branding {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_color: Option<HexColor>,
    /// Object key of the uploaded logo, under the owner's prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub favicon_key: Option<String>,
}

impl Branding {
    /// Each field from `self` when set, else from `fallback`.
    pub fn over(&self, fallback: &Branding) -> Branding {
        Branding {
            custom_name: self
                .custom_name
                .clone()
                .or_else(|| fallback.custom_name.clone()),
            primary_color: self
                .primary_color
                .clone()
                .or_else(|| fallback.primary_color.clone()),
            logo_key: self.logo_key.clone().or_else(|| fallback.logo_key.clone()),
            favicon_key: self
                .favicon_key
                .clone()
                .or_else(|| fallback.favicon_key.clone()),
        }
    }

    pub fn parse_custom_name(input: &str) -> Result<String, BrandingError> {
        let trimmed = input.trim();
        if trimmed.is_empty() || trimmed.chars().count() > MAX_CUSTOM_NAME_LEN {
            return Err(BrandingError::CustomName);
        }
        if trimmed.chars().any(char::is_control) {
            return Err(BrandingError::CustomName);
        }
        Ok(trimmed.to_owned())
    }
}

/// A `#RRGGBB` colour, stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HexColor(String);

impl HexColor {
    pub fn parse(input: &str) -> Result<Self, BrandingError> {
        let ok = input.len() == 7
            && input.starts_with('#')
            && input[1..].bytes().all(|b| b.is_ascii_hexdigit());
        if !ok {
            return Err(BrandingError::Color(input.to_owned()));
        }
        Ok(Self(input.to_ascii_lowercase()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for HexColor {
    type Error = BrandingError;
    fn try_from(v: String) -> Result<Self, Self::Error> {
        Self::parse(&v)
    }
}

impl From<HexColor> for String {
    fn from(c: HexColor) -> Self {
        c.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrandingError {
    #[error("the primary color {0:?} is not a #RRGGBB hex colour")]
    Color(String),
    #[error("the custom name must be 1-{MAX_CUSTOM_NAME_LEN} printable characters")]
    CustomName,
    #[error("the image is not a PNG, JPEG, SVG or ICO file")]
    ImageType,
    #[error("the image is {size} bytes; at most {max} are allowed")]
    ImageTooLarge { size: usize, max: usize },
    #[error("the SVG image contains scripts or external references, which are not allowed")]
    UnsafeSvg,
}

/// Image formats accepted for logos and favicons, recognised by content, not by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Png,
    Jpeg,
    Svg,
    Ico,
}

/// Largest logo or favicon accepted.
pub const MAX_IMAGE_BYTES: usize = 512 * 1024;

impl ImageKind {
    /// Recognises an image by its bytes and refuses SVGs that could run script on the login page.
    pub fn sniff(bytes: &[u8]) -> Result<Self, BrandingError> {
        if bytes.len() > MAX_IMAGE_BYTES {
            return Err(BrandingError::ImageTooLarge {
                size: bytes.len(),
                max: MAX_IMAGE_BYTES,
            });
        }
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 24 {
            return Ok(Self::Png);
        }
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) && bytes.len() > 4 {
            return Ok(Self::Jpeg);
        }
        if bytes.starts_with(&[0, 0, 1, 0]) && bytes.len() > 6 && bytes[4..6] != [0, 0] {
            return Ok(Self::Ico);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| BrandingError::ImageType)?;
        let lower = text.to_ascii_lowercase();
        let head = lower.trim_start_matches('\u{feff}').trim_start();
        let looks_svg =
            (head.starts_with("<svg") || head.starts_with("<?xml")) && lower.contains("<svg");
        if !looks_svg {
            return Err(BrandingError::ImageType);
        }
        let unsafe_markers = [
            "<script",
            "javascript:",
            "onload",
            "onerror",
            "onclick",
            "<foreignobject",
            "href=\"http",
            "href='http",
            "<!entity",
        ];
        if unsafe_markers.iter().any(|m| lower.contains(m))
            || lower.contains(" on") && has_event_attribute(&lower)
        {
            return Err(BrandingError::UnsafeSvg);
        }
        Ok(Self::Svg)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Svg => "image/svg+xml",
            Self::Ico => "image/x-icon",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Svg => "svg",
            Self::Ico => "ico",
        }
    }
}

/// Any ` on<letters>=` attribute is an event handler.
fn has_event_attribute(lower: &str) -> bool {
    lower.match_indices(" on").any(|(i, _)| {
        let rest = &lower[i + 3..];
        let name_len = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        name_len > 0 && rest[name_len..].trim_start().starts_with('=')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_hash_and_six_hex_digits() {
        assert_eq!(HexColor::parse("#AbCdEf").expect("ok").as_str(), "#abcdef");
        for bad in ["abcdef", "#abc", "#abcdeg", "#abcdef0", "red"] {
            assert!(HexColor::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn images_are_recognised_by_content() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend([0u8; 32]);
        assert_eq!(ImageKind::sniff(&png), Ok(ImageKind::Png));
        assert_eq!(
            ImageKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]),
            Ok(ImageKind::Jpeg)
        );
        assert_eq!(
            ImageKind::sniff(&[0, 0, 1, 0, 1, 0, 16, 16]),
            Ok(ImageKind::Ico)
        );
        assert_eq!(
            ImageKind::sniff(br#"<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>"#),
            Ok(ImageKind::Svg)
        );
        assert_eq!(
            ImageKind::sniff(b"GIF89a...."),
            Err(BrandingError::ImageType)
        );
        assert_eq!(
            ImageKind::sniff(b"<html><script>"),
            Err(BrandingError::ImageType)
        );
        assert_eq!(
            ImageKind::sniff(b"<svg><script>alert(1)</script></svg>"),
            Err(BrandingError::UnsafeSvg)
        );
        assert_eq!(
            ImageKind::sniff(b"<svg onload = \"x()\"></svg>"),
            Err(BrandingError::UnsafeSvg)
        );
        assert!(matches!(
            ImageKind::sniff(&vec![0u8; MAX_IMAGE_BYTES + 1]),
            Err(BrandingError::ImageTooLarge { .. })
        ));
    }

    #[test]
    fn tenant_overrides_win_over_reseller_branding() {
        let reseller = Branding {
            custom_name: Some("R".into()),
            primary_color: Some(HexColor::parse("#111111").expect("ok")),
            ..Default::default()
        };
        let tenant = Branding {
            custom_name: Some("T".into()),
            ..Default::default()
        };
        let merged = tenant.over(&reseller);
        assert_eq!(merged.custom_name.as_deref(), Some("T"));
        assert_eq!(
            merged.primary_color.as_ref().map(HexColor::as_str),
            Some("#111111")
        );
    }
}
