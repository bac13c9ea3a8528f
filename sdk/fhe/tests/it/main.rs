//! Integration tests of the FHE engine: import against onnxruntime's outputs, quantization and
//! codec properties, rejection of bad bytes, and encrypted evaluation equal to the clear model.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod codec;
mod fhe;
mod import;
mod quant;

use std::path::PathBuf;
use std::sync::OnceLock;

use modelmart_fhe::{
    ClientKey, CompileOptions, CompiledModel, Dataset, ServerKey, onnx::import_onnx,
};

pub(crate) fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(path)
}

pub(crate) fn dataset(name: &str, split: &str) -> Dataset {
    Dataset::load(fixture(&format!("data/{name}_{split}.csv"))).unwrap()
}

/// Import a fixture model.
pub(crate) fn import(model: &str) -> modelmart_fhe::model::Model {
    import_onnx(&std::fs::read(fixture(&format!("models/{model}.onnx"))).unwrap()).unwrap()
}

/// Import a fixture model and compile it with its training split.
pub(crate) fn compiled(model: &str, data: &str) -> (CompiledModel, Dataset) {
    compiled_with(model, data, CompileOptions::default()).unwrap()
}

/// [`compiled`] with options.
pub(crate) fn compiled_with(
    model: &str,
    data: &str,
    opts: CompileOptions,
) -> modelmart_fhe::Result<(CompiledModel, Dataset)> {
    let mut m = import(model);
    let train = dataset(data, "train");
    m.features = train.names.clone();
    let c = CompiledModel::compile(&m, &train.x, opts)?;
    Ok((c, dataset(data, "test")))
}

/// One client key and its expanded server key, shared by every test of this binary.
pub(crate) fn keys() -> &'static (ClientKey, ServerKey) {
    static KEYS: OnceLock<(ClientKey, ServerKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let client = ClientKey::generate(Default::default()).unwrap();
        let server = ServerKey::expand(&client.evaluation_key().unwrap()).unwrap();
        (client, server)
    })
}

/// The shared client key's sanitization public key, expanded (what leveled models need).
pub(crate) fn public() -> &'static ServerKey {
    static PUBLIC: OnceLock<ServerKey> = OnceLock::new();
    PUBLIC.get_or_init(|| ServerKey::expand(&keys().0.public_key().unwrap()).unwrap())
}

/// The key a model's jobs need: bootstrap keys, or the public key for leveled models.
pub(crate) fn key_for(c: &modelmart_fhe::CompiledModel) -> &'static ServerKey {
    if c.needs_evaluation_key() { &keys().1 } else { public() }
}
