//! Precompresses the static files the binary serves (the widget, the editors' console), so that
//! they go out gzip- or brotli-encoded whatever `MARGINALIA_COMPRESSION` says, at no CPU cost per
//! request: compressing once here at the highest levels beats compressing on every answer.
//!
//! Writes into OUT_DIR, for `src/api/assets.rs` to include:
//! - `widget.js`, `widget.css`, each with `.gz` and `.br`; the script gets the stylesheet's content
//!   hash in place of `__MARGINALIA_CSS_VERSION__`, so it links a versioned, immutable `widget.css`;
//! - `console/<file>.gz` and `.br` for every file of `src/console/`;
//! - `static_assets.rs`: the widget's files with their hashes, and the console's precompressed
//!   files keyed by name with the SHA-256 of the plain file they were made from (a debug build reads
//!   the console from disk, so the server uses them only while that hash still matches).

// A build script that cannot read its inputs or write OUT_DIR should stop the build loudly.
#![allow(clippy::expect_used)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

use sha2::{Digest, Sha256};

/// Stands in the widget's source for the stylesheet's content hash.
const CSS_VERSION_PLACEHOLDER: &str = "__MARGINALIA_CSS_VERSION__";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=src/widget/widget.js");
    println!("cargo:rerun-if-changed=src/widget/widget.css");
    println!("cargo:rerun-if-changed=src/console");

    let css = fs::read("src/widget/widget.css").expect("src/widget/widget.css is readable");
    let css_tag = short_hash(&css);
    let js = fs::read_to_string("src/widget/widget.js").expect("src/widget/widget.js is readable");
    assert!(
        js.contains(CSS_VERSION_PLACEHOLDER),
        "widget.js must name {CSS_VERSION_PLACEHOLDER} where it links widget.css"
    );
    let js = js.replace(CSS_VERSION_PLACEHOLDER, &css_tag).into_bytes();
    let js_tag = short_hash(&js);

    let mut code = String::new();
    for (name, body, tag) in [("widget.js", &js, &js_tag), ("widget.css", &css, &css_tag)] {
        compress_into(&out.join(name), body);
        let constant = name.replace('.', "_").to_uppercase();
        writeln!(
            code,
            "/// `src/widget/{name}` as served, plain and precompressed.\n\
             pub const {constant}: Precompressed = Precompressed {{\n    \
                 plain: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{name}\")),\n    \
                 gzip: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{name}.gz\")),\n    \
                 brotli: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{name}.br\")),\n    \
                 tag: \"{tag}\",\n\
             }};"
        )
        .expect("writing to a String");
    }

    let mut console = Vec::new();
    collect_files(Path::new("src/console"), &mut console);
    console.sort();
    code.push_str(
        "/// The console's files, precompressed.\n\
         pub const CONSOLE_FILES: &[ConsoleFile] = &[\n",
    );
    for path in console {
        let name = path
            .strip_prefix("src/console")
            .expect("collected under src/console")
            .to_string_lossy()
            .replace('\\', "/");
        let body = fs::read(&path).expect("a console file is readable");
        let digest: [u8; 32] = Sha256::digest(&body).into();
        compress_into(&out.join("console").join(&name), &body);
        writeln!(
            code,
            "    ConsoleFile {{ name: {name:?}, sha256: {digest:?}, \
             gzip: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/console/{name}.gz\")), \
             brotli: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/console/{name}.br\")) }},"
        )
        .expect("writing to a String");
    }
    code.push_str("];\n");
    fs::write(out.join("static_assets.rs"), code).expect("OUT_DIR is writable");
}

/// Writes `body` to `path`, and its gzip (level 9) and brotli (quality 11) forms beside it.
fn compress_into(path: &Path, body: &[u8]) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("OUT_DIR is writable");
    }
    fs::write(path, body).expect("OUT_DIR is writable");

    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(body).expect("gzip into memory");
    fs::write(
        with_suffix(path, "gz"),
        gzip.finish().expect("gzip into memory"),
    )
    .expect("OUT_DIR is writable");

    let mut brotli = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &body[..], &mut brotli, &params).expect("brotli into memory");
    fs::write(with_suffix(path, "br"), brotli).expect("OUT_DIR is writable");
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("src/console is readable") {
        let path = entry.expect("src/console is readable").path();
        if path.is_dir() {
            collect_files(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// The first 16 hex digits of the SHA-256 of `body`: an ETag and a `?v=` version.
fn short_hash(body: &[u8]) -> String {
    Sha256::digest(body)[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
