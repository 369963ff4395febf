//! An epoch stopped part-way and continued from its step and running sums ends with the
//! same weights and the same reported loss and accuracy, to the bit, as one run straight
//! through (the checkpoint of `train` keeps exactly these), with either outlier objective,
//! with and without augmentation (which perturbs the outliers too).

use std::sync::atomic::{AtomicBool, Ordering};

use datagen::Style;
use engine::{
    epoch_order, train_epoch_continued, Augmentation, EpochPlan, EpochStats, EpochSums, ExecPath,
    Exposure,
};
use nn::{ModelSpec, Sequential, Sgd};

fn params(model: &Sequential) -> Vec<u32> {
    let mut bits = Vec::new();
    model.visit_params_ref(&mut |_, p| bits.extend(p.value.data().iter().map(|v| v.to_bits())));
    bits
}

#[test]
fn an_epoch_continued_part_way_reports_what_a_straight_one_does() {
    let data = datagen::generate(Style::Strokes, 3, 0, 640);
    let outliers = datagen::nondigits(3, 0, 200);
    let order = epoch_order(data.len(), 3, 1);
    let objectives = [nn::Objective::Uniform, nn::Objective::ENERGY];
    let augments = [
        None,
        Some(Augmentation {
            params: datagen::Augment::default(),
            seed: 3,
        }),
    ];
    for (exec, objective, augment) in objectives
        .into_iter()
        .flat_map(|o| [(ExecPath::Fused, o), (ExecPath::Layers, o)])
        .flat_map(|(e, o)| augments.map(|a| (e, o, a)))
    {
        let exposure = Exposure {
            data: &outliers,
            per_batch: 4,
            seed: 3,
            objective,
        };
        let run = |stop_after: Option<usize>| -> (Sequential, EpochStats) {
            let mut model = ModelSpec::seed().build(3).unwrap();
            let mut sgd = Sgd::new(0.05, 0.9, 0.0).unwrap();
            let stop = AtomicBool::new(false);
            let plan = |start_step| EpochPlan {
                data: &data,
                order: &order,
                batch_size: 64,
                epoch: 1,
                first_step: 10,
                seed: 3,
                augment,
                start_step,
                stop: Some(&stop),
                exec,
            };
            let mut steps = 0;
            let first = train_epoch_continued(
                &mut model,
                &mut sgd,
                &plan(0),
                Some(&exposure),
                EpochSums::default(),
                |_| 0.05,
                |_, _| {
                    steps += 1;
                    if Some(steps) == stop_after {
                        stop.store(true, Ordering::SeqCst);
                    }
                },
            )
            .unwrap();
            if !first.interrupted {
                return (model, first);
            }
            assert_eq!(Some(first.steps_done), stop_after);
            stop.store(false, Ordering::SeqCst);
            let rest = train_epoch_continued(
                &mut model,
                &mut sgd,
                &plan(first.steps_done),
                Some(&exposure),
                first.sums,
                |_| 0.05,
                |_, _| {},
            )
            .unwrap();
            assert_eq!(rest.samples, data.len() - first.samples);
            (model, rest)
        };
        let (straight, whole) = run(None);
        let (resumed, continued) = run(Some(3));
        assert_eq!(
            params(&straight),
            params(&resumed),
            "{exec:?} {objective:?} {augment:?}"
        );
        assert_eq!(
            whole.loss.to_bits(),
            continued.loss.to_bits(),
            "{exec:?} {objective:?} {augment:?}"
        );
        assert_eq!(whole.accuracy.to_bits(), continued.accuracy.to_bits());
        assert_eq!(whole.sums, continued.sums);
    }
}
