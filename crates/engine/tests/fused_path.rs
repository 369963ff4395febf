//! Training and evaluation run the fused seed network or the layers one by one, as
//! [`ExecPath`] says.
//! Both paths must agree up to float rounding, and the fused path must report divergence
//! like the generic one.

use datagen::Style;
use engine::{
    epoch_order, evaluate_with, train_epoch, train_epoch_with, EpochPlan, Error, ExecPath,
};
use nn::{ModelSpec, Sgd};

#[test]
fn fused_and_generic_paths_agree_through_train_epoch_and_evaluate() {
    let data = datagen::generate(Style::Strokes, 1, 0, 1000);
    let mut models = [
        ModelSpec::seed().build(3).unwrap(),
        ModelSpec::seed().build(3).unwrap(),
    ];
    let paths = [ExecPath::Fused, ExecPath::Layers];
    let mut losses = [Vec::new(), Vec::new()];
    let mut stats = Vec::new();
    for ((model, losses), exec) in models.iter_mut().zip(&mut losses).zip(paths) {
        let mut sgd = Sgd::new(0.05, 0.9, 0.0).unwrap();
        let order = epoch_order(data.len(), 1, 0);
        // Batch 50: the last chunk of every batch is partial.
        let plan = EpochPlan {
            data: &data,
            order: &order,
            batch_size: 50,
            epoch: 0,
            first_step: 0,
            seed: 0,
            augment: None,
            start_step: 0,
            stop: None,
            exec,
        };
        let s = train_epoch_with(
            model,
            &mut sgd,
            &plan,
            |_| 0.05,
            |_, loss| losses.push(loss),
        )
        .unwrap();
        stats.push(s);
    }
    assert_eq!(losses[0].len(), 20);
    for (step, (f, g)) in losses[0].iter().zip(&losses[1]).enumerate() {
        assert!(
            (f - g).abs() <= 1e-3 * g.abs(),
            "step {step}: fused loss {f}, generic {g}"
        );
    }
    assert_eq!(stats[0].samples, stats[1].samples);
    assert!((stats[0].accuracy - stats[1].accuracy).abs() <= 0.01);

    // Evaluate the same weights both ways.
    let (a, b) = (
        evaluate_with(&models[0], &data, 300, 10, ExecPath::Fused).unwrap(),
        evaluate_with(&models[0], &data, 300, 10, ExecPath::Layers).unwrap(),
    );
    for (i, (p, q)) in a.probs.iter().zip(&b.probs).enumerate() {
        assert!(
            (p - q).abs() <= 1e-5,
            "probability {i}: fused {p}, generic {q}"
        );
    }
    let same = a
        .predictions
        .iter()
        .zip(&b.predictions)
        .filter(|(p, q)| p == q)
        .count();
    assert!(
        same >= data.len() - 2,
        "{same} of {} predictions agree",
        data.len()
    );
}

#[test]
fn fused_path_reports_divergence_as_the_generic_path_does() {
    let data = datagen::generate(Style::Strokes, 1, 0, 100);
    let mut model = ModelSpec::seed().build(1).unwrap();
    model.visit_params(&mut |name, p| {
        if name == "4.dense.bias" {
            p.value.data_mut()[0] = f32::INFINITY;
        }
    });
    let before: Vec<f32> = {
        let mut v = Vec::new();
        model.visit_params_ref(&mut |_, p| v.extend_from_slice(p.value.data()));
        v
    };
    let mut sgd = Sgd::new(0.05, 0.9, 0.0).unwrap();
    let order = epoch_order(data.len(), 1, 0);
    let err =
        train_epoch(&mut model, &mut sgd, &data, &order, 32, |_| 0.05, |_, _| {}).unwrap_err();
    assert!(matches!(err, Error::Diverged { step: 1, .. }), "{err}");
    let mut after = Vec::new();
    model.visit_params_ref(&mut |_, p| after.extend_from_slice(p.value.data()));
    assert_eq!(
        before.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        after.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
}

/// Augmented training through the fused path (images augmented inside its workers) is the
/// same for any thread count, and agrees with the generic path, which augments the batch
/// first, up to the paths' float rounding.
#[test]
fn augmented_epochs_are_the_same_for_any_thread_count_on_both_paths() {
    use engine::Augmentation;
    let data = datagen::generate(Style::Strokes, 2, 0, 400);
    let order = epoch_order(data.len(), 5, 1);
    let run = |exec: ExecPath, threads: usize, augment: datagen::Augment| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut model = ModelSpec::seed().build(3).unwrap();
            let mut sgd = Sgd::new(0.05, 0.9, 0.0).unwrap();
            let plan = EpochPlan {
                data: &data,
                order: &order,
                batch_size: 40,
                epoch: 1,
                first_step: 10,
                seed: 5,
                augment: Some(Augmentation {
                    params: augment,
                    seed: 5,
                }),
                start_step: 0,
                stop: None,
                exec,
            };
            let mut losses = Vec::new();
            train_epoch_with(&mut model, &mut sgd, &plan, |_| 0.05, |_, l| losses.push(l)).unwrap();
            let mut params = Vec::new();
            model.visit_params_ref(&mut |_, p| {
                params.extend(p.value.data().iter().map(|v| v.to_bits()))
            });
            (losses, params)
        })
    };
    for augment in [
        datagen::Augment::default(),
        datagen::Augment::with_elastic(),
    ] {
        let one = run(ExecPath::Fused, 1, augment);
        assert_eq!(
            one,
            run(ExecPath::Fused, 3, augment),
            "fused path, 1 vs 3 threads"
        );
        let generic_one = run(ExecPath::Layers, 1, augment);
        assert_eq!(
            generic_one,
            run(ExecPath::Layers, 2, augment),
            "generic path, 1 vs 2 threads"
        );
        for (step, (f, g)) in one.0.iter().zip(&generic_one.0).enumerate() {
            assert!(
                (f - g).abs() <= 1e-3 * g.abs(),
                "step {step}: fused {f}, generic {g}"
            );
        }
    }
}

/// The layer-by-layer path runs a wide network in chunks of images (its first layer's maps
/// would otherwise take 200 KB an image): the logits are the same bits for any batch size.
#[test]
fn a_wide_network_evaluates_the_same_in_chunks() {
    let data = datagen::generate(Style::Strokes, 2, 0, 200);
    let model = ModelSpec::parse("conv64x3p1,relu,pool2,flatten,dense10")
        .unwrap()
        .build(4)
        .unwrap();
    // 64 x 28 x 28 values an image: chunks of 83 images, so 200 at once is three chunks.
    let whole = evaluate_with(&model, &data, 200, 10, ExecPath::Layers).unwrap();
    let one_by_one = evaluate_with(&model, &data, 1, 10, ExecPath::Layers).unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&whole.logits), bits(&one_by_one.logits));
    assert_eq!(whole.predictions, one_by_one.predictions);
}
