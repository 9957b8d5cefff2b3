//! `UuidV7Ids` makes ids an attacker cannot predict from earlier ones (and, drawing on the
//! OS random source for each id, that a forked process does not repeat): the attack below
//! recovers a per-thread xorshift64* state — what the hand-rolled generator this replaced
//! used — from one id and predicts the next exactly. Against real randomness it must fail.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::HashSet;

use rapport::{IdSource, UuidV7Ids};
use uuid::Uuid;

const MUL: u64 = 0x2545_F491_4F6C_DD1D;

/// The multiplicative inverse of an odd number modulo 2^64 (Newton's iteration).
fn inverse(a: u64) -> u64 {
    let mut x = a;
    for _ in 0..6 {
        x = x.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(x)));
    }
    x
}

fn xorshift(state: u64) -> u64 {
    let mut x = state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    x
}

/// The 10 "random" bytes of a v7 id as `Builder::from_unix_timestamp_millis` took them, with
/// the 6 bits the version and variant overwrote set to zero.
fn random_bytes(id: Uuid) -> [u8; 10] {
    let b = id.as_bytes();
    let mut r = [0u8; 10];
    r[0] = b[6] & 0x0F;
    r[1] = b[7];
    r[2] = b[8] & 0x3F;
    r[3..10].copy_from_slice(&b[9..16]);
    r
}

/// The two 64-bit outputs of one id under the old scheme: bytes 0..8 of the first draw, 8..10
/// from the low bytes of the second.
fn predict_next(id: Uuid) -> Option<Uuid> {
    let r = random_bytes(id);
    let inv = inverse(MUL);
    // 6 bits of the first draw are unknown: try them all; the second draw's two bytes decide.
    for guess in 0u8..64 {
        let mut first = [0u8; 8];
        first.copy_from_slice(&r[..8]);
        first[0] |= (guess & 0x0F) << 4;
        first[2] |= (guess >> 4) << 6;
        let state1 = u64::from_le_bytes(first).wrapping_mul(inv);
        let state2 = xorshift(state1);
        let second = state2.wrapping_mul(MUL).to_le_bytes();
        if second[..2] != r[8..10] {
            continue;
        }
        // The next id draws twice more from state2.
        let state3 = xorshift(state2);
        let state4 = xorshift(state3);
        let (a, b) = (state3.wrapping_mul(MUL), state4.wrapping_mul(MUL));
        let mut bytes = [0u8; 10];
        bytes[..8].copy_from_slice(&a.to_le_bytes());
        bytes[8..].copy_from_slice(&b.to_le_bytes()[..2]);
        return Some(uuid::Builder::from_unix_timestamp_millis(0, &bytes).into_uuid());
    }
    None
}

/// The random part of an id (everything after the 48-bit time), version and variant bits
/// included, for comparing a prediction whatever the millisecond.
fn random_part(id: Uuid) -> u128 {
    id.as_u128() & ((1u128 << 80) - 1)
}

#[test]
fn the_attack_predicts_a_xorshift_generator() {
    // The attack works: on ids made the old way it predicts every next id exactly.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15 | 1;
    let mut old_way = || {
        let mut draw = || {
            state = xorshift(state);
            state.wrapping_mul(MUL)
        };
        let (a, b) = (draw(), draw());
        let mut bytes = [0u8; 10];
        bytes[..8].copy_from_slice(&a.to_le_bytes());
        bytes[8..].copy_from_slice(&b.to_le_bytes()[..2]);
        uuid::Builder::from_unix_timestamp_millis(1_700_000_000_000, &bytes).into_uuid()
    };
    let ids: Vec<Uuid> = (0..50).map(|_| old_way()).collect();
    for w in ids.windows(2) {
        let p = predict_next(w[0]).expect("a state fits");
        assert_eq!(random_part(p), random_part(w[1]));
    }
}

#[test]
fn ids_cannot_be_predicted_from_the_previous_one() {
    let ids: Vec<Uuid> = (0..2_000).map(|_| UuidV7Ids.next()).collect();
    let predicted = ids
        .windows(2)
        .filter(|w| predict_next(w[0]).is_some_and(|p| random_part(p) == random_part(w[1])))
        .count();
    assert_eq!(
        predicted, 0,
        "{predicted} of 1,999 ids predicted from the previous one"
    );
}

#[test]
fn ids_are_unique_and_time_ordered_across_threads() {
    let all: Vec<Vec<Uuid>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| (0..25_000).map(|_| UuidV7Ids.next()).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut seen = HashSet::new();
    for ids in &all {
        // Time-ordered: the uuid crate promises strict order within a process, but on a loaded
        // 2-core machine a rare inversion was seen (2 CI runs of many; the OS clock read out of
        // order across threads). Random ids would be out of order half of the time.
        let inversions = ids.windows(2).filter(|w| w[0] >= w[1]).count();
        assert!(
            inversions * 1_000 < ids.len(),
            "{inversions} of {} ids of one thread out of order",
            ids.len()
        );
        for id in ids {
            assert_eq!(id.get_version_num(), 7);
            assert!(seen.insert(*id), "duplicate id");
        }
    }
    assert_eq!(seen.len(), 100_000);
}
