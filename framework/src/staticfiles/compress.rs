//! Precompression: `.gz` (gzip, level 9) and `.br` (Brotli) siblings of
//! compressible collected files, for the web server and the application's
//! own static serving to send to clients that accept them.
//!
//! A file is compressed when its type is text-like (CSS, JavaScript, SVG,
//! HTML, fonts, …) and it has at least 256 bytes; a sibling is kept only when it is
//! under 95 % of the original's size (otherwise the gain is not worth a
//! second file), as WhiteNoise does.

use std::io::Write;

/// Files smaller than this are not compressed.
pub(crate) const MIN_SIZE: u64 = 256;

/// Brotli quality (0–11). 11 is the densest and slowest; collectstatic runs
/// once per deployment, so density wins.
pub(crate) const BROTLI_QUALITY: u32 = 11;

/// Extensions of text-like files worth compressing.
pub(crate) const COMPRESSIBLE_EXTENSIONS: &[&str] = &[
    "css",
    "js",
    "mjs",
    "map",
    "json",
    "webmanifest",
    "svg",
    "html",
    "htm",
    "txt",
    "xml",
    "csv",
    "md",
    "ico",
    "wasm",
    "ttf",
    "otf",
    "eot",
];

/// An encoding of precompressed siblings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `.gz`, `Content-Encoding: gzip`.
    Gzip,
    /// `.br`, `Content-Encoding: br`.
    Brotli,
}

impl Encoding {
    /// Both, in the order they are written.
    pub const ALL: [Encoding; 2] = [Encoding::Gzip, Encoding::Brotli];

    /// The sibling's suffix, with the dot.
    pub fn suffix(self) -> &'static str {
        match self {
            Encoding::Gzip => ".gz",
            Encoding::Brotli => ".br",
        }
    }

    /// Its `Content-Encoding` name.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
            Encoding::Brotli => "br",
        }
    }

    /// The encodings a request's `Accept-Encoding` allows, preferred first:
    /// the highest `q` first, Brotli before gzip when equal (it is smaller);
    /// `q=0`, or a `q` that is not a number from 0 to 1, refuses.
    ///
    /// ```
    /// use http::{HeaderMap, HeaderValue};
    /// use nuages::staticfiles::compress::Encoding;
    /// let accepted = |value: &'static str| {
    ///     let mut headers = HeaderMap::new();
    ///     headers.insert("accept-encoding", HeaderValue::from_static(value));
    ///     Encoding::accepted(&headers)
    /// };
    /// assert_eq!(accepted("gzip, br"), [Encoding::Brotli, Encoding::Gzip]);
    /// assert_eq!(accepted("br;q=0.5, GZIP"), [Encoding::Gzip, Encoding::Brotli]);
    /// assert_eq!(accepted("gzip;q=0, br;q=1.5, deflate"), []);
    /// assert_eq!(accepted("x-gzip ; q=0.3"), [Encoding::Gzip]);
    /// ```
    pub fn accepted(headers: &http::HeaderMap) -> Vec<Encoding> {
        let mut found: Vec<(u16, Encoding)> = Vec::new();
        let entries = headers
            .get_all(http::header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','));
        for entry in entries {
            let mut parts = entry.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let encoding = if coding.eq_ignore_ascii_case("br") {
                Encoding::Brotli
            } else if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                Encoding::Gzip
            } else {
                continue;
            };
            let quality = parts
                .find_map(|param| {
                    let (key, value) = param.split_once('=')?;
                    key.trim().eq_ignore_ascii_case("q").then(|| value.trim())
                })
                .map_or(Some(1000), thousandths);
            if let Some(quality) = quality.filter(|q| *q > 0)
                && !found.iter().any(|(_, e)| *e == encoding)
            {
                found.push((quality, encoding));
            }
        }
        found.sort_by_key(|(quality, encoding)| {
            (std::cmp::Reverse(*quality), *encoding != Encoding::Brotli)
        });
        found.into_iter().map(|(_, encoding)| encoding).collect()
    }

    /// Compress `data`.
    pub fn compress(self, data: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            Encoding::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(data.len() / 2),
                    flate2::Compression::best(),
                );
                encoder.write_all(data)?;
                encoder.finish()
            }
            Encoding::Brotli => {
                // A window no larger than the data: less to set up per file.
                let window = (usize::BITS - data.len().max(1).leading_zeros()).clamp(10, 22);
                let mut out = Vec::with_capacity(data.len() / 2);
                {
                    let mut writer =
                        brotli::CompressorWriter::new(&mut out, 4096, BROTLI_QUALITY, window);
                    writer.write_all(data)?;
                    writer.flush()?;
                }
                Ok(out)
            }
        }
    }
}

/// A `q` value (`0`, `0.5`, `1.000`) in thousandths; `None` when invalid.
fn thousandths(q: &str) -> Option<u16> {
    let (whole, fraction) = q.split_once('.').unwrap_or((q, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let fraction: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(fraction),
        "1" if fraction == 0 => Some(1000),
        _ => None,
    }
}

/// Whether a file of this name is text-like.
pub(crate) fn is_compressible(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or(name);
    match file.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => COMPRESSIBLE_EXTENSIONS
            .iter()
            .any(|known| known.eq_ignore_ascii_case(ext)),
        _ => false,
    }
}

/// Whether a compressed size is worth a sibling file.
pub(crate) fn worth_keeping(original: usize, compressed: usize) -> bool {
    (compressed as u128) * 100 < (original as u128) * 95
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn both_encodings_round_trip_and_shrink_text() {
        let text = "body { color: red; margin: 0 auto; }\n".repeat(50);
        let gz = Encoding::Gzip.compress(text.as_bytes()).unwrap();
        let mut back = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, text);
        let br = Encoding::Brotli.compress(text.as_bytes()).unwrap();
        let mut back = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, text.as_bytes());
        assert!(worth_keeping(text.len(), gz.len()));
        assert!(worth_keeping(text.len(), br.len()));
    }

    #[test]
    fn incompressible_data_is_not_worth_a_sibling() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 32) as u8
            })
            .collect();
        let gz = Encoding::Gzip.compress(&noise).unwrap();
        assert!(!worth_keeping(noise.len(), gz.len()));
    }

    #[test]
    fn text_types_are_compressible_and_siblings_are_not() {
        assert!(is_compressible("css/site.0123456789ab.css"));
        assert!(is_compressible("js/app.JS"));
        assert!(!is_compressible("img/logo.png"));
        assert!(!is_compressible("js/app.js.gz"));
    }
}
