//! Rebuilds when migrations change (embed_migrations! does not track them) and fingerprints the
//! tenant migrations, which name the template database tenants are cloned from.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let mut files = Vec::new();
    collect(Path::new("migrations/tenant"), &mut files);
    files.sort();
    // FNV-1a over paths and contents: no dependency needed, and only equality matters here.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for f in files {
        let bytes = std::fs::read(&f).unwrap_or_default();
        for b in f.to_string_lossy().bytes().chain([0]).chain(bytes) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    println!(
        "cargo:rustc-env=EMA_TENANT_MIGRATIONS_HASH={:012x}",
        hash & 0xffff_ffff_ffff
    );
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}
