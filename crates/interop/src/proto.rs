//! The few pieces of the protocol-buffers wire format that an ONNX file needs: varints,
//! field keys, length-delimited fields (strings, bytes, nested messages) and 32-bit floats.
//!
//! Why our own: there is no established Rust crate for *writing* ONNX, and the usual protobuf
//! route (prost with generated code) needs `protoc` at build time or a checked-in generated
//! file of the whole 800-line `onnx.proto`. We write ten small messages, once, and never
//! read them back (outside the tests); the wire format for that is about fifty lines, tested
//! here against byte strings from the protobuf encoding guide and, for whole files, by
//! `onnx.checker` and onnxruntime in `apps/eval/tests/export.rs`.

/// Wire types of the protobuf encoding (the low three bits of a field key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum WireType {
    /// int32, int64, uint, bool, enum.
    Varint = 0,
    /// string, bytes, nested messages.
    Len = 2,
}

/// A message being written: fields are appended in the order they are given.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    bytes: Vec<u8>,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl Message {
    /// An empty message.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// The encoded bytes.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    fn key(&mut self, field: u32, wire: WireType) {
        put_varint(&mut self.bytes, (u64::from(field) << 3) | wire as u64);
    }

    /// An int64 / int32 / enum field. Negative numbers take ten bytes, as protobuf's int64
    /// encoding (two's complement as an unsigned varint) specifies.
    pub(crate) fn int(&mut self, field: u32, v: i64) -> &mut Self {
        self.key(field, WireType::Varint);
        put_varint(&mut self.bytes, v as u64);
        self
    }

    /// A bytes field.
    pub(crate) fn bytes(&mut self, field: u32, v: &[u8]) -> &mut Self {
        self.key(field, WireType::Len);
        put_varint(&mut self.bytes, v.len() as u64);
        self.bytes.extend_from_slice(v);
        self
    }

    /// A string field.
    pub(crate) fn string(&mut self, field: u32, v: &str) -> &mut Self {
        self.bytes(field, v.as_bytes())
    }

    /// A nested message field.
    pub(crate) fn message(&mut self, field: u32, m: &Message) -> &mut Self {
        self.bytes(field, &m.bytes)
    }

    /// A repeated int64 field, one key per value (proto2's unpacked form, which `onnx.proto`
    /// declares; parsers accept it for every version).
    pub(crate) fn ints(&mut self, field: u32, vs: &[i64]) -> &mut Self {
        for &v in vs {
            self.int(field, v);
        }
        self
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal reader for the tests: (field, wire type, value) triples of one message,
    /// values of length-delimited fields as bytes, varints as numbers.
    #[derive(Debug, Clone, PartialEq)]
    pub(crate) enum Value {
        Varint(u64),
        Len(Vec<u8>),
    }

    fn get_varint(b: &[u8], at: &mut usize) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let byte = b[*at];
            *at += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return v;
            }
            shift += 7;
        }
    }

    pub(crate) fn parse(b: &[u8]) -> Vec<(u32, Value)> {
        let mut at = 0;
        let mut out = Vec::new();
        while at < b.len() {
            let key = get_varint(b, &mut at);
            let field = (key >> 3) as u32;
            let v = match key & 7 {
                0 => Value::Varint(get_varint(b, &mut at)),
                2 => {
                    let len = get_varint(b, &mut at) as usize;
                    at += len;
                    Value::Len(b[at - len..at].to_vec())
                }
                w => panic!("wire type {w} not written by this encoder"),
            };
            out.push((field, v));
        }
        out
    }

    #[test]
    fn encodes_the_examples_of_the_protobuf_encoding_guide() {
        // "message Test1 { optional int32 a = 1; }" with a = 150 is 08 96 01.
        let mut m = Message::new();
        m.int(1, 150);
        assert_eq!(m.clone().into_bytes(), [0x08, 0x96, 0x01]);
        // "message Test2 { optional string b = 2; }" with b = "testing" is 12 07 74 65 73 74 69 6e 67.
        let mut s = Message::new();
        s.string(2, "testing");
        assert_eq!(
            s.clone().into_bytes(),
            [0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67]
        );
        // "message Test3 { optional Test1 c = 3; }" with c.a = 150 is 1a 03 08 96 01.
        let mut t = Message::new();
        t.message(3, &m);
        assert_eq!(t.into_bytes(), [0x1a, 0x03, 0x08, 0x96, 0x01]);
    }

    #[test]
    fn negative_ints_take_ten_bytes() {
        let mut m = Message::new();
        m.int(1, -1);
        assert_eq!(
            m.into_bytes(),
            [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        );
    }

    #[test]
    fn large_fields_round_trip_through_the_test_reader() {
        let mut m = Message::new();
        let big = vec![7u8; 300]; // a two-byte length
        m.bytes(9, &big)
            .ints(8, &[0, 1, 300, i64::MAX])
            .string(1, "é");
        let fields = parse(&m.into_bytes());
        assert_eq!(fields[0], (9, Value::Len(big)));
        assert_eq!(fields[1], (8, Value::Varint(0)));
        assert_eq!(fields[3], (8, Value::Varint(300)));
        assert_eq!(fields[4], (8, Value::Varint(i64::MAX as u64)));
        assert_eq!(fields[5], (1, Value::Len("é".as_bytes().to_vec())));
    }
}
