//! Optimisers: update rules against hand arithmetic, and exact resume from saved state.

use nn::{Adam, LayerSpec, ModelSpec, Optimizer, OptimizerState, Sequential, Sgd};

/// One dense weight and one bias, input size 1.
fn tiny() -> Sequential {
    let spec = ModelSpec {
        input: [1, 1, 1],
        layers: vec![LayerSpec::Flatten, LayerSpec::Dense { units: 1 }],
    };
    spec.build(0).unwrap()
}

fn set_all(model: &mut Sequential, value: f32, grad: f32) {
    model.visit_params(&mut |_, p| {
        p.value.data_mut().fill(value);
        p.grad.data_mut().fill(grad);
    });
}

fn weight(model: &Sequential) -> f32 {
    let mut w = 0.0;
    model.visit_params_ref(&mut |name, p| {
        if name.ends_with("weight") {
            w = p.value.data()[0];
        }
    });
    w
}

#[test]
fn adam_first_step_moves_by_lr_times_sign() {
    // Step 1: m̂ = g, v̂ = g², so the update is lr * g / (|g| + eps) ≈ lr * sign(g).
    let mut model = tiny();
    set_all(&mut model, 1.0, 0.5);
    let mut adam = Adam::new(0.1, 0.9, 0.999, 1e-8, 0.0, false).unwrap();
    adam.step(&mut model);
    assert!((weight(&model) - 0.9).abs() < 1e-6, "{}", weight(&model));
}

#[test]
fn adamw_decays_weights_before_the_adam_step() {
    // w = 1 * (1 - 0.1 * 0.5) - 0.1 * sign(g) = 0.95 - 0.1 = 0.85
    let mut model = tiny();
    set_all(&mut model, 1.0, 0.5);
    let mut adam = Adam::new(0.1, 0.9, 0.999, 1e-8, 0.5, true).unwrap();
    adam.step(&mut model);
    assert!((weight(&model) - 0.85).abs() < 1e-6, "{}", weight(&model));
}

#[test]
fn nesterov_sgd_looks_ahead() {
    // v1 = g = 1; w1 = w0 - lr (g + mu v1) = 1 - 0.1 * 1.5 = 0.85.
    let mut model = tiny();
    set_all(&mut model, 1.0, 1.0);
    let mut sgd = Sgd::new(0.1, 0.5, 0.0)
        .unwrap()
        .with_nesterov(true)
        .unwrap();
    sgd.step(&mut model);
    assert!((weight(&model) - 0.85).abs() < 1e-6);
    assert!(Sgd::new(0.1, 0.0, 0.0)
        .unwrap()
        .with_nesterov(true)
        .is_err());
}

fn run(opt: &mut dyn Optimizer, model: &mut Sequential, steps: std::ops::Range<u32>) {
    for s in steps {
        model.visit_params(&mut |_, p| p.grad.data_mut().fill((s as f32 * 0.37).sin()));
        opt.step(model);
    }
}

#[test]
fn optimizers_resume_bit_exactly_from_saved_state() {
    let fresh: [fn() -> Box<dyn Optimizer>; 3] = [
        || Box::new(Sgd::new(0.05, 0.9, 1e-3).unwrap()),
        || Box::new(Adam::new(1e-3, 0.9, 0.999, 1e-8, 0.0, false).unwrap()),
        || Box::new(Adam::new(1e-3, 0.9, 0.999, 1e-8, 0.01, true).unwrap()),
    ];
    for make in fresh {
        let mut straight = tiny();
        run(make().as_mut(), &mut straight, 0..10);

        let mut resumed = tiny();
        let mut first = make();
        run(first.as_mut(), &mut resumed, 0..4);
        let json = serde_json::to_string(&first.state()).unwrap();
        let state: OptimizerState = serde_json::from_str(&json).unwrap();
        let mut second = state.into_optimizer().unwrap();
        run(second.as_mut(), &mut resumed, 4..10);
        assert_eq!(
            weight(&straight).to_bits(),
            weight(&resumed).to_bits(),
            "{first:?}"
        );
    }
}

/// Every parameter's bits, in name order.
fn param_bits(model: &Sequential) -> Vec<(String, Vec<u32>)> {
    let mut out = Vec::new();
    model.visit_params_ref(&mut |name, p| {
        out.push((
            name.to_string(),
            p.value.data().iter().map(|v| v.to_bits()).collect(),
        ));
    });
    out
}

#[test]
fn updates_of_large_parameters_are_the_same_on_any_thread_count() {
    // The LeNet-style dense weight (401,408 values) is split between threads; each value
    // is updated on its own, so 1 and 3 threads give the same bits.
    let fresh: [fn() -> Box<dyn Optimizer>; 3] = [
        || Box::new(Sgd::new(0.05, 0.9, 1e-3).unwrap()),
        || Box::new(Adam::new(1e-3, 0.9, 0.999, 1e-8, 1e-4, false).unwrap()),
        || Box::new(Adam::new(1e-3, 0.9, 0.999, 1e-8, 0.01, true).unwrap()),
    ];
    for make in fresh {
        let result = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut model = ModelSpec::lenet().build(3).unwrap();
                let mut opt = make();
                for s in 0..3u32 {
                    model.visit_params(&mut |_, p| {
                        for (i, g) in p.grad.data_mut().iter_mut().enumerate() {
                            *g = ((i as u32 ^ s) as f32 * 0.001).sin();
                        }
                    });
                    opt.step(&mut model);
                }
                param_bits(&model)
            })
        };
        assert_eq!(result(1), result(3));
    }
}
