//! G.711 µ-law (PCMU) and A-law (PCMA) companding.
//!
//! The classic Sun / ITU-T G.191 reference algorithms. Decoding uses tables computed at compile
//! time; encoding is a branch-light `const fn` (a 64 KiB table per law would cost more cache than
//! it saves at 160 samples per frame).

/// Bias added before µ-law segment search (G.711).
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude µ-law can represent before clipping.
const ULAW_CLIP: i32 = 32635;

/// Encodes one 16-bit linear sample to µ-law.
#[must_use]
pub const fn linear_to_ulaw(sample: i16) -> u8 {
    let mut pcm = sample as i32;
    let sign = if pcm < 0 {
        // i32 arithmetic: -(-32768) does not overflow here.
        pcm = -pcm;
        0x80
    } else {
        0
    };
    if pcm > ULAW_CLIP {
        pcm = ULAW_CLIP;
    }
    pcm += ULAW_BIAS;
    let top = ((pcm >> 7) & 0xFF) as u8;
    let exponent = if top == 0 {
        0
    } else {
        7 - top.leading_zeros() as i32
    };
    let mantissa = (pcm >> (exponent + 3)) & 0x0F;
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// Decodes one µ-law byte to a 16-bit linear sample.
#[must_use]
pub const fn ulaw_to_linear(code: u8) -> i16 {
    ULAW_TABLE[code as usize]
}

/// Encodes one 16-bit linear sample to A-law.
#[must_use]
pub const fn linear_to_alaw(sample: i16) -> u8 {
    let mut pcm = (sample as i32) >> 3;
    let mask = if pcm >= 0 {
        0xD5
    } else {
        pcm = -pcm - 1;
        0x55
    };
    // Segment end points in the 13-bit domain: 0x1F, 0x3F, ... 0xFFF.
    let mut seg = 0;
    while seg < 8 && pcm > ((0x20 << seg) - 1) {
        seg += 1;
    }
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let mut aval = seg << 4;
    if seg < 2 {
        aval |= (pcm >> 1) & 0x0F;
    } else {
        aval |= (pcm >> seg) & 0x0F;
    }
    (aval as u8) ^ mask
}

/// Decodes one A-law byte to a 16-bit linear sample.
#[must_use]
pub const fn alaw_to_linear(code: u8) -> i16 {
    ALAW_TABLE[code as usize]
}

/// Encodes a block of linear samples to µ-law, appending to `out`.
pub fn encode_ulaw(pcm: &[i16], out: &mut Vec<u8>) {
    out.extend(pcm.iter().map(|&s| linear_to_ulaw(s)));
}

/// Decodes a block of µ-law bytes, appending linear samples to `out`.
pub fn decode_ulaw(codes: &[u8], out: &mut Vec<i16>) {
    out.extend(codes.iter().map(|&c| ulaw_to_linear(c)));
}

/// Encodes a block of linear samples to A-law, appending to `out`.
pub fn encode_alaw(pcm: &[i16], out: &mut Vec<u8>) {
    out.extend(pcm.iter().map(|&s| linear_to_alaw(s)));
}

/// Decodes a block of A-law bytes, appending linear samples to `out`.
pub fn decode_alaw(codes: &[u8], out: &mut Vec<i16>) {
    out.extend(codes.iter().map(|&c| alaw_to_linear(c)));
}

const fn ulaw_decode_slow(code: u8) -> i16 {
    let u = !code;
    let t = (((u & 0x0F) as i32) << 3) + ULAW_BIAS;
    let t = t << ((u & 0x70) >> 4);
    (if u & 0x80 != 0 {
        ULAW_BIAS - t
    } else {
        t - ULAW_BIAS
    }) as i16
}

const fn alaw_decode_slow(code: u8) -> i16 {
    let a = code ^ 0x55;
    let mut t = ((a & 0x0F) as i32) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => {
            t += 0x108;
            t <<= seg - 1;
        }
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

static ULAW_TABLE: [i16; 256] = {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = ulaw_decode_slow(i as u8);
        i += 1;
    }
    table
};

static ALAW_TABLE: [i16; 256] = {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = alaw_decode_slow(i as u8);
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// µ-law: within a segment the step is 2^(e+3) and the decoder returns the step midpoint,
    /// so the error is at most half a step, which is ≤ (|x| + 132) / 32 (clipping included).
    fn ulaw_bound(x: i16) -> i32 {
        (i32::from(x).abs() + ULAW_BIAS) / 32 + 1
    }

    /// A-law: segments 0 and 1 have a step of 32 (16-bit domain), segment s ≥ 2 a step of
    /// 2^(s+4) for |x| ≥ 2^(s+7); half a step is ≤ |x|/32, plus the fixed 16 of the low segments.
    fn alaw_bound(x: i16) -> i32 {
        i32::from(x).abs() / 32 + 16
    }

    proptest! {
        #[test]
        fn ulaw_round_trip_within_quantisation(x in any::<i16>()) {
            let y = ulaw_to_linear(linear_to_ulaw(x));
            prop_assert!((i32::from(x) - i32::from(y)).abs() <= ulaw_bound(x), "x={x} y={y}");
        }

        #[test]
        fn alaw_round_trip_within_quantisation(x in any::<i16>()) {
            let y = alaw_to_linear(linear_to_alaw(x));
            prop_assert!((i32::from(x) - i32::from(y)).abs() <= alaw_bound(x), "x={x} y={y}");
        }
    }

    #[test]
    fn every_ulaw_code_round_trips_except_negative_zero() {
        for code in 0..=255u8 {
            let back = linear_to_ulaw(ulaw_to_linear(code));
            if code == 0x7F {
                // 0x7F is µ-law "negative zero": it decodes to 0, which encodes as 0xFF.
                assert_eq!(back, 0xFF);
            } else {
                assert_eq!(back, code, "code {code:#04x}");
            }
        }
    }

    #[test]
    fn every_alaw_code_round_trips() {
        for code in 0..=255u8 {
            assert_eq!(
                linear_to_alaw(alaw_to_linear(code)),
                code,
                "code {code:#04x}"
            );
        }
    }

    #[test]
    fn known_values() {
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(alaw_to_linear(0xAA), 32256);
    }
}
