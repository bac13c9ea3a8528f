use modelmart_fhe::quant::FeatureSpec;
use proptest::prelude::*;

proptest! {
    #[test]
    fn quantize_is_in_range_monotonic_and_close(
        min in -1e6f64..1e6, width in 1e-3f64..1e6, bits in 1u8..=16, a in 0f64..1.0, b in 0f64..1.0
    ) {
        let f = FeatureSpec { name: "x".into(), min, max: min + width, bits, edges: vec![] };
        let (xa, xb) = (min + a * width, min + b * width);
        let (qa, qb) = (f.quantize(xa), f.quantize(xb));
        prop_assert!(qa < 1 << bits);
        if xa <= xb { prop_assert!(qa <= qb); }
        prop_assert!((f.dequantize(qa) - xa).abs() <= f.step() / 2.0 + 1e-9 * width.max(1.0));
    }

    #[test]
    fn quantize_clamps_out_of_range(min in -1e3f64..1e3, width in 1e-3f64..1e3, bits in 1u8..=12, over in 0f64..1e6) {
        let f = FeatureSpec { name: "x".into(), min, max: min + width, bits, edges: vec![] };
        prop_assert_eq!(f.quantize(min - over), 0);
        prop_assert_eq!(f.quantize(min + width + over), (1 << bits) - 1);
        prop_assert_eq!(f.quantize(f64::NAN), 0);
    }
}

proptest! {
    #[test]
    fn quantile_bins_are_monotonic_balanced_and_invertible(
        mut values in proptest::collection::vec(-1e4f64..1e4, 32..400), bits in 1u8..=6, probe in -2e4f64..2e4
    ) {
        use modelmart_fhe::quant::InputSchema;
        let rows: Vec<Vec<f64>> = values.iter().map(|v| vec![*v]).collect();
        let schema = InputSchema::calibrate_quantiles(&["x".into()], &rows, bits).unwrap();
        let f = &schema.features[0];
        prop_assert_eq!(f.edges.len(), (1 << bits) - 1);
        prop_assert!(f.edges.windows(2).all(|w| w[0] <= w[1]));
        prop_assert!(f.quantize(probe) < 1 << bits);
        values.sort_by(f64::total_cmp);
        let q: Vec<u64> = values.iter().map(|v| f.quantize(*v)).collect();
        prop_assert!(q.windows(2).all(|w| w[0] <= w[1]), "not monotonic");
        // every non-empty level maps its representative back to itself
        for level in q.iter().copied().collect::<std::collections::BTreeSet<_>>() {
            prop_assert_eq!(f.quantize(f.dequantize(level)), level);
        }
        // distinct values spread over levels: no level holds more than twice its share + ties
        let distinct = values.windows(2).all(|w| w[0] != w[1]);
        if distinct {
            let share = values.len() as f64 / f64::from(1u32 << bits);
            for level in 0..(1u64 << bits) {
                let n = q.iter().filter(|x| **x == level).count() as f64;
                prop_assert!(n <= 2.0 * share + 1.0, "level {} holds {} of {}", level, n, values.len());
            }
        }
    }
}
