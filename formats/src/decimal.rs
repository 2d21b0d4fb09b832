//! Unsigned integers in decimal, written into a stack buffer two digits per division: the
//! sequence number and the derived numbers a record renders, and the shipper's
//! `edgeship.sequence` Kafka header. Allocates nothing.

/// A `u64` in decimal, held on the stack.
#[derive(Debug, Clone, Copy)]
pub struct Decimal {
    digits: [u8; 20],
    start: usize,
}

impl Decimal {
    /// Writes `value` in decimal.
    #[inline]
    pub fn new(mut value: u64) -> Decimal {
        let mut digits = [0_u8; 20];
        let mut start = digits.len();
        while value >= 100 {
            let pair = (value % 100) as usize;
            value /= 100;
            start -= 2;
            digits[start..start + 2].copy_from_slice(&DIGIT_PAIRS[2 * pair..2 * pair + 2]);
        }
        if value >= 10 {
            let pair = value as usize;
            start -= 2;
            digits[start..start + 2].copy_from_slice(&DIGIT_PAIRS[2 * pair..2 * pair + 2]);
        } else {
            start -= 1;
            digits[start] = b'0' + value as u8;
        }
        Decimal { digits, start }
    }

    /// The digits, most significant first.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.digits[self.start..]
    }
}

/// `00` to `99`, two bytes each.
const DIGIT_PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";
