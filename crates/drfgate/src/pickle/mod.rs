//! A pickle reader that builds plain values and nothing else: `dict`, `str`, `int`, `float`,
//! `bool`, `None`, `list`, `tuple`, `bytes` (and `bytearray`, read as bytes). Every opcode
//! that would name, call or build a Python object (`GLOBAL`, `STACK_GLOBAL`, `REDUCE`,
//! `BUILD`, `INST`, `OBJ`, `NEWOBJ`, extensions, persistent ids, out-of-band buffers) and the
//! set opcodes are refused: the reader never imports, calls or executes anything, so a value
//! planted by whoever can write to the cache can at worst be refused.
//!
//! Semantics follow CPython's `pickle.loads` for the opcodes it accepts (protocols 0 to 5):
//! the mark stack, the memo (shared references stay shared: values live in an arena),
//! `FRAME` headers, trailing bytes after `STOP` ignored. Django's `RedisCache` writes the
//! highest protocol (5); the text opcodes of protocol 0 are read too.
//!
//! Memory is bounded by the input: each opcode adds at most one value.

use std::fmt;

mod literals;

use literals::{decimal, long_from_le, raw_unicode_escape};
pub use literals::{is_python_int, python_int};

/// An index into [`Pickle::values`].
pub type Id = usize;

/// One value of the arena. Containers hold ids, so a memoised value met twice is one value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An `int` beyond 64 bits: its value is not kept (nothing the gate reads needs it).
    BigInt,
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Id>),
    Tuple(Vec<Id>),
    /// Insertion order; a key set twice keeps its first position and its last value, as
    /// Python's `dict`.
    Dict(Vec<(Id, Id)>),
}

/// A loaded pickle: the arena and the id of the value `STOP` returned.
#[derive(Debug)]
pub struct Pickle {
    pub values: Vec<Value>,
    pub root: Id,
}

impl Pickle {
    pub fn root(&self) -> &Value {
        &self.values[self.root]
    }

    pub fn get(&self, id: Id) -> &Value {
        &self.values[id]
    }

    /// The value under the `str` key `key` of the dict `dict`.
    // For the tests and the fuzz target; the session reader walks the dict once instead.
    #[cfg_attr(not(any(test, feature = "internals")), allow(dead_code))]
    pub fn dict_get(&self, dict: Id, key: &str) -> Option<&Value> {
        let Value::Dict(items) = &self.values[dict] else {
            return None;
        };
        items
            .iter()
            .find(|(k, _)| matches!(&self.values[*k], Value::Str(s) if s == key))
            .map(|(_, v)| &self.values[*v])
    }
}

/// Why a pickle was not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// An opcode that would build something other than a plain value (its pickletools name).
    Opcode(&'static str),
    /// Not a pickle CPython would load (truncated, bad lengths, stack underflow, …), or one
    /// this reader does not follow (a protocol-0 `STRING`, a lone surrogate).
    Malformed(&'static str),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Opcode(name) => write!(
                f,
                "opcode {name} refused (it would build a Python object; only plain values are read)"
            ),
            Refusal::Malformed(why) => write!(f, "not a readable pickle: {why}"),
        }
    }
}

/// Reads `data` as `pickle.loads` would, plain values only.
pub fn load(data: &[u8]) -> Result<Pickle, Refusal> {
    Loader {
        data,
        at: 0,
        values: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: Vec::new(),
    }
    .run()
}

struct Loader<'a> {
    data: &'a [u8],
    at: usize,
    values: Vec<Value>,
    stack: Vec<Id>,
    /// Stack lengths at each `MARK`.
    marks: Vec<usize>,
    /// Sparse by index: `None` for an index never set.
    memo: Vec<Option<Id>>,
}

const MALFORMED_TRUNCATED: Refusal = Refusal::Malformed("pickle data was truncated");
const UNDERFLOW: Refusal = Refusal::Malformed("unpickling stack underflow");
/// CPython refuses memo indices it cannot allocate; a bound keeps the sparse memo small.
const MAX_MEMO_INDEX: usize = 1 << 20;

impl<'a> Loader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Refusal> {
        let end = self.at.checked_add(n).ok_or(MALFORMED_TRUNCATED)?;
        let data: &'a [u8] = self.data;
        let bytes = data.get(self.at..end).ok_or(MALFORMED_TRUNCATED)?;
        self.at = end;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, Refusal> {
        Ok(self.take(1)?[0])
    }

    fn le(&mut self, n: usize) -> Result<u64, Refusal> {
        let bytes = self.take(n)?;
        Ok(bytes
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// A length field of `n` bytes, checked against what is left.
    fn length(&mut self, n: usize) -> Result<usize, Refusal> {
        let len = self.le(n)?;
        usize::try_from(len)
            .ok()
            .filter(|&len| len <= self.data.len() - self.at)
            .ok_or(MALFORMED_TRUNCATED)
    }

    /// A text opcode's argument: up to the newline, which is consumed.
    fn line(&mut self) -> Result<&'a [u8], Refusal> {
        let data: &'a [u8] = self.data;
        let rest = &data[self.at..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(MALFORMED_TRUNCATED)?;
        self.at += end + 1;
        Ok(&rest[..end])
    }

    fn push(&mut self, value: Value) {
        self.values.push(value);
        self.stack.push(self.values.len() - 1);
    }

    fn pop(&mut self) -> Result<Id, Refusal> {
        if self.stack.len() <= self.marks.last().copied().unwrap_or(0) {
            return Err(UNDERFLOW);
        }
        self.stack.pop().ok_or(UNDERFLOW)
    }

    fn top(&self) -> Result<Id, Refusal> {
        if self.stack.len() <= self.marks.last().copied().unwrap_or(0) {
            return Err(UNDERFLOW);
        }
        self.stack.last().copied().ok_or(UNDERFLOW)
    }

    /// The items pushed since the last `MARK`, which is dropped.
    fn pop_mark(&mut self) -> Result<Vec<Id>, Refusal> {
        let mark = self
            .marks
            .pop()
            .ok_or(Refusal::Malformed("could not find MARK"))?;
        Ok(self.stack.split_off(mark))
    }

    fn memo_put(&mut self, index: usize) -> Result<(), Refusal> {
        let top = self.top()?;
        if index >= MAX_MEMO_INDEX {
            return Err(Refusal::Malformed("memo index too large"));
        }
        if self.memo.len() <= index {
            self.memo.resize(index + 1, None);
        }
        self.memo[index] = Some(top);
        Ok(())
    }

    fn memo_get(&mut self, index: u64) -> Result<(), Refusal> {
        let id = usize::try_from(index)
            .ok()
            .and_then(|i| self.memo.get(i).copied().flatten())
            .ok_or(Refusal::Malformed("memo value not found"))?;
        self.stack.push(id);
        Ok(())
    }

    fn set_items(&mut self, dict: Id, items: &[Id]) -> Result<(), Refusal> {
        for pair in items.chunks(2) {
            let [key, value] = *pair else {
                return Err(Refusal::Malformed("odd number of items for SETITEMS"));
            };
            self.set_item(dict, key, value)?;
        }
        Ok(())
    }

    fn set_item(&mut self, dict: Id, key: Id, value: Id) -> Result<(), Refusal> {
        if matches!(self.values[key], Value::List(_) | Value::Dict(_)) {
            return Err(Refusal::Malformed("unhashable dict key"));
        }
        // Keys other than text are kept apart; nothing the gate reads looks them up.
        let position = match (&self.values[key], &self.values[dict]) {
            (Value::Str(text), Value::Dict(items)) => items
                .iter()
                .position(|(k, _)| matches!(&self.values[*k], Value::Str(t) if t == text)),
            _ => None,
        };
        match (position, &mut self.values[dict]) {
            (Some(i), Value::Dict(items)) => {
                items[i].1 = value;
                Ok(())
            }
            _ => self.push_item(dict, key, value),
        }
    }

    fn push_item(&mut self, dict: Id, key: Id, value: Id) -> Result<(), Refusal> {
        match &mut self.values[dict] {
            Value::Dict(items) => {
                items.push((key, value));
                Ok(())
            }
            _ => Err(Refusal::Malformed("SETITEM on something that is not a dict")),
        }
    }

    fn append(&mut self, list: Id, items: Vec<Id>) -> Result<(), Refusal> {
        match &mut self.values[list] {
            Value::List(existing) => {
                existing.extend(items);
                Ok(())
            }
            _ => Err(Refusal::Malformed("APPEND on something that is not a list")),
        }
    }

    fn text(bytes: &[u8]) -> Result<String, Refusal> {
        String::from_utf8(bytes.to_vec())
            .map_err(|_| Refusal::Malformed("text that is not UTF-8 (or a lone surrogate)"))
    }

    fn run(mut self) -> Result<Pickle, Refusal> {
        loop {
            let opcode = self.byte()?;
            match opcode {
                b'.' => {
                    // STOP
                    let root = self.stack.pop().ok_or(UNDERFLOW)?;
                    return Ok(Pickle {
                        values: self.values,
                        root,
                    });
                }
                0x80 => {
                    // PROTO
                    if self.byte()? > 5 {
                        return Err(Refusal::Malformed("unsupported pickle protocol"));
                    }
                }
                0x95 => {
                    // FRAME: advisory; the frame must be there.
                    self.length(8)?;
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    // POP: the top item, or the mark when nothing is above it.
                    if self.stack.len() > self.marks.last().copied().unwrap_or(0) {
                        self.stack.pop();
                    } else {
                        self.pop_mark()?;
                    }
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let top = self.top()?;
                    self.stack.push(top);
                }
                b'N' => self.push(Value::None),
                0x88 => self.push(Value::Bool(true)),
                0x89 => self.push(Value::Bool(false)),
                b'J' => {
                    let n = self.le(4)? as u32 as i32;
                    self.push(Value::Int(i64::from(n)));
                }
                b'K' => {
                    let n = self.byte()?;
                    self.push(Value::Int(i64::from(n)));
                }
                b'M' => {
                    let n = self.le(2)?;
                    self.push(Value::Int(n as i64));
                }
                0x8a => {
                    let n = self.length(1)?;
                    let bytes = self.take(n)?.to_vec();
                    self.push(long_from_le(&bytes));
                }
                0x8b => {
                    let n = self.le(4)? as u32 as i32;
                    let n = usize::try_from(n)
                        .map_err(|_| Refusal::Malformed("LONG pickle has negative byte count"))?;
                    if n > self.data.len() - self.at {
                        return Err(MALFORMED_TRUNCATED);
                    }
                    let bytes = self.take(n)?.to_vec();
                    self.push(long_from_le(&bytes));
                }
                b'I' => {
                    let line = self.line()?;
                    let value = match line {
                        b"00" => Value::Bool(false),
                        b"01" => Value::Bool(true),
                        text => python_int(text, true)?,
                    };
                    self.push(value);
                }
                b'L' => {
                    let line = self.line()?;
                    let text = line.strip_suffix(b"L").unwrap_or(line);
                    let value = python_int(text, true)?;
                    self.push(value);
                }
                b'G' => {
                    let bits = self.take(8)?;
                    let value = f64::from_be_bytes(bits.try_into().expect("8 bytes"));
                    self.push(Value::Float(value));
                }
                b'F' => {
                    let line = self.line()?;
                    let value = std::str::from_utf8(line)
                        .ok()
                        .and_then(|t| t.trim().parse::<f64>().ok())
                        .ok_or(Refusal::Malformed("FLOAT that is not a number"))?;
                    self.push(Value::Float(value));
                }
                0x8c | b'X' | 0x8d => {
                    let n = match opcode {
                        0x8c => self.length(1)?,
                        b'X' => self.length(4)?,
                        _ => self.length(8)?,
                    };
                    let text = Self::text(self.take(n)?)?;
                    self.push(Value::Str(text));
                }
                b'V' => {
                    let line = self.line()?;
                    let text = raw_unicode_escape(line)?;
                    self.push(Value::Str(text));
                }
                b'U' | b'T' => {
                    // Python 2 `str`: read by Python 3 as ASCII text.
                    let n = if opcode == b'U' {
                        self.length(1)?
                    } else {
                        let n = self.le(4)? as u32 as i32;
                        usize::try_from(n).map_err(|_| {
                            Refusal::Malformed("BINSTRING pickle has negative byte count")
                        })?
                    };
                    let bytes = self.take(n)?;
                    if !bytes.is_ascii() {
                        return Err(Refusal::Malformed("a Python 2 string that is not ASCII"));
                    }
                    let text = Self::text(bytes)?;
                    self.push(Value::Str(text));
                }
                b'S' => return Err(Refusal::Malformed("protocol 0 STRING is not read")),
                b'C' | b'B' | 0x8e | 0x96 => {
                    let n = match opcode {
                        b'C' => self.length(1)?,
                        b'B' => self.length(4)?,
                        _ => self.length(8)?,
                    };
                    let bytes = self.take(n)?.to_vec();
                    self.push(Value::Bytes(bytes));
                }
                b')' => self.push(Value::Tuple(Vec::new())),
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Value::Tuple(items));
                }
                0x85..=0x87 => {
                    let n = usize::from(opcode - 0x84);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.push(Value::Tuple(items));
                }
                b']' => self.push(Value::List(Vec::new())),
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Value::List(items));
                }
                b'a' => {
                    let item = self.pop()?;
                    let list = self.top()?;
                    self.append(list, vec![item])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    let list = self.top()?;
                    self.append(list, items)?;
                }
                b'}' => self.push(Value::Dict(Vec::new())),
                b'd' => {
                    let items = self.pop_mark()?;
                    self.push(Value::Dict(Vec::new()));
                    let dict = self.values.len() - 1;
                    self.set_items(dict, &items)?;
                }
                b's' => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    let dict = self.top()?;
                    self.set_item(dict, key, value)?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let dict = self.top()?;
                    self.set_items(dict, &items)?;
                }
                0x94 => {
                    // MEMOIZE
                    let index = self.memo.len();
                    self.memo_put(index)?;
                }
                b'q' => {
                    let index = usize::from(self.byte()?);
                    self.memo_put(index)?;
                }
                b'r' => {
                    let index = self.le(4)? as usize;
                    self.memo_put(index)?;
                }
                b'p' => {
                    let line = self.line()?;
                    let index = decimal(line)
                        .ok_or(Refusal::Malformed("PUT with a bad or negative index"))?;
                    self.memo_put(index)?;
                }
                b'h' => {
                    let index = u64::from(self.byte()?);
                    self.memo_get(index)?;
                }
                b'j' => {
                    let index = self.le(4)?;
                    self.memo_get(index)?;
                }
                b'g' => {
                    let line = self.line()?;
                    let index =
                        decimal(line).ok_or(Refusal::Malformed("GET with a bad index"))?;
                    self.memo_get(index as u64)?;
                }
                other => return Err(Refusal::Opcode(opcode_name(other))),
            }
        }
    }
}

/// The pickletools name of an opcode this reader refuses.
fn opcode_name(opcode: u8) -> &'static str {
    match opcode {
        b'c' => "GLOBAL",
        0x93 => "STACK_GLOBAL",
        b'R' => "REDUCE",
        b'b' => "BUILD",
        b'i' => "INST",
        b'o' => "OBJ",
        0x81 => "NEWOBJ",
        0x92 => "NEWOBJ_EX",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => "an unknown opcode",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by CPython 3 `pickle.dumps(…, protocol)`; tests/pickle_fixtures.rs checks more
    // against the venv's Python itself.
    #[test]
    fn a_django_session_dict_protocol_5() {
        // pickle.dumps({"_auth_user_id": "1", "n": 7}, 5)
        let data = b"\x80\x05\x95\x1f\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\r_auth_user_id\x94\x8c\x011\x94\x8c\x01n\x94K\x07u.";
        let pickle = load(data).unwrap();
        assert_eq!(
            pickle.dict_get(pickle.root, "_auth_user_id"),
            Some(&Value::Str("1".into()))
        );
        assert_eq!(pickle.dict_get(pickle.root, "n"), Some(&Value::Int(7)));
    }

    #[test]
    fn protocol_0_text() {
        // pickle.dumps({"a": ["é\n", 1, None, True, 1.5]}, 0)
        let data = b"(dp0\nVa\np1\n(lp2\nV\xe9\\u000a\np3\naI1\naNaI01\naF1.5\nas.";
        let pickle = load(data).unwrap();
        let Some(Value::List(items)) = pickle.dict_get(pickle.root, "a") else {
            panic!("{pickle:?}");
        };
        let items: Vec<_> = items.iter().map(|&i| pickle.get(i).clone()).collect();
        assert_eq!(
            items,
            vec![
                Value::Str("é\n".into()),
                Value::Int(1),
                Value::None,
                Value::Bool(true),
                Value::Float(1.5)
            ]
        );
    }

    #[test]
    fn objects_are_refused() {
        // pickle.dumps(datetime.date(2020, 1, 1), 5) starts with a STACK_GLOBAL;
        // the classic os.system payload with GLOBAL and REDUCE.
        assert_eq!(
            load(b"\x80\x05\x95\x20\x00\x00\x00\x00\x00\x00\x00\x8c\x08datetime\x94\x8c\x04date\x94\x93\x94C\x04\x07\xe4\x01\x01\x94\x85\x94R\x94.").unwrap_err(),
            Refusal::Opcode("STACK_GLOBAL")
        );
        assert_eq!(
            load(b"cos\nsystem\n(S'true'\ntR.").unwrap_err(),
            Refusal::Opcode("GLOBAL")
        );
        assert_eq!(load(b"\x8f.").unwrap_err(), Refusal::Opcode("EMPTY_SET"));
    }

    #[test]
    fn broken_pickles_are_refused() {
        for bad in [
            &b""[..],
            b"}",
            b".",
            b"s.",
            b"\x80\x06}.",
            b"\x8c\x05ab.",
            b"h\x00.",
            b"(u.",
            b"K\x01K\x02s.",
            b"]}s.",
            b"\x95\xff\x00\x00\x00\x00\x00\x00\x00}.",
        ] {
            assert!(
                matches!(load(bad), Err(Refusal::Malformed(_))),
                "{bad:?}: {:?}",
                load(bad)
            );
        }
    }

    #[test]
    fn memo_references_stay_shared() {
        // x = []; pickle.dumps([x, x], 2): the second is a BINGET of the first.
        let data = b"\x80\x02]q\x00(]q\x01h\x01e.";
        let pickle = load(data).unwrap();
        let Value::List(items) = pickle.root() else {
            panic!()
        };
        assert_eq!(items[0], items[1]);
    }

    #[test]
    fn integers() {
        assert_eq!(long_from_le(&[0xff]), Value::Int(-1));
        assert_eq!(long_from_le(&[0x00, 0x01]), Value::Int(256));
        assert_eq!(long_from_le(&[0; 9]), Value::Int(0));
        assert_eq!(long_from_le(&[1; 9]), Value::BigInt);
        assert!(is_python_int(b" -1_000\n"));
        assert!(!is_python_int(b"1__0"));
        assert!(!is_python_int(b"\x80\x05"));
        assert!(!is_python_int(b""));
    }
}
