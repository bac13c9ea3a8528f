use modelmart_fhe::{EncryptedInput, EncryptedResult, Error, EvaluationKey, Evaluator};
use modelmart_primitives::BlobKind;

use crate::{compiled, keys, public};

#[test]
fn truncated_garbage_and_oversized_inputs_are_refused() {
    let (c, test) = compiled("logreg_breast_cancer", "breast_cancer");
    let bytes = keys().0.encrypt_rows(&c.public(), &test.x[..2]).unwrap().to_bytes().unwrap();
    for cut in [0, 1, 8, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            matches!(EncryptedInput::from_bytes(&bytes[..cut]), Err(Error::Serialization(_))),
            "cut {cut}"
        );
    }
    assert!(EncryptedInput::from_bytes(&[0xA5; 300]).is_err());
    let huge = vec![0u8; BlobKind::Input.max_bytes() as usize + 1];
    assert!(
        matches!(EncryptedInput::from_bytes(&huge), Err(Error::Serialization(m)) if m.contains("limit"))
    );
    // a key blob is not an input, and vice versa
    assert!(EvaluationKey::from_bytes(&bytes).is_err());
    assert!(EncryptedResult::from_bytes(&bytes).is_err());
}

#[test]
fn flipped_bytes_never_panic() {
    let (c, test) = compiled("logreg_breast_cancer", "breast_cancer");
    let bytes = keys().0.encrypt_rows(&c.public(), &test.x[..1]).unwrap().to_bytes().unwrap();
    let evaluator = Evaluator::new(&c, Some(public())).unwrap();
    for i in (0..bytes.len()).step_by(3) {
        let mut b = bytes.clone();
        b[i] ^= 0x5A;
        // either refused with a typed error, or a well-formed (different) ciphertext
        if let Ok(input) = EncryptedInput::from_bytes(&b) {
            let _ = evaluator.evaluate(&input, 8);
        }
    }
}

#[test]
fn evaluation_key_round_trips_and_rejects_corruption() {
    let ek = keys().0.evaluation_key().unwrap();
    let bytes = ek.to_bytes().unwrap();
    assert!(bytes.len() <= 40 << 20, "evaluation key of {} bytes", bytes.len());
    EvaluationKey::from_bytes(&bytes).unwrap();
    assert!(EvaluationKey::from_bytes(&bytes[..bytes.len() - 4096]).is_err());
    assert!(EvaluationKey::from_bytes(&bytes[..100]).is_err());
}

#[test]
fn public_key_round_trips_and_rejects_corruption() {
    let pk = keys().0.public_key().unwrap();
    assert!(pk.has_public_key() && !pk.has_bootstrap_keys());
    let bytes = pk.to_bytes().unwrap();
    EvaluationKey::from_bytes(&bytes).unwrap();
    assert!(EvaluationKey::from_bytes(&bytes[..bytes.len() - 16]).is_err());
    assert!(EvaluationKey::from_bytes(&bytes[..100]).is_err());
    for i in (0..200).step_by(7) {
        let mut b = bytes.clone();
        b[i] ^= 0x5A;
        let _ = EvaluationKey::from_bytes(&b).map(|k| modelmart_fhe::ServerKey::expand(&k));
    }
}
