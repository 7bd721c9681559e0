//! Server-rendered pages of a tenant host, in the tenant's branding: the login form, the
//! signed-in page, the suspended notice and error pages. No JavaScript; every piece of text is
//! HTML-escaped; a strict Content-Security-Policy stops anything injected from running.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};

use super::directory::EdgeTenant;

/// The product name when neither the tenant nor its reseller sets one.
pub const DEFAULT_NAME: &str = "Email Archive";
/// The primary colour when neither the tenant nor its reseller sets one.
pub const DEFAULT_COLOR: &str = "#1f5fbf";
/// No scripts, no foreign resources, forms post only to this host.
pub const CSP: &str = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The branding a page is drawn with.
struct Look<'a> {
    name: &'a str,
    color: &'a str,
    logo: bool,
    favicon: bool,
    tenant_name: &'a str,
}

impl<'a> Look<'a> {
    fn of(t: &'a EdgeTenant) -> Self {
        let owned = |k: &Option<String>| {
            k.as_deref()
                .is_some_and(|k| crate::storage::TenantKeys::new(&t.slug).owns(k))
        };
        Self {
            name: t.branding.custom_name.as_deref().unwrap_or(DEFAULT_NAME),
            color: t
                .branding
                .primary_color
                .as_ref()
                .map(|c| c.as_str())
                .unwrap_or(DEFAULT_COLOR),
            logo: owned(&t.branding.logo_key),
            favicon: owned(&t.branding.favicon_key),
            tenant_name: &t.name,
        }
    }
}

fn layout(look: &Look<'_>, title: &str, main: &str) -> String {
    let name = escape(look.name);
    let favicon = if look.favicon {
        "<link rel=\"icon\" href=\"/_ema/branding/favicon\">\n"
    } else {
        ""
    };
    let logo = if look.logo {
        format!("<img class=\"logo\" src=\"/_ema/branding/logo\" alt=\"{name} logo\">")
    } else {
        String::new()
    };
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · {name}</title>
{favicon}<style>
:root {{ --primary: {color}; }}
body {{ margin: 0; font-family: system-ui, sans-serif; background: #f4f5f7; color: #1b1f24; }}
header {{ background: var(--primary); color: #fff; padding: 1rem 1.5rem; display: flex; align-items: center; gap: .75rem; }}
header h1 {{ font-size: 1.25rem; margin: 0; }}
.logo {{ max-height: 2.5rem; }}
main {{ max-width: 26rem; margin: 2rem auto; background: #fff; padding: 1.5rem; border-radius: .5rem; box-shadow: 0 1px 3px rgba(0,0,0,.15); }}
label {{ display: block; margin-top: 1rem; font-weight: 600; }}
input {{ width: 100%; box-sizing: border-box; padding: .5rem; margin-top: .25rem; font-size: 1rem; border: 1px solid #8a9099; border-radius: .25rem; }}
input:focus, button:focus {{ outline: 3px solid var(--primary); outline-offset: 2px; }}
button {{ margin-top: 1.5rem; padding: .6rem 1.2rem; font-size: 1rem; background: var(--primary); color: #fff; border: 0; border-radius: .25rem; cursor: pointer; }}
.error {{ color: #a4161a; font-weight: 600; }}
.tenant {{ color: #4a5058; margin-top: 0; }}
</style>
</head>
<body>
<header>{logo}<h1 id="product">{name}</h1></header>
<main aria-labelledby="page-title">
<p class="tenant" id="tenant-name">{tenant}</p>
{main}
</main>
</body>
</html>
"#,
        title = escape(title),
        color = escape(look.color),
        tenant = escape(look.tenant_name),
    )
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header(("content-security-policy", CSP))
        .insert_header(("x-content-type-options", "nosniff"))
        .insert_header(("referrer-policy", "same-origin"))
        .body(body)
}

/// The login form; `error` is shown above it and `email` refilled (both escaped).
pub fn login(t: &EdgeTenant, status: StatusCode, error: Option<&str>, email: &str) -> HttpResponse {
    let look = Look::of(t);
    let error = error
        .map(|e| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"login-error\">{}</p>\n",
                escape(e)
            )
        })
        .unwrap_or_default();
    let main = format!(
        r#"<h2 id="page-title">Sign in</h2>
{error}<form method="post" action="/login">
<label for="email">E-mail address</label>
<input id="email" name="email" type="email" autocomplete="username" required maxlength="254" value="{email}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="256">
<button type="submit">Sign in</button>
</form>"#,
        email = escape(email),
    );
    html(status, layout(&look, "Sign in", &main))
}

/// The page a signed-in user sees at `/`.
pub fn signed_in(t: &EdgeTenant, email: &str) -> HttpResponse {
    let look = Look::of(t);
    let main = format!(
        r#"<h2 id="page-title">Signed in</h2>
<p>You are signed in as <strong id="user-email">{}</strong>.</p>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>"#,
        escape(email)
    );
    html(StatusCode::OK, layout(&look, "Signed in", &main))
}

/// The notice shown instead of any page while the tenant is suspended.
pub fn suspended(t: &EdgeTenant) -> HttpResponse {
    let look = Look::of(t);
    let main = r#"<h2 id="page-title">This account is suspended</h2>
<p id="suspended-notice" role="alert">This account is suspended, so signing in is not possible at the moment. No data has been lost and incoming e-mail is still being archived.</p>
<p>Please contact your provider to restore access.</p>"#;
    html(
        StatusCode::FORBIDDEN,
        layout(&look, "Account suspended", main),
    )
}

/// Any other refusal, for a browser.
pub fn error(t: &EdgeTenant, status: StatusCode, title: &str, detail: &str) -> HttpResponse {
    let look = Look::of(t);
    let main = format!(
        "<h2 id=\"page-title\">{}</h2>\n<p class=\"error\" role=\"alert\">{}</p>\n<p><a href=\"/\">Back to sign-in</a></p>",
        escape(title),
        escape(detail)
    );
    html(status, layout(&look, title, &main))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }
}
