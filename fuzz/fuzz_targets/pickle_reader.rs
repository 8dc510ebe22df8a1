//! The restricted pickle reader (`drfgate::pickle`) on any bytes: Django's `RedisCache` values
//! as an attacker who can write to the cache would plant them. Besides no panic, no hang, no
//! blow-up: a loaded pickle has at most one value per input byte, and every container refers
//! only to values of the arena.
#![no_main]

use drfgate::pickle::{load, Value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Ok(pickle) = load(input) else {
        return;
    };
    let count = pickle.values.len();
    assert!(count <= input.len());
    assert!(pickle.root < count);
    for value in &pickle.values {
        match value {
            Value::List(ids) | Value::Tuple(ids) => assert!(ids.iter().all(|&id| id < count)),
            Value::Dict(items) => assert!(items.iter().all(|&(k, v)| k < count && v < count)),
            _ => {}
        }
    }
    let _ = pickle.dict_get(pickle.root, "_auth_user_id");
});
